//! What the server keeps for each running process, beside what the process table keeps
//! (family, groups, exit status, the `set_tid_address` address): the address space, the
//! descriptor table and working directory, the system-call path, signal actions and mask,
//! resource limits, credentials, its accounting ([`Accounting`]), what `prctl` sets
//! ([`ProcessControl`]), and the system call it waits in, if any.
//!
//! A waiting call is data ([`ParkedCall`]): what to retry, or when to give up, and how the
//! caller must be answered ([`Via`]). Nothing else remembers that a process waits, so a
//! process that dies while waiting leaves nothing behind to wake.

use alloc::vec::Vec;
use core::fmt;

use linux_abi::layout::{Rlimit, SigAction};
use linux_abi::process::{
    RLIM_INFINITY, RLIM_NLIMITS, RLIMIT_CORE, RLIMIT_DATA, RLIMIT_MEMLOCK, RLIMIT_NOFILE,
    RLIMIT_NPROC, RLIMIT_STACK,
};
use linux_abi::signal::{SIG_DFL, SIG_IGN, Signal, SignalSet};
use protocol::SystemCallPath;

use super::interface::Nanoseconds;
use crate::memory::exec::Credentials;
use crate::memory::{AddressSpace, DEFAULT_STACK_LIMIT, MemoryLimits};
use crate::process::{PID_MAX, Pid, WaitRequest};
use crate::vfs::{DEFAULT_DESCRIPTOR_LIMIT, DescriptorTable, FileSystemContext};

/// `RLIMIT_LOCKS`.
const RLIMIT_LOCKS: u32 = 10;
/// `RLIMIT_SIGPENDING`.
const RLIMIT_SIGPENDING: u32 = 11;
/// `RLIMIT_MSGQUEUE`.
const RLIMIT_MSGQUEUE: u32 = 12;
/// `RLIMIT_NICE`.
const RLIMIT_NICE: u32 = 13;
/// `RLIMIT_RTPRIO`.
const RLIMIT_RTPRIO: u32 = 14;

/// The hard `RLIMIT_NOFILE` a process starts with (Linux's `INR_OPEN_MAX`).
const DESCRIPTOR_HARD_LIMIT: u64 = 4096;
/// `RLIMIT_MEMLOCK`'s default, 8 MiB (Linux's `MLOCK_LIMIT`).
const MEMORY_LOCK_LIMIT: u64 = 8 << 20;
/// `RLIMIT_MSGQUEUE`'s default (Linux's `MQ_BYTES_MAX`).
const MESSAGE_QUEUE_LIMIT: u64 = 819_200;

/// How a system call reached the server, which decides the form of its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A protocol message (paths a and b).
    Message,
    /// An exception message (path c).
    Exception,
}

/// A piece of client memory a read fills or a write takes bytes from (one `iovec`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The client address.
    pub address: u64,
    /// The length in bytes.
    pub length: u64,
}

/// A system call that cannot complete yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParkedCall {
    /// `read`/`readv` on the console with nothing to read: retried when input arrives;
    /// `deadline` is the `VTIME` timer, if one runs.
    ConsoleRead {
        /// The descriptor.
        fd: i32,
        /// Where the bytes go.
        segments: Vec<Segment>,
        /// When `VTIME` expires.
        deadline: Option<Nanoseconds>,
    },
    /// `write`/`writev` on the console while output is stopped (`^S`): retried when it
    /// resumes.
    ConsoleWrite {
        /// The descriptor.
        fd: i32,
        /// Where the bytes come from.
        segments: Vec<Segment>,
    },
    /// `read`/`readv` on an empty pipe that still has a writer: retried when a pipe
    /// changes.
    PipeRead {
        /// The descriptor.
        fd: i32,
        /// Where the bytes go.
        segments: Vec<Segment>,
    },
    /// `write`/`writev` on a pipe without room for it: retried when a pipe changes.
    PipeWrite {
        /// The descriptor.
        fd: i32,
        /// Where the bytes come from.
        segments: Vec<Segment>,
        /// How many of them are in the pipe already (a write above `PIPE_BUF` bytes goes
        /// in as room comes, and answers with the total).
        written: u64,
    },
    /// `ppoll` with nothing ready: re-evaluated when console input arrives, output
    /// resumes or a pipe changes, answered 0 at the deadline.
    Poll {
        /// The client's `struct pollfd` array.
        descriptors: u64,
        /// Its length.
        count: usize,
        /// The client's timeout (0 for none), which gets the time left on return.
        timeout_address: u64,
        /// When the poll gives up; `None` waits forever.
        deadline: Option<Nanoseconds>,
    },
    /// `wait4` with children but no zombie: retried when a child exits.
    Wait {
        /// The decoded request.
        request: WaitRequest,
        /// Where the status goes (0: nowhere).
        status_address: u64,
        /// Where the zeroed `struct rusage` goes (0: nowhere).
        usage_address: u64,
    },
    /// `nanosleep`/`clock_nanosleep`: answered 0 at the deadline.
    Sleep {
        /// When the sleep ends.
        deadline: Nanoseconds,
    },
    /// `futex(FUTEX_WAIT)` on a word that held the expected value: no other thread can wake
    /// a single-threaded process, so it waits for its timeout (`ETIMEDOUT`) or forever.
    FutexWait {
        /// When the wait gives up.
        deadline: Option<Nanoseconds>,
    },
    /// A `vfork` parent: answered with the child's pid when the child calls `execve` or
    /// exits, as `CLONE_VFORK` requires.
    VforkParent {
        /// The child.
        child: Pid,
    },
}

impl ParkedCall {
    /// When the call gives up or ends by itself, if ever.
    pub fn deadline(&self) -> Option<Nanoseconds> {
        match self {
            ParkedCall::ConsoleRead { deadline, .. }
            | ParkedCall::Poll { deadline, .. }
            | ParkedCall::FutexWait { deadline } => *deadline,
            ParkedCall::Sleep { deadline } => Some(*deadline),
            ParkedCall::ConsoleWrite { .. }
            | ParkedCall::PipeRead { .. }
            | ParkedCall::PipeWrite { .. }
            | ParkedCall::Wait { .. }
            | ParkedCall::VforkParent { .. } => None,
        }
    }

    /// Whether console input or resumed output may let the call continue.
    pub fn waits_for_console(&self) -> bool {
        matches!(
            self,
            ParkedCall::ConsoleRead { .. }
                | ParkedCall::ConsoleWrite { .. }
                | ParkedCall::Poll { .. }
        )
    }

    /// Whether a change of a pipe may let the call continue.
    pub fn waits_for_pipes(&self) -> bool {
        matches!(
            self,
            ParkedCall::PipeRead { .. } | ParkedCall::PipeWrite { .. } | ParkedCall::Poll { .. }
        )
    }
}

/// A waiting call and how to answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parked {
    /// The form of the answer.
    pub via: Via,
    /// What the call waits for.
    pub call: ParkedCall,
}

/// Signal actions, the blocked mask and the pending set: recorded by `rt_sigaction`,
/// `rt_sigprocmask` and `kill`. Delivery to handlers comes with the Unix issue; until then
/// only default actions that terminate take effect (see `signals.rs`).
#[derive(Clone, PartialEq, Eq)]
pub struct SignalState {
    /// The action of signal `n` at index `n - 1`.
    actions: [SigAction; 64],
    /// The blocked signals (never `SIGKILL` or `SIGSTOP`).
    pub mask: SignalSet,
    /// Signals sent and not yet delivered: blocked ones, and ones with a handler.
    pub pending: SignalSet,
}

impl fmt::Debug for SignalState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let handled: Vec<u8> = (1..=64)
            .filter_map(Signal::new)
            .filter(|&signal| self.action(signal).handler != SIG_DFL)
            .map(Signal::number)
            .collect();
        formatter
            .debug_struct("SignalState")
            .field("not_default", &handled)
            .field("mask", &self.mask)
            .field("pending", &self.pending)
            .finish()
    }
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState {
            actions: [SigAction::default(); 64],
            mask: SignalSet::EMPTY,
            pending: SignalSet::EMPTY,
        }
    }
}

impl SignalState {
    /// The action of `signal`.
    pub fn action(&self, signal: Signal) -> SigAction {
        self.actions
            .get(usize::from(signal.number()) - 1)
            .copied()
            .unwrap_or_default()
    }

    /// Sets the action of `signal`.
    pub fn set_action(&mut self, signal: Signal, action: SigAction) {
        if let Some(slot) = self.actions.get_mut(usize::from(signal.number()) - 1) {
            *slot = action;
        }
    }

    /// What a forked child gets: the same actions and mask, nothing pending.
    pub fn for_fork(&self) -> SignalState {
        SignalState {
            actions: self.actions,
            mask: self.mask,
            pending: SignalSet::EMPTY,
        }
    }

    /// `execve`'s reset (Linux's `flush_signal_handlers`): handlers become `SIG_DFL`,
    /// ignored signals stay ignored, flags and handler masks are cleared; the blocked mask
    /// and pending signals stay.
    pub fn reset_for_exec(&mut self) {
        for action in &mut self.actions {
            let handler = if action.handler == SIG_IGN {
                SIG_IGN
            } else {
                SIG_DFL
            };
            *action = SigAction {
                handler,
                ..SigAction::default()
            };
        }
    }
}

/// The resource limits of `getrlimit`/`prlimit64`, Linux's `INIT_RLIMITS`. The server
/// enforces `RLIMIT_STACK` and `RLIMIT_DATA` (through the address space) and
/// `RLIMIT_NOFILE` (through the descriptor table); the others are recorded only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceLimits([Rlimit; RLIM_NLIMITS as usize]);

impl Default for ResourceLimits {
    fn default() -> Self {
        let unlimited = Rlimit {
            current: RLIM_INFINITY,
            maximum: RLIM_INFINITY,
        };
        let mut limits = [unlimited; RLIM_NLIMITS as usize];
        let mut set = |resource: u32, current: u64, maximum: u64| {
            if let Some(limit) = limits.get_mut(resource as usize) {
                *limit = Rlimit { current, maximum };
            }
        };
        set(RLIMIT_STACK, DEFAULT_STACK_LIMIT, RLIM_INFINITY);
        set(RLIMIT_CORE, 0, RLIM_INFINITY);
        // Linux sizes these from memory at boot; the process table holds at most this many.
        let processes = u64::from(PID_MAX - 1);
        set(RLIMIT_NPROC, processes, processes);
        set(RLIMIT_SIGPENDING, processes, processes);
        set(
            RLIMIT_NOFILE,
            DEFAULT_DESCRIPTOR_LIMIT as u64,
            DESCRIPTOR_HARD_LIMIT,
        );
        set(RLIMIT_MEMLOCK, MEMORY_LOCK_LIMIT, MEMORY_LOCK_LIMIT);
        set(RLIMIT_LOCKS, RLIM_INFINITY, RLIM_INFINITY);
        set(RLIMIT_MSGQUEUE, MESSAGE_QUEUE_LIMIT, MESSAGE_QUEUE_LIMIT);
        set(RLIMIT_NICE, 0, 0);
        set(RLIMIT_RTPRIO, 0, 0);
        ResourceLimits(limits)
    }
}

impl ResourceLimits {
    /// The limit of `resource`, `None` for a resource number at or above `RLIM_NLIMITS`.
    pub fn get(&self, resource: u32) -> Option<Rlimit> {
        self.0.get(resource as usize).copied()
    }

    /// Sets the limit of a valid `resource` (the caller checked it).
    pub fn set(&mut self, resource: u32, limit: Rlimit) {
        if let Some(slot) = self.0.get_mut(resource as usize) {
            *slot = limit;
        }
    }

    /// The soft limits an address space enforces.
    pub fn memory(&self) -> MemoryLimits {
        let current = |resource| {
            self.get(resource)
                .map_or(RLIM_INFINITY, |limit| limit.current)
        };
        MemoryLimits {
            stack: current(RLIMIT_STACK),
            data: current(RLIMIT_DATA),
        }
    }
}

/// What a process used, as `getrusage`, `times` and `wait4` report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time. The kernel does not tell the server how long a thread ran, so this is the
    /// time the process was not waiting in a system call (see [`Accounting`]); it cannot
    /// be split into user and system time, and is reported as user time.
    pub cpu_time: Nanoseconds,
    /// Page faults the server answered (`ru_minflt`; none needs I/O, so there are no major
    /// ones).
    pub minor_faults: u64,
    /// Times it waited in a system call (`ru_nvcsw`).
    pub voluntary_switches: u64,
    /// The most pages it had resident at once (`ru_maxrss`, in pages).
    pub peak_resident_pages: u64,
}

impl Usage {
    /// Adds a reaped child's usage: times and counts add up, the peak is the larger one (as
    /// Linux's `RUSAGE_CHILDREN` reports the largest child's).
    pub fn add(&mut self, other: &Usage) {
        self.cpu_time = self.cpu_time.saturating_add(other.cpu_time);
        self.minor_faults = self.minor_faults.saturating_add(other.minor_faults);
        self.voluntary_switches = self
            .voluntary_switches
            .saturating_add(other.voluntary_switches);
        self.peak_resident_pages = self.peak_resident_pages.max(other.peak_resident_pages);
    }
}

/// A process's accounting. Its CPU time is what the server can know of it: the time since
/// it was created (by fork or as init) minus the time it waited in system calls. Time it
/// spent runnable but preempted by another process counts too, which a kernel with CPU
/// accounting would not count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accounting {
    /// When it was created (fork or init).
    pub started: Nanoseconds,
    /// Time spent waiting in calls that ended.
    waited: Nanoseconds,
    /// When its current wait began, if it waits.
    waiting_since: Option<Nanoseconds>,
    /// Page faults answered.
    minor_faults: u64,
    /// Waits begun.
    voluntary_switches: u64,
    /// The most resident pages seen.
    peak_resident_pages: u64,
    /// The reaped children's usage, their own reaped children's included.
    pub children: Usage,
}

impl Accounting {
    /// The accounting of a process created at `now` with `resident_pages` pages.
    pub fn new(now: Nanoseconds, resident_pages: usize) -> Accounting {
        Accounting {
            started: now,
            peak_resident_pages: resident_pages as u64,
            ..Accounting::default()
        }
    }

    /// The process begins waiting in a call at `now` (a retried call that waits on does
    /// not begin again).
    pub fn begin_wait(&mut self, now: Nanoseconds) {
        if self.waiting_since.is_none() {
            self.waiting_since = Some(now);
            self.voluntary_switches = self.voluntary_switches.saturating_add(1);
        }
    }

    /// The process stops waiting at `now` (answered, or it gave the call up).
    pub fn end_wait(&mut self, now: Nanoseconds) {
        if let Some(since) = self.waiting_since.take() {
            self.waited = self.waited.saturating_add(now.saturating_sub(since));
        }
    }

    /// Counts a page fault answered, after which `resident_pages` are resident.
    pub fn note_fault(&mut self, resident_pages: usize) {
        self.minor_faults = self.minor_faults.saturating_add(1);
        self.note_resident(resident_pages);
    }

    /// Notes that `resident_pages` are resident now.
    pub fn note_resident(&mut self, resident_pages: usize) {
        self.peak_resident_pages = self.peak_resident_pages.max(resident_pages as u64);
    }

    /// The CPU time up to `now`.
    pub fn cpu_time(&self, now: Nanoseconds) -> Nanoseconds {
        let waiting = self
            .waiting_since
            .map_or(Nanoseconds::ZERO, |since| now.saturating_sub(since));
        now.saturating_sub(self.started)
            .saturating_sub(self.waited)
            .saturating_sub(waiting)
    }

    /// The process's own usage up to `now`, with `resident_pages` resident now.
    pub fn usage(&self, now: Nanoseconds, resident_pages: usize) -> Usage {
        Usage {
            cpu_time: self.cpu_time(now),
            minor_faults: self.minor_faults,
            voluntary_switches: self.voluntary_switches,
            peak_resident_pages: self.peak_resident_pages.max(resident_pages as u64),
        }
    }
}

/// `TASK_COMM_LEN`: a process name's bytes, its NUL included.
pub const NAME_LENGTH: usize = 16;

/// What `prctl` sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessControl {
    /// The name (`comm`): the last component of the program's path, or what
    /// `PR_SET_NAME` set; NUL-padded, at most 15 bytes.
    pub name: [u8; NAME_LENGTH],
    /// The signal sent when the parent ends (`PR_SET_PDEATHSIG`); cleared in a child.
    pub parent_death_signal: Option<Signal>,
    /// `PR_SET_DUMPABLE` (0 or 1); 1 again after `execve`.
    pub dumpable: bool,
    /// `PR_SET_NO_NEW_PRIVS`: once set, set for good (and for children).
    pub no_new_privileges: bool,
}

impl ProcessControl {
    /// The state of a process running the program at `path`.
    pub fn new(path: &[u8]) -> ProcessControl {
        let mut control = ProcessControl {
            name: [0; NAME_LENGTH],
            parent_death_signal: None,
            dumpable: true,
            no_new_privileges: false,
        };
        control.name_after(path);
        control
    }

    /// `execve`'s name: the last component of `path` (Linux's `kbasename`), cut to 15
    /// bytes.
    pub fn name_after(&mut self, path: &[u8]) {
        let base = path.rsplit(|&byte| byte == b'/').next().unwrap_or(path);
        self.set_name(base);
    }

    /// Sets the name to `name` up to its first NUL, cut to 15 bytes.
    pub fn set_name(&mut self, name: &[u8]) {
        let name = name.split(|&byte| byte == 0).next().unwrap_or(&[]);
        self.name = [0; NAME_LENGTH];
        for (slot, &byte) in self.name.iter_mut().take(NAME_LENGTH - 1).zip(name) {
            *slot = byte;
        }
    }

    /// What a child made by `fork` gets: everything but the parent-death signal.
    pub fn for_fork(&self) -> ProcessControl {
        ProcessControl {
            parent_death_signal: None,
            ..*self
        }
    }
}

/// Everything the server keeps for one running process (the process table's payload).
#[derive(Debug)]
pub struct Process<Frame> {
    /// The address space.
    pub space: AddressSpace<Frame>,
    /// The descriptor table.
    pub descriptors: DescriptorTable,
    /// Working directory and umask.
    pub file_system: FileSystemContext,
    /// How its system calls reach the server (chosen at `execve`).
    pub path: SystemCallPath,
    /// Signal actions, mask and pending set.
    pub signals: SignalState,
    /// Resource limits.
    pub limits: ResourceLimits,
    /// Its identity (root, for now).
    pub credentials: Credentials,
    /// The `set_robust_list` head (recorded; robust futexes matter only to threads).
    pub robust_list: u64,
    /// The call it waits in.
    pub parked: Option<Parked>,
    /// Its times and counts, and those of its reaped children.
    pub accounting: Accounting,
    /// What `prctl` sets: the name, the parent-death signal, the flags.
    pub control: ProcessControl,
    /// For a child made by `vfork`: the parent, whose `clone` is answered when this child
    /// calls `execve` or exits.
    pub vfork_parent: Option<Pid>,
}
