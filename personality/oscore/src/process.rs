//! The process table: pids, parents and children, process groups and sessions, exit
//! statuses and `wait4`.
//!
//! The table keeps what Linux keeps in `struct pid` and the family links of `task_struct`:
//! who is whose child, which group and session a process is in, whether it has exited and
//! with which status. It is generic over the payload the server attaches to a running process
//! (its address space, descriptor table, signal state...), [`ProcessTable<P>`], rather than
//! handing out ids the server would use as keys into a map of its own: with one map there is
//! no second copy of "which processes exist" to fall out of step, and the payload's lifetime
//! follows the process's. [`ProcessTable::fork`] builds the child's payload from the parent's
//! (through a closure, after the pid is known to be available, so a full table costs no
//! address-space copy), and [`ProcessTable::exit`] hands the payload back so the server can
//! release its frames: a zombie is only a status waiting for its parent.
//!
//! Linux rules followed, from `kernel/pid.c`, `kernel/exit.c` and `kernel/sys.c`:
//! - pids run from 1 to `PID_MAX - 1` ([`PID_MAX`]), allocated increasing from the last
//!   one; after the end they wrap to [`RESERVED_PIDS`] (`alloc_pid`), skipping every number
//!   still in use as a process (running or zombie), a process group or a session (a
//!   `struct pid` lives as long as anything refers to it).
//! - init starts, like Linux's, in the kernel's session and group 0 ([`Pid::KERNEL`]) and
//!   becomes a session leader by calling `setsid`.
//! - an exiting process's children, zombies included, go to init with their exit signal
//!   reset to `SIGCHLD` (`forget_original_parent`, `reparent_leader`).
//! - `wait4` eligibility (`eligible_pid`, `eligible_child`), `setpgid`'s error order, and
//!   `setsid`'s refusal when a group with the caller's id exists, are Linux's.
//!
//! Waiting is split between the table and the dispatcher: [`ProcessTable::wait`] answers at
//! once; when the answer is [`WaitOutcome::WouldBlock`] the dispatcher parks the caller with
//! [`ProcessTable::park_waiter`], and each [`ProcessTable::exit`] names the parked waiters it
//! satisfies. Only a parent can wait for a child, so an exit can satisfy at most its parent
//! (and init, for zombies it inherits): looking at their parked requests is the whole search.
//! Stopped and continued children are not modelled yet, so `WUNTRACED` and `WCONTINUED` are
//! accepted but never match; resource usage is not kept here.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::fmt;
use core::mem;

use linux_abi::errno::Errno;
use linux_abi::process::{
    WAIT_ALL_CHILDREN, WAIT_CLONE_CHILDREN, WAIT_OWN_THREAD_ONLY, WCONTINUED, WNOHANG, WUNTRACED,
};
use linux_abi::signal::Signal;

/// Linux's default `pid_max`: pids are below it, so the largest is 32767.
pub const PID_MAX: u32 = 32768;

/// Where pid allocation resumes after wrapping (`RESERVED_PIDS`): the low pids are left to
/// the daemons started at boot.
pub const RESERVED_PIDS: u32 = 300;

/// A process id, also used for process groups and sessions (a group's id is its first
/// leader's pid, a session's its leader's). Always below [`PID_MAX`]; 0 is
/// [`Pid::KERNEL`], which names only a group and a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(u32);

impl Pid {
    /// The kernel's process group and session (0), which init starts in. No process has it.
    pub const KERNEL: Pid = Pid(0);
    /// init, the first process, which inherits orphans.
    pub const INIT: Pid = Pid(1);

    /// The pid with `number`, if it is one a process can have (`1..PID_MAX`); user-supplied
    /// values go through here.
    pub const fn new(number: i32) -> Option<Pid> {
        if number >= 1 && (number as u32) < PID_MAX {
            Some(Pid(number as u32))
        } else {
            None
        }
    }

    /// The number as system calls return it.
    pub const fn number(self) -> i32 {
        // Below PID_MAX, so it fits.
        self.0 as i32
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// Whether a process runs or is a zombie waiting to be reaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// The process exists and has a payload.
    Running,
    /// The process has exited; its parent has not reaped it yet.
    Zombie {
        /// The encoded `wait4` status ([`linux_abi::process::exit_status`] and friends).
        status: u32,
    },
}

/// A process's identity as job control sees it ([`ProcessTable::ids`]); the tty takes it to
/// decide whether a caller owns the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessIds {
    /// The process.
    pub pid: Pid,
    /// Its parent, [`Pid::KERNEL`] for a process without one (init).
    pub parent: Pid,
    /// Its process group.
    pub process_group: Pid,
    /// Its session.
    pub session: Pid,
}

impl ProcessIds {
    /// Whether the process leads its session (it called `setsid`).
    pub fn is_session_leader(&self) -> bool {
        self.session == self.pid
    }
}

/// Which children a `wait4` asks about, decoded from its `pid` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitSelector {
    /// `pid > 0`: that child.
    Child(Pid),
    /// `pid == -1`: any child.
    AnyChild,
    /// `pid == 0`: any child in the caller's process group at the time of the call.
    CallersGroup,
    /// `pid < -1`: any child in group `-pid`.
    Group(Pid),
}

/// A decoded `wait4` request: which children, and the option bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitRequest {
    selector: WaitSelector,
    options: u32,
}

/// The option bits `wait4` accepts (`kernel_wait4`).
const WAIT4_OPTIONS: u32 = WNOHANG
    | WUNTRACED
    | WCONTINUED
    | WAIT_OWN_THREAD_ONLY
    | WAIT_ALL_CHILDREN
    | WAIT_CLONE_CHILDREN;

impl WaitRequest {
    /// Decodes `wait4(pid, _, options, _)`'s arguments, failing as Linux does: `EINVAL` for
    /// an unknown option bit, `ESRCH` for `pid == i32::MIN` (whose negation is no group),
    /// and `ECHILD` for a pid or group number no process can have.
    pub fn new(pid: i32, options: u32) -> Result<WaitRequest, Errno> {
        if options & !WAIT4_OPTIONS != 0 {
            return Err(Errno::EINVAL);
        }
        let selector = match pid {
            i32::MIN => return Err(Errno::ESRCH),
            -1 => WaitSelector::AnyChild,
            0 => WaitSelector::CallersGroup,
            pid if pid > 0 => WaitSelector::Child(Pid::new(pid).ok_or(Errno::ECHILD)?),
            group => WaitSelector::Group(Pid::new(-group).ok_or(Errno::ECHILD)?),
        };
        Ok(WaitRequest { selector, options })
    }

    /// Which children the request is about.
    pub fn selector(&self) -> WaitSelector {
        self.selector
    }

    /// The option bits.
    pub fn options(&self) -> u32 {
        self.options
    }

    /// Whether `WNOHANG` is set: the dispatcher returns 0 instead of blocking on
    /// [`WaitOutcome::WouldBlock`].
    pub fn no_hang(&self) -> bool {
        self.options & WNOHANG != 0
    }
}

/// What [`ProcessTable::wait`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// A matching zombie was reaped: `wait4` returns `pid` and stores `status`.
    Reaped {
        /// The child that was reaped; its pid is free again.
        pid: Pid,
        /// Its encoded wait status.
        status: u32,
    },
    /// Matching children exist but none has exited: block (park the caller) or, with
    /// `WNOHANG`, return 0.
    WouldBlock,
    /// No child matches the request: `ECHILD`.
    NoChild,
}

/// What [`ProcessTable::exit`] tells the dispatcher.
#[derive(Debug)]
pub struct ExitReport<P> {
    /// The payload the process ran with, to be torn down.
    pub payload: P,
    /// The parent to notify (signal `exit_signal`), or `None` for init.
    pub parent: Option<Pid>,
    /// The signal the parent gets, `SIGCHLD` unless the process was cloned with another
    /// (or with none).
    pub exit_signal: Option<Signal>,
    /// The children that were re-parented (to init, or to no one when init itself exits).
    /// Those among them that are zombies are init's to reap and to be told about.
    pub reparented: Vec<Pid>,
    /// Parked waiters this exit satisfies, now unparked: call [`ProcessTable::wait`] for
    /// each again (it will reap) and complete its `wait4`.
    pub waiters_to_wake: Vec<Pid>,
    /// The `set_tid_address` address. Linux writes 0 there and wakes a futex only when the
    /// address space is shared with another process (a `vfork` child); otherwise nobody
    /// could look.
    pub clear_child_tid: Option<u64>,
    /// Whether the process led its session: its controlling terminal, if any, must be
    /// released and the terminal's foreground group hung up.
    pub was_session_leader: bool,
}

/// A running process's payload, or a zombie's status.
#[derive(Debug)]
enum Life<P> {
    Running(P),
    Zombie { status: u32 },
}

/// A parked `wait4`, with `CallersGroup` resolved to the group at the time of the call.
#[derive(Clone, Copy, Debug)]
struct ParkedWait {
    selector: WaitSelector,
    options: u32,
}

/// One process's family, group, session and lifecycle.
#[derive(Debug)]
struct Process<P> {
    life: Life<P>,
    parent: Option<Pid>,
    children: BTreeSet<Pid>,
    process_group: Pid,
    session: Pid,
    exit_signal: Option<Signal>,
    /// `!PF_FORKNOEXEC`: a parent may no longer move it to another group.
    has_executed: bool,
    clear_child_tid: Option<u64>,
    parked_wait: Option<ParkedWait>,
}

/// A process group: its session and its members (zombies included, as in Linux, until
/// they are reaped).
#[derive(Debug)]
struct ProcessGroup {
    session: Pid,
    members: BTreeSet<Pid>,
}

/// The process table, generic over the payload `P` of a running process.
#[derive(Debug)]
pub struct ProcessTable<P> {
    processes: BTreeMap<Pid, Process<P>>,
    groups: BTreeMap<Pid, ProcessGroup>,
    /// The number of processes (zombies included) in each session.
    sessions: BTreeMap<Pid, usize>,
    /// The last pid handed out, where the cyclic allocation resumes.
    last_allocated: u32,
}

impl<P> Default for ProcessTable<P> {
    fn default() -> Self {
        ProcessTable::new()
    }
}

impl<P> ProcessTable<P> {
    /// An empty table; [`ProcessTable::create_init`] starts it.
    pub fn new() -> ProcessTable<P> {
        ProcessTable {
            processes: BTreeMap::new(),
            groups: BTreeMap::new(),
            sessions: BTreeMap::new(),
            last_allocated: 0,
        }
    }

    /// Creates init, pid 1, in the kernel's group and session ([`Pid::KERNEL`]), with no
    /// parent. `EEXIST` if the table already holds a process.
    pub fn create_init(&mut self, payload: P) -> Result<Pid, Errno> {
        if !self.processes.is_empty() {
            return Err(Errno::EEXIST);
        }
        self.insert(Pid::INIT, None, payload, Pid::KERNEL, Pid::KERNEL, None);
        self.last_allocated = Pid::INIT.0;
        Ok(Pid::INIT)
    }

    /// `fork`: a child of `parent` in its group and session, exiting with `SIGCHLD`.
    /// `make_child` gets the parent's payload and builds the child's; it runs only once a
    /// pid is available, and if it fails nothing changes. `EAGAIN` when every pid is in
    /// use, `ESRCH` when `parent` is not a running process.
    pub fn fork(
        &mut self,
        parent: Pid,
        make_child: impl FnOnce(&mut P) -> Result<P, Errno>,
    ) -> Result<Pid, Errno> {
        self.clone_process(parent, Some(Signal::SIGCHLD), make_child)
    }

    /// `clone` without `CLONE_THREAD`: as [`ProcessTable::fork`], with the exit signal
    /// taken from the low byte of the flags (`None` for 0). A child whose exit signal is not
    /// `SIGCHLD` is a "clone child", which `wait4` sees only with `__WCLONE` or `__WALL`.
    pub fn clone_process(
        &mut self,
        parent: Pid,
        exit_signal: Option<Signal>,
        make_child: impl FnOnce(&mut P) -> Result<P, Errno>,
    ) -> Result<Pid, Errno> {
        let Some(parent_record) = self.processes.get(&parent) else {
            return Err(Errno::ESRCH);
        };
        if !matches!(parent_record.life, Life::Running(_)) {
            return Err(Errno::ESRCH);
        }
        let child = self.allocate_pid().ok_or(Errno::EAGAIN)?;
        let Some(parent_record) = self.processes.get_mut(&parent) else {
            return Err(Errno::ESRCH);
        };
        let Life::Running(parent_payload) = &mut parent_record.life else {
            return Err(Errno::ESRCH);
        };
        let payload = make_child(parent_payload)?;
        let (group, session) = (parent_record.process_group, parent_record.session);
        parent_record.children.insert(child);
        self.insert(child, Some(parent), payload, group, session, exit_signal);
        self.last_allocated = child.0;
        Ok(child)
    }

    /// The process exits with the encoded wait `status`: it becomes a zombie, its children
    /// go to init, and the report says whom to tell. `ESRCH` if `pid` is not running.
    pub fn exit(&mut self, pid: Pid, status: u32) -> Result<ExitReport<P>, Errno> {
        let reaper = if pid != Pid::INIT && self.is_running(Pid::INIT) {
            Some(Pid::INIT)
        } else {
            None
        };
        let Some(record) = self.processes.get_mut(&pid) else {
            return Err(Errno::ESRCH);
        };
        let payload = match mem::replace(&mut record.life, Life::Zombie { status }) {
            Life::Running(payload) => payload,
            zombie @ Life::Zombie { .. } => {
                record.life = zombie;
                return Err(Errno::ESRCH);
            }
        };
        record.parked_wait = None;
        let parent = record.parent;
        let exit_signal = record.exit_signal;
        let clear_child_tid = record.clear_child_tid.take();
        let was_session_leader = record.session == pid;
        let children = mem::take(&mut record.children);

        let mut reparented = Vec::with_capacity(children.len());
        for child in children {
            if let Some(child_record) = self.processes.get_mut(&child) {
                child_record.parent = reaper;
                child_record.exit_signal = Some(Signal::SIGCHLD);
                reparented.push(child);
            }
        }
        if let Some(reaper) = reaper
            && let Some(reaper_record) = self.processes.get_mut(&reaper)
        {
            reaper_record.children.extend(reparented.iter().copied());
        }

        let mut waiters_to_wake = Vec::new();
        if let Some(parent) = parent
            && self.parked_wait_matches(parent, pid)
        {
            self.unpark_waiter(parent);
            waiters_to_wake.push(parent);
        }
        if let Some(reaper) = reaper
            && reparented
                .iter()
                .any(|&child| self.is_zombie(child) && self.parked_wait_matches(reaper, child))
        {
            self.unpark_waiter(reaper);
            waiters_to_wake.push(reaper);
        }

        Ok(ExitReport {
            payload,
            parent,
            exit_signal,
            reparented,
            waiters_to_wake,
            clear_child_tid,
            was_session_leader,
        })
    }

    /// `wait4` for `caller`: reaps a matching zombie if there is one (the lowest pid), else
    /// says whether matching children exist. Stopped and continued children are not
    /// modelled, so `WUNTRACED` and `WCONTINUED` never match.
    pub fn wait(&mut self, caller: Pid, request: WaitRequest) -> WaitOutcome {
        let Some(parked) = self.resolve(caller, request) else {
            return WaitOutcome::NoChild;
        };
        let Some(record) = self.processes.get(&caller) else {
            return WaitOutcome::NoChild;
        };
        let mut any_eligible = false;
        let mut zombie = None;
        let candidates = match parked.selector {
            WaitSelector::Child(child) => record.children.range(child..=child),
            _ => record.children.range(..),
        };
        for &child in candidates {
            if !self.is_eligible(&parked, child) {
                continue;
            }
            any_eligible = true;
            if let Some(status) = self.zombie_status(child) {
                zombie = Some((child, status));
                break;
            }
        }
        match zombie {
            Some((pid, status)) => {
                self.reap(pid);
                WaitOutcome::Reaped { pid, status }
            }
            None if any_eligible => WaitOutcome::WouldBlock,
            None => WaitOutcome::NoChild,
        }
    }

    /// Records that `caller` blocks in `wait4` with `request` (after [`ProcessTable::wait`]
    /// answered [`WaitOutcome::WouldBlock`]); a later exit that satisfies it names `caller`
    /// in [`ExitReport::waiters_to_wake`]. `ESRCH` if `caller` is not running.
    pub fn park_waiter(&mut self, caller: Pid, request: WaitRequest) -> Result<(), Errno> {
        let parked = self.resolve(caller, request).ok_or(Errno::ESRCH)?;
        match self.processes.get_mut(&caller) {
            Some(record) if matches!(record.life, Life::Running(_)) => {
                record.parked_wait = Some(parked);
                Ok(())
            }
            _ => Err(Errno::ESRCH),
        }
    }

    /// Forgets `caller`'s parked `wait4` (a signal interrupted it); whether one was parked.
    pub fn unpark_waiter(&mut self, caller: Pid) -> bool {
        self.processes
            .get_mut(&caller)
            .and_then(|record| record.parked_wait.take())
            .is_some()
    }

    /// Whether `caller` is parked in `wait4`.
    pub fn is_parked(&self, caller: Pid) -> bool {
        self.processes
            .get(&caller)
            .is_some_and(|record| record.parked_wait.is_some())
    }

    /// Removes the zombie `pid` without a `wait4` (its parent ignores `SIGCHLD` or set
    /// `SA_NOCLDWAIT`), returning its status; `None` if `pid` is not a zombie. Its pid, and
    /// its group's and session's if it was their last member, become free.
    pub fn reap(&mut self, pid: Pid) -> Option<u32> {
        let status = self.zombie_status(pid)?;
        let record = self.processes.remove(&pid)?;
        if let Some(parent) = record.parent
            && let Some(parent_record) = self.processes.get_mut(&parent)
        {
            parent_record.children.remove(&pid);
        }
        self.leave_group(pid, record.process_group, record.session);
        Some(status)
    }

    /// `getppid`: the parent, [`Pid::KERNEL`] for init. `ESRCH` for an unknown pid.
    pub fn getppid(&self, pid: Pid) -> Result<Pid, Errno> {
        let record = self.processes.get(&pid).ok_or(Errno::ESRCH)?;
        Ok(record.parent.unwrap_or(Pid::KERNEL))
    }

    /// `getpgid(pid)` for `caller` (0 means the caller). `ESRCH` if there is no such process.
    pub fn getpgid(&self, caller: Pid, pid: i32) -> Result<Pid, Errno> {
        let target = self.target(caller, pid)?;
        Ok(self
            .processes
            .get(&target)
            .ok_or(Errno::ESRCH)?
            .process_group)
    }

    /// `getsid(pid)` for `caller` (0 means the caller). `ESRCH` if there is no such process.
    pub fn getsid(&self, caller: Pid, pid: i32) -> Result<Pid, Errno> {
        let target = self.target(caller, pid)?;
        Ok(self.processes.get(&target).ok_or(Errno::ESRCH)?.session)
    }

    /// `setpgid(pid, pgid)` for `caller`, with Linux's checks in Linux's order: `EINVAL` for
    /// a negative group; `ESRCH` unless the target is the caller or its child; `EPERM` for a
    /// child in another session; `EACCES` for a child that has called `execve`; `EPERM` for
    /// a session leader; `EPERM` when joining a group that does not exist in the caller's
    /// session. `pid` 0 means the caller, `pgid` 0 the target's own pid (a new group).
    pub fn setpgid(&mut self, caller: Pid, pid: i32, pgid: i32) -> Result<(), Errno> {
        let target_number = if pid == 0 { caller.number() } else { pid };
        let group_number = if pgid == 0 { target_number } else { pgid };
        if group_number < 0 {
            return Err(Errno::EINVAL);
        }
        let caller_session = self.processes.get(&caller).ok_or(Errno::ESRCH)?.session;
        let target = Pid::new(target_number).ok_or(Errno::ESRCH)?;
        let record = self.processes.get(&target).ok_or(Errno::ESRCH)?;
        if record.parent == Some(caller) {
            if record.session != caller_session {
                return Err(Errno::EPERM);
            }
            if record.has_executed {
                return Err(Errno::EACCES);
            }
        } else if target != caller {
            return Err(Errno::ESRCH);
        }
        if record.session == target {
            return Err(Errno::EPERM);
        }
        let group = Pid::new(group_number).ok_or(Errno::EPERM)?;
        if group != target
            && self
                .groups
                .get(&group)
                .is_none_or(|existing| existing.session != caller_session)
        {
            return Err(Errno::EPERM);
        }
        let (old_group, session) = (record.process_group, record.session);
        if old_group != group {
            self.leave_group(target, old_group, session);
            self.join_group(target, group, session);
            if let Some(record) = self.processes.get_mut(&target) {
                record.process_group = group;
            }
        }
        Ok(())
    }

    /// `setsid` for `caller`: a new session and group, both with the caller's pid, which is
    /// returned. `EPERM` if the caller leads a session already or a group with its pid
    /// exists (it leads a group, or led one that still has members).
    pub fn setsid(&mut self, caller: Pid) -> Result<Pid, Errno> {
        let record = self.processes.get(&caller).ok_or(Errno::ESRCH)?;
        if record.session == caller || self.groups.contains_key(&caller) {
            return Err(Errno::EPERM);
        }
        let (old_group, old_session) = (record.process_group, record.session);
        self.leave_group(caller, old_group, old_session);
        self.join_group(caller, caller, caller);
        if let Some(record) = self.processes.get_mut(&caller) {
            record.process_group = caller;
            record.session = caller;
        }
        Ok(caller)
    }

    /// `set_tid_address`: the address to clear when the process exits (0 for none).
    /// `ESRCH` if `pid` is not running.
    pub fn set_clear_child_tid(&mut self, pid: Pid, address: u64) -> Result<(), Errno> {
        let record = self.running_record(pid)?;
        record.clear_child_tid = (address != 0).then_some(address);
        Ok(())
    }

    /// Notes a successful `execve`: the parent may no longer `setpgid` the process, and
    /// the `set_tid_address` address is dropped (returned, since Linux clears it for a
    /// shared address space as at exit). `ESRCH` if `pid` is not running.
    pub fn note_exec(&mut self, pid: Pid) -> Result<Option<u64>, Errno> {
        let record = self.running_record(pid)?;
        record.has_executed = true;
        Ok(record.clear_child_tid.take())
    }

    /// The payload of a running process; `None` for zombies and unknown pids.
    pub fn get(&self, pid: Pid) -> Option<&P> {
        match &self.processes.get(&pid)?.life {
            Life::Running(payload) => Some(payload),
            Life::Zombie { .. } => None,
        }
    }

    /// The payload of a running process, mutably.
    pub fn get_mut(&mut self, pid: Pid) -> Option<&mut P> {
        match &mut self.processes.get_mut(&pid)?.life {
            Life::Running(payload) => Some(payload),
            Life::Zombie { .. } => None,
        }
    }

    /// Whether `pid` is running or a zombie, `None` if unknown.
    pub fn state(&self, pid: Pid) -> Option<ProcessState> {
        Some(match self.processes.get(&pid)?.life {
            Life::Running(_) => ProcessState::Running,
            Life::Zombie { status } => ProcessState::Zombie { status },
        })
    }

    /// The process's pid, parent, group and session; `None` if unknown.
    pub fn ids(&self, pid: Pid) -> Option<ProcessIds> {
        let record = self.processes.get(&pid)?;
        Some(ProcessIds {
            pid,
            parent: record.parent.unwrap_or(Pid::KERNEL),
            process_group: record.process_group,
            session: record.session,
        })
    }

    /// The children of `pid` (running and zombie), in pid order.
    pub fn children(&self, pid: Pid) -> impl Iterator<Item = Pid> + '_ {
        self.processes
            .get(&pid)
            .into_iter()
            .flat_map(|record| record.children.iter().copied())
    }

    /// The members of process group `group` (running and zombie), in pid order: whom
    /// `kill(-group, _)` reaches.
    pub fn group_members(&self, group: Pid) -> impl Iterator<Item = Pid> + '_ {
        self.groups
            .get(&group)
            .into_iter()
            .flat_map(|group| group.members.iter().copied())
    }

    /// The session of process group `group`, `None` if no such group exists
    /// (`TIOCSPGRP` checks it against the caller's).
    pub fn group_session(&self, group: Pid) -> Option<Pid> {
        Some(self.groups.get(&group)?.session)
    }

    /// Every pid in the table (running and zombie), in order.
    pub fn pids(&self) -> impl Iterator<Item = Pid> + '_ {
        self.processes.keys().copied()
    }

    /// The number of processes, zombies included.
    pub fn len(&self) -> usize {
        self.processes.len()
    }

    /// Whether the table is empty (before init).
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    /// The next free pid after the last one handed out, wrapping to [`RESERVED_PIDS`], as
    /// Linux's `alloc_pid`. (Linux wraps to 1 while the cursor is below `RESERVED_PIDS`, which
    /// only matters when every pid above the cursor is taken: impossible before a first wrap.)
    fn allocate_pid(&self) -> Option<Pid> {
        let first = self.last_allocated.saturating_add(1);
        (first..PID_MAX)
            .chain(RESERVED_PIDS..first.min(PID_MAX))
            .map(Pid)
            .find(|&pid| self.is_free(pid))
    }

    /// Whether no process, group or session uses `pid`.
    fn is_free(&self, pid: Pid) -> bool {
        !self.processes.contains_key(&pid)
            && !self.groups.contains_key(&pid)
            && !self.sessions.contains_key(&pid)
    }

    fn insert(
        &mut self,
        pid: Pid,
        parent: Option<Pid>,
        payload: P,
        group: Pid,
        session: Pid,
        exit_signal: Option<Signal>,
    ) {
        self.processes.insert(
            pid,
            Process {
                life: Life::Running(payload),
                parent,
                children: BTreeSet::new(),
                process_group: group,
                session,
                exit_signal,
                has_executed: false,
                clear_child_tid: None,
                parked_wait: None,
            },
        );
        self.join_group(pid, group, session);
    }

    fn join_group(&mut self, pid: Pid, group: Pid, session: Pid) {
        self.groups
            .entry(group)
            .or_insert_with(|| ProcessGroup {
                session,
                members: BTreeSet::new(),
            })
            .members
            .insert(pid);
        *self.sessions.entry(session).or_insert(0) += 1;
    }

    fn leave_group(&mut self, pid: Pid, group: Pid, session: Pid) {
        if let Some(existing) = self.groups.get_mut(&group) {
            existing.members.remove(&pid);
            if existing.members.is_empty() {
                self.groups.remove(&group);
            }
        }
        if let Some(count) = self.sessions.get_mut(&session) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.sessions.remove(&session);
            }
        }
    }

    fn running_record(&mut self, pid: Pid) -> Result<&mut Process<P>, Errno> {
        match self.processes.get_mut(&pid) {
            Some(record) if matches!(record.life, Life::Running(_)) => Ok(record),
            _ => Err(Errno::ESRCH),
        }
    }

    fn is_running(&self, pid: Pid) -> bool {
        self.state(pid) == Some(ProcessState::Running)
    }

    fn is_zombie(&self, pid: Pid) -> bool {
        self.zombie_status(pid).is_some()
    }

    fn zombie_status(&self, pid: Pid) -> Option<u32> {
        match self.processes.get(&pid)?.life {
            Life::Zombie { status } => Some(status),
            Life::Running(_) => None,
        }
    }

    /// The pid a `get*id(pid)` call is about: 0 is the caller.
    fn target(&self, caller: Pid, pid: i32) -> Result<Pid, Errno> {
        if pid == 0 {
            Ok(caller)
        } else {
            Pid::new(pid).ok_or(Errno::ESRCH)
        }
    }

    /// The request with the caller's group filled in; `None` if the caller is unknown.
    fn resolve(&self, caller: Pid, request: WaitRequest) -> Option<ParkedWait> {
        let record = self.processes.get(&caller)?;
        let selector = match request.selector {
            WaitSelector::CallersGroup => WaitSelector::Group(record.process_group),
            other => other,
        };
        Some(ParkedWait {
            selector,
            options: request.options,
        })
    }

    /// Linux's `eligible_pid` and `eligible_child` for a child of the waiter.
    fn is_eligible(&self, wait: &ParkedWait, child: Pid) -> bool {
        let Some(record) = self.processes.get(&child) else {
            return false;
        };
        let pid_matches = match wait.selector {
            WaitSelector::Child(wanted) => wanted == child,
            WaitSelector::AnyChild => true,
            WaitSelector::Group(group) => record.process_group == group,
            // Resolved before a request is matched.
            WaitSelector::CallersGroup => false,
        };
        if !pid_matches {
            return false;
        }
        if wait.options & WAIT_ALL_CHILDREN != 0 {
            return true;
        }
        let is_clone_child = record.exit_signal != Some(Signal::SIGCHLD);
        let wants_clone_children = wait.options & WAIT_CLONE_CHILDREN != 0;
        is_clone_child == wants_clone_children
    }

    /// Whether `waiter` is parked with a request that the zombie `child` satisfies.
    fn parked_wait_matches(&self, waiter: Pid, child: Pid) -> bool {
        let Some(record) = self.processes.get(&waiter) else {
            return false;
        };
        match &record.parked_wait {
            Some(wait) => record.children.contains(&child) && self.is_eligible(wait, child),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests;
