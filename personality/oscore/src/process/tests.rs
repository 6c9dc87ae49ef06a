//! Tests of the process table: lifecycle, zombies, re-parenting, every `wait4` request and
//! error, pid allocation, and the group and session rules.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use linux_abi::process::{CoreDump, WEXITED, WNOWAIT, exit_status, signalled_status};

use super::*;

type Table = ProcessTable<String>;

fn pid(number: i32) -> Pid {
    Pid::new(number).unwrap()
}

fn table_with_init() -> Table {
    let mut table = Table::new();
    assert_eq!(table.create_init(String::from("init")), Ok(Pid::INIT));
    table
}

fn fork(table: &mut Table, parent: Pid) -> Pid {
    table
        .fork(parent, |payload| Ok(format!("{payload}+")))
        .unwrap()
}

fn request(pid: i32, options: u32) -> WaitRequest {
    WaitRequest::new(pid, options).unwrap()
}

/// init, a shell (pid 2) in its own session, and two children of the shell.
fn shell_with_two_children() -> (Table, Pid, Pid, Pid) {
    let mut table = table_with_init();
    let shell = fork(&mut table, Pid::INIT);
    table.setsid(shell).unwrap();
    let first = fork(&mut table, shell);
    let second = fork(&mut table, shell);
    (table, shell, first, second)
}

#[test]
fn init_is_pid_one_without_parent_in_the_kernels_group_and_session() {
    let table = table_with_init();
    assert_eq!(table.getppid(Pid::INIT), Ok(Pid::KERNEL));
    assert_eq!(table.getpgid(Pid::INIT, 0), Ok(Pid::KERNEL));
    assert_eq!(table.getsid(Pid::INIT, 0), Ok(Pid::KERNEL));
    assert_eq!(table.get(Pid::INIT).map(String::as_str), Some("init"));
    assert_eq!(table.state(Pid::INIT), Some(ProcessState::Running));
    assert_eq!(table.len(), 1);
}

#[test]
fn a_second_init_is_refused() {
    let mut table = table_with_init();
    assert_eq!(table.create_init(String::from("again")), Err(Errno::EEXIST));
}

#[test]
fn init_becomes_a_session_leader_with_setsid() {
    let mut table = table_with_init();
    assert_eq!(table.setsid(Pid::INIT), Ok(Pid::INIT));
    assert_eq!(table.getsid(Pid::INIT, 1), Ok(Pid::INIT));
    assert_eq!(table.getpgid(Pid::INIT, 1), Ok(Pid::INIT));
    assert!(table.ids(Pid::INIT).unwrap().is_session_leader());
    assert_eq!(table.group_members(Pid::KERNEL).count(), 0);
}

#[test]
fn forked_children_get_increasing_pids_and_inherit_group_and_session() {
    let (table, shell, first, second) = shell_with_two_children();
    assert_eq!((shell, first, second), (pid(2), pid(3), pid(4)));
    for child in [first, second] {
        assert_eq!(table.getppid(child), Ok(shell));
        assert_eq!(table.getpgid(child, 0), Ok(shell));
        assert_eq!(table.getsid(child, 0), Ok(shell));
    }
    assert_eq!(
        table.children(shell).collect::<Vec<_>>(),
        vec![first, second]
    );
    assert_eq!(
        table.group_members(shell).collect::<Vec<_>>(),
        vec![shell, first, second]
    );
}

#[test]
fn the_child_payload_is_built_from_the_parents() {
    let mut table = table_with_init();
    let child = table
        .fork(Pid::INIT, |parent| {
            parent.push_str(" (forked)");
            Ok(format!("child of {parent}"))
        })
        .unwrap();
    assert_eq!(table.get(Pid::INIT).unwrap(), "init (forked)");
    assert_eq!(table.get(child).unwrap(), "child of init (forked)");
    table.get_mut(child).unwrap().push('!');
    assert_eq!(table.get(child).unwrap(), "child of init (forked)!");
}

#[test]
fn a_failing_child_builder_leaves_the_table_unchanged() {
    let mut table = table_with_init();
    assert_eq!(
        table.fork(Pid::INIT, |_| Err(Errno::ENOMEM)),
        Err(Errno::ENOMEM)
    );
    assert_eq!(table.len(), 1);
    assert_eq!(table.children(Pid::INIT).count(), 0);
    assert_eq!(fork(&mut table, Pid::INIT), pid(2));
}

#[test]
fn only_a_running_process_can_fork() {
    let mut table = table_with_init();
    let child = fork(&mut table, Pid::INIT);
    table.exit(child, exit_status(0)).unwrap();
    let mut built = false;
    let result = table.fork(child, |_| {
        built = true;
        Ok(String::new())
    });
    assert_eq!(result, Err(Errno::ESRCH));
    assert!(!built);
    assert_eq!(
        table.fork(pid(99), |_| Ok(String::new())),
        Err(Errno::ESRCH)
    );
}

#[test]
fn exit_makes_a_zombie_and_hands_back_the_payload() {
    let mut table = table_with_init();
    let child = fork(&mut table, Pid::INIT);
    let report = table.exit(child, exit_status(3)).unwrap();
    assert_eq!(report.payload, "init+");
    assert_eq!(report.parent, Some(Pid::INIT));
    assert_eq!(report.exit_signal, Some(Signal::SIGCHLD));
    assert!(report.reparented.is_empty());
    assert!(report.waiters_to_wake.is_empty());
    assert!(!report.was_session_leader);
    assert_eq!(
        table.state(child),
        Some(ProcessState::Zombie {
            status: exit_status(3)
        })
    );
    assert_eq!(table.get(child), None);
    assert_eq!(table.getppid(child), Ok(Pid::INIT));
}

#[test]
fn a_process_exits_only_once() {
    let mut table = table_with_init();
    let child = fork(&mut table, Pid::INIT);
    table.exit(child, exit_status(0)).unwrap();
    assert_eq!(table.exit(child, exit_status(1)).err(), Some(Errno::ESRCH));
    assert_eq!(
        table.state(child),
        Some(ProcessState::Zombie {
            status: exit_status(0)
        })
    );
    assert_eq!(table.exit(pid(77), 0).err(), Some(Errno::ESRCH));
}

#[test]
fn a_session_leaders_exit_says_so() {
    let (mut table, shell, _, _) = shell_with_two_children();
    assert!(
        table
            .exit(shell, exit_status(0))
            .unwrap()
            .was_session_leader
    );
}

#[test]
fn orphans_go_to_init_with_sigchld_as_their_exit_signal() {
    let mut table = table_with_init();
    let parent = fork(&mut table, Pid::INIT);
    let quiet = table
        .clone_process(parent, None, |_| Ok(String::from("quiet")))
        .unwrap();
    let normal = fork(&mut table, parent);
    let report = table.exit(parent, exit_status(0)).unwrap();
    assert_eq!(report.reparented, vec![quiet, normal]);
    assert_eq!(table.getppid(quiet), Ok(Pid::INIT));
    assert_eq!(table.getppid(normal), Ok(Pid::INIT));
    assert_eq!(table.children(parent).count(), 0);
    // The quiet child became an ordinary child of init: a plain wait4 sees its exit.
    table.exit(quiet, exit_status(4)).unwrap();
    assert_eq!(
        table.wait(Pid::INIT, request(quiet.number(), 0)),
        WaitOutcome::Reaped {
            pid: quiet,
            status: exit_status(4)
        }
    );
}

#[test]
fn zombie_orphans_are_reaped_by_init_and_wake_it() {
    let mut table = table_with_init();
    let parent = fork(&mut table, Pid::INIT);
    let child = fork(&mut table, parent);
    table.exit(child, exit_status(9)).unwrap();
    // init waits for something else meanwhile.
    let sibling = fork(&mut table, Pid::INIT);
    assert_eq!(
        table.wait(Pid::INIT, request(-1, 0)),
        WaitOutcome::WouldBlock
    );
    table.park_waiter(Pid::INIT, request(-1, 0)).unwrap();
    let report = table.exit(parent, exit_status(0)).unwrap();
    assert_eq!(report.reparented, vec![child]);
    // init is told for both: its own child `parent` and the inherited zombie.
    assert_eq!(report.waiters_to_wake, vec![Pid::INIT]);
    assert!(!table.is_parked(Pid::INIT));
    let mut reaped = Vec::new();
    while let WaitOutcome::Reaped { pid, status } = table.wait(Pid::INIT, request(-1, 0)) {
        reaped.push((pid, status));
    }
    assert_eq!(
        reaped,
        vec![(parent, exit_status(0)), (child, exit_status(9))]
    );
    assert_eq!(
        table.wait(Pid::INIT, request(-1, 0)),
        WaitOutcome::WouldBlock
    );
    assert_eq!(table.children(Pid::INIT).collect::<Vec<_>>(), vec![sibling]);
}

#[test]
fn when_init_exits_its_children_have_no_parent() {
    let mut table = table_with_init();
    let child = fork(&mut table, Pid::INIT);
    let report = table.exit(Pid::INIT, exit_status(0)).unwrap();
    assert_eq!(report.parent, None);
    assert_eq!(report.reparented, vec![child]);
    assert_eq!(table.getppid(child), Ok(Pid::KERNEL));
    // Its grandchildren's parent then has no reaper either.
    let grandchild = fork(&mut table, child);
    let report = table.exit(child, exit_status(0)).unwrap();
    assert_eq!(report.reparented, vec![grandchild]);
    assert_eq!(table.getppid(grandchild), Ok(Pid::KERNEL));
}

#[test]
fn waiting_for_any_child_reaps_a_zombie_and_frees_everything_it_used() {
    let (mut table, shell, first, second) = shell_with_two_children();
    table.setpgid(shell, first.number(), 0).unwrap();
    table
        .exit(
            first,
            signalled_status(Signal::SIGKILL, CoreDump::NotDumped),
        )
        .unwrap();
    assert_eq!(
        table.wait(shell, request(-1, 0)),
        WaitOutcome::Reaped {
            pid: first,
            status: 9
        }
    );
    assert_eq!(table.state(first), None);
    assert_eq!(table.group_session(first), None);
    assert_eq!(table.children(shell).collect::<Vec<_>>(), vec![second]);
    assert_eq!(table.wait(shell, request(-1, 0)), WaitOutcome::WouldBlock);
}

#[test]
fn waiting_for_one_child_ignores_the_others() {
    let (mut table, shell, first, second) = shell_with_two_children();
    table.exit(first, exit_status(1)).unwrap();
    assert_eq!(
        table.wait(shell, request(second.number(), 0)),
        WaitOutcome::WouldBlock
    );
    table.exit(second, exit_status(2)).unwrap();
    assert_eq!(
        table.wait(shell, request(second.number(), 0)),
        WaitOutcome::Reaped {
            pid: second,
            status: exit_status(2)
        }
    );
    assert_eq!(
        table.state(first),
        Some(ProcessState::Zombie {
            status: exit_status(1)
        })
    );
}

#[test]
fn waiting_for_a_process_that_is_not_a_child_finds_none() {
    let (mut table, shell, first, _) = shell_with_two_children();
    let grandchild = fork(&mut table, first);
    table.exit(grandchild, 0).unwrap();
    assert_eq!(
        table.wait(shell, request(grandchild.number(), 0)),
        WaitOutcome::NoChild
    );
    assert_eq!(
        table.wait(shell, request(shell.number(), 0)),
        WaitOutcome::NoChild
    );
    assert_eq!(table.wait(shell, request(999, 0)), WaitOutcome::NoChild);
    assert_eq!(
        table.state(grandchild),
        Some(ProcessState::Zombie { status: 0 })
    );
}

#[test]
fn a_process_without_children_gets_echild_even_with_wnohang() {
    let mut table = table_with_init();
    let lonely = fork(&mut table, Pid::INIT);
    for options in [0, WNOHANG] {
        for selector in [-1, 0, -5, 7] {
            assert_eq!(
                table.wait(lonely, request(selector, options)),
                WaitOutcome::NoChild
            );
        }
    }
}

#[test]
fn wnohang_is_a_property_of_the_request() {
    let (mut table, shell, _, _) = shell_with_two_children();
    let polling = request(-1, WNOHANG);
    assert!(polling.no_hang());
    assert!(!request(-1, 0).no_hang());
    assert_eq!(table.wait(shell, polling), WaitOutcome::WouldBlock);
}

#[test]
fn waiting_with_pid_zero_means_children_in_the_callers_group() {
    let (mut table, shell, first, second) = shell_with_two_children();
    table.setpgid(shell, first.number(), 0).unwrap();
    table.exit(first, exit_status(5)).unwrap();
    // `first` left the shell's group: pid 0 sees only `second`, which runs.
    assert_eq!(table.wait(shell, request(0, 0)), WaitOutcome::WouldBlock);
    table.exit(second, exit_status(6)).unwrap();
    assert_eq!(
        table.wait(shell, request(0, 0)),
        WaitOutcome::Reaped {
            pid: second,
            status: exit_status(6)
        }
    );
    assert_eq!(table.wait(shell, request(0, 0)), WaitOutcome::NoChild);
    assert!(matches!(
        table.wait(shell, request(-1, 0)),
        WaitOutcome::Reaped { pid, .. } if pid == first
    ));
}

#[test]
fn waiting_with_a_negative_pid_means_children_in_that_group() {
    let (mut table, shell, first, second) = shell_with_two_children();
    table.setpgid(shell, first.number(), 0).unwrap();
    table
        .setpgid(shell, second.number(), first.number())
        .unwrap();
    let group = -first.number();
    assert_eq!(
        table.wait(shell, request(group, 0)),
        WaitOutcome::WouldBlock
    );
    table.exit(second, exit_status(7)).unwrap();
    assert_eq!(
        table.wait(shell, request(group, 0)),
        WaitOutcome::Reaped {
            pid: second,
            status: exit_status(7)
        }
    );
    assert_eq!(table.wait(shell, request(-400, 0)), WaitOutcome::NoChild);
}

#[test]
fn wait_options_beyond_linuxs_set_are_invalid() {
    for accepted in [
        0,
        WNOHANG,
        WUNTRACED,
        WCONTINUED,
        WAIT_ALL_CHILDREN,
        WAIT_CLONE_CHILDREN,
        WAIT_OWN_THREAD_ONLY,
        WNOHANG | WUNTRACED | WCONTINUED | WAIT_ALL_CHILDREN,
    ] {
        assert!(WaitRequest::new(-1, accepted).is_ok(), "{accepted:#x}");
    }
    for refused in [WEXITED, WNOWAIT, 0x10, 0x1000_0000, u32::MAX] {
        assert_eq!(WaitRequest::new(-1, refused), Err(Errno::EINVAL));
    }
    // The options are checked before the pid.
    assert_eq!(WaitRequest::new(i32::MIN, WEXITED), Err(Errno::EINVAL));
}

#[test]
fn wait_pids_decode_into_selectors() {
    assert_eq!(request(-1, 0).selector(), WaitSelector::AnyChild);
    assert_eq!(request(0, 0).selector(), WaitSelector::CallersGroup);
    assert_eq!(request(42, 0).selector(), WaitSelector::Child(pid(42)));
    assert_eq!(request(-42, 0).selector(), WaitSelector::Group(pid(42)));
    assert_eq!(request(-1, WNOHANG).options(), WNOHANG);
    assert_eq!(WaitRequest::new(i32::MIN, 0), Err(Errno::ESRCH));
    assert_eq!(WaitRequest::new(PID_MAX as i32, 0), Err(Errno::ECHILD));
    assert_eq!(WaitRequest::new(-(PID_MAX as i32), 0), Err(Errno::ECHILD));
    assert_eq!(WaitRequest::new(i32::MAX, 0), Err(Errno::ECHILD));
}

#[test]
fn stopped_and_continued_children_are_never_reported() {
    let (mut table, shell, _, _) = shell_with_two_children();
    assert_eq!(
        table.wait(shell, request(-1, WUNTRACED | WCONTINUED | WNOHANG)),
        WaitOutcome::WouldBlock
    );
}

#[test]
fn clone_children_are_seen_only_with_wclone_or_wall() {
    let mut table = table_with_init();
    let parent = fork(&mut table, Pid::INIT);
    let clone_child = table
        .clone_process(parent, Some(Signal::SIGUSR1), |_| Ok(String::new()))
        .unwrap();
    assert_eq!(table.wait(parent, request(-1, 0)), WaitOutcome::NoChild);
    assert_eq!(
        table.wait(parent, request(-1, WAIT_CLONE_CHILDREN)),
        WaitOutcome::WouldBlock
    );
    let normal = fork(&mut table, parent);
    assert_eq!(
        table.wait(parent, request(normal.number(), WAIT_CLONE_CHILDREN)),
        WaitOutcome::NoChild
    );
    table.exit(clone_child, exit_status(1)).unwrap();
    table.exit(normal, exit_status(2)).unwrap();
    assert_eq!(
        table.wait(parent, request(-1, 0)),
        WaitOutcome::Reaped {
            pid: normal,
            status: exit_status(2)
        }
    );
    assert_eq!(
        table.wait(parent, request(-1, WAIT_ALL_CHILDREN)),
        WaitOutcome::Reaped {
            pid: clone_child,
            status: exit_status(1)
        }
    );
}

#[test]
fn a_parked_waiter_is_woken_only_by_an_exit_that_satisfies_it() {
    let (mut table, shell, first, second) = shell_with_two_children();
    let waiting_for_second = request(second.number(), 0);
    assert_eq!(
        table.wait(shell, waiting_for_second),
        WaitOutcome::WouldBlock
    );
    table.park_waiter(shell, waiting_for_second).unwrap();
    assert!(table.is_parked(shell));
    let report = table.exit(first, exit_status(0)).unwrap();
    assert!(report.waiters_to_wake.is_empty());
    assert!(table.is_parked(shell));
    let report = table.exit(second, exit_status(0)).unwrap();
    assert_eq!(report.waiters_to_wake, vec![shell]);
    assert!(!table.is_parked(shell));
    assert!(matches!(
        table.wait(shell, waiting_for_second),
        WaitOutcome::Reaped { pid, .. } if pid == second
    ));
}

#[test]
fn a_parked_group_wait_keeps_the_group_of_the_call() {
    let (mut table, shell, first, second) = shell_with_two_children();
    // The shell waits for its own group, then (as a job-control shell would not, but may)
    // moves to a new group of its own child's; the request still means the old group.
    table.park_waiter(shell, request(0, 0)).unwrap();
    table.setpgid(shell, first.number(), 0).unwrap();
    let report = table.exit(first, exit_status(0)).unwrap();
    assert!(report.waiters_to_wake.is_empty());
    let report = table.exit(second, exit_status(0)).unwrap();
    assert_eq!(report.waiters_to_wake, vec![shell]);
}

#[test]
fn an_interrupted_waiter_is_unparked_and_not_woken() {
    let (mut table, shell, first, _) = shell_with_two_children();
    table.park_waiter(shell, request(-1, 0)).unwrap();
    assert!(table.unpark_waiter(shell));
    assert!(!table.unpark_waiter(shell));
    let report = table.exit(first, exit_status(0)).unwrap();
    assert!(report.waiters_to_wake.is_empty());
    assert_eq!(
        table.park_waiter(pid(1234), request(-1, 0)),
        Err(Errno::ESRCH)
    );
}

#[test]
fn a_zombie_can_be_reaped_without_wait() {
    let (mut table, shell, first, _) = shell_with_two_children();
    assert_eq!(table.reap(first), None);
    table.exit(first, exit_status(8)).unwrap();
    assert_eq!(table.reap(first), Some(exit_status(8)));
    assert_eq!(table.state(first), None);
    assert_eq!(table.children(shell).count(), 1);
    assert_eq!(table.reap(first), None);
}

#[test]
fn pids_are_not_reused_while_a_process_group_or_session_uses_them() {
    let mut table = table_with_init();
    // Walk allocation right up to the end so the next pids wrap.
    table.last_allocated = PID_MAX - 3;
    let leader = fork(&mut table, Pid::INIT);
    assert_eq!(leader.0, PID_MAX - 2);
    table.setsid(leader).unwrap();
    let member = fork(&mut table, leader);
    assert_eq!(member.0, PID_MAX - 1);
    // The leader exits and is reaped; its session and group live on in `member`.
    table.exit(leader, 0).unwrap();
    assert_eq!(table.reap(leader), Some(0));
    assert_eq!(table.state(leader), None);
    assert_eq!(table.getsid(member, 0), Ok(leader));
    table.last_allocated = PID_MAX - 3;
    let next = fork(&mut table, Pid::INIT);
    assert_eq!(
        next.0, RESERVED_PIDS,
        "wraps past both the group and the member"
    );
    // Once the member is gone too, the number is free again.
    table.exit(member, 0).unwrap();
    table.reap(member);
    table.last_allocated = PID_MAX - 3;
    assert_eq!(fork(&mut table, Pid::INIT).0, PID_MAX - 2);
}

#[test]
fn pids_wrap_to_the_reserved_range_and_skip_live_and_zombie_processes() {
    let mut table = table_with_init();
    let early: Vec<Pid> = (0..5).map(|_| fork(&mut table, Pid::INIT)).collect();
    assert_eq!(early[0], pid(2));
    table.last_allocated = RESERVED_PIDS - 2;
    let running = fork(&mut table, Pid::INIT);
    let zombie = fork(&mut table, Pid::INIT);
    assert_eq!((running.0, zombie.0), (RESERVED_PIDS - 1, RESERVED_PIDS));
    table.exit(zombie, 0).unwrap();
    table.last_allocated = PID_MAX - 1;
    // Past the end: back to RESERVED_PIDS, which the zombie still holds, so one more.
    let wrapped = fork(&mut table, Pid::INIT);
    assert_eq!(wrapped.0, RESERVED_PIDS + 1);
    // The low pids stay reserved: the freed pid 2 is not handed out again yet.
    table.exit(early[0], 0).unwrap();
    table.reap(early[0]);
    assert_eq!(fork(&mut table, Pid::INIT).0, RESERVED_PIDS + 2);
}

#[test]
fn a_full_table_refuses_fork_with_eagain_until_a_pid_is_freed() {
    let mut table = ProcessTable::<()>::new();
    table.create_init(()).unwrap();
    let mut last = Pid::INIT;
    for _ in 2..PID_MAX {
        last = table.fork(Pid::INIT, |_| Ok(())).unwrap();
    }
    assert_eq!(last.0, PID_MAX - 1);
    assert_eq!(table.len(), (PID_MAX - 1) as usize);
    let mut built = false;
    let refused = table.fork(Pid::INIT, |_| {
        built = true;
        Ok(())
    });
    assert_eq!(refused, Err(Errno::EAGAIN));
    assert!(!built);
    let freed = pid(1000);
    table.exit(freed, 0).unwrap();
    assert_eq!(table.fork(Pid::INIT, |_| Ok(())), Err(Errno::EAGAIN));
    assert_eq!(
        table.wait(Pid::INIT, request(freed.number(), 0)),
        WaitOutcome::Reaped {
            pid: freed,
            status: 0
        }
    );
    assert_eq!(table.fork(Pid::INIT, |_| Ok(())), Ok(freed));
}

#[test]
fn setpgid_puts_the_caller_in_a_new_group_of_its_own() {
    let (mut table, _, first, _) = shell_with_two_children();
    table.setpgid(first, 0, 0).unwrap();
    assert_eq!(table.getpgid(first, 0), Ok(first));
    assert_eq!(table.getsid(first, 0), Ok(table.getsid(first, 0).unwrap()));
    assert_eq!(table.group_members(first).collect::<Vec<_>>(), vec![first]);
    // Again is a no-op.
    table
        .setpgid(first, first.number(), first.number())
        .unwrap();
    assert_eq!(table.getpgid(first, 0), Ok(first));
}

#[test]
fn a_shell_moves_a_child_into_an_existing_group_of_its_session() {
    let (mut table, shell, first, second) = shell_with_two_children();
    table
        .setpgid(shell, first.number(), first.number())
        .unwrap();
    table
        .setpgid(shell, second.number(), first.number())
        .unwrap();
    assert_eq!(table.getpgid(shell, second.number()), Ok(first));
    assert_eq!(
        table.group_members(first).collect::<Vec<_>>(),
        vec![first, second]
    );
    assert_eq!(table.group_members(shell).collect::<Vec<_>>(), vec![shell]);
    // And back into the shell's own group.
    table
        .setpgid(shell, second.number(), shell.number())
        .unwrap();
    assert_eq!(table.getpgid(second, 0), Ok(shell));
}

#[test]
fn setpgid_on_a_child_that_has_executed_is_eacces() {
    let (mut table, shell, first, _) = shell_with_two_children();
    table.note_exec(first).unwrap();
    assert_eq!(table.setpgid(shell, first.number(), 0), Err(Errno::EACCES));
    // The child itself still may.
    table.setpgid(first, 0, 0).unwrap();
    assert_eq!(table.getpgid(first, 0), Ok(first));
}

#[test]
fn setpgid_reaches_only_the_caller_and_its_children() {
    let (mut table, shell, first, second) = shell_with_two_children();
    let grandchild = fork(&mut table, first);
    assert_eq!(
        table.setpgid(shell, grandchild.number(), 0),
        Err(Errno::ESRCH)
    );
    assert_eq!(table.setpgid(first, second.number(), 0), Err(Errno::ESRCH));
    assert_eq!(table.setpgid(first, shell.number(), 0), Err(Errno::ESRCH));
    assert_eq!(table.setpgid(shell, 12345, 0), Err(Errno::ESRCH));
    assert_eq!(table.setpgid(shell, -3, shell.number()), Err(Errno::ESRCH));
}

#[test]
fn setpgid_with_a_negative_group_is_einval_before_anything_else() {
    let (mut table, shell, first, _) = shell_with_two_children();
    assert_eq!(table.setpgid(shell, first.number(), -1), Err(Errno::EINVAL));
    assert_eq!(table.setpgid(shell, 12345, -1), Err(Errno::EINVAL));
    assert_eq!(table.setpgid(shell, -7, 0), Err(Errno::EINVAL));
}

#[test]
fn setpgid_cannot_join_a_missing_group_or_one_of_another_session() {
    let (mut table, shell, first, _) = shell_with_two_children();
    // init's group is the kernel's (0), so use another session: init's child `other`.
    let other = fork(&mut table, Pid::INIT);
    table.setsid(other).unwrap();
    assert_eq!(
        table.setpgid(shell, first.number(), other.number()),
        Err(Errno::EPERM)
    );
    assert_eq!(
        table.setpgid(shell, first.number(), 3000),
        Err(Errno::EPERM)
    );
    assert_eq!(
        table.setpgid(shell, first.number(), PID_MAX as i32),
        Err(Errno::EPERM)
    );
    assert_eq!(table.getpgid(first, 0), Ok(shell));
}

#[test]
fn setpgid_on_a_session_leader_or_a_child_in_another_session_is_eperm() {
    let (mut table, shell, first, _) = shell_with_two_children();
    assert_eq!(table.setpgid(shell, 0, 0), Err(Errno::EPERM));
    table.setsid(first).unwrap();
    assert_eq!(table.setpgid(shell, first.number(), 0), Err(Errno::EPERM));
    assert_eq!(table.setpgid(first, 0, 0), Err(Errno::EPERM));
}

#[test]
fn setsid_makes_a_new_session_unless_the_caller_leads_a_group() {
    let (mut table, shell, first, second) = shell_with_two_children();
    assert_eq!(table.setsid(shell), Err(Errno::EPERM));
    assert_eq!(table.setsid(first), Ok(first));
    assert_eq!(table.getsid(first, 0), Ok(first));
    assert_eq!(table.getpgid(first, 0), Ok(first));
    assert_eq!(table.getsid(second, 0), Ok(shell));
    // A group leader cannot, even after its group was left by everyone else.
    table.setpgid(second, 0, 0).unwrap();
    assert_eq!(table.setsid(second), Err(Errno::EPERM));
    // A process that led a group it has since left cannot while the group lives on.
    let third = fork(&mut table, shell);
    table.setpgid(shell, third.number(), 0).unwrap();
    let fourth = fork(&mut table, shell);
    table
        .setpgid(shell, fourth.number(), third.number())
        .unwrap();
    table
        .setpgid(shell, third.number(), shell.number())
        .unwrap();
    assert_eq!(table.setsid(third), Err(Errno::EPERM));
    assert_eq!(table.setsid(pid(999)), Err(Errno::ESRCH));
}

#[test]
fn getpgid_and_getsid_of_a_missing_process_are_esrch() {
    let (table, shell, first, _) = shell_with_two_children();
    assert_eq!(table.getpgid(shell, 4000), Err(Errno::ESRCH));
    assert_eq!(table.getsid(shell, 4000), Err(Errno::ESRCH));
    assert_eq!(table.getpgid(shell, -1), Err(Errno::ESRCH));
    assert_eq!(table.getsid(shell, -1), Err(Errno::ESRCH));
    assert_eq!(table.getpgid(shell, first.number()), Ok(shell));
    assert_eq!(table.getppid(pid(4000)), Err(Errno::ESRCH));
}

#[test]
fn a_zombie_keeps_its_group_and_session_until_it_is_reaped() {
    let (mut table, shell, first, _) = shell_with_two_children();
    table.setpgid(shell, first.number(), 0).unwrap();
    table.exit(first, 0).unwrap();
    assert_eq!(table.group_session(first), Some(shell));
    assert_eq!(table.getpgid(shell, first.number()), Ok(first));
    assert_eq!(table.group_members(first).collect::<Vec<_>>(), vec![first]);
    table.wait(shell, request(first.number(), 0));
    assert_eq!(table.group_session(first), None);
    assert_eq!(table.group_members(first).count(), 0);
}

#[test]
fn the_clear_child_tid_address_comes_back_at_exit_and_is_dropped_by_exec() {
    let mut table = table_with_init();
    let child = fork(&mut table, Pid::INIT);
    table.set_clear_child_tid(child, 0x4000_1000).unwrap();
    assert_eq!(table.note_exec(child), Ok(Some(0x4000_1000)));
    assert_eq!(table.note_exec(child), Ok(None));
    table.set_clear_child_tid(child, 0x4000_2000).unwrap();
    let report = table.exit(child, 0).unwrap();
    assert_eq!(report.clear_child_tid, Some(0x4000_2000));
    assert_eq!(table.set_clear_child_tid(child, 8), Err(Errno::ESRCH));
    let other = fork(&mut table, Pid::INIT);
    table.set_clear_child_tid(other, 0x10).unwrap();
    table.set_clear_child_tid(other, 0).unwrap();
    assert_eq!(table.exit(other, 0).unwrap().clear_child_tid, None);
}

#[test]
fn ids_give_job_control_its_view_of_a_process() {
    let (table, shell, first, _) = shell_with_two_children();
    let ids = table.ids(first).unwrap();
    assert_eq!(
        ids,
        ProcessIds {
            pid: first,
            parent: shell,
            process_group: shell,
            session: shell
        }
    );
    assert!(!ids.is_session_leader());
    assert!(table.ids(shell).unwrap().is_session_leader());
    assert_eq!(table.ids(pid(500)), None);
    assert_eq!(
        table.pids().collect::<Vec<_>>(),
        vec![Pid::INIT, shell, first, pid(4)]
    );
}

#[test]
fn user_pid_numbers_outside_the_range_are_not_pids() {
    assert_eq!(Pid::new(0), None);
    assert_eq!(Pid::new(-1), None);
    assert_eq!(Pid::new(PID_MAX as i32), None);
    assert_eq!(Pid::new(PID_MAX as i32 - 1).map(Pid::number), Some(32767));
    assert_eq!(Pid::INIT.number(), 1);
    assert_eq!(Pid::KERNEL.number(), 0);
    assert_eq!(format!("{}", pid(42)), "42");
}
