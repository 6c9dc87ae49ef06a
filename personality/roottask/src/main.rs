//! The root task, task 2 (`2.0/v1`): the first task that is not the memory owner.
//!
//! The kernel starts it from the initrd beside sigma0, with sigma0 as its pager, the kernel
//! as its chief (so it owns task numbers 3..=65535) and x0 = the kernel interface page. Later
//! it will start the drivers and the OS server (the personality) from the initrd; for now it
//! proves the path every later task's memory takes: it touches 64 pages of a region nothing
//! maps, each first touch is a page fault the kernel turns into a call to sigma0, and sigma0
//! answers with a map item for a fresh page of RAM (`roottask: 64 pages from sigma0, all read
//! back`). It asks sigma0 for device registers by the sigma0 protocol, maps the initrd from
//! sigma0, and starts `hello` from it as task 3 with itself as pager: every page of hello's
//! image and stack is a page the root task got from sigma0 and filled from the ELF file
//! (pagers stacked). Then it serves hello's faults for good.

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod program;

rt::entry!(program::main);
