//! Signals as far as they go before delivery exists: `rt_sigaction`, `rt_sigprocmask` and
//! `rt_sigpending` keep and report each process's state; `kill`, `tkill`, `tgkill`, the
//! terminal and exiting children send signals, with this effect ([`Server::send_signal`]):
//!
//! - `SIGKILL` terminates the process.
//! - A blocked signal is recorded as pending (as Linux queues it).
//! - An ignored signal (`SIG_IGN`) is discarded.
//! - At `SIG_DFL`, a signal whose default action terminates (with or without a core
//!   dump) terminates the process with a signalled wait status (the core bit stays clear:
//!   no core is written, `RLIMIT_CORE` is 0); one whose default is to ignore, continue or
//!   stop is discarded (stopping is not modelled).
//! - A signal with a handler is recorded as pending: running handlers needs signal frames
//!   and `rt_sigreturn`, which come with the Unix issue. The caller's parked calls are not
//!   interrupted either.
//!
//! Unblocking a pending signal, or setting its action back to the default, applies the
//! same rules then. Unlike Linux, init is not immune to default actions: see the module
//! documentation of `server` for why.

use alloc::vec::Vec;

use linux_abi::errno::Errno;
use linux_abi::layout::SigAction;
use linux_abi::process::{CoreDump, signalled_status};
use linux_abi::signal::{
    DefaultAction, SIG_BLOCK, SIG_DFL, SIG_IGN, SIG_SETMASK, SIG_UNBLOCK, Signal, SignalSet,
};

use super::dispatch::int;
use super::{Actions, CallResult, Completion, Server, running};
use crate::memory::Frames;
use crate::process::Pid;

/// What a signal sent to a process does there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// The process is terminated by it.
    Terminate,
    /// It is recorded as pending.
    Pending,
    /// It has no effect.
    Discard,
}

/// The signal an `int` argument names, `None` for 0 (a probe), `EINVAL` otherwise.
fn signal_argument(register: u64) -> Result<Option<Signal>, Errno> {
    match int(register) {
        0 => Ok(None),
        number => u64::try_from(number)
            .ok()
            .and_then(Signal::new)
            .map(Some)
            .ok_or(Errno::EINVAL),
    }
}

/// Whether `action` makes `signal` do nothing when it is not blocked.
fn ignores(action: &SigAction, signal: Signal) -> bool {
    action.handler == SIG_IGN
        || (action.handler == SIG_DFL
            && matches!(
                signal.default_action(),
                DefaultAction::Ignore | DefaultAction::Continue | DefaultAction::Stop
            ))
}

impl<F: Frames> Server<F> {
    /// `rt_sigaction(signal, action, old_action, sigsetsize)`.
    pub(super) fn rt_sigaction(
        &mut self,
        pid: Pid,
        signal_register: u64,
        new_address: u64,
        old_address: u64,
        set_size: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        if set_size != SignalSet::SIZE {
            return Err(Errno::EINVAL);
        }
        let process = running(&mut self.processes, pid)?;
        let new = if new_address == 0 {
            None
        } else {
            let bytes = process.space.read_array(&mut self.frames, new_address)?;
            Some(SigAction::from_bytes(&bytes))
        };
        let signal = signal_argument(signal_register)?.ok_or(Errno::EINVAL)?;
        if new.is_some() && !signal.can_be_caught() {
            return Err(Errno::EINVAL);
        }
        let old = process.signals.action(signal);
        if let Some(mut action) = new {
            action.mask = action.mask.blockable();
            process.signals.set_action(signal, action);
            if !process.signals.mask.contains(signal) && ignores(&action, signal) {
                process.signals.pending.remove(signal);
            }
        }
        if old_address != 0 {
            process
                .space
                .write(&mut self.frames, old_address, &old.to_bytes())?;
        }
        Ok(self.apply_pending_defaults(pid, actions))
    }

    /// `rt_sigprocmask(how, set, old_set, sigsetsize)`.
    pub(super) fn rt_sigprocmask(
        &mut self,
        pid: Pid,
        how: u64,
        set_address: u64,
        old_address: u64,
        set_size: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        if set_size != SignalSet::SIZE {
            return Err(Errno::EINVAL);
        }
        let process = running(&mut self.processes, pid)?;
        let new = if set_address == 0 {
            None
        } else {
            Some(SignalSet(process.space.read_u64(&mut self.frames, set_address)?).blockable())
        };
        let old = process.signals.mask;
        if let Some(set) = new {
            process.signals.mask = match u64::from(int(how) as u32) {
                SIG_BLOCK => old.union(set),
                SIG_UNBLOCK => old.difference(set),
                SIG_SETMASK => set,
                _ => return Err(Errno::EINVAL),
            };
        }
        if old_address != 0 {
            process
                .space
                .write_u64(&mut self.frames, old_address, old.0)?;
        }
        Ok(self.apply_pending_defaults(pid, actions))
    }

    /// `rt_sigpending(set, sigsetsize)`: the pending signals that are blocked (the others
    /// Linux would have delivered), in the first `sigsetsize` bytes.
    pub(super) fn rt_sigpending(
        &mut self,
        pid: Pid,
        address: u64,
        set_size: u64,
    ) -> Result<u64, Errno> {
        if set_size > SignalSet::SIZE {
            return Err(Errno::EINVAL);
        }
        let process = running(&mut self.processes, pid)?;
        let pending = process.signals.pending.0 & process.signals.mask.0;
        let bytes = pending.to_le_bytes();
        let part = bytes.get(..set_size as usize).unwrap_or(&[]);
        process.space.write(&mut self.frames, address, part)?;
        Ok(0)
    }

    /// `kill(pid, signal)`: to a process (`pid > 0`), the caller's group (0), everyone but
    /// init and the caller (-1), or a group (`-group`).
    pub(super) fn kill(
        &mut self,
        pid: Pid,
        target: i32,
        signal_register: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        let signal = signal_argument(signal_register)?;
        let targets: Vec<Pid> = match target {
            target if target > 0 => {
                let target = Pid::new(target).ok_or(Errno::ESRCH)?;
                self.processes.state(target).ok_or(Errno::ESRCH)?;
                alloc::vec![target]
            }
            0 => {
                let group = self.processes.getpgid(pid, 0)?;
                self.processes.group_members(group).collect()
            }
            -1 => self
                .processes
                .pids()
                .filter(|&other| other != Pid::INIT && other != pid)
                .collect(),
            i32::MIN => return Err(Errno::ESRCH),
            group => {
                let group = Pid::new(-group).ok_or(Errno::ESRCH)?;
                self.processes.group_members(group).collect()
            }
        };
        if targets.is_empty() {
            return Err(Errno::ESRCH);
        }
        if let Some(signal) = signal {
            for target in targets {
                self.send_signal(target, signal, actions);
            }
        }
        Ok(self.answer_unless_gone(pid))
    }

    /// `tkill(tid, signal)` (`group` None) and `tgkill(group, tid, signal)`: every process
    /// has one thread, whose id is its pid.
    pub(super) fn tgkill(
        &mut self,
        pid: Pid,
        group: Option<i32>,
        thread: i32,
        signal_register: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        if thread <= 0 || group.is_some_and(|group| group <= 0) {
            return Err(Errno::EINVAL);
        }
        let signal = signal_argument(signal_register)?;
        let target = Pid::new(thread).ok_or(Errno::ESRCH)?;
        if self.processes.get(target).is_none() || group.is_some_and(|group| group != thread) {
            return Err(Errno::ESRCH);
        }
        if let Some(signal) = signal {
            self.send_signal(target, signal, actions);
        }
        Ok(self.answer_unless_gone(pid))
    }

    /// 0 for a caller that still runs, no answer for one its own signal terminated.
    fn answer_unless_gone(&self, pid: Pid) -> Completion {
        if self.processes.get(pid).is_some() {
            Completion::Value(0)
        } else {
            Completion::NoAnswer
        }
    }

    /// Sends `signal` to every member of `group`.
    pub(super) fn signal_group(
        &mut self,
        group: Pid,
        signal: Signal,
        actions: &mut Actions<F::Frame>,
    ) {
        let members: Vec<Pid> = self.processes.group_members(group).collect();
        for member in members {
            self.send_signal(member, signal, actions);
        }
    }

    /// Sends `signal` to `target` with the effect the module documentation gives; a zombie
    /// or unknown target is not affected.
    pub(super) fn send_signal(
        &mut self,
        target: Pid,
        signal: Signal,
        actions: &mut Actions<F::Frame>,
    ) {
        let Some(process) = self.processes.get_mut(target) else {
            return;
        };
        let action = process.signals.action(signal);
        let effect = if signal == Signal::SIGKILL {
            Effect::Terminate
        } else if process.signals.mask.contains(signal) {
            Effect::Pending
        } else if ignores(&action, signal) {
            Effect::Discard
        } else if action.handler == SIG_DFL {
            Effect::Terminate
        } else {
            Effect::Pending
        };
        match effect {
            Effect::Terminate => {
                let status = signalled_status(signal, CoreDump::NotDumped);
                self.terminate(target, status, actions);
            }
            Effect::Pending => process.signals.pending.add(signal),
            Effect::Discard => {}
        }
    }

    /// Applies the default action of pending signals that are no longer blocked (ignored
    /// ones are dropped, terminating ones terminate); the caller's answer.
    fn apply_pending_defaults(&mut self, pid: Pid, actions: &mut Actions<F::Frame>) -> Completion {
        let Some(process) = self.processes.get_mut(pid) else {
            return Completion::NoAnswer;
        };
        let mut deliverable = process.signals.pending.difference(process.signals.mask);
        while let Some(signal) = deliverable.lowest() {
            deliverable.remove(signal);
            let action = process.signals.action(signal);
            if ignores(&action, signal) {
                process.signals.pending.remove(signal);
            } else if action.handler == SIG_DFL {
                process.signals.pending.remove(signal);
                let status = signalled_status(signal, CoreDump::NotDumped);
                self.terminate(pid, status, actions);
                return Completion::NoAnswer;
            }
        }
        Completion::Value(0)
    }
}
