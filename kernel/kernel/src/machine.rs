//! `kcore::kernel::Machine` on the hardware: address spaces are [`UserSpace`]s (TTBR0 tables
//! with ASIDs), user memory is reached through the page tables and the linear map (never by
//! dereferencing a user address), interrupt lines are masked at the GIC.
//!
//! This is the whole of the kernel core's contact with the hardware; everything it decides
//! is in `kcore`.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use abi::ThreadId;
use kcore::frame_allocator::FRAME_SIZE;
use kcore::kernel::{Machine, UserFault};
use kcore::mapdb::{Frame, OutOfMemory, Page, Rights};

use crate::layout::linear;
use crate::memory;
use crate::user_space::{self, UserSpace};

/// A task's address space and the frames the kernel put into it for itself (UTCBs, the
/// pages of the boot programs and their stacks), which go back to the frame allocator with it.
#[derive(Debug)]
pub struct TaskSpace {
    space: UserSpace,
    owned_frames: Vec<u64>,
}

impl TaskSpace {
    /// The tables, to activate the space before running one of its threads.
    pub fn user_space(&mut self) -> &mut UserSpace {
        &mut self.space
    }

    /// Map a kernel frame every task may read (the kernel interface page) read-only at
    /// `address`; the frame stays the kernel's.
    pub fn map_shared_read_only(&mut self, address: u64, frame: u64) -> Result<(), OutOfMemory> {
        // SAFETY: the frame holds only what every task may read and the kernel never frees it;
        // EL0 cannot write it (read-only).
        unsafe {
            self.space
                .map_page(address, frame, user_space::Rights::READ_ONLY)
        }
        .map_err(|_| OutOfMemory)
    }

    /// Give the space a zeroed frame of its own at user page `page` with `rights`; the frame
    /// returns to the allocator when the space is destroyed. Returns the frame.
    pub fn provide_page(
        &mut self,
        page: u64,
        rights: user_space::Rights,
    ) -> Result<u64, OutOfMemory> {
        let frame = memory::with_frames(|frames| frames.allocate())
            .flatten()
            .ok_or(OutOfMemory)?;
        // SAFETY: the frame was just allocated, nothing else uses it, and the linear map
        // covers it read-write.
        unsafe { core::ptr::write_bytes(linear(frame) as *mut u8, 0, FRAME_SIZE as usize) };
        // SAFETY: the frame is user memory the kernel keeps for this space while it is mapped
        // (`owned_frames` returns it only when the space is gone).
        if unsafe { self.space.map_page(page * FRAME_SIZE, frame, rights) }.is_err() {
            let _ = memory::with_frames(|frames| frames.free(frame));
            return Err(OutOfMemory);
        }
        self.owned_frames.push(frame);
        Ok(frame)
    }
}

/// The hardware behind the kernel core.
#[derive(Debug, Default)]
pub struct HardwareMachine;

/// The kernel interface page's frame (0: not built; test images that skip the normal boot).
static KERNEL_INTERFACE_PAGE: AtomicU64 = AtomicU64::new(0);

/// The frame holding the kernel interface page, built at boot (`user_level.rs`); task_new
/// maps it where its caller asks.
pub fn set_kernel_interface_page(frame: u64) {
    KERNEL_INTERFACE_PAGE.store(frame, Ordering::Relaxed);
}

fn rights_of(rights: Rights) -> user_space::Rights {
    user_space::Rights {
        read: rights.contains(Rights::READ),
        write: rights.contains(Rights::WRITE),
        // W^X: a mapping that asks for both gets no execute right.
        execute: rights.contains(Rights::EXECUTE) && !rights.contains(Rights::WRITE),
    }
}

impl HardwareMachine {
    /// Walk `[address, address + length)` page by page through `space`'s tables, checking
    /// that EL0 may read (and with `write`, write) each page, and hand each piece's
    /// linear-map address to `copy`.
    fn each_piece(
        space: &mut TaskSpace,
        address: u64,
        length: usize,
        write: bool,
        mut copy: impl FnMut(u64, usize, usize),
    ) -> Result<(), UserFault> {
        let mut done = 0usize;
        while done < length {
            let at = address
                .checked_add(done as u64)
                .ok_or(UserFault { address })?;
            let (frame, rights) = space
                .space
                .lookup(at & !(FRAME_SIZE - 1))
                .ok_or(UserFault { address: at })?;
            if !rights.read || (write && !rights.write) {
                return Err(UserFault { address: at });
            }
            let offset = (at % FRAME_SIZE) as usize;
            let take = (FRAME_SIZE as usize - offset).min(length - done);
            copy(linear(frame) + offset as u64, done, take);
            done += take;
        }
        Ok(())
    }
}

impl Machine for HardwareMachine {
    type Space = TaskSpace;

    fn create_space(&mut self) -> Option<TaskSpace> {
        Some(TaskSpace {
            space: UserSpace::new()?,
            owned_frames: Vec::new(),
        })
    }

    fn destroy_space(&mut self, space: TaskSpace) {
        let TaskSpace {
            space,
            owned_frames,
        } = space;
        // Tables and ASID first, so no translation to the frames survives.
        space.destroy();
        for frame in owned_frames {
            let _ = memory::with_frames(|frames| frames.free(frame));
        }
    }

    fn map_kernel_interface_page(
        &mut self,
        space: &mut TaskSpace,
        page: Page,
    ) -> Result<(), OutOfMemory> {
        let frame = KERNEL_INTERFACE_PAGE.load(Ordering::Relaxed);
        if frame == 0 {
            return Err(OutOfMemory);
        }
        let address = page.0.checked_mul(FRAME_SIZE).ok_or(OutOfMemory)?;
        space.map_shared_read_only(address, frame)
    }

    fn provide_kernel_page(
        &mut self,
        space: &mut TaskSpace,
        page: Page,
    ) -> Result<(), OutOfMemory> {
        space
            .provide_page(page.0, user_space::Rights::READ_WRITE)
            .map(|_| ())
    }

    fn install(
        &mut self,
        space: &mut TaskSpace,
        page: Page,
        frame: Frame,
        rights: Rights,
    ) -> Result<(), OutOfMemory> {
        let virt = page.0.checked_mul(FRAME_SIZE).ok_or(OutOfMemory)?;
        if space.space.lookup(virt).is_some() {
            let _ = space.space.unmap_page(virt);
        }
        let physical = frame.0.checked_mul(FRAME_SIZE).ok_or(OutOfMemory)?;
        if crate::user_level::is_device(physical) {
            // SAFETY: device MMIO offered to user level (never the GIC or the kernel's console:
            // the device tree reader leaves those out).
            return unsafe {
                space
                    .space
                    .map_device_page(virt, physical, rights_of(rights))
            }
            .map_err(|_| OutOfMemory);
        }
        let user_rights = rights_of(rights);
        if user_rights.execute {
            // Whatever was written into the frame through a data mapping (a pager copying
            // code) becomes visible to instruction fetches before EL0 can run it.
            crate::arch::user::make_instructions_visible(linear(physical), FRAME_SIZE);
        }
        // SAFETY: the mapping database only installs frames that a root mapping gave to a
        // task (sigma0's memory, boot program pages): user memory, never kernel data.
        unsafe { space.space.map_page(virt, physical, user_rights) }.map_err(|_| OutOfMemory)
    }

    fn protect(&mut self, space: &mut TaskSpace, page: Page, rights: Rights) {
        let _ = space
            .space
            .protect_page(page.0 * FRAME_SIZE, rights_of(rights));
    }

    fn remove(&mut self, space: &mut TaskSpace, page: Page) {
        let _ = space.space.unmap_page(page.0 * FRAME_SIZE);
    }

    fn read_user(
        &mut self,
        space: &mut TaskSpace,
        address: u64,
        bytes: &mut [u8],
    ) -> Result<(), UserFault> {
        let length = bytes.len();
        Self::each_piece(space, address, length, false, |source, done, take| {
            // SAFETY: `source` is the linear-map address of a user frame the tables map
            // readable; `take` bytes stay within that frame.
            let piece = unsafe { core::slice::from_raw_parts(source as *const u8, take) };
            bytes[done..done + take].copy_from_slice(piece);
        })
    }

    fn write_user(
        &mut self,
        space: &mut TaskSpace,
        address: u64,
        bytes: &[u8],
    ) -> Result<(), UserFault> {
        Self::each_piece(space, address, bytes.len(), true, |target, done, take| {
            // SAFETY: `target` is the linear-map address of a user frame the tables map
            // writable; `take` bytes stay within that frame.
            let piece = unsafe { core::slice::from_raw_parts_mut(target as *mut u8, take) };
            piece.copy_from_slice(&bytes[done..done + take]);
        })
    }

    fn set_interrupt_masked(&mut self, line: u16, masked: bool) {
        crate::system::set_line_masked(line, masked);
    }

    fn sigma0_memory(&mut self, address: u64) -> Option<(Frame, Rights)> {
        crate::user_level::sigma0_memory(address)
    }

    fn debug_write(&mut self, thread: ThreadId, text: &[u8]) {
        let text = core::str::from_utf8(text).unwrap_or("<not UTF-8>");
        kprintln!("[{thread}] {}", text.trim_end_matches('\n'));
    }

    fn power_off(&mut self) {
        kprintln!("system_power_off: the root task turns the machine off");
        crate::psci::system_off()
    }

    fn fast_switch_value(&self, space: &TaskSpace) -> Option<u64> {
        space.space.fast_switch_value()
    }

    fn switch_epoch(&self) -> u64 {
        crate::user_space::asid_generation()
    }
}
