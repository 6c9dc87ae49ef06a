//! rt: the runtime of our own EL0 programs (sigma0, the root task, servers, drivers, test
//! tasks): where a program starts, what happens when it panics, and how it is laid out.
//!
//! Why it is built this way:
//!
//! - **The kernel does the loader's work, so `_start` is three instructions.** The kernel
//!   starts a program's thread 0 at the ELF entry with SP_EL0 at the top of a stack it set
//!   up, x0 = the kernel interface page address (or 0 when the task has none) and
//!   TPIDRRO_EL0 = the UTCB. `_start` (`start.s`) ends the frame chain for debuggers, keeps SP
//!   16-byte aligned and calls Rust. There is no `.bss` zeroing and no `.data` copy: the
//!   kernel loads every segment at its link address and zero-fills each segment's memory
//!   beyond its file bytes (`p_memsz > p_filesz`, `kcore::boot_modules::LoadSegment`), which is
//!   exactly the `.bss`.
//! - **The program names its entry with [`entry!`]**, a plain `fn()` (or `fn() -> !`). When it
//!   returns, the thread halts itself (lthread_ex_regs `HALT` on itself): a program has no one
//!   to return to, and a halted thread is visible to its task and its chief, unlike a spin.
//! - **A panic prints `panic: <message> at <file:line:column>` through kernel_debug_write and
//!   halts the thread**, so a failing test task says why in the serial log.
//! - **Layout comes from one linker script, `link.ld`,** which each program passes to the
//!   linker from its own `build.rs` (link arguments of a dependency do not reach the final
//!   binary):
//!
//!   ```text
//!   // build.rs of a program in <workspace>/<group>/<program>:
//!   let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap();
//!   println!("cargo:rustc-link-arg-bins=-T{manifest}/../../kernel/rt/link.ld");
//!   ```
//!
//!   Text at 0x40_0000, then rodata, then data and bss, each starting on its own 4 KiB page
//!   and in its own `PT_LOAD` (R X, R, R W), so W^X holds and no two segments share a page,
//!   which the kernel requires of every program it loads.
//!
//! Built for `aarch64-unknown-none` (FP/SIMD allowed at EL0). On any other target the crate
//! is empty but for [`entry!`], which there makes a program a host binary that refuses to
//! run, so that host-wide `cargo test` and `cargo clippy` of the workspace still build.

#![no_std]
#![warn(missing_docs)]

#[cfg(all(target_arch = "aarch64", target_os = "none", not(test)))]
mod panic;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod start;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use start::kernel_interface_page_address;

/// Names the program's entry point: `rt::entry!(main);` with `fn main()` or `fn main() -> !`.
/// `_start` calls it on the thread's initial stack; if it returns, the thread halts itself.
///
/// On the target it defines the symbol `__rt_main`, which `rt` calls; a program without
/// `entry!` fails to link with `__rt_main` undefined, and one with two fails with it defined
/// twice.
///
/// On any other target (a host `cargo test --workspace` or `cargo clippy --workspace`), where
/// a program cannot run, it defines an ordinary `main` that says so and exits with status 1,
/// and the program's code is expected to sit in a module built only for the target:
///
/// ```text
/// #![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]
/// #[cfg(all(target_arch = "aarch64", target_os = "none"))]
/// mod program;
/// rt::entry!(program::main);
/// ```
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The program's entry, called by `rt`'s `_start`.
        #[cfg(all(target_arch = "aarch64", target_os = "none"))]
        #[unsafe(no_mangle)]
        pub fn __rt_main() {
            $main()
        }

        /// Outside the microkernel there is nothing to run: say so and fail.
        #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
        fn main() {
            ::std::eprintln!(
                "{} is an EL0 program for the microkernel: build it with \
                 --target aarch64-unknown-none and boot it from the initrd",
                ::core::env!("CARGO_BIN_NAME")
            );
            ::std::process::exit(1)
        }
    };
}
