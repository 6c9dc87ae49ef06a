//! What the glue hands the dispatcher ([`Event`]) and what it must do in return
//! ([`Action`]): the whole boundary between the pure server and the kernel.
//!
//! The types name *what happened* and *what to do*, never how: an event is one received
//! message turned into data, an action one kernel operation the glue performs in order. So
//! the glue needs no knowledge of Unix and the dispatcher none of IPC; both sides are tested
//! separately, the dispatcher here on the host.

use alloc::vec::Vec;
use core::fmt;

use abi::protocol::Exception;
use abi::user_registers::UserRegisters;
use linux_abi::layout::Timespec;
use linux_abi::signal::Signal;
use protocol::{Answer, SystemCall, SystemCallPath};

use crate::memory::{Access, Mapping};
use crate::process::Pid;

/// A point in monotonic time, in nanoseconds since the machine started (what the glue
/// reads from the generic timer); also a duration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanoseconds(pub u64);

impl Nanoseconds {
    /// Time zero: the machine's start.
    pub const ZERO: Nanoseconds = Nanoseconds(0);

    /// The nanoseconds in one second.
    pub const PER_SECOND: u64 = 1_000_000_000;

    /// `self + other`, saturating at the end of time (a sleep of centuries never wraps into
    /// the past).
    pub const fn saturating_add(self, other: Nanoseconds) -> Nanoseconds {
        Nanoseconds(self.0.saturating_add(other.0))
    }

    /// `self - other`, or zero when `other` is later.
    pub const fn saturating_sub(self, other: Nanoseconds) -> Nanoseconds {
        Nanoseconds(self.0.saturating_sub(other.0))
    }

    /// The duration a `struct timespec` from a client describes, or `None` when it is not
    /// one (negative seconds, nanoseconds outside `0..10^9`): the calls answer `EINVAL`.
    /// Durations beyond 2^64 nanoseconds (584 years) saturate.
    pub const fn from_timespec(timespec: Timespec) -> Option<Nanoseconds> {
        if timespec.seconds < 0
            || timespec.nanoseconds < 0
            || timespec.nanoseconds >= Nanoseconds::PER_SECOND as i64
        {
            return None;
        }
        let seconds = (timespec.seconds as u64).saturating_mul(Nanoseconds::PER_SECOND);
        Some(Nanoseconds(
            seconds.saturating_add(timespec.nanoseconds as u64),
        ))
    }

    /// The `struct timespec` of this time or duration.
    pub const fn to_timespec(self) -> Timespec {
        Timespec {
            // Below 2^64 / 10^9, so it fits an i64.
            seconds: (self.0 / Nanoseconds::PER_SECOND) as i64,
            nanoseconds: (self.0 % Nanoseconds::PER_SECOND) as i64,
        }
    }
}

/// Something the glue received, as data.
// An event is built once per received message and moved into `handle`; boxing the
// exception would cost an allocation for every system call of path (c).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A system call message from a client (path a, through the trampoline, or path b,
    /// from the client library). Answered with [`Reply::Message`].
    SystemCall {
        /// The calling process (task number minus the first client task number).
        pid: Pid,
        /// The call as the protocol carries it.
        call: SystemCall,
    },
    /// A page fault message from a client thread (the server is every client's pager).
    /// Answered with [`Action::Map`] or [`Action::MapTrampoline`], or the process dies.
    PageFault {
        /// The faulting process.
        pid: Pid,
        /// The fault address.
        address: u64,
        /// The access that faulted.
        access: Access,
        /// The faulting instruction.
        instruction_pointer: u64,
    },
    /// An exception message from a client thread (the server is every client's exception
    /// handler): `svc #0` of a process on path (c), which is a system call answered with
    /// [`Reply::ExceptionResult`] or [`Reply::ExceptionRegisters`], or a real exception
    /// (undefined instruction, alignment fault, `brk`...), which kills the process with the
    /// signal Linux would raise.
    Exception {
        /// The excepting process.
        pid: Pid,
        /// The message: registers, ESR and FAR.
        exception: Exception,
    },
    /// Bytes the console driver received (from the console input thread).
    ConsoleInput(Vec<u8>),
    /// Time passed: the receive timeout from [`super::Server::next_deadline`] expired.
    /// Every event carries the time anyway; this one carries nothing else.
    Tick,
}

/// How a waiting client continues.
// Replies are moved, never stored in bulk; the register form is the rare one (an exec of
// path c), and boxing it would make the enum non-`Copy` for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A system call that came as a protocol message (paths a and b): send this
    /// [`Answer`] (`Answer::encode` gives tag and MR1).
    Message(Answer),
    /// A system call that came as an exception message (path c): an exception reply of one
    /// word, which sets x0 to this value and leaves every other register as it was.
    ExceptionResult(u64),
    /// An `execve` that came as an exception message (path c): an exception reply of 34
    /// words setting x0..x30, SP, PC and PSTATE (x0..x30 zero, SP at argc, PC at
    /// `TRAMPOLINE_START`, PSTATE's flags clear).
    ExceptionRegisters(UserRegisters),
}

/// One thing the glue must do, in the order the actions come.
// Actions live in a short vector per event; see `Reply` for the large variant.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<Frame> {
    /// Let a client waiting in a system call continue (its call, or a call that waited).
    Reply {
        /// Whose call.
        pid: Pid,
        /// How it continues.
        reply: Reply,
    },
    /// Answer the client's page fault with a map item of `mapping.frame` (a page of the
    /// server) at `mapping.page_address` with `mapping.rights`; clean the page to the point
    /// of unification first when the rights include execute.
    Map {
        /// Whose fault.
        pid: Pid,
        /// What to map.
        mapping: Mapping<Frame>,
    },
    /// Answer the client's page fault with a map item of the trampoline's code page (the
    /// server's own), read-execute, at `protocol::layout::TRAMPOLINE_CODE`.
    MapTrampoline {
        /// Whose fault.
        pid: Pid,
    },
    /// Create the process's task (pager and exception handler: the server; UTCB area at
    /// `protocol::layout::UTCB_AREA`) and start its thread at `entry` with `stack_pointer`.
    /// `entry` is `TRAMPOLINE_START` for a new program, `TRAMPOLINE_FORK_CHILD` for a forked
    /// child, which takes its registers from its save area; `path` is how its system calls
    /// reach the server.
    StartProcess {
        /// The new process.
        pid: Pid,
        /// Where its thread starts.
        entry: u64,
        /// Its initial stack pointer.
        stack_pointer: u64,
        /// Its system-call path.
        path: SystemCallPath,
    },
    /// Delete the process's task: it exited or was killed, and gets no answer. Its memory
    /// was already given back through [`crate::memory::Frames::free`].
    DeleteProcess {
        /// The process that is gone.
        pid: Pid,
    },
    /// Send these bytes to the console driver (WRITE, in pieces of its message size).
    ConsoleWrite(Vec<u8>),
    /// Power the machine off: init exited, or `reboot(LINUX_REBOOT_CMD_POWER_OFF)` (or
    /// `HALT`) was called.
    PowerOff,
    /// Restart the machine: `reboot(LINUX_REBOOT_CMD_RESTART)` or `RESTART2`.
    Restart,
    /// Print one line about a client (its `Display` form).
    Log(Notice),
}

/// A line the glue prints: what a client did that the user should know about. Each kind
/// says who did it and where, once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The first call of this number (by any process) that the server does not implement:
    /// it answered `ENOSYS`. Later calls of the number are answered the same way silently.
    UnimplementedSystemCall {
        /// The caller.
        pid: Pid,
        /// The number in x8.
        number: u64,
        /// Linux's name for it, when `linux_abi` knows the number.
        name: Option<&'static str>,
    },
    /// A page fault that no area allows: the process was killed with `signal`.
    FatalPageFault {
        /// The process.
        pid: Pid,
        /// The fault address.
        address: u64,
        /// The access.
        access: Access,
        /// The faulting instruction.
        instruction_pointer: u64,
        /// The signal it died of.
        signal: Signal,
    },
    /// An exception that is not a system call: the process was killed with `signal`.
    FatalException {
        /// The process.
        pid: Pid,
        /// ESR_EL1 of the exception.
        esr: u64,
        /// The PC of the exception.
        instruction_pointer: u64,
        /// The signal it died of.
        signal: Signal,
    },
    /// A message from a process the server does not run (a stale message of a task that
    /// is being deleted): ignored.
    UnknownProcess {
        /// The pid the glue derived from the sender.
        pid: Pid,
    },
    /// init (pid 1) ended with this wait status; the machine powers off.
    InitExited {
        /// The encoded wait status.
        status: u32,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Notice::UnimplementedSystemCall { pid, number, name } => write!(
                formatter,
                "pid {pid}: system call {number} ({}) is not implemented: ENOSYS",
                name.unwrap_or("unknown")
            ),
            Notice::FatalPageFault {
                pid,
                address,
                access,
                instruction_pointer,
                signal,
            } => write!(
                formatter,
                "pid {pid}: {access:?} fault at {address:#x}, pc {instruction_pointer:#x}: \
                 killed by {}",
                signal.name()
            ),
            Notice::FatalException {
                pid,
                esr,
                instruction_pointer,
                signal,
            } => write!(
                formatter,
                "pid {pid}: exception (ESR {esr:#x}) at pc {instruction_pointer:#x}: killed by {}",
                signal.name()
            ),
            Notice::UnknownProcess { pid } => {
                write!(
                    formatter,
                    "message from pid {pid}, which does not run: ignored"
                )
            }
            Notice::InitExited { status } => {
                write!(
                    formatter,
                    "init exited (wait status {status:#x}): powering off"
                )
            }
        }
    }
}
