//! `execve`: the new image and its stack, the system-call path, scripts, errors, and what
//! the process keeps and loses.

use abi::user_registers::UserRegisters;
use linux_abi::auxv::{AT_EXECFN, AT_NULL};
use linux_abi::errno::Errno;
use linux_abi::file::{O_CLOEXEC, O_RDONLY};
use linux_abi::signal::{SIG_IGN, SignalSet};
use linux_abi::syscall::Syscall;
use protocol::layout::{SAVE_AREA, TRAMPOLINE_START};
use protocol::{AT_SYSTEM_CALL_PATH, Answer, SystemCallPath};

use super::{DATA_BASE, Harness, PROGRAM_BASE};
use crate::memory::testing::TestFrame;
use crate::process::Pid;
use crate::server::{Action, Reply};

/// The stack pointer an `execve` answered with, if it succeeded.
fn exec_answer(actions: &[Action<TestFrame>], pid: Pid) -> Option<u64> {
    actions.iter().find_map(|action| match action {
        Action::Reply {
            pid: to,
            reply: Reply::Message(Answer::Exec { stack_pointer }),
        } if *to == pid => Some(*stack_pointer),
        _ => None,
    })
}

/// What a new program finds on its stack.
struct InitialStack {
    arguments: Vec<Vec<u8>>,
    environment: Vec<Vec<u8>>,
    auxiliary: Vec<(u64, u64)>,
}

/// argv, envp and the auxiliary vector on the initial stack at `stack_pointer`.
fn initial_stack(harness: &mut Harness, pid: Pid, stack_pointer: u64) -> InitialStack {
    let read_string = |harness: &mut Harness, address: u64| {
        let mut text = Vec::new();
        loop {
            let byte = harness.peek(pid, address + text.len() as u64, 1)[0];
            if byte == 0 {
                return text;
            }
            text.push(byte);
        }
    };
    let argc = harness.peek_u64(pid, stack_pointer);
    let mut cursor = stack_pointer + 8;
    let mut arguments = Vec::new();
    for _ in 0..argc {
        let pointer = harness.peek_u64(pid, cursor);
        arguments.push(read_string(harness, pointer));
        cursor += 8;
    }
    cursor += 8;
    let mut environment = Vec::new();
    loop {
        let pointer = harness.peek_u64(pid, cursor);
        cursor += 8;
        if pointer == 0 {
            break;
        }
        environment.push(read_string(harness, pointer));
    }
    let mut auxiliary = Vec::new();
    loop {
        let entry = (
            harness.peek_u64(pid, cursor),
            harness.peek_u64(pid, cursor + 8),
        );
        cursor += 16;
        auxiliary.push(entry);
        if entry.0 == AT_NULL {
            return InitialStack {
                arguments,
                environment,
                auxiliary,
            };
        }
    }
}

/// Runs `execve(path, argv, envp)` in `pid` and returns the actions.
fn execve(
    harness: &mut Harness,
    pid: Pid,
    path: &[u8],
    argv: &[&[u8]],
    envp: &[&[u8]],
) -> Vec<Action<TestFrame>> {
    let path = harness.string(pid, path);
    let argv = harness.string_array(pid, argv);
    let envp = harness.string_array(pid, envp);
    harness.call(pid, Syscall::Execve, &[path, argv, envp])
}

/// The value of auxiliary key `key`.
fn auxiliary_value(auxiliary: &[(u64, u64)], key: u64) -> Option<u64> {
    auxiliary
        .iter()
        .find(|entry| entry.0 == key)
        .map(|entry| entry.1)
}

#[test]
fn execve_answers_with_the_new_stack_and_replaces_the_image() {
    let mut harness = Harness::booted();
    let old = harness.scratch(Pid::INIT, 1);
    let actions = execve(
        &mut harness,
        Pid::INIT,
        b"/bin/other",
        &[b"other", b"x"],
        &[b"A=1"],
    );
    let stack_pointer = exec_answer(&actions, Pid::INIT).expect("exec answer");
    let InitialStack {
        arguments,
        environment,
        auxiliary,
    } = initial_stack(&mut harness, Pid::INIT, stack_pointer);
    assert_eq!(arguments, [b"other".to_vec(), b"x".to_vec()]);
    assert_eq!(environment, [b"A=1".to_vec()]);
    let execfn = auxiliary_value(&auxiliary, AT_EXECFN).unwrap();
    assert_eq!(harness.peek(Pid::INIT, execfn, 11), b"/bin/other\0");
    let process = harness.server.processes.get_mut(Pid::INIT).unwrap();
    assert!(
        process.space.mapping(old).is_none()
            && process.space.areas().all(|area| !area.range.contains(&old)),
        "the old image is gone"
    );
    assert_eq!(harness.peek(Pid::INIT, PROGRAM_BASE + 176 + 4, 5), b"OTHER");
}

#[test]
fn the_new_image_has_its_save_area_and_the_path_in_its_auxiliary_vector() {
    let mut harness = Harness::booted();
    let actions = execve(&mut harness, Pid::INIT, b"/bin/other", &[b"other"], &[]);
    let stack_pointer = exec_answer(&actions, Pid::INIT).unwrap();
    let auxiliary = initial_stack(&mut harness, Pid::INIT, stack_pointer).auxiliary;
    assert_eq!(
        auxiliary_value(&auxiliary, AT_SYSTEM_CALL_PATH),
        Some(SystemCallPath::Trampoline.auxiliary_value())
    );
    harness.poke(Pid::INIT, SAVE_AREA, &[1; 8]);
    assert_eq!(harness.peek(Pid::INIT, SAVE_AREA, 8), [1; 8]);
}

#[test]
fn l4_syscall_path_in_the_new_environment_chooses_the_path() {
    let mut harness = Harness::booted();
    let actions = execve(
        &mut harness,
        Pid::INIT,
        b"/bin/other",
        &[b"other"],
        &[b"L4_SYSCALL_PATH=exception"],
    );
    let stack_pointer = exec_answer(&actions, Pid::INIT).expect("answered as the call came");
    let auxiliary = initial_stack(&mut harness, Pid::INIT, stack_pointer).auxiliary;
    assert_eq!(
        auxiliary_value(&auxiliary, AT_SYSTEM_CALL_PATH),
        Some(SystemCallPath::ExceptionIpc.auxiliary_value())
    );
    assert_eq!(
        harness.server.system_call_path(Pid::INIT),
        Some(SystemCallPath::ExceptionIpc)
    );
    // An unknown name is ignored: the path stays.
    execve(
        &mut harness,
        Pid::INIT,
        b"/bin/prog",
        &[b"p"],
        &[b"L4_SYSCALL_PATH=fast"],
    );
    assert_eq!(
        harness.server.system_call_path(Pid::INIT),
        Some(SystemCallPath::ExceptionIpc)
    );
}

#[test]
fn the_configured_default_path_is_init_s() {
    let config = crate::server::Config::new(SystemCallPath::ExceptionIpc, super::SEED);
    let mut harness = Harness::with_config(config);
    harness.start_init(b"/bin/prog");
    assert_eq!(
        harness.server.system_call_path(Pid::INIT),
        Some(SystemCallPath::ExceptionIpc)
    );
}

#[test]
fn an_execve_by_exception_answers_with_the_registers_of_a_new_program() {
    let mut harness = Harness::booted();
    let path = harness.string(Pid::INIT, b"/bin/other");
    let mut registers = UserRegisters::zeroed();
    registers.x[0] = path;
    registers.x[7] = 77;
    let actions = harness.call_by_exception(Pid::INIT, Syscall::Execve, registers);
    let registers = actions
        .iter()
        .find_map(|action| match action {
            Action::Reply {
                reply: Reply::ExceptionRegisters(registers),
                ..
            } => Some(*registers),
            _ => None,
        })
        .expect("a register reply");
    assert_eq!(registers.x, [0; 31]);
    assert_eq!(registers.pc, TRAMPOLINE_START);
    assert_eq!(
        harness.peek_u64(Pid::INIT, registers.sp),
        0,
        "argc of a NULL argv"
    );
}

#[test]
fn a_script_runs_its_interpreter_with_the_script_s_path() {
    let mut harness = Harness::booted();
    let actions = execve(
        &mut harness,
        Pid::INIT,
        b"/bin/script",
        &[b"script", b"arg"],
        &[],
    );
    let stack_pointer = exec_answer(&actions, Pid::INIT).expect("the script runs");
    let arguments = initial_stack(&mut harness, Pid::INIT, stack_pointer).arguments;
    let expected: [&[u8]; 4] = [b"/bin/prog", b"-x", b"/bin/script", b"arg"];
    assert_eq!(arguments, expected.map(<[u8]>::to_vec));
    assert_eq!(harness.peek(Pid::INIT, PROGRAM_BASE + 176 + 4, 4), b"PROG");
}

#[test]
fn four_levels_of_scripts_run_and_a_fifth_is_eloop() {
    let mut harness = Harness::booted();
    let actions = execve(&mut harness, Pid::INIT, b"/chain/4", &[b"4"], &[]);
    assert!(exec_answer(&actions, Pid::INIT).is_some());
    let path = harness.string(Pid::INIT, b"/chain/5");
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Execve, &[path, 0, 0]),
        Errno::ELOOP
    );
}

#[test]
fn execve_fails_as_linux_does_and_leaves_the_caller_as_it_was() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, buffer, b"kept");
    let frames = harness.live_frames();
    for (path, error) in [
        (&b"/bin/missing"[..], Errno::ENOENT),
        (b"/bin/noexec", Errno::EACCES),
        (b"/etc", Errno::EACCES),
        (b"/bin/garbage", Errno::ENOEXEC),
        (b"/etc/motd/x", Errno::ENOTDIR),
        (b"", Errno::ENOENT),
    ] {
        let address = harness.string(Pid::INIT, path);
        assert_eq!(
            harness.error(Pid::INIT, Syscall::Execve, &[address, 0, 0]),
            error,
            "{}",
            String::from_utf8_lossy(path)
        );
    }
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Execve, &[8, 0, 0]),
        Errno::EFAULT
    );
    let path = harness.string(Pid::INIT, b"/bin/prog");
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Execve, &[path, 16, 0]),
        Errno::EFAULT,
        "an unreadable argv"
    );
    assert_eq!(harness.peek(Pid::INIT, buffer, 4), b"kept");
    assert!(
        harness.live_frames() > frames,
        "only the test's strings were added"
    );
}

#[test]
fn execve_closes_close_on_exec_descriptors_only() {
    let mut harness = Harness::booted();
    let kept = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    let closed = harness.open(Pid::INIT, b"/etc/passwd", O_RDONLY | O_CLOEXEC);
    let actions = execve(&mut harness, Pid::INIT, b"/bin/other", &[b"o"], &[]);
    assert!(exec_answer(&actions, Pid::INIT).is_some());
    harness.ok(Pid::INIT, Syscall::Fcntl, &[kept, 1, 0]);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Fcntl, &[closed, 1, 0]),
        Errno::EBADF
    );
}

#[test]
fn execve_resets_caught_signals_but_keeps_ignored_ones_and_the_mask() {
    let mut harness = Harness::booted();
    let action = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, action, &0x40_1000u64.to_le_bytes());
    harness.ok(Pid::INIT, Syscall::RtSigaction, &[10, action, 0, 8]);
    harness.poke(Pid::INIT, action, &SIG_IGN.to_le_bytes());
    harness.ok(Pid::INIT, Syscall::RtSigaction, &[12, action, 0, 8]);
    harness.poke(Pid::INIT, action, &(1u64 << 1).to_le_bytes());
    harness.ok(Pid::INIT, Syscall::RtSigprocmask, &[0, action, 0, 8]);
    let actions = execve(&mut harness, Pid::INIT, b"/bin/other", &[b"o"], &[]);
    assert!(exec_answer(&actions, Pid::INIT).is_some());
    let old = harness.scratch(Pid::INIT, 1);
    harness.ok(Pid::INIT, Syscall::RtSigaction, &[10, 0, old, 8]);
    assert_eq!(
        harness.peek_u64(Pid::INIT, old),
        0,
        "SIGUSR1 back to SIG_DFL"
    );
    harness.ok(Pid::INIT, Syscall::RtSigaction, &[12, 0, old, 8]);
    assert_eq!(
        harness.peek_u64(Pid::INIT, old),
        SIG_IGN,
        "SIGUSR2 still ignored"
    );
    harness.ok(Pid::INIT, Syscall::RtSigprocmask, &[0, 0, old, 8]);
    assert_eq!(
        SignalSet(harness.peek_u64(Pid::INIT, old)),
        SignalSet(1 << 1)
    );
}

#[test]
fn the_data_segment_of_the_new_program_is_zeroed_memory() {
    let mut harness = Harness::booted();
    harness.poke(Pid::INIT, DATA_BASE, b"dirty");
    let actions = execve(&mut harness, Pid::INIT, b"/bin/other", &[b"o"], &[]);
    assert!(exec_answer(&actions, Pid::INIT).is_some());
    assert_eq!(harness.peek(Pid::INIT, DATA_BASE, 5), [0; 5]);
}
