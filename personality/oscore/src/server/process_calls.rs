//! Process life: `clone` (fork and vfork), `exit`, `wait4`, the id calls, and the one way
//! a process ends ([`Server::terminate`]), whether it exits, faults or is killed.
//!
//! `clone` accepts what fork-like callers pass (musl's and glibc's `fork` use `SIGCHLD`
//! with `CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID`; `vfork` and `posix_spawn` use
//! `CLONE_VM | CLONE_VFORK`) and copies the address space eagerly. `CLONE_VM` is only
//! honoured with `CLONE_VFORK`: the parent then waits until the child calls `execve` or
//! exits, so it never sees the child's use of the copied memory, and a child given its own
//! stack (musl's `__clone` for `posix_spawn`) starts on it. Threads and the other sharing
//! flags are refused with `ENOSYS`.
//!
//! The child starts at `TRAMPOLINE_FORK_CHILD`, which takes its registers from its save
//! area: the trampoline (path a) and the client library (path b) put the parent's frame
//! there before calling, and fork copies the page; for path (c) the server writes the frame
//! of the exception message there itself, with x0 = 0 and FP/SIMD registers zeroed.

use abi::user_registers::UserRegisters;
use linux_abi::errno::Errno;
use linux_abi::process::{
    CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_DETACHED, CLONE_PARENT_SETTID, CLONE_SIGHAND,
    CLONE_THREAD, CLONE_VFORK, CLONE_VM, CSIGNAL, exit_status,
};
use linux_abi::signal::{SA_NOCLDWAIT, SIG_IGN, Signal};
use protocol::layout::{SAVE_AREA, TRAMPOLINE_EXCEPTION_FORK, TRAMPOLINE_FORK_CHILD};
use protocol::save_area;

use super::record::{Accounting, ParkedCall, Process};
use super::usage::rusage_bytes;
use super::{Action, Actions, CallResult, Completion, Notice, Reply, Server, running};
use crate::memory::Frames;
use crate::process::{Pid, WaitOutcome, WaitRequest};

/// The flags a fork-like `clone` may carry.
const SUPPORTED_CLONE_FLAGS: u64 = CSIGNAL
    | CLONE_VM
    | CLONE_VFORK
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED;

/// Where SP is in the save area's frame.
const SAVED_STACK_POINTER: u64 = SAVE_AREA + save_area::FRAME + 8 * UserRegisters::SP_WORD as u64;

impl<F: Frames> Server<F> {
    /// `clone(flags, stack, parent_tid, tls, child_tid)` (arm64's argument order).
    pub(super) fn clone_process(
        &mut self,
        pid: Pid,
        arguments: &[u64; 6],
        registers: Option<&UserRegisters>,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        let [flags, new_stack, parent_tid, _tls, child_tid, _] = *arguments;
        // Linux's own consistency checks come first.
        if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
            return Err(Errno::EINVAL);
        }
        if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
            return Err(Errno::EINVAL);
        }
        // What a copy cannot be: threads, shared tables, shared memory without vfork's wait.
        if flags & !SUPPORTED_CLONE_FLAGS != 0
            || (flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0)
        {
            return Err(Errno::ENOSYS);
        }
        let exit_signal = match flags & CSIGNAL {
            0 => None,
            number => Some(Signal::new(number).ok_or(Errno::EINVAL)?),
        };
        let vfork = flags & CLONE_VFORK != 0;

        // Path (c): the exception message lacks the FP/SIMD registers and TPIDR_EL0 the child
        // must inherit. Save the frame, and send the parent to the trampoline's
        // exception_fork, which adds the rest to the save area and calls again as path (a)
        // does; that second call (no registers) makes the child.
        if let Some(registers) = registers {
            let parent = running(&mut self.processes, pid)?;
            write_save_area_frame(&mut parent.space, &mut self.frames, registers)?;
            let mut redirected = *registers;
            redirected.pc = TRAMPOLINE_EXCEPTION_FORK;
            actions.push(Action::Reply {
                pid,
                reply: Reply::ExceptionRegisters(redirected),
            });
            return Ok(Completion::NoAnswer);
        }

        let parent = running(&mut self.processes, pid)?;
        // The child's frame, or where the parent saved it: the child's stack pointer for
        // the start, and the child's copy of the frame to correct.
        let saved_stack_pointer = match registers {
            Some(registers) => registers.sp,
            None => parent
                .space
                .read_u64(&mut self.frames, SAVED_STACK_POINTER)?,
        };
        let stack_pointer = if new_stack != 0 {
            new_stack
        } else {
            saved_stack_pointer
        };
        let now = self.now;
        let frames = &mut self.frames;
        let child = self.processes.clone_process(pid, exit_signal, |parent| {
            let mut space = parent.space.fork(frames)?;
            let prepared = match registers {
                Some(registers) => {
                    let mut frame = *registers;
                    frame.x[0] = 0;
                    frame.sp = stack_pointer;
                    write_save_area_frame(&mut space, frames, &frame)
                }
                None if new_stack != 0 => space.write_u64(frames, SAVED_STACK_POINTER, new_stack),
                None => Ok(()),
            };
            if let Err(error) = prepared {
                space.clear(frames);
                return Err(error);
            }
            let resident_pages = space.resident_page_count();
            Ok(Process {
                space,
                descriptors: parent.descriptors.clone_for_fork(),
                file_system: parent.file_system.clone(),
                path: parent.path,
                signals: parent.signals.for_fork(),
                limits: parent.limits,
                credentials: parent.credentials,
                robust_list: 0,
                parked: None,
                accounting: Accounting::new(now, resident_pages),
                control: parent.control.for_fork(),
                vfork_parent: vfork.then_some(pid),
            })
        })?;
        let child_number = child.number() as u32;
        // Linux ignores failures of these stores, as the child's own fault would tell.
        if flags & CLONE_PARENT_SETTID != 0
            && let Some(parent) = self.processes.get_mut(pid)
        {
            let _ = parent
                .space
                .write_u32(&mut self.frames, parent_tid, child_number);
        }
        if flags & CLONE_CHILD_SETTID != 0
            && let Some(process) = self.processes.get_mut(child)
        {
            let _ = process
                .space
                .write_u32(&mut self.frames, child_tid, child_number);
        }
        if flags & CLONE_CHILD_CLEARTID != 0 {
            self.processes.set_clear_child_tid(child, child_tid)?;
        }
        let path = self
            .processes
            .get(child)
            .map(|process| process.path)
            .ok_or(Errno::ESRCH)?;
        actions.push(Action::StartProcess {
            pid: child,
            entry: TRAMPOLINE_FORK_CHILD,
            stack_pointer,
            path,
        });
        if vfork {
            Ok(Completion::Park(ParkedCall::VforkParent { child }))
        } else {
            Ok(Completion::Value(u64::from(child_number)))
        }
    }

    /// `exit(code)` and `exit_group(code)`: the process ends with status `code & 0xff`.
    pub(super) fn exit(
        &mut self,
        pid: Pid,
        code: i32,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        // The status keeps the low byte of the code, as Linux's `(code & 0xff) << 8`.
        self.terminate(pid, exit_status(code as u8), actions);
        Ok(Completion::NoAnswer)
    }

    /// `wait4(pid, status, options, rusage)`.
    pub(super) fn wait4(
        &mut self,
        pid: Pid,
        which: i32,
        status_address: u64,
        options: u32,
        usage_address: u64,
    ) -> CallResult {
        let request = WaitRequest::new(which, options)?;
        self.wait_once(pid, request, status_address, usage_address)
    }

    /// One attempt at a `wait4`: reap, park, or fail.
    fn wait_once(
        &mut self,
        pid: Pid,
        request: WaitRequest,
        status_address: u64,
        usage_address: u64,
    ) -> CallResult {
        match self.processes.wait(pid, request) {
            WaitOutcome::Reaped { pid: child, status } => {
                let usage = self.exited_usage.remove(&child).unwrap_or_default();
                let process = running(&mut self.processes, pid)?;
                process.accounting.children.add(&usage);
                if status_address != 0 {
                    process
                        .space
                        .write_u32(&mut self.frames, status_address, status)?;
                }
                if usage_address != 0 {
                    process
                        .space
                        .write(&mut self.frames, usage_address, &rusage_bytes(&usage))?;
                }
                Ok(Completion::Value(child.number() as u64))
            }
            WaitOutcome::WouldBlock if request.no_hang() => Ok(Completion::Value(0)),
            WaitOutcome::WouldBlock => {
                self.processes.park_waiter(pid, request)?;
                Ok(Completion::Park(ParkedCall::Wait {
                    request,
                    status_address,
                    usage_address,
                }))
            }
            WaitOutcome::NoChild => Err(Errno::ECHILD),
        }
    }

    /// Retries the parked `wait4` of `waiter` after a child exited.
    fn retry_wait(&mut self, waiter: Pid, actions: &mut Actions<F::Frame>) {
        let Some(parked) = self.take_parked(waiter) else {
            return;
        };
        let ParkedCall::Wait {
            request,
            status_address,
            usage_address,
        } = parked.call
        else {
            if let Some(process) = self.processes.get_mut(waiter) {
                process.parked = Some(parked);
            }
            return;
        };
        let result = self.wait_once(waiter, request, status_address, usage_address);
        self.conclude(waiter, parked.via, result, actions);
    }

    /// Answers the `vfork` of `parent` with `child`'s pid, if it still waits for it.
    pub(super) fn finish_vfork(
        &mut self,
        parent: Pid,
        child: Pid,
        actions: &mut Actions<F::Frame>,
    ) {
        let waits = self
            .processes
            .get(parent)
            .and_then(|process| process.parked.as_ref())
            .is_some_and(|parked| parked.call == ParkedCall::VforkParent { child });
        if !waits {
            return;
        }
        if let Some(parked) = self.take_parked(parent) {
            let value = Ok(Completion::Value(child.number() as u64));
            self.conclude(parent, parked.via, value, actions);
        }
    }

    /// `getppid`.
    pub(super) fn getppid(&mut self, pid: Pid) -> Result<u64, Errno> {
        Ok(self.processes.getppid(pid)?.number() as u64)
    }

    /// `set_tid_address(address)`: records the address and returns the caller's tid.
    pub(super) fn set_tid_address(&mut self, pid: Pid, address: u64) -> Result<u64, Errno> {
        self.processes.set_clear_child_tid(pid, address)?;
        Ok(pid.number() as u64)
    }

    /// `setpgid(pid, pgid)`.
    pub(super) fn setpgid(&mut self, pid: Pid, target: i32, group: i32) -> Result<u64, Errno> {
        self.processes.setpgid(pid, target, group).map(|()| 0)
    }

    /// `getpgid(pid)`.
    pub(super) fn getpgid(&mut self, pid: Pid, target: i32) -> Result<u64, Errno> {
        Ok(self.processes.getpgid(pid, target)?.number() as u64)
    }

    /// `getsid(pid)`.
    pub(super) fn getsid(&mut self, pid: Pid, target: i32) -> Result<u64, Errno> {
        Ok(self.processes.getsid(pid, target)?.number() as u64)
    }

    /// `setsid()`.
    pub(super) fn setsid(&mut self, pid: Pid) -> Result<u64, Errno> {
        Ok(self.processes.setsid(pid)?.number() as u64)
    }

    /// Ends process `pid` with wait status `status`: releases its memory and descriptors,
    /// deletes its task, tells its parent (a parked `wait4`, a `vfork` parent, automatic
    /// reaping when the parent ignores `SIGCHLD`), hangs up its terminal if it led the
    /// session, and powers off when it is init.
    pub(super) fn terminate(&mut self, pid: Pid, status: u32, actions: &mut Actions<F::Frame>) {
        let session = self.processes.ids(pid).map(|ids| ids.session);
        let usage = self.final_usage(pid);
        let Ok(report) = self.processes.exit(pid, status) else {
            return;
        };
        if let Some(usage) = usage {
            self.exited_usage.insert(pid, usage);
        }
        self.console_waiters.retain(|&waiter| waiter != pid);
        self.pipe_waiters.retain(|&waiter| waiter != pid);
        let mut process = report.payload;
        process.descriptors.close_all();
        process.space.clear(&mut self.frames);
        actions.push(Action::DeleteProcess { pid });

        if let Some(parent) = process.vfork_parent {
            self.finish_vfork(parent, pid, actions);
        }
        for child in report.reparented {
            let signal = self
                .processes
                .get(child)
                .and_then(|record| record.control.parent_death_signal);
            if let Some(signal) = signal {
                self.send_signal(child, signal, actions);
            }
        }
        if let Some(parent) = report.parent {
            self.notify_parent(parent, pid, report.exit_signal, actions);
        }
        for waiter in report.waiters_to_wake {
            self.retry_wait(waiter, actions);
        }
        if report.was_session_leader
            && let Some(session) = session
            && let Some(group) = self.tty.release_session(session)
        {
            self.signal_group(group, Signal::SIGHUP, actions);
            self.signal_group(group, Signal::SIGCONT, actions);
        }
        if pid == Pid::INIT {
            actions.push(Action::Log(Notice::InitExited { status }));
            actions.push(Action::PowerOff);
        }
    }

    /// The parent learns of a child's exit: the exit signal is sent like any other (a
    /// caught `SIGCHLD` is recorded, its default is to ignore it), and the child is reaped
    /// at once when the parent ignores `SIGCHLD` or set `SA_NOCLDWAIT` (Linux's automatic
    /// reaping in `do_notify_parent`).
    fn notify_parent(
        &mut self,
        parent: Pid,
        child: Pid,
        exit_signal: Option<Signal>,
        actions: &mut Actions<F::Frame>,
    ) {
        let Some(record) = self.processes.get(parent) else {
            return;
        };
        let action = record.signals.action(Signal::SIGCHLD);
        let reaps_automatically = exit_signal == Some(Signal::SIGCHLD)
            && (action.handler == SIG_IGN || action.flags & SA_NOCLDWAIT != 0);
        if reaps_automatically {
            self.processes.reap(child);
            // Linux does not add what automatically reaped children used.
            self.exited_usage.remove(&child);
        }
        if let Some(signal) = exit_signal {
            self.send_signal(parent, signal, actions);
        }
    }
}

/// Writes `frame` into the save area of `space` and zeroes the FP/SIMD part, which an
/// exception message does not carry.
fn write_save_area_frame<F: Frames>(
    space: &mut crate::memory::AddressSpace<F::Frame>,
    frames: &mut F,
    frame: &UserRegisters,
) -> Result<(), Errno> {
    let mut bytes = [0u8; save_area::SIZE as usize];
    for (index, word) in frame.to_words().iter().enumerate() {
        let at = save_area::FRAME as usize + 8 * index;
        if let Some(slot) = bytes.get_mut(at..at + 8) {
            slot.copy_from_slice(&word.to_le_bytes());
        }
    }
    space.write(frames, SAVE_AREA, &bytes)
}
