//! bench-client, task 4: times kernel operations with the virtual counter and prints one
//! `BENCH <name> <instructions per operation> ticks=<t> iterations=<n>` line per figure,
//! then `BENCH-DONE`. Its pager is bench-server.

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod program;

rt::entry!(program::main);
