//! bench-server, task 3: the partner of bench-client's two-space round trip and one-way
//! messages, and its pager (one page of its own `.bss`, lent at every faulting address).

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod program;

rt::entry!(program::main);
