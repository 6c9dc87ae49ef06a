//! Process life: init, fork and vfork, exit, wait4, ids and sessions.

use linux_abi::errno::Errno;
use linux_abi::file::O_RDONLY;
use linux_abi::process::{
    CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_SIGHAND, CLONE_THREAD,
    CLONE_VFORK, CLONE_VM, WNOHANG,
};
use linux_abi::signal::SIG_IGN;
use linux_abi::syscall::Syscall;
use protocol::layout::{SAVE_AREA, TRAMPOLINE_FORK_CHILD};
use protocol::{SystemCallPath, save_area};

use abi::user_registers::UserRegisters;

use super::{Harness, SIGCHLD, answer, answers, console_output, deletes, pid};
use crate::process::Pid;
use crate::server::Action;

#[test]
fn init_starts_at_the_trampoline_with_argc_and_argv_on_its_stack() {
    let mut harness = Harness::new();
    let stack_pointer = harness.start_init(b"/bin/prog");
    assert_eq!(harness.peek_u64(Pid::INIT, stack_pointer), 2, "argc");
    let argv0 = harness.peek_u64(Pid::INIT, stack_pointer + 8);
    assert_eq!(harness.peek(Pid::INIT, argv0, 10), b"/bin/prog\0");
    assert_eq!(
        harness.server.system_call_path(Pid::INIT),
        Some(SystemCallPath::Trampoline)
    );
}

#[test]
fn init_starts_with_the_console_on_descriptors_0_1_and_2() {
    let mut harness = Harness::booted();
    for fd in 0..3 {
        let buffer = harness.scratch(Pid::INIT, 1);
        harness.ok(Pid::INIT, Syscall::Ioctl, &[fd, 0x5401, buffer]);
    }
    let text = harness.string(Pid::INIT, b"ok");
    let actions = harness.call(Pid::INIT, Syscall::Write, &[2, text, 2]);
    assert_eq!(console_output(&actions), b"ok");
}

#[test]
fn init_is_started_once_and_only_from_an_existing_program() {
    let mut harness = Harness::new();
    assert_eq!(
        harness
            .server
            .start_init(b"/bin/missing", &[], &[], harness.now)
            .unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(
        harness
            .server
            .start_init(b"/bin/garbage", &[], &[], harness.now)
            .unwrap_err(),
        Errno::ENOEXEC
    );
    assert_eq!(harness.live_frames(), 0, "failed starts keep no memory");
    harness.start_init(b"/bin/prog");
    assert_eq!(
        harness
            .server
            .start_init(b"/bin/prog", &[], &[], harness.now)
            .unwrap_err(),
        Errno::EEXIST
    );
}

#[test]
fn init_may_be_a_script_as_the_root_file_system_s_is() {
    let mut harness = Harness::new();
    let stack_pointer = harness.start_init(b"/sbin/init");
    assert_eq!(
        harness.peek_u64(Pid::INIT, stack_pointer),
        3,
        "sh, the script, first"
    );
    let argv1 = harness.peek_u64(Pid::INIT, stack_pointer + 16);
    assert_eq!(harness.peek(Pid::INIT, argv1, 11), b"/sbin/init\0");
}

#[test]
fn the_id_calls_answer_the_caller_s_ids() {
    let mut harness = Harness::booted();
    assert_eq!(harness.ok(Pid::INIT, Syscall::Getpid, &[]), 1);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Gettid, &[]), 1);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Getppid, &[]), 0);
    let child = harness.fork(Pid::INIT);
    assert_eq!(
        harness.ok(child, Syscall::Getpid, &[]),
        child.number() as u64
    );
    assert_eq!(harness.ok(child, Syscall::Getppid, &[]), 1);
    assert_eq!(
        harness.ok(child, Syscall::SetTidAddress, &[0x1234]),
        child.number() as u64
    );
}

#[test]
fn fork_starts_the_child_at_the_fork_entry_and_answers_the_parent_with_its_pid() {
    let mut harness = Harness::booted();
    harness.poke(Pid::INIT, SAVE_AREA + 8 * 31, &0x7EFF_FFF0u64.to_le_bytes());
    let actions = harness.call(Pid::INIT, Syscall::Clone, &[SIGCHLD, 0, 0, 0, 0]);
    let child = answer(&actions, Pid::INIT).unwrap().unwrap();
    assert!(actions.contains(&Action::StartProcess {
        pid: pid(child as i32),
        entry: TRAMPOLINE_FORK_CHILD,
        stack_pointer: 0x7EFF_FFF0,
        path: SystemCallPath::Trampoline,
    }));
    assert!(
        !answers(&actions, pid(child as i32)),
        "the child gets no answer"
    );
}

#[test]
fn a_forked_child_has_a_copy_of_the_parent_s_memory() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, buffer, b"before");
    let child = harness.fork(Pid::INIT);
    assert_eq!(harness.peek(child, buffer, 6), b"before");
    harness.poke(child, buffer, b"child!");
    assert_eq!(harness.peek(Pid::INIT, buffer, 6), b"before");
}

#[test]
fn a_forked_child_shares_open_file_descriptions_and_their_offset() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    let child = harness.fork(Pid::INIT);
    let buffer = harness.scratch(child, 1);
    assert_eq!(harness.ok(child, Syscall::Read, &[fd, buffer, 2]), 2);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Lseek, &[fd, 0, 1]), 2);
}

#[test]
fn clone_stores_the_child_s_id_where_the_flags_ask() {
    let mut harness = Harness::booted();
    let parent_word = harness.scratch(Pid::INIT, 1);
    let child_word = parent_word + 64;
    let flags = SIGCHLD | CLONE_CHILD_SETTID | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    let actions = harness.call(
        Pid::INIT,
        Syscall::Clone,
        &[flags, 0, parent_word, 0, child_word],
    );
    let child = answer(&actions, Pid::INIT).unwrap().unwrap() as u32;
    assert_eq!(harness.peek_u32(Pid::INIT, parent_word), child);
    assert_eq!(
        harness.peek_u32(Pid::INIT, child_word),
        0,
        "only in the child"
    );
    assert_eq!(harness.peek_u32(pid(child as i32), child_word), child);
}

#[test]
fn clone_with_a_new_stack_starts_the_child_on_it() {
    let mut harness = Harness::booted();
    let stack = harness.scratch(Pid::INIT, 1) + 4096;
    let actions = harness.call(Pid::INIT, Syscall::Clone, &[SIGCHLD, stack, 0, 0, 0]);
    let child = pid(answer(&actions, Pid::INIT).unwrap().unwrap() as i32);
    assert!(actions.iter().any(|action| matches!(
        action,
        Action::StartProcess { pid, stack_pointer, .. } if *pid == child && *stack_pointer == stack
    )));
    let saved = save_area::FRAME + 8 * UserRegisters::SP_WORD as u64;
    assert_eq!(harness.peek_u64(child, SAVE_AREA + saved), stack);
}

#[test]
fn clone_refuses_threads_and_sharing_it_cannot_copy() {
    let mut harness = Harness::booted();
    let thread = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Clone, &[thread, 0, 0, 0, 0]),
        Errno::ENOSYS
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Clone, &[CLONE_THREAD, 0, 0, 0, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Clone, &[CLONE_SIGHAND, 0, 0, 0, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Clone, &[CLONE_VM | SIGCHLD, 0, 0, 0, 0]),
        Errno::ENOSYS
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Clone, &[65, 0, 0, 0, 0]),
        Errno::EINVAL
    );
    assert_eq!(harness.server.process_count(), 1);
}

#[test]
fn a_vfork_parent_waits_until_its_child_exits() {
    let mut harness = Harness::booted();
    let flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    let actions = harness.call(Pid::INIT, Syscall::Clone, &[flags, 0, 0, 0, 0]);
    assert!(!answers(&actions, Pid::INIT), "the parent waits");
    let child = actions
        .iter()
        .find_map(|action| match action {
            Action::StartProcess { pid, .. } => Some(*pid),
            _ => None,
        })
        .unwrap();
    let actions = harness.exit(child, 0);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(child.number() as u64)));
}

#[test]
fn a_vfork_parent_continues_when_its_child_calls_execve() {
    let mut harness = Harness::booted();
    let flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    let actions = harness.call(Pid::INIT, Syscall::Clone, &[flags, 0, 0, 0, 0]);
    let child = actions
        .iter()
        .find_map(|action| match action {
            Action::StartProcess { pid, .. } => Some(*pid),
            _ => None,
        })
        .unwrap();
    let path = harness.string(child, b"/bin/other");
    let actions = harness.call(child, Syscall::Execve, &[path, 0, 0]);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(child.number() as u64)));
}

#[test]
fn exit_deletes_the_task_and_wait4_reaps_the_status() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let actions = harness.exit(child, 3);
    assert!(deletes(&actions, child));
    assert!(!answers(&actions, child));
    let status = harness.scratch(Pid::INIT, 1);
    let reaped = harness.ok(Pid::INIT, Syscall::Wait4, &[u64::MAX, status, 0, 0]);
    assert_eq!(reaped, child.number() as u64);
    assert_eq!(harness.peek_u32(Pid::INIT, status), 3 << 8);
    assert_eq!(harness.server.process_count(), 1);
}

#[test]
fn the_exit_status_keeps_the_low_byte_of_the_code() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    harness.call(child, Syscall::ExitGroup, &[257]);
    let status = harness.scratch(Pid::INIT, 1);
    harness.ok(
        Pid::INIT,
        Syscall::Wait4,
        &[child.number() as u64, status, 0, 0],
    );
    assert_eq!(harness.peek_u32(Pid::INIT, status), 1 << 8);
}

#[test]
fn wait4_parks_until_a_child_exits() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let status = harness.scratch(Pid::INIT, 1);
    let actions = harness.call(Pid::INIT, Syscall::Wait4, &[u64::MAX, status, 0, 0]);
    assert!(!answers(&actions, Pid::INIT), "the parent waits");
    let actions = harness.exit(child, 42);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(child.number() as u64)));
    assert_eq!(harness.peek_u32(Pid::INIT, status), 42 << 8);
}

#[test]
fn wait4_with_wnohang_answers_0_while_children_run() {
    let mut harness = Harness::booted();
    harness.fork(Pid::INIT);
    let options = u64::from(WNOHANG);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Wait4, &[u64::MAX, 0, options, 0]),
        0
    );
}

#[test]
fn wait4_without_children_or_with_bad_arguments_fails() {
    let mut harness = Harness::booted();
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Wait4, &[u64::MAX, 0, 0, 0]),
        Errno::ECHILD
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Wait4, &[u64::MAX, 0, 0x100, 0]),
        Errno::EINVAL
    );
    let child = harness.fork(Pid::INIT);
    harness.exit(child, 0);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Wait4, &[u64::MAX, 8, 0, 0]),
        Errno::EFAULT,
        "a status pointer into nothing"
    );
}

#[test]
fn exit_gives_back_every_frame_of_the_process() {
    let mut harness = Harness::booted();
    // Fork reads the parent's save area, which populates it once.
    harness.peek(Pid::INIT, SAVE_AREA, 8);
    let before = harness.live_frames();
    let child = harness.fork(Pid::INIT);
    let buffer = harness.scratch(child, 4);
    harness.poke(child, buffer, &[1; 4 * 4096]);
    assert!(harness.live_frames() > before);
    harness.exit(child, 0);
    assert_eq!(harness.live_frames(), before);
}

#[test]
fn init_exiting_powers_the_machine_off() {
    let mut harness = Harness::booted();
    let actions = harness.exit(Pid::INIT, 0);
    assert!(deletes(&actions, Pid::INIT));
    assert_eq!(actions.last(), Some(&Action::PowerOff));
    assert_eq!(harness.live_frames(), 0, "init's memory is given back");
}

#[test]
fn orphans_go_to_init_which_reaps_them() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let grandchild = harness.fork(child);
    harness.exit(child, 0);
    assert_eq!(harness.ok(grandchild, Syscall::Getppid, &[]), 1);
    harness.ok(Pid::INIT, Syscall::Wait4, &[child.number() as u64, 0, 0, 0]);
    let actions = harness.call(Pid::INIT, Syscall::Wait4, &[u64::MAX, 0, 0, 0]);
    assert!(!answers(&actions, Pid::INIT));
    let actions = harness.exit(grandchild, 5);
    assert_eq!(
        answer(&actions, Pid::INIT),
        Some(Ok(grandchild.number() as u64))
    );
}

#[test]
fn a_parent_that_ignores_sigchld_has_its_children_reaped_at_once() {
    let mut harness = Harness::booted();
    let action = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, action, &SIG_IGN.to_le_bytes());
    harness.ok(Pid::INIT, Syscall::RtSigaction, &[17, action, 0, 8]);
    let child = harness.fork(Pid::INIT);
    harness.exit(child, 0);
    assert_eq!(harness.server.process_count(), 1);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Wait4, &[u64::MAX, 0, 0, 0]),
        Errno::ECHILD
    );
}

#[test]
fn sessions_and_groups_follow_setsid_and_setpgid() {
    let mut harness = Harness::booted();
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Getsid, &[0]),
        0,
        "init starts in session 0"
    );
    assert_eq!(harness.ok(Pid::INIT, Syscall::Setsid, &[]), 1);
    assert_eq!(harness.error(Pid::INIT, Syscall::Setsid, &[]), Errno::EPERM);
    let child = harness.fork(Pid::INIT);
    assert_eq!(harness.ok(child, Syscall::Getpgid, &[0]), 1);
    harness.ok(child, Syscall::Setpgid, &[0, 0]);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Getpgid, &[child.number() as u64]),
        child.number() as u64
    );
    assert_eq!(harness.error(child, Syscall::Getpgid, &[999]), Errno::ESRCH);
}

#[test]
fn fork_by_exception_saves_the_frame_and_sends_the_parent_through_the_trampoline() {
    let mut harness = Harness::booted();
    let mut registers = UserRegisters::zeroed();
    registers.x[0] = SIGCHLD;
    registers.x[19] = 0x1919;
    registers.sp = 0x7DFF_0000;
    registers.pc = 0x40_1234;
    let actions = harness.call_by_exception(Pid::INIT, Syscall::Clone, registers);
    // No child yet: the parent goes to exception_fork with every register as at the svc.
    assert!(
        !actions
            .iter()
            .any(|action| matches!(action, Action::StartProcess { .. }))
    );
    let redirected = actions
        .iter()
        .find_map(|action| match action {
            Action::Reply {
                pid: Pid::INIT,
                reply: crate::server::Reply::ExceptionRegisters(registers),
            } => Some(*registers),
            _ => None,
        })
        .expect("the parent's registers are set");
    assert_eq!(redirected.pc, protocol::layout::TRAMPOLINE_EXCEPTION_FORK);
    assert_eq!((redirected.x[0], redirected.x[19]), (SIGCHLD, 0x1919));
    assert_eq!(redirected.sp, 0x7DFF_0000);
    let frame = SAVE_AREA + save_area::FRAME;
    assert_eq!(harness.peek_u64(Pid::INIT, frame + 8 * 19), 0x1919);
    assert_eq!(harness.peek_u64(Pid::INIT, frame + 8 * 32), 0x40_1234);
    // exception_fork stores what the message lacked and calls again (as path a does).
    harness.poke(Pid::INIT, SAVE_AREA + save_area::FP, &[0xEE; 16]);
    let child = harness.fork(Pid::INIT);
    assert_eq!(harness.peek_u64(child, frame + 8 * 19), 0x1919);
    assert_eq!(harness.peek_u64(child, frame + 8 * 31), 0x7DFF_0000);
    assert_eq!(harness.peek_u64(child, frame + 8 * 32), 0x40_1234);
    assert_eq!(
        harness.peek(child, SAVE_AREA + save_area::FP, 16),
        [0xEE; 16]
    );
}

#[test]
fn wait4_for_a_process_that_is_not_a_child_is_echild() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let grandchild = harness.fork(child);
    let target = grandchild.number() as u64;
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Wait4, &[target, 0, 0, 0]),
        Errno::ECHILD
    );
    harness.exit(grandchild, 0);
    assert_eq!(
        harness.ok(child, Syscall::Wait4, &[target, 0, 0, 0]),
        target
    );
}

#[test]
fn a_wait4_dropped_for_a_newer_call_does_not_reap_later() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    harness.call(Pid::INIT, Syscall::Wait4, &[u64::MAX, 0, 0, 0]);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Getpid, &[]), 1);
    let actions = harness.exit(child, 0);
    assert!(!answers(&actions, Pid::INIT), "nobody waits any more");
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Wait4, &[u64::MAX, 0, 0, 0]),
        child.number() as u64
    );
}
