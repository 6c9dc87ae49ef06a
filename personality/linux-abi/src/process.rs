//! Process values: clock IDs, resource limits, `wait4` statuses and options, `clone`
//! flags and `getrandom` flags.
//!
//! From `linux/time.h`, `asm-generic/resource.h`, `linux/wait.h`, `linux/sched.h` and
//! `linux/random.h`. The wait-status encoding is not in a uapi header (C libraries decode
//! it with the `W*` macros); it is the kernel's, from `kernel/exit.c` and
//! `kernel/signal.c`, and musl's `sys/wait.h` macros read it back.

use crate::signal::Signal;

/// `CLOCK_REALTIME`: wall-clock time.
pub const CLOCK_REALTIME: u32 = 0;
/// `CLOCK_MONOTONIC`: time since an unspecified start, never set.
pub const CLOCK_MONOTONIC: u32 = 1;
/// `CLOCK_PROCESS_CPUTIME_ID`.
pub const CLOCK_PROCESS_CPUTIME_ID: u32 = 2;
/// `CLOCK_THREAD_CPUTIME_ID`.
pub const CLOCK_THREAD_CPUTIME_ID: u32 = 3;
/// `CLOCK_MONOTONIC_RAW`.
pub const CLOCK_MONOTONIC_RAW: u32 = 4;
/// `CLOCK_REALTIME_COARSE`.
pub const CLOCK_REALTIME_COARSE: u32 = 5;
/// `CLOCK_MONOTONIC_COARSE`.
pub const CLOCK_MONOTONIC_COARSE: u32 = 6;
/// `CLOCK_BOOTTIME`.
pub const CLOCK_BOOTTIME: u32 = 7;

/// `RLIMIT_CPU`.
pub const RLIMIT_CPU: u32 = 0;
/// `RLIMIT_FSIZE`.
pub const RLIMIT_FSIZE: u32 = 1;
/// `RLIMIT_DATA`.
pub const RLIMIT_DATA: u32 = 2;
/// `RLIMIT_STACK`.
pub const RLIMIT_STACK: u32 = 3;
/// `RLIMIT_CORE`.
pub const RLIMIT_CORE: u32 = 4;
/// `RLIMIT_RSS`.
pub const RLIMIT_RSS: u32 = 5;
/// `RLIMIT_NPROC`.
pub const RLIMIT_NPROC: u32 = 6;
/// `RLIMIT_NOFILE`.
pub const RLIMIT_NOFILE: u32 = 7;
/// `RLIMIT_MEMLOCK`.
pub const RLIMIT_MEMLOCK: u32 = 8;
/// `RLIMIT_AS`.
pub const RLIMIT_AS: u32 = 9;
/// `RLIM_NLIMITS`: the number of limits (`RLIMIT_RTTIME` is the last, 15).
pub const RLIM_NLIMITS: u32 = 16;
/// `RLIM_INFINITY`: no limit.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// `WNOHANG`: return 0 instead of blocking.
pub const WNOHANG: u32 = 0x1;
/// `WUNTRACED` (`WSTOPPED`): also report stopped children.
pub const WUNTRACED: u32 = 0x2;
/// `WEXITED` (`waitid` only).
pub const WEXITED: u32 = 0x4;
/// `WCONTINUED`: also report continued children.
pub const WCONTINUED: u32 = 0x8;
/// `WNOWAIT` (`waitid` only): leave the child waitable.
pub const WNOWAIT: u32 = 0x0100_0000;
/// `__WALL`: wait for all children regardless of their exit signal.
pub const WAIT_ALL_CHILDREN: u32 = 0x4000_0000;
/// `__WCLONE`: wait only for "clone" children, whose exit signal is not `SIGCHLD`.
pub const WAIT_CLONE_CHILDREN: u32 = 0x8000_0000;
/// `__WNOTHREAD`: do not wait for children of other threads in the caller's group.
pub const WAIT_OWN_THREAD_ONLY: u32 = 0x2000_0000;

/// Whether a signal-terminated child also wrote a core file: bit 7 of the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreDump {
    /// A core file was written (`WCOREDUMP` is true).
    Dumped,
    /// No core file.
    NotDumped,
}

/// The `wait4` status of a child that called `exit(code)`: `code << 8`.
pub const fn exit_status(code: u8) -> u32 {
    (code as u32) << 8
}

/// The `wait4` status of a child killed by `signal`: the number, with 0x80 for a core dump.
pub const fn signalled_status(signal: Signal, core: CoreDump) -> u32 {
    let core_bit = match core {
        CoreDump::Dumped => 0x80,
        CoreDump::NotDumped => 0,
    };
    signal.number() as u32 | core_bit
}

/// The `wait4` status of a child stopped by `signal`: `signal << 8 | 0x7f`.
pub const fn stopped_status(signal: Signal) -> u32 {
    (signal.number() as u32) << 8 | 0x7f
}

/// The `wait4` status of a stopped child that `SIGCONT` resumed (`WIFCONTINUED`).
pub const CONTINUED_STATUS: u32 = 0xffff;

/// A `wait4` status decoded the way the C library's `W*` macros decode it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// `WIFEXITED`, with `WEXITSTATUS`.
    Exited(u8),
    /// `WIFSIGNALED`, with `WTERMSIG` and `WCOREDUMP`.
    Signalled(Signal, CoreDump),
    /// `WIFSTOPPED`, with `WSTOPSIG`.
    Stopped(Signal),
    /// `WIFCONTINUED`.
    Continued,
}

impl WaitStatus {
    /// Decodes a status; `None` for a bit pattern the kernel never produces.
    pub const fn decode(status: u32) -> Option<WaitStatus> {
        if status == CONTINUED_STATUS {
            return Some(WaitStatus::Continued);
        }
        if status > 0xffff {
            return None;
        }
        let low = status & 0x7f;
        let high = (status >> 8) as u8;
        if low == 0 {
            if status & 0x80 != 0 {
                return None;
            }
            return Some(WaitStatus::Exited(high));
        }
        if low == 0x7f {
            return match Signal::new(high as u64) {
                Some(signal) if status & 0x80 == 0 => Some(WaitStatus::Stopped(signal)),
                _ => None,
            };
        }
        if high != 0 {
            return None;
        }
        let core = if status & 0x80 != 0 {
            CoreDump::Dumped
        } else {
            CoreDump::NotDumped
        };
        match Signal::new(low as u64) {
            Some(signal) => Some(WaitStatus::Signalled(signal, core)),
            None => None,
        }
    }

    /// Encodes the status `wait4` stores.
    pub const fn encode(self) -> u32 {
        match self {
            WaitStatus::Exited(code) => exit_status(code),
            WaitStatus::Signalled(signal, core) => signalled_status(signal, core),
            WaitStatus::Stopped(signal) => stopped_status(signal),
            WaitStatus::Continued => CONTINUED_STATUS,
        }
    }
}

/// `CSIGNAL`: the low byte of `clone` flags, the signal sent to the parent on exit.
pub const CSIGNAL: u64 = 0xff;
/// `CLONE_VM`: share the address space.
pub const CLONE_VM: u64 = 0x0000_0100;
/// `CLONE_FS`: share root, working directory and umask.
pub const CLONE_FS: u64 = 0x0000_0200;
/// `CLONE_FILES`: share the descriptor table.
pub const CLONE_FILES: u64 = 0x0000_0400;
/// `CLONE_SIGHAND`: share signal handlers.
pub const CLONE_SIGHAND: u64 = 0x0000_0800;
/// `CLONE_VFORK`: suspend the parent until the child execs or exits.
pub const CLONE_VFORK: u64 = 0x0000_4000;
/// `CLONE_PARENT`: the child gets the caller's parent.
pub const CLONE_PARENT: u64 = 0x0000_8000;
/// `CLONE_THREAD`: same thread group.
pub const CLONE_THREAD: u64 = 0x0001_0000;
/// `CLONE_SYSVSEM`.
pub const CLONE_SYSVSEM: u64 = 0x0004_0000;
/// `CLONE_SETTLS`: set TPIDR_EL0 from the `tls` argument.
pub const CLONE_SETTLS: u64 = 0x0008_0000;
/// `CLONE_PARENT_SETTID`: store the child's TID at `parent_tid`.
pub const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
/// `CLONE_CHILD_CLEARTID`: clear `child_tid` and futex-wake it when the child exits.
pub const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
/// `CLONE_DETACHED` (ignored).
pub const CLONE_DETACHED: u64 = 0x0040_0000;
/// `CLONE_CHILD_SETTID`: store the child's TID at `child_tid` in the child.
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;

/// `GRND_NONBLOCK`: fail with `EAGAIN` rather than block.
pub const GRND_NONBLOCK: u32 = 0x1;
/// `GRND_RANDOM`.
pub const GRND_RANDOM: u32 = 0x2;
/// `GRND_INSECURE`.
pub const GRND_INSECURE: u32 = 0x4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_match_what_linux_reports() {
        assert_eq!(exit_status(3), 0x0300);
        assert_eq!(exit_status(0), 0);
        assert_eq!(exit_status(255), 0xff00);
        assert_eq!(signalled_status(Signal::SIGKILL, CoreDump::NotDumped), 9);
        assert_eq!(signalled_status(Signal::SIGSEGV, CoreDump::Dumped), 0x8b);
        assert_eq!(stopped_status(Signal::SIGTSTP), 0x147f);
        assert_eq!(stopped_status(Signal::SIGSTOP), 0x137f);
    }

    #[test]
    fn wait_statuses_decode_back_to_what_was_encoded() {
        let statuses = [
            WaitStatus::Exited(0),
            WaitStatus::Exited(3),
            WaitStatus::Exited(255),
            WaitStatus::Signalled(Signal::SIGKILL, CoreDump::NotDumped),
            WaitStatus::Signalled(Signal::SIGABRT, CoreDump::Dumped),
            WaitStatus::Signalled(Signal::SIGRTMAX, CoreDump::NotDumped),
            WaitStatus::Stopped(Signal::SIGTTIN),
            WaitStatus::Continued,
        ];
        for status in statuses {
            assert_eq!(WaitStatus::decode(status.encode()), Some(status));
        }
        assert_eq!(WaitStatus::decode(0x1_0000), None);
        assert_eq!(WaitStatus::decode(0x0180), None);
    }

    #[test]
    fn process_ids_and_flags_match_the_headers() {
        assert_eq!((CLOCK_REALTIME, CLOCK_MONOTONIC), (0, 1));
        assert_eq!((RLIMIT_STACK, RLIMIT_NPROC, RLIMIT_NOFILE), (3, 6, 7));
        assert_eq!((WNOHANG, WUNTRACED, WCONTINUED), (1, 2, 8));
        assert_eq!(
            (WAIT_OWN_THREAD_ONLY, WAIT_ALL_CHILDREN, WAIT_CLONE_CHILDREN),
            (0x2000_0000, 0x4000_0000, 0x8000_0000)
        );
        assert_eq!(GRND_NONBLOCK, 1);
        // musl's vfork on aarch64 is clone(CLONE_VM | CLONE_VFORK | SIGCHLD).
        assert_eq!(
            CLONE_VM | CLONE_VFORK | u64::from(Signal::SIGCHLD.number()),
            0x4111
        );
    }
}
