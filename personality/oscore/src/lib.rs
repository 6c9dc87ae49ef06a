//! The OS server's logic, kept apart from the kernel: the server binary's kernel-facing module
//! turns IPC into calls on these types and their answers back into IPC, as L4Linux changed
//! only Linux's architecture-dependent part. Everything here is `no_std` + `alloc`, uses no
//! `unsafe`, and is tested on the host with `cargo test -p oscore`.
//!
//! - [`vfs`]: the file system tree (the initrd as the read-only root, device nodes), open
//!   file descriptions and per-process descriptor tables.
//! - [`memory`]: a process's logical address space: VMAs, its own page table over server
//!   frames, brk and anonymous mmap, page-fault resolution, checked user-memory copies,
//!   fork's copy, and loading a static ELF with its initial stack.
//! - [`process`]: the process table: pids, parents and children, exit statuses and wait4.
//! - [`tty`]: the console's line discipline.
//! - [`server`]: the dispatcher: system calls, page faults, exceptions, console input and
//!   time in, the kernel operations the server binary performs out.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod memory;
pub mod process;
pub mod server;
pub mod tty;
pub mod vfs;
