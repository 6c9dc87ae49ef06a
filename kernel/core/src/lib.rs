//! The kernel's pure logic: data structures and policies with no asm, no system registers and
//! no global state, so that every one of them is unit-tested on the host.
//!
//! The EL1 binary (`kernel/kernel`) owns the hardware and passes state in explicitly. This crate
//! holds the frame allocator and boot-memory placement, the boot modules (initrd and ELF), and
//! the kernel core proper: the mapping database, run queues, timeouts, ASIDs, and in `kernel`
//! the tasks, threads and IPC over a `Machine` trait (docs/design/kernel-core.md).
//!
//! No unsafe code, with one exception: the thread table keeps thread control blocks at fixed
//! addresses and the IPC fastpath reaches them through those addresses
//! (`kernel::thread_table`, `kernel::fastpath`, the only modules that allow it), because an
//! index, a bounds check and an `Option` per look-up were a third of the fastpath's cost.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod asid;
pub mod boot_memory;
pub mod boot_modules;
pub mod frame_allocator;
pub mod kernel;
pub mod mapdb;
pub mod scheduler;
pub mod timeouts;
