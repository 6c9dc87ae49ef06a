//! The EL1 kernel binary for QEMU `virt`: boot, memory, exceptions, interrupts, timer, power.
//!
//! This crate is the thin hardware layer of the kernel. Everything that can be decided without
//! touching hardware lives in host-tested crates: `devicetree` (what the machine is),
//! `aarch64` (descriptor, syndrome and trap-frame formats), `kcore` (frame allocator and,
//! later, threads and IPC), `pl011` (the UART's register model). Assembly is confined to
//! `arch/boot.s` and `arch/vectors.s`, plus the one-instruction firmware and AT probes in
//! `arch/mod.rs` and the TLB, cache and EL0-entry wrappers in `arch/user.rs`.
#![no_std]
#![no_main]

extern crate alloc;

#[macro_use]
mod console;
mod arch;
mod boot;
mod boot_programs;
mod exception;
mod interrupts;
#[cfg(feature = "ktest")]
mod ktest;
mod layout;
mod machine;
mod memory;
mod psci;
mod system;
mod timer;
mod user_level;
mod user_mode;
mod user_space;

/// Stop the kernel for good after a fatal error. A test image powers the machine off so that
/// the harness sees QEMU exit; a normal kernel halts with the report on screen (attach gdb
/// with `make debug` to look around).
pub fn stop(reason: &str) -> ! {
    console::print_in_emergency(format_args!("{reason}.\n"));
    if cfg!(feature = "ktest") {
        psci::system_off()
    }
    arch::halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    console::print_in_emergency(format_args!("\nKERNEL PANIC: {info}\n"));
    stop("kernel stopped after a panic")
}
