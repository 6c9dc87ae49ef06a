//! sigma0, task 1 (`1.0/v1`): the root pager, which owns physical memory and hands it out.
//!
//! The kernel starts it with x0 = the kernel interface page, whose memory map says which RAM
//! is conventional (sigma0's to hand out). sigma0's own address space maps physical memory
//! 1:1, lazily: the kernel maps physical page P at virtual P the first time sigma0 touches
//! it, so sigma0 needs no page tables of its own and every other mapping derives from these
//! roots. It then serves, in an open-wait receive loop:
//!
//! - **page faults** (from any thread whose pager it is, the root task first): the next free
//!   4 KiB page of conventional memory, first come first served, as a read-write map item at
//!   the faulting page. When memory runs out the reply has no items, so the thread faults
//!   again: running out is the client's problem, not sigma0's.
//! - **anything else** gets no reply at all (sigma0 just receives again), so a confused or
//!   hostile client blocks only itself.
//!
//! It is quiet: one line at start, none per page.

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod program;

rt::entry!(program::main);
