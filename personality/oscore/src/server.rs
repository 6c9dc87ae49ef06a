//! The OS server's dispatcher: system calls, page faults, exceptions, console input and
//! time in, kernel operations out.
//!
//! Why it is shaped this way: L4Linux kept Linux and changed only its architecture-dependent
//! part; here the server keeps a pure core and a thin kernel-facing glue
//! (`personality/server`). The glue turns each received message into an [`Event`], calls
//! [`Server::handle`], and performs the returned [`Action`]s in order: replies, map items,
//! task creation and deletion, console writes, power-off. Nothing here makes a kernel call,
//! so every system call's success and error paths are tested on the host, with
//! [`crate::memory::testing::VecFrames`] as the server's memory and a real cpio initrd.
//!
//! What the glue must do for each action:
//!
//! | action | kernel operation |
//! |---|---|
//! | [`Action::Reply`] with [`Reply::Message`] | reply to the client thread with `Answer::encode`'s tag and MR1 |
//! | [`Action::Reply`] with [`Reply::ExceptionResult`] | exception reply of one word (x0) |
//! | [`Action::Reply`] with [`Reply::ExceptionRegisters`] | exception reply of 34 words (x0..x30, SP, PC, PSTATE) |
//! | [`Action::Map`] | page-fault reply with a map item of the frame (clean to PoU first if executable) |
//! | [`Action::MapTrampoline`] | page-fault reply with a read-execute map item of the trampoline page |
//! | [`Action::StartProcess`] | `task_new` (pager and exception handler: the server) and start thread 0 at `entry` with `stack_pointer` |
//! | [`Action::DeleteProcess`] | delete the task; the thread gets no reply |
//! | [`Action::ConsoleWrite`] | WRITE calls to the console driver |
//! | [`Action::PowerOff`], [`Action::Restart`] | ask the root task to power off or reset |
//! | [`Action::Log`] | print the notice's `Display` line |
//!
//! Between events the glue waits with an open receive whose timeout is
//! [`Server::next_deadline`] (sleeps, poll timeouts, `VTIME`), and passes [`Event::Tick`]
//! when it expires. Every event carries the current monotonic time.
//!
//! A system call either completes at once, or *parks* (`record::ParkedCall`): the client
//! stays blocked in its call and the answer comes with a later event (console input for a
//! read, a child's exit for `wait4`, time for a sleep, another process's read or write or
//! close for a pipe). `exit` and fatal signals answer nothing: the task is deleted. After
//! every event the calls parked on pipes are retried if any pipe changed (`pipes.rs`),
//! which is how a close deep inside an `exit` or an `execve` wakes the other end.
//!
//! Decisions the rest of the system depends on:
//! - **Signals are recorded, not delivered** (delivery comes with the Unix issue).
//!   `rt_sigaction`, `rt_sigprocmask` and `rt_sigpending` keep and report the state. A
//!   signal sent (`kill`, `^C` on a terminal with a foreground group, a session leader's
//!   exit) takes effect only when its action is the default and that default terminates:
//!   the process is killed with a signalled wait status, exactly as Linux's default action
//!   does. A blocked or handled signal is recorded as pending; ignored ones, stop signals
//!   and signals whose default is to be ignored are discarded (stopping is not modelled).
//!   Unlike Linux, init is not protected from default actions: busybox `poweroff`, `halt`
//!   and `reboot` signal pid 1, and since our init is a shell that cannot install working
//!   handlers yet, letting the signal end init (which powers off) is what the user asked
//!   for. See `server/signals.rs`.
//! - **The console is no one's controlling terminal until `TIOCSCTTY`**, as on Linux, where
//!   opening `/dev/console` never acquires one. So `^C` sends nothing until a session
//!   leader attaches the terminal; busybox `sh` as init runs without job control.
//! - **Pipes are open file descriptions**, so their ends are counted by the descriptors
//!   that share them across `dup`, `fork`, close-on-exec and `exit`; `SIGPIPE` follows the
//!   signal rule above. Packet mode (`O_DIRECT`) is refused.
//! - **CPU time is time not spent waiting in a call**: the kernel does not report thread
//!   times, so `getrusage`, `times`, `wait4`'s usage and the CPU-time clocks count from a
//!   process's creation minus its waits (`record::Accounting`), all as user time.
//! - **fork copies eagerly**; `vfork` (`CLONE_VM | CLONE_VFORK`) is a fork whose parent
//!   waits until the child calls `execve` or exits, so the order of events is Linux's
//!   although the memory is not shared. Threads (`CLONE_THREAD`) and other sharing flags
//!   answer `ENOSYS`.
//! - A call the server does not implement answers `ENOSYS` and is reported once per number
//!   ([`Notice::UnimplementedSystemCall`]); a few are refused with `ENOSYS` on purpose and
//!   silently, because C libraries probe them and fall back (`statx`, `rseq`, `clone3`,
//!   `rt_sigreturn`, which no delivered signal could need).

mod change_calls;
mod config;
mod control;
mod dispatch;
mod exec;
mod file_calls;
mod interface;
mod io;
mod memory_calls;
mod pipes;
mod poll;
mod process_calls;
mod random;
mod record;
mod signals;
mod system;
mod terminal;
mod time;
mod usage;

#[cfg(test)]
mod tests;

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use abi::user_registers::UserRegisters;
use linux_abi::errno::Errno;
use protocol::layout::TRAMPOLINE_START;
use protocol::{Answer, SystemCallPath};

pub use config::{CLIENT_RESERVED, Config, client_layout, default_uname};
pub use interface::{Action, Event, Nanoseconds, Notice, Reply};
pub use random::{RandomStream, chacha20_block};

use crate::memory::Frames;
use crate::process::{Pid, ProcessTable};
use crate::tty::Tty;
use crate::vfs::{BuildError, Vfs};
use record::{Parked, ParkedCall, Process, Usage, Via};
use usage::LoadAverage;

/// The actions one event produces.
type Actions<Frame> = Vec<Action<Frame>>;

/// What a system call's handler decided.
#[derive(Debug)]
enum Completion {
    /// Answer now with this value of x0 (a result, or `-errno`).
    Value(u64),
    /// `execve` succeeded: the caller continues in its new program.
    Exec {
        /// The new program's stack pointer.
        stack_pointer: u64,
    },
    /// The call waits; the answer comes later.
    Park(ParkedCall),
    /// The caller is gone (it exited or died of a signal): no answer.
    NoAnswer,
}

/// A handler's result: a completion or an error to answer with.
type CallResult = Result<Completion, Errno>;

/// A handler's plain result as a completion.
fn done(result: Result<u64, Errno>) -> CallResult {
    result.map(Completion::Value)
}

/// The running process `pid`'s record, or `ESRCH`: every handler starts here, borrowing only
/// the table so that the frames, the VFS and the tty stay free to borrow beside it.
fn running<Frame>(
    processes: &mut ProcessTable<Process<Frame>>,
    pid: Pid,
) -> Result<&mut Process<Frame>, Errno> {
    processes.get_mut(pid).ok_or(Errno::ESRCH)
}

/// The OS server's state and its event handler; see the module documentation.
pub struct Server<F: Frames> {
    /// The server's memory for clients.
    frames: F,
    /// The file system tree.
    vfs: Vfs,
    /// Every process, with its record while it runs.
    processes: ProcessTable<Process<F::Frame>>,
    /// The console's line discipline.
    tty: Tty,
    /// What the glue told us at boot.
    config: Config,
    /// `getrandom` and `AT_RANDOM`.
    random: RandomStream,
    /// The time of the event being handled (never goes back).
    now: Nanoseconds,
    /// Processes parked in a console read, write or poll, in the order they parked.
    console_waiters: VecDeque<Pid>,
    /// Processes parked in a pipe read, write or poll, in the order they parked.
    pipe_waiters: VecDeque<Pid>,
    /// The VFS's pipe activity count when the pipe waiters were last retried.
    pipe_activity_seen: u64,
    /// What each zombie used, its reaped children included, until its parent reaps it.
    exited_usage: BTreeMap<Pid, Usage>,
    /// The load averages `sysinfo` reports.
    load: LoadAverage,
    /// System call numbers already reported as not implemented.
    reported: BTreeSet<u64>,
}

impl<F: Frames> fmt::Debug for Server<F> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Server")
            .field("processes", &self.processes.len())
            .field("now", &self.now)
            .field("console_waiters", &self.console_waiters)
            .field("pipe_waiters", &self.pipe_waiters)
            .field("reported", &self.reported)
            .finish_non_exhaustive()
    }
}

impl<F: Frames> Server<F> {
    /// A server with no processes yet, whose root file system is the cpio archive `initrd`
    /// (with `/dev` added).
    ///
    /// # Errors
    /// The archive cannot be made into a tree ([`BuildError`]).
    pub fn new(frames: F, initrd: &'static [u8], config: Config) -> Result<Self, BuildError> {
        let vfs = Vfs::from_initrd(initrd)?;
        let pipe_activity_seen = vfs.pipe_activity();
        Ok(Server {
            frames,
            vfs,
            processes: ProcessTable::new(),
            tty: Tty::new(),
            random: RandomStream::new(config.random_seed),
            config,
            now: Nanoseconds::ZERO,
            console_waiters: VecDeque::new(),
            pipe_waiters: VecDeque::new(),
            pipe_activity_seen,
            exited_usage: BTreeMap::new(),
            load: LoadAverage::new(Nanoseconds::ZERO),
            reported: BTreeSet::new(),
        })
    }

    /// Starts init, pid 1, at monotonic time `now`: executes `path` (a static ELF program
    /// or a `#!` script) with `arguments` and `environment`, standard input, output and
    /// error open on `/dev/console`, working directory `/`. The returned actions start it.
    ///
    /// # Errors
    /// What `execve` would answer (`ENOENT`, `EACCES`, `ENOEXEC`, `ELOOP`, `E2BIG`,
    /// `ENOMEM`...), or `EEXIST` when init was started already.
    pub fn start_init(
        &mut self,
        path: &[u8],
        arguments: &[&[u8]],
        environment: &[&[u8]],
        now: Nanoseconds,
    ) -> Result<Vec<Action<F::Frame>>, Errno> {
        self.advance_clock(now);
        self.create_init(path, arguments, environment)
    }

    /// Handles one event at monotonic time `now` and returns what the glue must do.
    pub fn handle(&mut self, event: Event, now: Nanoseconds) -> Vec<Action<F::Frame>> {
        self.advance_clock(now);
        let mut actions = Vec::new();
        self.expire_timers(&mut actions);
        match event {
            Event::SystemCall { pid, call } => {
                self.system_call(
                    pid,
                    Via::Message,
                    call.number,
                    call.arguments,
                    None,
                    &mut actions,
                );
            }
            Event::PageFault {
                pid,
                address,
                access,
                instruction_pointer,
            } => self.page_fault(pid, address, access, instruction_pointer, &mut actions),
            Event::Exception { pid, exception } => self.exception(pid, &exception, &mut actions),
            Event::ConsoleInput(bytes) => self.console_input(&bytes, &mut actions),
            Event::Tick => {}
        }
        // Whatever the event did to pipes (a write, a read, descriptors closed by an exit
        // or an exec) may let parked calls go on.
        self.settle_pipes(&mut actions);
        actions
    }

    /// Moves the server's time to `now` (never back), takes the load samples due (before
    /// the event changes who is active), and tells the VFS the wall-clock time for what it
    /// records.
    fn advance_clock(&mut self, now: Nanoseconds) {
        self.now = self.now.max(now);
        self.sample_load();
        let wall_clock = self.config.wall_clock_at_start.saturating_add(self.now);
        self.vfs.set_clock(wall_clock.to_timespec());
    }

    /// The earliest time at which a waiting call ends by itself (a sleep, a poll timeout,
    /// a `VTIME` timer), for the main thread's receive timeout; `None` when nothing waits
    /// for time.
    pub fn next_deadline(&self) -> Option<Nanoseconds> {
        self.processes
            .pids()
            .filter_map(|pid| self.processes.get(pid))
            .filter_map(|process| process.parked.as_ref()?.call.deadline())
            .min()
    }

    /// The server's memory pool.
    pub fn frames(&self) -> &F {
        &self.frames
    }

    /// The system-call path process `pid` runs with, `None` if it does not run.
    pub fn system_call_path(&self, pid: Pid) -> Option<SystemCallPath> {
        self.processes.get(pid).map(|process| process.path)
    }

    /// The number of processes, zombies included.
    pub fn process_count(&self) -> usize {
        self.processes.len()
    }

    /// One system call, from a message or an exception.
    fn system_call(
        &mut self,
        pid: Pid,
        via: Via,
        number: u64,
        arguments: [u64; 6],
        registers: Option<&UserRegisters>,
        actions: &mut Actions<F::Frame>,
    ) {
        let Some(process) = self.processes.get_mut(pid) else {
            actions.push(Action::Log(Notice::UnknownProcess { pid }));
            return;
        };
        // A client blocked in a call sends nothing; if it did, it stopped waiting for the
        // parked answer, which is then dropped.
        if process.parked.take().is_some() {
            process.accounting.end_wait(self.now);
            self.processes.unpark_waiter(pid);
        }
        let result = self.dispatch(pid, number, &arguments, registers, actions);
        self.conclude(pid, via, result, actions);
    }

    /// Answers, parks or forgets a call according to its handler's result.
    fn conclude(
        &mut self,
        pid: Pid,
        via: Via,
        result: CallResult,
        actions: &mut Actions<F::Frame>,
    ) {
        let completion = result.unwrap_or_else(|error| Completion::Value(error.as_return()));
        let now = self.now;
        if let Some(process) = self.processes.get_mut(pid) {
            match completion {
                Completion::Park(_) => process.accounting.begin_wait(now),
                Completion::Value(_) | Completion::Exec { .. } => process.accounting.end_wait(now),
                Completion::NoAnswer => {}
            }
        }
        match completion {
            Completion::Value(value) => actions.push(Action::Reply {
                pid,
                reply: match via {
                    Via::Message => Reply::Message(Answer::Result(value)),
                    Via::Exception => Reply::ExceptionResult(value),
                },
            }),
            Completion::Exec { stack_pointer } => actions.push(Action::Reply {
                pid,
                reply: match via {
                    Via::Message => Reply::Message(Answer::Exec { stack_pointer }),
                    Via::Exception => {
                        let mut registers = UserRegisters::zeroed();
                        registers.sp = stack_pointer;
                        registers.pc = TRAMPOLINE_START;
                        Reply::ExceptionRegisters(registers)
                    }
                },
            }),
            Completion::Park(call) => {
                let Some(process) = self.processes.get_mut(pid) else {
                    return;
                };
                if call.waits_for_console() && !self.console_waiters.contains(&pid) {
                    self.console_waiters.push_back(pid);
                }
                if call.waits_for_pipes() && !self.pipe_waiters.contains(&pid) {
                    self.pipe_waiters.push_back(pid);
                }
                process.parked = Some(Parked { via, call });
            }
            Completion::NoAnswer => {}
        }
    }

    /// Takes `pid`'s parked call out (it is being retried or finished).
    fn take_parked(&mut self, pid: Pid) -> Option<Parked> {
        self.processes.get_mut(pid)?.parked.take()
    }

    /// Ends every parked call whose deadline has passed.
    fn expire_timers(&mut self, actions: &mut Actions<F::Frame>) {
        let now = self.now;
        let expired: Vec<Pid> = self
            .processes
            .pids()
            .filter(|&pid| {
                self.processes
                    .get(pid)
                    .and_then(|process| process.parked.as_ref()?.call.deadline())
                    .is_some_and(|deadline| deadline <= now)
            })
            .collect();
        for pid in expired {
            let Some(parked) = self.take_parked(pid) else {
                continue;
            };
            let result = self.time_out(pid, parked.call);
            self.conclude(pid, parked.via, result, actions);
        }
    }

    /// Retries the console waiters (input arrived, output resumed, the terminal changed).
    fn retry_console_waiters(&mut self, actions: &mut Actions<F::Frame>) {
        let waiters: Vec<Pid> = self.console_waiters.drain(..).collect();
        for pid in waiters {
            let waiting = self
                .processes
                .get(pid)
                .and_then(|process| process.parked.as_ref())
                .is_some_and(|parked| parked.call.waits_for_console());
            if !waiting {
                continue;
            }
            let Some(parked) = self.take_parked(pid) else {
                continue;
            };
            let result = self.retry_console(pid, parked.call, actions);
            self.conclude(pid, parked.via, result, actions);
        }
    }
}
