//! pong, task 3: the server ping calls, and ping's pager.
//!
//! Waits for anyone; answers a request with its number plus one by reply-and-wait; answers a
//! page fault of ping's with a map item for one of its own pages, which holds the seed; halts
//! on "done". Anything unexpected is a `pong: FAIL` line and a halt: a test task that goes
//! on after a surprise hides the bug it met.

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod program;

rt::entry!(program::main);
