//! The kernel's pure logic: data structures and policies with no asm, no system registers and
//! no global state, so that every one of them is unit-tested on the host.
//!
//! The EL1 binary (`kernel/kernel`) owns the hardware and passes state in explicitly. Today this
//! crate holds the physical frame allocator; threads, IPC, run queues and the mapping database
//! join it with the kernel-core issue.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod asid;
pub mod boot_memory;
pub mod boot_modules;
pub mod frame_allocator;
pub mod mapdb;
pub mod scheduler;
pub mod timeouts;
