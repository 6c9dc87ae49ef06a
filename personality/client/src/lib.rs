//! The OS server's client library: Linux system calls as a direct IPC call to the server,
//! with no trap (path (b) of docs/design/os-server.md, the "modified libc" of L4Linux).
//!
//! An unmodified program executes `svc #0`, which the kernel reflects to the trampoline
//! (path a) or sends as an exception message (path c). A program linked with this library
//! calls [`system_call`] instead, which sends the same [`protocol::SystemCall`] the
//! trampoline sends, straight to the server, and gets the same [`protocol::Answer`]: one ipc
//! each way, no reflection and no resume. The server cannot tell the two apart, and needs
//! not: path (b) is a property of the program, not a setting. A std program
//! (`aarch64-unknown-linux-musl`) keeps its C library's `svc #0` for everything it does not
//! route here; those go the process's configured way.
//!
//! Why it is built this way:
//!
//! - **The server is found in the UTCB**: it is every client thread's pager, and the kernel
//!   mirrors the pager into the UTCB (TPIDRRO_EL0 holds its address), so the library needs
//!   no configuration and no global state.
//! - **The same decisions as the trampoline**, in Rust ([`outcome`], host-tested): a result
//!   is returned, an exec answer jumps to the trampoline's start with the new stack, a
//!   cancelled send is sent again, a cancelled receive waits again, an unreachable server
//!   makes the call fail with `ENOSYS`, and an answer that is none stops at a `brk`
//!   ([`breakpoint`]).
//! - **fork from a function call.** The child of `clone`/`clone3` starts at the trampoline's
//!   fork_child, which resumes whatever frame the save area ([`protocol::save_area`]) holds.
//!   The library stores its caller's state there: a naked function saves every register as
//!   it is at its entry (the callee-saved x19..x29 and D8..D15 with them, the return address
//!   x30, SP), TPIDR_EL0, FPSR, FPCR and the UTCB's `trampoline_entry`, with the PC at its own
//!   child exit, then makes the call. The child, in a copy of the address space, comes out
//!   there and returns to the same caller with 0, exactly as a function call returns: the
//!   caller-saved registers are free by the calling convention, the callee-saved ones and
//!   the stack (the parent's, copied at the call) are the caller's.
//! - **Raw calls are `unsafe`**, as `svc #0` is: a system call can unmap memory in use;
//!   the typed wrappers ([`getpid`], [`write`], [`exit`]) are safe because theirs cannot.
//!
//! The asm exists on aarch64 only (bare metal or Linux targets, hard or soft float); on
//! other architectures the crate is its pure part and the tests.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

#[cfg(target_arch = "aarch64")]
mod calls;
mod outcome;
#[cfg(target_arch = "aarch64")]
mod raw;

use linux_abi::syscall::Syscall;

#[cfg(target_arch = "aarch64")]
pub use calls::{exit, getpid, system_call, write};
pub use linux_abi::errno::Errno;
pub use outcome::{Outcome, SERVER_UNREACHABLE_RESULT, outcome, result};

/// The `brk` immediates at which the library stops a thread when it cannot go on. The server
/// receives each as an exception message (ESR_EL1's ISS holds the immediate).
pub mod breakpoint {
    /// The server answered with something that is no [`protocol::Answer`].
    pub const UNKNOWN_ANSWER: u16 = 0x5C28;
    /// `exit_group` returned: the server could not be reached to end the process.
    pub const EXIT_FAILED: u16 = 0x5C29;
}

/// The Linux system calls that make a child from the caller's registers; the library saves
/// the caller's state in the save area before it sends them. (arm64 has no `fork` or `vfork`
/// numbers: C libraries make both with `clone`.)
pub const FORKING_CALLS: [Syscall; 2] = [Syscall::Clone, Syscall::Clone3];

/// Whether system call `number` is one of the [`FORKING_CALLS`].
pub fn is_forking(number: u64) -> bool {
    FORKING_CALLS
        .iter()
        .any(|call| u64::from(call.number()) == number)
}

/// The Linux system calls that replace the program: made by `svc #0` (see
/// [`system_call`]).
pub const EXEC_CALLS: [Syscall; 2] = [Syscall::Execve, Syscall::Execveat];

/// Whether system call `number` is one of the [`EXEC_CALLS`].
pub fn is_exec(number: u64) -> bool {
    EXEC_CALLS
        .iter()
        .any(|call| u64::from(call.number()) == number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execve_and_execveat_go_by_trap_and_nothing_else_does() {
        assert!(is_exec(221));
        assert!(is_exec(281));
        for number in [0, 93, 220, 435, u64::from(u32::MAX) + 221] {
            assert!(!is_exec(number), "{number}");
        }
    }

    #[test]
    fn clone_and_clone3_fork_and_nothing_else_does() {
        assert!(is_forking(220));
        assert!(is_forking(435));
        for number in [0, 93, 94, 172, 221, 260, u64::from(u32::MAX) + 220] {
            assert!(!is_forking(number), "{number}");
        }
    }

    #[test]
    fn the_breakpoints_differ_from_each_other() {
        assert_ne!(breakpoint::UNKNOWN_ANSWER, breakpoint::EXIT_FAILED);
    }
}
