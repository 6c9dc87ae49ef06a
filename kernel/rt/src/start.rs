//! Program start: `_start` (start.s) hands over to [`__rt_start`], which calls the program's
//! entry and halts the thread when it returns.

use core::sync::atomic::{AtomicU64, Ordering};

core::arch::global_asm!(include_str!("start.s"));

/// The kernel interface page address thread 0 started with; 0 for none.
static KERNEL_INTERFACE_PAGE: AtomicU64 = AtomicU64::new(0);

/// The address of the kernel interface page (`abi::kernel_interface_page`), as the kernel
/// passed it to the program's first thread in x0; `None` if the task has none.
pub fn kernel_interface_page_address() -> Option<u64> {
    match KERNEL_INTERFACE_PAGE.load(Ordering::Relaxed) {
        0 => None,
        address => Some(address),
    }
}

// SAFETY: `__rt_main` is defined by the program's `rt::entry!`, always as a `pub fn()`
// with the Rust ABI and no arguments, which is what this declaration says.
unsafe extern "Rust" {
    safe fn __rt_main();
}

/// Called by `_start` with x0 as the kernel left it: runs the program, then halts.
#[unsafe(no_mangle)]
extern "C" fn __rt_start(kernel_interface_page: u64) -> ! {
    KERNEL_INTERFACE_PAGE.store(kernel_interface_page, Ordering::Relaxed);
    __rt_main();
    libl4::halt_myself()
}
