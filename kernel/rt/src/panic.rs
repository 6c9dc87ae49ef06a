//! The panic handler of our EL0 programs: say why on the kernel console, then halt.
//!
//! Programs are built with `panic = "abort"` (the target's default), so there is no
//! unwinding: the thread prints one line and halts itself. Other threads of the task go on;
//! whoever waits for the halted thread sees it stop answering, and its chief can find it
//! halted with lthread_ex_regs.

use core::panic::PanicInfo;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match info.location() {
        Some(location) => libl4::debug_println!("panic: {} at {}", info.message(), location),
        None => libl4::debug_println!("panic: {}", info.message()),
    }
    libl4::halt_myself()
}
