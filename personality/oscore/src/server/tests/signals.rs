//! Signals without delivery: recorded actions and masks, and what `kill` does.

use linux_abi::errno::Errno;
use linux_abi::layout::SigAction;
use linux_abi::process::{CoreDump, signalled_status};
use linux_abi::signal::{SIG_IGN, Signal, SignalSet};
use linux_abi::syscall::Syscall;

use super::{Harness, answer, answers, deletes};
use crate::process::Pid;
use crate::server::Action;

/// A handler address inside the test program.
const HANDLER: u64 = 0x40_1000;

/// Sets `signal`'s action in `pid` to `handler`.
fn set_handler(harness: &mut Harness, pid: Pid, signal: Signal, handler: u64) {
    let action = harness.scratch(pid, 1);
    harness.poke(pid, action, &handler.to_le_bytes());
    harness.ok(
        pid,
        Syscall::RtSigaction,
        &[u64::from(signal.number()), action, 0, 8],
    );
}

/// Blocks `signal` in `pid`.
fn block(harness: &mut Harness, pid: Pid, signal: Signal) {
    let set = harness.scratch(pid, 1);
    harness.poke(pid, set, &SignalSet::of(signal).0.to_le_bytes());
    harness.ok(pid, Syscall::RtSigprocmask, &[0, set, 0, 8]);
}

/// The status `wait4` gives for `child`, which must have ended.
fn status_of(harness: &mut Harness, child: Pid) -> u32 {
    let status = harness.scratch(Pid::INIT, 1);
    harness.ok(
        Pid::INIT,
        Syscall::Wait4,
        &[child.number() as u64, status, 0, 0],
    );
    harness.peek_u32(Pid::INIT, status)
}

#[test]
fn rt_sigaction_records_an_action_and_returns_the_old_one() {
    let mut harness = Harness::booted();
    let new = SigAction {
        handler: HANDLER,
        flags: 0x0400_0000,
        restorer: 0x40_2000,
        mask: SignalSet(u64::MAX),
    };
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, buffer, &new.to_bytes());
    let old = buffer + 100;
    harness.ok(Pid::INIT, Syscall::RtSigaction, &[10, buffer, old, 8]);
    assert_eq!(harness.peek(Pid::INIT, old, 32), [0; 32], "SIG_DFL before");
    harness.ok(Pid::INIT, Syscall::RtSigaction, &[10, 0, old, 8]);
    let recorded = SigAction::from_bytes(&harness.peek(Pid::INIT, old, 32).try_into().unwrap());
    assert_eq!(recorded.handler, HANDLER);
    assert_eq!(recorded.restorer, 0x40_2000);
    assert_eq!(
        recorded.mask,
        SignalSet(u64::MAX).blockable(),
        "KILL and STOP never blocked"
    );
}

#[test]
fn rt_sigaction_refuses_bad_sizes_signals_and_pointers() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::RtSigaction, &[10, buffer, 0, 4]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::RtSigaction, &[9, buffer, 0, 8]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::RtSigaction, &[19, buffer, 0, 8]),
        Errno::EINVAL
    );
    harness.ok(Pid::INIT, Syscall::RtSigaction, &[9, 0, buffer, 8]);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::RtSigaction, &[0, buffer, 0, 8]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::RtSigaction, &[65, buffer, 0, 8]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::RtSigaction, &[10, 16, 0, 8]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::RtSigaction, &[10, 0, 16, 8]),
        Errno::EFAULT
    );
}

#[test]
fn rt_sigprocmask_blocks_unblocks_and_sets() {
    let mut harness = Harness::booted();
    let set = harness.scratch(Pid::INIT, 1);
    let old = set + 64;
    let mask = |signals: &[Signal]| {
        signals
            .iter()
            .fold(SignalSet::EMPTY, |set, &signal| {
                set.union(SignalSet::of(signal))
            })
            .0
    };
    harness.poke(
        Pid::INIT,
        set,
        &mask(&[Signal::SIGINT, Signal::SIGKILL]).to_le_bytes(),
    );
    harness.ok(Pid::INIT, Syscall::RtSigprocmask, &[0, set, old, 8]);
    assert_eq!(harness.peek_u64(Pid::INIT, old), 0);
    harness.poke(Pid::INIT, set, &mask(&[Signal::SIGTERM]).to_le_bytes());
    harness.ok(Pid::INIT, Syscall::RtSigprocmask, &[0, set, old, 8]);
    assert_eq!(
        harness.peek_u64(Pid::INIT, old),
        mask(&[Signal::SIGINT]),
        "SIGKILL not blocked"
    );
    harness.poke(Pid::INIT, set, &mask(&[Signal::SIGINT]).to_le_bytes());
    harness.ok(Pid::INIT, Syscall::RtSigprocmask, &[1, set, 0, 8]);
    harness.ok(Pid::INIT, Syscall::RtSigprocmask, &[2, 0, old, 8]);
    assert_eq!(harness.peek_u64(Pid::INIT, old), mask(&[Signal::SIGTERM]));
    assert_eq!(
        harness.error(Pid::INIT, Syscall::RtSigprocmask, &[7, set, 0, 8]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::RtSigprocmask, &[0, set, 0, 16]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::RtSigprocmask, &[0, 16, 0, 8]),
        Errno::EFAULT
    );
}

#[test]
fn kill_with_a_default_terminating_signal_ends_the_process() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let actions = harness.call(Pid::INIT, Syscall::Kill, &[child.number() as u64, 15]);
    assert!(deletes(&actions, child));
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)));
    let expected = signalled_status(Signal::SIGTERM, CoreDump::NotDumped);
    assert_eq!(status_of(&mut harness, child), expected);
}

#[test]
fn a_caught_signal_is_recorded_and_rt_sigpending_shows_the_blocked_ones() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    set_handler(&mut harness, child, Signal::SIGUSR1, HANDLER);
    block(&mut harness, child, Signal::SIGUSR2);
    harness.ok(Pid::INIT, Syscall::Kill, &[child.number() as u64, 10]);
    harness.ok(Pid::INIT, Syscall::Kill, &[child.number() as u64, 12]);
    assert!(
        harness.server.processes.get(child).is_some(),
        "still running"
    );
    let set = harness.scratch(child, 1);
    harness.ok(child, Syscall::RtSigpending, &[set, 8]);
    assert_eq!(
        harness.peek_u64(child, set),
        SignalSet::of(Signal::SIGUSR2).0
    );
    assert_eq!(
        harness.error(child, Syscall::RtSigpending, &[set, 9]),
        Errno::EINVAL
    );
}

#[test]
fn a_blocked_fatal_signal_takes_effect_when_unblocked() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    block(&mut harness, child, Signal::SIGTERM);
    harness.ok(Pid::INIT, Syscall::Kill, &[child.number() as u64, 15]);
    assert!(harness.server.processes.get(child).is_some());
    let set = harness.scratch(child, 1);
    harness.poke(child, set, &SignalSet::of(Signal::SIGTERM).0.to_le_bytes());
    let actions = harness.call(child, Syscall::RtSigprocmask, &[1, set, 0, 8]);
    assert!(deletes(&actions, child));
    assert!(!answers(&actions, child));
    let expected = signalled_status(Signal::SIGTERM, CoreDump::NotDumped);
    assert_eq!(status_of(&mut harness, child), expected);
}

#[test]
fn ignored_signals_and_signals_ignored_by_default_change_nothing() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let action = harness.scratch(child, 1);
    harness.poke(child, action, &SIG_IGN.to_le_bytes());
    harness.ok(child, Syscall::RtSigaction, &[15, action, 0, 8]);
    for signal in [15, 17, 28, 19] {
        harness.ok(Pid::INIT, Syscall::Kill, &[child.number() as u64, signal]);
    }
    assert!(harness.server.processes.get(child).is_some());
    let process = harness.server.processes.get(child).unwrap();
    assert_eq!(process.signals.pending, SignalSet::EMPTY);
}

#[test]
fn kill_reaches_groups_everyone_and_probes() {
    let mut harness = Harness::booted();
    let first = harness.fork(Pid::INIT);
    let second = harness.fork(Pid::INIT);
    harness.ok(first, Syscall::Setpgid, &[0, 0]);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Kill, &[first.number() as u64, 0]),
        0,
        "a probe"
    );
    let actions = harness.call(Pid::INIT, Syscall::Kill, &[(-first.number()) as u64, 9]);
    assert!(deletes(&actions, first) && !deletes(&actions, second));
    let actions = harness.call(Pid::INIT, Syscall::Kill, &[u64::MAX, 9]);
    assert!(deletes(&actions, second) && !deletes(&actions, Pid::INIT));
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)));
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Kill, &[999, 9]),
        Errno::ESRCH
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Kill, &[1, 65]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Kill, &[(-999i64) as u64, 9]),
        Errno::ESRCH
    );
}

#[test]
fn a_process_that_kills_itself_gets_no_answer() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    harness.ok(child, Syscall::Setpgid, &[0, 0]);
    let actions = harness.call(child, Syscall::Kill, &[0, 9]);
    assert!(deletes(&actions, child));
    assert!(!answers(&actions, child));
    assert!(
        harness.server.processes.get(Pid::INIT).is_some(),
        "init is in another group"
    );
}

#[test]
fn tkill_and_tgkill_name_the_single_thread() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let number = child.number() as u64;
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Tgkill, &[1, number, 9]),
        Errno::ESRCH
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Tkill, &[0, 9]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Tgkill, &[number, number, 0]),
        0
    );
    let actions = harness.call(Pid::INIT, Syscall::Tkill, &[number, 6]);
    assert!(deletes(&actions, child));
    let expected = signalled_status(Signal::SIGABRT, CoreDump::NotDumped);
    assert_eq!(status_of(&mut harness, child), expected);
}

#[test]
fn busybox_poweroff_s_signal_to_init_powers_the_machine_off() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let actions = harness.call(child, Syscall::Kill, &[1, 12]);
    assert!(deletes(&actions, Pid::INIT));
    assert!(actions.contains(&Action::PowerOff));
}
