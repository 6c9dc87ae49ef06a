//! client_library: the same kind of checks as the other programs, made through the OS
//! server's client library (path b: a direct ipc to the server, no `svc #0`) instead of the
//! C library's system calls. Only the checks go that way; the C library's own start-up and
//! output take the process's configured path. The client library exists on aarch64 only;
//! elsewhere (a host build of the workspace) the program says so and fails.

#![no_main]

use std::ffi::{c_char, c_int};

use linux_programs::*;

/// One system call through the client library.
#[cfg(target_arch = "aarch64")]
fn direct(number: i64, arguments: [u64; 6]) -> i64 {
    // SAFETY: the calls below pass only this program's own buffers, null or bad addresses
    // (which the server must refuse with EFAULT), and exit; none changes its memory map.
    unsafe { client::system_call(number as u64, arguments) }
}

#[cfg(not(target_arch = "aarch64"))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    let mut checks = Checks::new("client_library");
    checks.check(
        "the client library exists on this architecture",
        false,
        || String::from("it is aarch64 code"),
    );
    checks.finish()
}

#[cfg(target_arch = "aarch64")]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    let mut checks = Checks::new("client_library");
    let through_svc = getpid();
    let through_ipc = direct(libc::SYS_getpid, [0; 6]);
    checks.equal(
        "getpid by direct ipc matches getpid by svc #0",
        through_ipc,
        through_svc,
    );
    checks.equal(
        "the typed getpid wrapper agrees",
        client::getpid().map(i64::from).ok(),
        Some(through_svc),
    );
    let text = b"client_library: written by direct ipc\n";
    checks.equal(
        "write to stdout by direct ipc",
        direct(
            libc::SYS_write,
            [1, text.as_ptr() as u64, text.len() as u64, 0, 0, 0],
        ),
        text.len() as i64,
    );
    checks.fails_with(
        "write from a bad buffer by direct ipc",
        direct(
            libc::SYS_write,
            [1, Bad::NullPage.address(), BAD_LENGTH, 0, 0, 0],
        ),
        libc::EFAULT,
    );
    checks.fails_with(
        "write to a closed descriptor by direct ipc",
        direct(libc::SYS_write, [99, text.as_ptr() as u64, 1, 0, 0, 0]),
        libc::EBADF,
    );
    checks.fails_with(
        "an unknown system call by direct ipc",
        direct(4000, [0; 6]),
        libc::ENOSYS,
    );
    // fork through the library: the child returns 0 from the same call with the caller's
    // registers and stack, and exits with a code the parent reads back.
    let child = direct(libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]);
    if child == 0 {
        client::exit(42);
    }
    checks.check("fork by direct ipc", child > 0, || describe(child));
    let mut status: c_int = 0;
    let reaped = direct(
        libc::SYS_wait4,
        [child as u64, &raw mut status as u64, 0, 0, 0, 0],
    );
    checks.equal("wait4 by direct ipc reaps the child", reaped, child);
    checks.equal("the child's exit code", exit_code(status), Some(42));
    checks.finish()
}
