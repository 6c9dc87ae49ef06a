//! The `bench` scenario: `make bench`'s kernel microbenchmarks (docs/performance.md).
//!
//! Like `kcore-ipc`, it starts two programs from the initrd and hands the CPU to the kernel
//! core: `bench-server` as task 3 and `bench-client` as task 4, paged by the server. The
//! client measures and prints one `BENCH` line per figure and `BENCH-DONE`; the run ends
//! when no thread can run any more. The iteration count comes from the boot argument
//! `bench.iterations=N` (default: the client's own, 100 000) and reaches the client in its
//! UTCB's user handle, written here before it starts, together with a flag saying that the
//! GIC distributor's first page is mapped into the client for the interrupt figure. The
//! constants below are those of `tests/bench-programs` (`SERVER_TASK`, `CLIENT_TASK`,
//! `GIC_DISTRIBUTOR_WINDOW`, `HANDLE_DISTRIBUTOR_MAPPED`).

use abi::ThreadId;
use abi::utcb::Utcb;
use devicetree::{InterruptController, Machine, boot_argument};
use kcore::boot_modules::Initrd;
use kcore::frame_allocator::FRAME_SIZE;
use kcore::kernel::Machine as _;
use kcore::mapdb::{Frame, Page, Rights};

use crate::layout::linear;
use crate::machine::HardwareMachine;

const SERVER_TASK: u16 = 3;
const CLIENT_TASK: u16 = 4;
/// Where the client finds the GIC distributor's first page (`GIC_DISTRIBUTOR_WINDOW`).
const DISTRIBUTOR_WINDOW: u64 = 0x2000_0000;
/// Set in the user handle when the window is mapped (`HANDLE_DISTRIBUTOR_MAPPED`).
const DISTRIBUTOR_MAPPED: u64 = 1 << 63;

/// Start the benchmark tasks and run them; returns only if they cannot start.
pub fn run(machine: &Machine<'static>) -> Result<(), &'static str> {
    let iterations = match boot_argument(machine.bootargs, "bench.iterations") {
        None => 0,
        Some(text) => match text.parse::<u64>() {
            Ok(count) if count > 0 && count <= u64::from(u32::MAX) => count,
            _ => return Err("bench.iterations= wants a positive number"),
        },
    };
    let initrd = machine.initrd.ok_or("no initrd")?;
    // SAFETY: the initrd's frames are reserved and never written; the linear map is permanent.
    let bytes = unsafe {
        core::slice::from_raw_parts(linear(initrd.base) as *const u8, initrd.size as usize)
    };
    let initrd = Initrd::new(bytes).map_err(|_| "the initrd is not a cpio newc archive")?;
    let server_program = initrd
        .find_program("bench-server")
        .map_err(|_| "bench-server is missing or not a static aarch64 program")?;
    let client_program = initrd
        .find_program("bench-client")
        .map_err(|_| "bench-client is missing or not a static aarch64 program")?;
    let mut kernel = kcore::kernel::Kernel::new(HardwareMachine, crate::timer::hz());
    let server =
        crate::boot_programs::start(&mut kernel, SERVER_TASK, ThreadId::NIL, &server_program)
            .map_err(|_| "bench-server did not start")?;
    let client = crate::boot_programs::start(&mut kernel, CLIENT_TASK, server, &client_program)
        .map_err(|_| "bench-client did not start")?;
    // The interrupt-delivery figure: the client pends an unused SPI itself by writing the
    // distributor's GICD_ISPENDR, so it gets the distributor's first page, read-write. Only
    // this benchmark scenario hands device registers of the kernel's to a user task.
    let distributor = match machine.interrupt_controller {
        InterruptController::GicV2 { distributor, .. }
        | InterruptController::GicV3 { distributor, .. } => distributor.base,
    };
    let mapped = kernel
        .insert_root_mapping(
            CLIENT_TASK,
            Page(DISTRIBUTOR_WINDOW / FRAME_SIZE),
            Frame(distributor / FRAME_SIZE),
            Rights::READ | Rights::WRITE,
        )
        .is_ok();
    let handle = if mapped {
        iterations | DISTRIBUTOR_MAPPED
    } else {
        iterations
    };
    let utcb = kernel
        .lookup(client)
        .and_then(|slot| kernel.thread(slot))
        .ok_or("bench-client has no thread 0")?
        .utcb;
    let space = kernel
        .task_space_mut(CLIENT_TASK)
        .ok_or("bench-client has no address space")?;
    HardwareMachine
        .write_user(
            space,
            utcb + Utcb::OFFSET_USER_HANDLE as u64,
            &handle.to_le_bytes(),
        )
        .map_err(|_| "cannot write bench-client's UTCB")?;
    kprintln!("ktest: started bench-server as {server} and bench-client as {client}");
    kernel.schedule();
    crate::system::start(kernel)
}
