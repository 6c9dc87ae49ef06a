//! The OS server, task 4: one thread (thread 0) is the pager, exception handler and
//! system-call handler of every Linux process; thread 1 relays console input
//! (docs/design/os-server.md, docs/personality.md).
//!
//! The Unix lives in `oscore` (host-tested, no kernel calls); [`kernel`] is the one module
//! that talks to the kernel: it turns messages into `oscore` events and `oscore`'s actions
//! into kernel calls, as L4Linux replaced only Linux's architecture-dependent part.

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
extern crate alloc;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod kernel;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod program;

rt::entry!(program::main);
