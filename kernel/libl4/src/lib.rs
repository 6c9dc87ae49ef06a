//! libl4: the user-level bindings of the kernel calls, for our own EL0 programs (sigma0, the
//! root task, servers, drivers, test tasks).
//!
//! Why it is built this way:
//!
//! - **The `abi` crate says what goes into which register; libl4 only moves it.** Every
//!   call's `…Arguments::encode` builds x0..x10 and its `…ReturnValues::decode` checks
//!   x0..x9, so libl4 holds no layout of its own and cannot disagree with the kernel.
//! - **The asm is in one file, `raw.rs`**: one stub per call, each `svc #N` with `N` taken
//!   from [`abi::Call::number`] and the register contract written next to it. Everything
//!   else is safe Rust on top.
//! - **Typed wrappers are safe where the call cannot break the caller's memory.** An
//!   untyped message (the `call`, `reply_and_wait`, `send` and `receive` wrappers)
//!   only moves words; a message with map or grant items changes address spaces, so it goes
//!   through the `unsafe` `ipc`, whose caller states why the pages it gives away or lets
//!   in are not memory Rust relies on. The safe wrappers rest on one invariant: the UTCB's
//!   acceptor and string buffers (BR0..BR33) open no memory in use, which holds as long as
//!   the unsafe code that writes them through `utcb` keeps it (a fresh UTCB page is
//!   zero-filled: no receive window, no strings accepted).
//! - **Debug output is formatted into a fixed 512-byte buffer** ([`DebugBuffer`]), the most
//!   one kernel_debug_write takes, so a line up to 512 bytes is one kernel entry and lines
//!   of different threads do not interleave; longer text goes out in 512-byte pieces.
//!
//! The calls exist only on the target (`aarch64`, bare metal): on the host this crate is the
//! pure helpers ([`debug_chunks`], [`DebugBuffer`]) and their unit tests, nothing that
//! pretends to enter a kernel.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

mod debug;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod ipc;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod raw;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod thread;

pub use debug::{DEBUG_WRITE_CAPACITY, DebugBuffer, debug_chunks};
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use debug::{debug_print, debug_write, debug_write_bytes};
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use ipc::{call, ipc, receive, reply_and_wait, send};
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use thread::{halt_myself, my_thread_id, thread_switch, utcb};

/// Prints to the kernel console through kernel_debug_write, like `print!`. Target only.
///
/// The text is formatted into a 512-byte buffer on the stack; up to 512 bytes are one kernel
/// call. Errors of the call (a kernel without debug calls) are ignored: there is nowhere
/// else to report them.
#[macro_export]
macro_rules! debug_print {
    ($($argument:tt)*) => {
        $crate::debug_print(::core::format_args!($($argument)*))
    };
}

/// Prints a line to the kernel console through kernel_debug_write, like `println!`. Target
/// only. A line up to 512 bytes, newline included, is one kernel call, so it does not
/// interleave with another thread's output.
#[macro_export]
macro_rules! debug_println {
    () => {
        $crate::debug_print(::core::format_args!("\n"))
    };
    ($($argument:tt)*) => {
        $crate::debug_print(::core::format_args!(
            "{}\n",
            ::core::format_args!($($argument)*)
        ))
    };
}
