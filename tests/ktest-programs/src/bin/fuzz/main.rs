//! fuzz, task 5: calls the kernel with random arguments while ping and pong run.
//!
//! The kernel must decode every argument and refuse what is wrong without crashing, hanging
//! or harming another task: ping and pong finish their own test beside it. The fuzzer only
//! spares itself the calls that would stop it for sure (blocking forever, redirecting or
//! halting its own thread, unmapping its own pages), since a halted fuzzer tests nothing;
//! anything it does to threads it created itself is fair game.

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod program;

rt::entry!(program::main);
