//! ping, task 4: the client, whose pager is pong.
//!
//! Calls pong a thousand times and checks every answer; reads an address nothing maps, so
//! that the kernel sends a page fault to pong and pong maps one of its pages there; sends
//! "done" and prints the verdict line `KTEST-USER PASS`. Any surprise is a `ping: FAIL` line
//! and a halt, without the verdict.

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod program;

rt::entry!(program::main);
