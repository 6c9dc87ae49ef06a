//! System calls about the system: `uname`, `getrandom`, `reboot`, limits, credentials,
//! affinity, the robust list, and what happens to calls the server does not implement.

use linux_abi::errno::Errno;
use linux_abi::file::O_RDONLY;
use linux_abi::layout::{Rlimit, UtsName};
use linux_abi::process::{RLIM_INFINITY, RLIMIT_NOFILE, RLIMIT_STACK};
use linux_abi::syscall::Syscall;

use super::{Harness, answer, answers};
use crate::memory::DEFAULT_STACK_LIMIT;
use crate::process::Pid;
use crate::server::system::{REBOOT_CAD_OFF, REBOOT_POWER_OFF, REBOOT_RESTART};
use crate::server::{Action, Notice};

/// The two magic numbers `reboot` needs.
const MAGIC: [u64; 2] = [0xfee1_dead, 672_274_793];

/// Reads a `struct rlimit`.
fn rlimit(harness: &mut Harness, pid: Pid, address: u64) -> Rlimit {
    Rlimit::from_bytes(&harness.peek(pid, address, 16).try_into().unwrap())
}

#[test]
fn uname_describes_a_linux_aarch64_machine() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.ok(Pid::INIT, Syscall::Uname, &[buffer]);
    let bytes = harness.peek(Pid::INIT, buffer, UtsName::SIZE);
    let name = UtsName::from_bytes(&bytes.try_into().unwrap());
    assert_eq!(name.system_name, UtsName::field(b"Linux"));
    assert_eq!(name.machine, UtsName::field(b"aarch64"));
    assert_eq!(name.node_name, UtsName::field(b"l4"));
    assert_eq!(name.release, UtsName::field(b"6.1.0-l4"));
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Uname, &[16]),
        Errno::EFAULT
    );
}

#[test]
fn getrandom_fills_the_buffer_from_the_seeded_stream() {
    let mut first = Harness::booted();
    let mut second = Harness::booted();
    let a = first.scratch(Pid::INIT, 1);
    let b = second.scratch(Pid::INIT, 1);
    assert_eq!(first.ok(Pid::INIT, Syscall::Getrandom, &[a, 100, 0]), 100);
    assert_eq!(second.ok(Pid::INIT, Syscall::Getrandom, &[b, 100, 1]), 100);
    let bytes = first.peek(Pid::INIT, a, 100);
    assert_eq!(
        bytes,
        second.peek(Pid::INIT, b, 100),
        "the same seed, the same bytes"
    );
    first.ok(Pid::INIT, Syscall::Getrandom, &[a, 100, 0]);
    assert_ne!(first.peek(Pid::INIT, a, 100), bytes, "the stream moves on");
    assert_eq!(
        first.error(Pid::INIT, Syscall::Getrandom, &[a, 1, 8]),
        Errno::EINVAL
    );
    assert_eq!(
        first.error(Pid::INIT, Syscall::Getrandom, &[a, 1, 6]),
        Errno::EINVAL
    );
    assert_eq!(
        first.error(Pid::INIT, Syscall::Getrandom, &[16, 1, 0]),
        Errno::EFAULT
    );
    assert_eq!(
        first.ok(Pid::INIT, Syscall::Getrandom, &[a + 4000, 200, 0]),
        96,
        "up to the hole"
    );
}

#[test]
fn reboot_powers_off_restarts_or_refuses() {
    let mut harness = Harness::booted();
    let command = u64::from(REBOOT_POWER_OFF);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Reboot, &[1, MAGIC[1], command]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Reboot, &[MAGIC[0], 2, command]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Reboot, &[MAGIC[0], MAGIC[1], 0x1234]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.ok(
            Pid::INIT,
            Syscall::Reboot,
            &[MAGIC[0], MAGIC[1], u64::from(REBOOT_CAD_OFF)]
        ),
        0
    );
    let actions = harness.call(
        Pid::INIT,
        Syscall::Reboot,
        &[MAGIC[0], MAGIC[1], u64::from(REBOOT_RESTART)],
    );
    assert_eq!(actions, [Action::Restart]);
    let actions = harness.call(Pid::INIT, Syscall::Reboot, &[MAGIC[0], MAGIC[1], command]);
    assert_eq!(actions, [Action::PowerOff]);
    assert!(!answers(&actions, Pid::INIT));
}

#[test]
fn prlimit64_reports_linux_s_defaults_and_applies_new_limits() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    let nofile = u64::from(RLIMIT_NOFILE);
    harness.ok(Pid::INIT, Syscall::Prlimit64, &[0, nofile, 0, buffer]);
    assert_eq!(
        rlimit(&mut harness, Pid::INIT, buffer),
        Rlimit {
            current: 1024,
            maximum: 4096
        }
    );
    harness.ok(
        Pid::INIT,
        Syscall::Getrlimit,
        &[u64::from(RLIMIT_STACK), buffer],
    );
    assert_eq!(
        rlimit(&mut harness, Pid::INIT, buffer),
        Rlimit {
            current: DEFAULT_STACK_LIMIT,
            maximum: RLIM_INFINITY
        }
    );
    harness.poke(
        Pid::INIT,
        buffer,
        &Rlimit {
            current: 4,
            maximum: 4096,
        }
        .to_bytes(),
    );
    harness.ok(Pid::INIT, Syscall::Setrlimit, &[nofile, buffer]);
    harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    let path = harness.string(Pid::INIT, b"/etc/motd");
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Openat, &[super::AT_FDCWD, path, 0, 0]),
        Errno::EMFILE
    );
}

#[test]
fn prlimit64_refuses_what_linux_refuses() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.poke(
        Pid::INIT,
        buffer,
        &Rlimit {
            current: 10,
            maximum: 5,
        }
        .to_bytes(),
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Prlimit64, &[0, 7, buffer, 0]),
        Errno::EINVAL
    );
    harness.poke(
        Pid::INIT,
        buffer,
        &Rlimit {
            current: 10,
            maximum: 2 << 20,
        }
        .to_bytes(),
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Prlimit64, &[0, 7, buffer, 0]),
        Errno::EPERM
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Prlimit64, &[0, 16, 0, buffer]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Prlimit64, &[999, 7, 0, buffer]),
        Errno::ESRCH
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Prlimit64, &[0, 7, 16, 0]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Prlimit64, &[0, 7, 0, 16]),
        Errno::EFAULT
    );
    let child = harness.fork(Pid::INIT);
    harness.ok(
        Pid::INIT,
        Syscall::Prlimit64,
        &[child.number() as u64, 7, 0, buffer],
    );
    assert_eq!(
        rlimit(&mut harness, Pid::INIT, buffer).current,
        1024,
        "another process's limit"
    );
}

#[test]
fn every_process_is_root() {
    let mut harness = Harness::booted();
    for call in [
        Syscall::Getuid,
        Syscall::Geteuid,
        Syscall::Getgid,
        Syscall::Getegid,
    ] {
        assert_eq!(harness.ok(Pid::INIT, call, &[]), 0);
    }
    let ids = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, ids, &[0xff; 12]);
    harness.ok(Pid::INIT, Syscall::Getresuid, &[ids, ids + 4, ids + 8]);
    assert_eq!(harness.peek(Pid::INIT, ids, 12), [0; 12]);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Getresgid, &[16, ids, ids]),
        Errno::EFAULT
    );
    assert_eq!(harness.ok(Pid::INIT, Syscall::Getgroups, &[0, 0]), 0);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Getgroups, &[u64::MAX, 0]),
        Errno::EINVAL
    );
}

#[test]
fn sched_getaffinity_names_the_configured_cpus() {
    let mut harness = Harness::booted();
    let mask = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::SchedGetaffinity, &[0, 128, mask]),
        8
    );
    assert_eq!(harness.peek_u64(Pid::INIT, mask), 1);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::SchedGetaffinity, &[0, 4, mask]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::SchedGetaffinity, &[500, 8, mask]),
        Errno::ESRCH
    );
    assert_eq!(harness.ok(Pid::INIT, Syscall::SchedYield, &[]), 0);
}

#[test]
fn set_robust_list_takes_only_the_kernel_s_head_size() {
    let mut harness = Harness::booted();
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::SetRobustList, &[0x1000, 24]),
        0
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::SetRobustList, &[0x1000, 16]),
        Errno::EINVAL
    );
}

#[test]
fn an_unimplemented_call_is_enosys_and_reported_once() {
    let mut harness = Harness::booted();
    let actions = harness.call_number(Pid::INIT, 9999, &[]);
    assert_eq!(answer(&actions, Pid::INIT), Some(Err(Errno::ENOSYS)));
    assert!(
        actions.contains(&Action::Log(Notice::UnimplementedSystemCall {
            pid: Pid::INIT,
            number: 9999,
            name: None,
        }))
    );
    let actions = harness.call_number(Pid::INIT, 9999, &[]);
    assert_eq!(
        actions.len(),
        1,
        "reported only the first time: {actions:?}"
    );
    let actions = harness.call(Pid::INIT, Syscall::Mount, &[0, 0, 0, 0, 0]);
    assert!(
        actions.contains(&Action::Log(Notice::UnimplementedSystemCall {
            pid: Pid::INIT,
            number: 40,
            name: Some("mount"),
        }))
    );
}

#[test]
fn calls_libraries_probe_are_refused_silently() {
    let mut harness = Harness::booted();
    for call in [
        Syscall::Statx,
        Syscall::Rseq,
        Syscall::Clone3,
        Syscall::RtSigreturn,
    ] {
        let actions = harness.call(Pid::INIT, call, &[]);
        assert_eq!(actions.len(), 1);
        assert_eq!(answer(&actions, Pid::INIT), Some(Err(Errno::ENOSYS)));
    }
    assert_eq!(harness.ok(Pid::INIT, Syscall::Sync, &[]), 0);
}

#[test]
fn getrlimit_and_setrlimit_fault_on_a_null_limit() {
    let mut harness = Harness::booted();
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Getrlimit, &[7, 0]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Setrlimit, &[7, 0]),
        Errno::EFAULT
    );
}

#[test]
fn reports_of_unimplemented_calls_are_bounded() {
    let mut harness = Harness::booted();
    let mut reports = 0;
    for number in 10_000..10_600 {
        let actions = harness.call_number(Pid::INIT, number, &[]);
        assert_eq!(answer(&actions, Pid::INIT), Some(Err(Errno::ENOSYS)));
        reports += actions
            .iter()
            .filter(|action| matches!(action, Action::Log(_)))
            .count();
    }
    assert_eq!(reports, 512);
}
