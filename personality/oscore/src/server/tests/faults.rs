//! Isolation: a client that faults, takes an exception or sends garbage is killed with
//! Linux's signal, its parent learns it through `wait4`, and the server goes on.

use abi::protocol::Exception;
use abi::user_registers::UserRegisters;
use linux_abi::process::{CoreDump, signalled_status};
use linux_abi::signal::Signal;
use linux_abi::syscall::Syscall;

use super::{Harness, PROGRAM_BASE, answer, answers, deletes, pid};
use crate::memory::Access;
use crate::process::Pid;
use crate::server::{Action, Event, Notice};

/// ESR of an UNDEFINED instruction (EC 0).
const UNDEFINED: u64 = 1 << 25;
/// ESR of a data abort from EL0 with an alignment fault (EC 0x24, DFSC 0b100001).
const ALIGNMENT: u64 = (0x24 << 26) | (1 << 25) | 0b10_0001;
/// ESR of `brk #1` (EC 0x3C, comment 1).
const BREAKPOINT: u64 = (0x3C << 26) | (1 << 25) | 1;
/// ESR of `svc #5` (EC 0x15, immediate 5).
const SVC_FIVE: u64 = (0x15 << 26) | (1 << 25) | 5;
/// ESR of an SP alignment fault (EC 0x26).
const SP_ALIGNMENT: u64 = (0x26 << 26) | (1 << 25);

/// Forks a child of init, makes init wait for it, and returns it with the status word.
fn waited_child(harness: &mut Harness) -> (Pid, u64) {
    let child = harness.fork(Pid::INIT);
    let status = harness.scratch(Pid::INIT, 1);
    let actions = harness.call(Pid::INIT, Syscall::Wait4, &[u64::MAX, status, 0, 0]);
    assert!(!answers(&actions, Pid::INIT));
    (child, status)
}

/// An exception of `pid` with syndrome `esr`.
fn exception(harness: &mut Harness, pid: Pid, esr: u64) -> Vec<Action<u64>> {
    let mut registers = UserRegisters::zeroed();
    registers.pc = PROGRAM_BASE + 0xb0;
    harness.handle(Event::Exception {
        pid,
        exception: Exception {
            registers,
            esr,
            far: 0,
        },
    })
}

#[test]
fn a_fault_where_nothing_is_mapped_kills_with_sigsegv_and_tells_the_parent() {
    let mut harness = Harness::booted();
    let (child, status) = waited_child(&mut harness);
    let actions = harness.handle(Event::PageFault {
        pid: child,
        address: 0x10,
        access: Access::Read,
        instruction_pointer: PROGRAM_BASE + 0xb0,
    });
    assert!(deletes(&actions, child));
    assert!(actions.contains(&Action::Log(Notice::FatalPageFault {
        pid: child,
        address: 0x10,
        access: Access::Read,
        instruction_pointer: PROGRAM_BASE + 0xb0,
        signal: Signal::SIGSEGV,
    })));
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(child.number() as u64)));
    let expected = signalled_status(Signal::SIGSEGV, CoreDump::NotDumped);
    assert_eq!(harness.peek_u32(Pid::INIT, status), expected);
}

#[test]
fn a_write_to_read_only_text_is_sigsegv() {
    let mut harness = Harness::booted();
    let (child, status) = waited_child(&mut harness);
    let actions = harness.handle(Event::PageFault {
        pid: child,
        address: PROGRAM_BASE,
        access: Access::Write,
        instruction_pointer: PROGRAM_BASE,
    });
    assert!(deletes(&actions, child));
    let expected = signalled_status(Signal::SIGSEGV, CoreDump::NotDumped);
    assert_eq!(harness.peek_u32(Pid::INIT, status), expected);
}

#[test]
fn a_fault_the_server_has_no_memory_for_is_sigkill() {
    let mut harness = Harness::booted();
    let (child, status) = waited_child(&mut harness);
    let buffer = harness.scratch(child, 4);
    let live = harness.server.frames.live_count();
    harness.server.frames.set_limit(Some(live));
    let actions = harness.handle(Event::PageFault {
        pid: child,
        address: buffer,
        access: Access::Write,
        instruction_pointer: PROGRAM_BASE,
    });
    harness.server.frames.set_limit(None);
    assert!(deletes(&actions, child));
    let expected = signalled_status(Signal::SIGKILL, CoreDump::NotDumped);
    assert_eq!(harness.peek_u32(Pid::INIT, status), expected);
}

#[test]
fn exceptions_kill_with_the_signal_linux_raises() {
    for (esr, signal) in [
        (UNDEFINED, Signal::SIGILL),
        (ALIGNMENT, Signal::SIGBUS),
        (SP_ALIGNMENT, Signal::SIGBUS),
        (BREAKPOINT, Signal::SIGTRAP),
        (SVC_FIVE, Signal::SIGILL),
    ] {
        let mut harness = Harness::booted();
        let (child, status) = waited_child(&mut harness);
        let actions = exception(&mut harness, child, esr);
        assert!(deletes(&actions, child), "{esr:#x}");
        assert!(actions.contains(&Action::Log(Notice::FatalException {
            pid: child,
            esr,
            instruction_pointer: PROGRAM_BASE + 0xb0,
            signal,
        })));
        let expected = signalled_status(signal, CoreDump::NotDumped);
        assert_eq!(harness.peek_u32(Pid::INIT, status), expected, "{esr:#x}");
    }
}

#[test]
fn a_system_call_by_exception_is_answered_with_x0() {
    let mut harness = Harness::booted();
    let actions = harness.call_by_exception(Pid::INIT, Syscall::Getppid, UserRegisters::zeroed());
    assert_eq!(
        actions,
        [Action::Reply {
            pid: Pid::INIT,
            reply: crate::server::Reply::ExceptionResult(0),
        }]
    );
}

#[test]
fn messages_from_processes_that_do_not_run_are_ignored() {
    let mut harness = Harness::booted();
    let stranger = pid(77);
    let actions = harness.call(stranger, Syscall::Getpid, &[]);
    assert_eq!(
        actions,
        [Action::Log(Notice::UnknownProcess { pid: stranger })]
    );
    let actions = harness.handle(Event::PageFault {
        pid: stranger,
        address: PROGRAM_BASE,
        access: Access::Read,
        instruction_pointer: 0,
    });
    assert_eq!(
        actions,
        [Action::Log(Notice::UnknownProcess { pid: stranger })]
    );
    let actions = exception(&mut harness, stranger, UNDEFINED);
    assert_eq!(
        actions,
        [Action::Log(Notice::UnknownProcess { pid: stranger })]
    );
}

#[test]
fn garbage_arguments_get_errors_and_the_server_goes_on() {
    let mut harness = Harness::booted();
    let garbage = [u64::MAX, 1 << 63, 0x7F00_0000_0000, 3, u64::MAX - 7, 0];
    for call in Syscall::ALL {
        if matches!(
            call,
            Syscall::Exit
                | Syscall::ExitGroup
                | Syscall::Reboot
                | Syscall::Kill
                | Syscall::Tkill
                | Syscall::Tgkill
        ) {
            continue;
        }
        harness.call(Pid::INIT, *call, &garbage);
        harness.call(Pid::INIT, *call, &[0; 6]);
        // Whatever happened, init still answers.
        if harness.server.processes.get(Pid::INIT).is_some() {
            assert_eq!(
                harness.ok(Pid::INIT, Syscall::Getpid, &[]),
                1,
                "after {call:?}"
            );
        }
    }
    assert!(
        harness.server.processes.get(Pid::INIT).is_some(),
        "init survived"
    );
}

#[test]
fn notices_are_one_line_each_naming_the_process() {
    let lines = [
        Notice::UnimplementedSystemCall {
            pid: Pid::INIT,
            number: 59,
            name: Some("pipe2"),
        }
        .to_string(),
        Notice::FatalPageFault {
            pid: pid(3),
            address: 0x10,
            access: Access::Write,
            instruction_pointer: 0x40_0000,
            signal: Signal::SIGSEGV,
        }
        .to_string(),
        Notice::FatalException {
            pid: pid(4),
            esr: UNDEFINED,
            instruction_pointer: 0x40_0004,
            signal: Signal::SIGILL,
        }
        .to_string(),
        Notice::InitExited { status: 0 }.to_string(),
    ];
    assert_eq!(
        lines[0],
        "pid 1: system call 59 (pipe2) is not implemented: ENOSYS"
    );
    assert_eq!(
        lines[1],
        "pid 3: Write fault at 0x10, pc 0x400000: killed by SIGSEGV"
    );
    assert!(lines[2].starts_with("pid 4: exception (ESR 0x2000000) at pc 0x400004"));
    assert!(lines.iter().all(|line| !line.contains('\n')));
}
