//! The root task, task 2 (`2.0/v1`): the first task that is not the memory owner.
//!
//! The kernel starts it from the initrd beside sigma0, with sigma0 as its pager, the kernel
//! as its chief (so it owns task numbers 3..=65535) and x0 = the kernel interface page. It
//! first proves the path every later task's memory takes: it touches 64 pages of a region
//! nothing maps, each first touch is a page fault the kernel turns into a call to sigma0, and
//! sigma0 answers with a map item for a fresh page of RAM (`roottask: 64 pages from sigma0, all
//! read back`). Then it maps the initrd and the device tree from sigma0 and starts what the
//! initrd holds: the console driver (task 3, with the UART the device tree names, its page
//! from sigma0 and its interrupt attached), the OS server (task 4, with the initrd to serve
//! as its root file system) and, in the test image, `hello` (task 5). It is the pager of all
//! of them (`children`: every page a fresh page it got from sigma0, filled from the ELF file
//! or zero; pagers stacked), answers their configuration requests, and turns the machine off
//! when the server asks.

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
extern crate alloc;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod children;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod program;

rt::entry!(program::main);
