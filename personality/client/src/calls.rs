//! Linux system calls as direct IPC to the server: [`system_call`], and typed wrappers for a
//! few calls that cannot break memory safety.

use linux_abi::errno::Errno;
use linux_abi::syscall::Syscall;

use crate::outcome::{Outcome, SERVER_UNREACHABLE_RESULT, outcome, result};
use crate::raw::{self, Reply};
use crate::{breakpoint, is_exec, is_forking};

/// Makes the Linux system call `number` with `arguments` (x0..x5 of a `svc #0`) by calling
/// the OS server directly, and returns what Linux would leave in x0: the result, or
/// `-errno`.
///
/// - `execve` (and `execveat`) go by `svc #0` instead: on success the old program, this
///   library with it, is gone, so the answer must arrive in the trampoline page, which every
///   program keeps. It does not return: the new program starts.
/// - `exit` and `exit_group` do not return: the server deletes the task.
/// - `clone` and `clone3` save this thread's state first, so the child returns from this
///   function with 0 (see the crate documentation for what it may do).
/// - Without a server (the thread's pager is nil or gone) every call returns `-ENOSYS`.
///
/// # Safety
///
/// As for a raw `svc #0` (or libc's `syscall`): the call must not break memory that Rust
/// relies on (unmapping or remapping it, writing into it through a pointer argument,
/// `clone` with `CLONE_VM` while the parent runs, or with a new stack). The thread must be a
/// client of the OS server, which every thread the server starts is.
pub unsafe fn system_call(number: u64, arguments: [u64; 6]) -> i64 {
    // SAFETY: the caller guarantees a thread of ours, so a UTCB.
    let server = unsafe { raw::server() };
    if server.is_nil() {
        return SERVER_UNREACHABLE_RESULT as i64;
    }
    let send = || -> Reply {
        if is_forking(number) {
            let [first, second, third, fourth, fifth, sixth] = arguments;
            // SAFETY: the caller's obligations (see `# Safety`) cover what the call does.
            unsafe {
                raw::forking_call(
                    server.raw(),
                    number,
                    first,
                    second,
                    third,
                    fourth,
                    fifth,
                    sixth,
                )
            }
        } else {
            // SAFETY: as above.
            unsafe { raw::call(server, number, arguments) }
        }
    };
    if is_exec(number) {
        // SAFETY: as above.
        return unsafe { raw::trap(number, arguments) } as i64;
    }
    let mut reply = send();
    loop {
        match outcome(reply.tag, reply.word) {
            Outcome::Return(value) => return value as i64,
            Outcome::Exec(stack_pointer) => raw::exec(stack_pointer),
            Outcome::SendAgain => reply = send(),
            // SAFETY: as above; this is the end of the same call.
            Outcome::ReceiveAgain => reply = unsafe { raw::receive(server) },
            Outcome::UnknownAnswer => raw::stop::<{ breakpoint::UNKNOWN_ANSWER }>(),
        }
    }
}

/// `getpid`: the calling process's ID.
///
/// Linux's `getpid` cannot fail; here it fails with `ENOSYS` when there is no server.
pub fn getpid() -> Result<u32, Errno> {
    // SAFETY: getpid changes nothing.
    let value = unsafe { system_call(u64::from(Syscall::Getpid.number()), [0; 6]) };
    result(value).map(|pid| pid as u32)
}

/// `write(descriptor, bytes)`: how many bytes were written.
pub fn write(descriptor: i32, bytes: &[u8]) -> Result<usize, Errno> {
    let arguments = [
        descriptor as u64,
        bytes.as_ptr() as u64,
        bytes.len() as u64,
        0,
        0,
        0,
    ];
    // SAFETY: write only reads `bytes`, which the borrow keeps alive and unchanged.
    let value = unsafe { system_call(u64::from(Syscall::Write.number()), arguments) };
    result(value).map(|written| written as usize)
}

/// `exit_group(status)`: ends the process (every thread of it) with `status`; the parent's
/// `wait4` sees `status & 0xFF`. Never returns: if the server cannot be reached, the thread
/// stops at [`breakpoint::EXIT_FAILED`].
pub fn exit(status: i32) -> ! {
    // SAFETY: the process ends; nothing of it is used again.
    let _ = unsafe {
        system_call(
            u64::from(Syscall::ExitGroup.number()),
            [status as u64, 0, 0, 0, 0, 0],
        )
    };
    raw::stop::<{ breakpoint::EXIT_FAILED }>()
}
