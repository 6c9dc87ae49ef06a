//! Starting user programs from the initrd: each becomes a task whose thread 0 runs the ELF's
//! entry point, with its segments in frames the task owns as root mappings (so that it can
//! map or grant them on, as a pager does) and a stack below [`STACK_TOP`].
//!
//! This is how sigma0 and the root task will start (issue 3); today the test image uses it
//! for its user-level IPC scenarios.

use abi::ThreadId;
use kcore::boot_modules::Program;
use kcore::frame_allocator::FRAME_SIZE;
use kcore::kernel::{CreateError, Kernel};
use kcore::mapdb::{Frame, MapdbError, Page, Rights};

use crate::layout::linear;
use crate::machine::HardwareMachine;
use crate::memory;

/// Where every boot program's UTCB area starts (16 MiB: one 4 KiB UTCB per thread number).
/// Boot programs keep their UTCBs, stack and kernel interface page high in the user half,
/// far above any RAM of QEMU `virt`, because sigma0 maps physical memory 1:1 below them.
pub const UTCB_AREA: u64 = 0x7F00_0000_0000;
/// The initial stack pointer of thread 0 (the stack grows down from here).
pub const STACK_TOP: u64 = 0x7F80_0000_0000;
/// Stack pages mapped below [`STACK_TOP`].
pub const STACK_PAGES: u64 = 16;

/// Why a program could not be started.
#[derive(Clone, Copy, Debug)]
#[allow(
    dead_code,
    reason = "the fields are read through Debug in the boot log"
)]
pub enum LoadError {
    /// The task or its thread could not be created.
    Create(CreateError),
    /// A page could not be given to the task.
    Map(MapdbError),
    /// No frame left.
    OutOfMemory,
}

/// Start `program` as task `task` (chief: the kernel) whose thread 0 is paged by `pager`.
/// Returns the thread's ID. Frames given to a boot program are its for good (they are not
/// reclaimed if the task is deleted: a pager may have mapped them on).
pub fn start(
    kernel: &mut Kernel<HardwareMachine>,
    task: u16,
    pager: ThreadId,
    program: &Program<'_>,
) -> Result<ThreadId, LoadError> {
    kernel
        .create_task(
            task,
            ThreadId::KERNEL_TASK,
            UTCB_AREA,
            kcore::kernel::UTCB_AREA_SIZE,
        )
        .map_err(LoadError::Create)?;
    let id = kernel
        .create_thread(task, 0, pager, ThreadId::NIL, ThreadId::NIL)
        .map_err(LoadError::Create)?;
    for segment in program.segments() {
        let mut rights = Rights::NONE;
        for (allowed, right) in [
            (segment.readable, Rights::READ),
            (segment.writable, Rights::WRITE),
            (segment.executable, Rights::EXECUTE),
        ] {
            if allowed {
                rights = rights | right;
            }
        }
        let pages = segment.page_range();
        let mut page = pages.start;
        while page < pages.end {
            let frame = zeroed_frame()?;
            // The part of the file that lands in this page.
            let start = page.max(segment.virtual_address);
            let end =
                (page + FRAME_SIZE).min(segment.virtual_address + segment.file_bytes.len() as u64);
            if start < end {
                let from = (start - segment.virtual_address) as usize;
                let bytes = &segment.file_bytes[from..from + (end - start) as usize];
                // SAFETY: the frame was just allocated and zeroed; the copy stays inside it.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        bytes.as_ptr(),
                        (linear(frame) + (start - page)) as *mut u8,
                        bytes.len(),
                    )
                };
            }
            if segment.executable {
                crate::arch::user::make_instructions_visible(linear(frame), FRAME_SIZE);
            }
            kernel
                .insert_root_mapping(
                    task,
                    Page(page / FRAME_SIZE),
                    Frame(frame / FRAME_SIZE),
                    rights,
                )
                .map_err(LoadError::Map)?;
            page += FRAME_SIZE;
        }
    }
    for index in 1..=STACK_PAGES {
        let frame = zeroed_frame()?;
        let page = (STACK_TOP - index * FRAME_SIZE) / FRAME_SIZE;
        kernel
            .insert_root_mapping(
                task,
                Page(page),
                Frame(frame / FRAME_SIZE),
                Rights::READ | Rights::WRITE,
            )
            .map_err(LoadError::Map)?;
    }
    let slot = kernel
        .lookup(id)
        .ok_or(LoadError::Create(CreateError::NoSuchTask))?;
    kernel.start_thread(slot, program.entry, STACK_TOP);
    Ok(id)
}

fn zeroed_frame() -> Result<u64, LoadError> {
    let frame = memory::with_frames(|frames| frames.allocate())
        .flatten()
        .ok_or(LoadError::OutOfMemory)?;
    // SAFETY: a frame just taken from the allocator, covered read-write by the linear map.
    unsafe { core::ptr::write_bytes(linear(frame) as *mut u8, 0, FRAME_SIZE as usize) };
    Ok(frame)
}

/// Map the kernel interface page read-only at `address` in `thread`'s task and pass its
/// address in x0, as thread 0 of sigma0 and the root task start.
pub fn give_kernel_interface_page(
    kernel: &mut Kernel<HardwareMachine>,
    thread: ThreadId,
    address: u64,
) -> Result<(), LoadError> {
    let slot = kernel
        .lookup(thread)
        .ok_or(LoadError::Create(CreateError::NoSuchTask))?;
    kernel
        .give_kernel_interface_page(thread.task(), address)
        .map_err(LoadError::Create)?;
    if let Some(tcb) = kernel.thread_mut(slot) {
        tcb.context.x[0] = address;
    }
    Ok(())
}
