//! What processes used and the system's state: `getrusage`, `times`, `wait4`'s resource
//! usage, `sysinfo` and its load averages, and `prctl`.

use linux_abi::errno::Errno;
use linux_abi::process::{CoreDump, signalled_status};
use linux_abi::signal::Signal;
use linux_abi::syscall::Syscall;
use protocol::SystemCallPath;

use super::{Harness, SEED, answer, answers, deletes, pid, standard_initrd};
use crate::memory::testing::VecFrames;
use crate::memory::{Access, PAGE_SIZE};
use crate::process::Pid;
use crate::server::{Config, Event, Nanoseconds, Server};

/// One second.
const SECOND: u64 = 1_000_000_000;

/// The fields of a `struct rusage` the server fills: user time in microseconds, maximum
/// resident set in KiB, minor faults, voluntary switches; and whether all others are zero.
#[derive(Debug, PartialEq, Eq)]
struct Rusage {
    user_microseconds: u64,
    maximum_resident_kilobytes: u64,
    minor_faults: u64,
    voluntary_switches: u64,
    others_zero: bool,
}

/// Decodes the `struct rusage` at `address` in `pid`.
fn rusage_at(harness: &mut Harness, pid: Pid, address: u64) -> Rusage {
    let bytes = harness.peek(pid, address, 144);
    let word =
        |index: usize| u64::from_le_bytes(bytes[8 * index..8 * index + 8].try_into().unwrap());
    let filled = [0, 1, 4, 8, 16];
    Rusage {
        user_microseconds: word(0) * 1_000_000 + word(1),
        maximum_resident_kilobytes: word(4),
        minor_faults: word(8),
        voluntary_switches: word(16),
        others_zero: (0..18)
            .filter(|index| !filled.contains(index))
            .all(|index| word(index) == 0),
    }
}

/// `getrusage(who)` in `pid`.
fn getrusage(harness: &mut Harness, pid: Pid, who: i64) -> Rusage {
    let address = harness.scratch(pid, 1);
    harness.ok(pid, Syscall::Getrusage, &[who as u64, address]);
    rusage_at(harness, pid, address)
}

/// Page faults of `pid` on `pages` fresh pages.
fn touch(harness: &mut Harness, pid: Pid, pages: u64) {
    let memory = harness.scratch(pid, pages);
    touch_at(harness, pid, memory, pages);
}

/// The pages `pid` has resident.
fn resident_pages(harness: &Harness, pid: Pid) -> u64 {
    let process = harness.server.processes.get(pid).expect("the process runs");
    process.space.resident_page_count() as u64
}

/// Page faults of `pid` on the `pages` pages at `memory`.
fn touch_at(harness: &mut Harness, pid: Pid, memory: u64, pages: u64) {
    for page in 0..pages {
        let actions = harness.handle(Event::PageFault {
            pid,
            address: memory + page * PAGE_SIZE,
            access: Access::Write,
            instruction_pointer: 0x40_0100,
        });
        assert!(!deletes(&actions, pid), "the fault is answered");
    }
}

/// A `nanosleep` of `seconds` in `pid`, answered.
fn sleep(harness: &mut Harness, pid: Pid, seconds: u64) {
    let request = harness.scratch(pid, 1);
    harness.poke(pid, request, &seconds.to_le_bytes());
    let actions = harness.call(pid, Syscall::Nanosleep, &[request, 0]);
    assert!(!answers(&actions, pid));
    let actions = harness.advance(seconds * SECOND);
    assert_eq!(answer(&actions, pid), Some(Ok(0)));
}

#[test]
fn getrusage_counts_time_not_waited_faults_waits_and_the_peak_resident_set() {
    let mut harness = Harness::booted();
    let before = getrusage(&mut harness, Pid::INIT, 0);
    let resident = before.maximum_resident_kilobytes;
    assert!(resident > 0, "init has pages");
    harness.advance(2 * SECOND);
    touch(&mut harness, Pid::INIT, 3);
    sleep(&mut harness, Pid::INIT, 5);
    let address = harness.scratch(Pid::INIT, 1);
    let resident_now = resident_pages(&harness, Pid::INIT);
    harness.ok(Pid::INIT, Syscall::Getrusage, &[0, address]);
    let after = rusage_at(&mut harness, Pid::INIT, address);
    assert_eq!(
        after.user_microseconds, 2_000_000,
        "two seconds running; the five asleep do not count"
    );
    assert_eq!(after.minor_faults, before.minor_faults + 3);
    assert_eq!(after.voluntary_switches, before.voluntary_switches + 1);
    assert_eq!(after.maximum_resident_kilobytes, resident_now * 4);
    assert!(after.maximum_resident_kilobytes >= resident + 12);
    assert!(
        after.others_zero,
        "system time and what nobody counts stay zero"
    );
    // With the buffer now resident, the caller is its one thread.
    harness.ok(Pid::INIT, Syscall::Getrusage, &[0, address]);
    let whole = rusage_at(&mut harness, Pid::INIT, address);
    harness.ok(Pid::INIT, Syscall::Getrusage, &[1, address]);
    assert_eq!(
        rusage_at(&mut harness, Pid::INIT, address),
        whole,
        "RUSAGE_THREAD"
    );
    // The peak stays when pages go.
    let memory = harness.scratch(Pid::INIT, 8);
    touch_at(&mut harness, Pid::INIT, memory, 8);
    let peak = getrusage(&mut harness, Pid::INIT, 0).maximum_resident_kilobytes;
    harness.ok(Pid::INIT, Syscall::Munmap, &[memory, 8 * PAGE_SIZE]);
    assert_eq!(
        getrusage(&mut harness, Pid::INIT, 0).maximum_resident_kilobytes,
        peak
    );
    let address = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Getrusage, &[2, address]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Getrusage, &[0, 0]),
        Errno::EFAULT
    );
}

#[test]
fn a_reaped_child_s_usage_goes_to_wait4_and_to_its_parent() {
    let mut harness = Harness::booted();
    assert_eq!(getrusage(&mut harness, Pid::INIT, -1).user_microseconds, 0);
    let child = harness.fork(Pid::INIT);
    let grandchild = harness.fork(child);
    harness.advance(SECOND);
    touch(&mut harness, grandchild, 2);
    harness.exit(grandchild, 0);
    harness.ok(child, Syscall::Wait4, &[u64::MAX, 0, 0, 0]);
    touch(&mut harness, child, 1);
    harness.exit(child, 0);

    let address = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, address, &[0xAA; 145]);
    harness.ok(Pid::INIT, Syscall::Wait4, &[u64::MAX, 0, 0, address]);
    let reaped = rusage_at(&mut harness, Pid::INIT, address);
    assert_eq!(
        reaped.user_microseconds, 2_000_000,
        "the child's second and the grandchild's it reaped"
    );
    assert_eq!(reaped.minor_faults, 3);
    assert!(reaped.others_zero);
    assert_eq!(harness.peek(Pid::INIT, address + 144, 1), [0xAA]);
    let children = getrusage(&mut harness, Pid::INIT, -1);
    assert_eq!(children, reaped, "RUSAGE_CHILDREN adds what wait4 reaped");
}

#[test]
fn times_reports_clock_ticks_of_the_process_its_children_and_the_machine() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    harness.advance(3 * SECOND);
    harness.exit(child, 0);
    harness.ok(Pid::INIT, Syscall::Wait4, &[u64::MAX, 0, 0, 0]);
    sleep(&mut harness, Pid::INIT, 1);
    let buffer = harness.scratch(Pid::INIT, 1);
    let now = harness.ok(Pid::INIT, Syscall::Times, &[buffer]);
    assert_eq!(now, harness.now.0 / (SECOND / 100), "ticks since the start");
    let words: Vec<u64> = harness
        .peek(Pid::INIT, buffer, 32)
        .chunks(8)
        .map(|word| u64::from_le_bytes(word.try_into().unwrap()))
        .collect();
    assert_eq!(
        words,
        [300, 0, 300, 0],
        "user, system, children's user and system"
    );
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Times, &[0]),
        now,
        "no buffer is fine"
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Times, &[16]),
        Errno::EFAULT
    );
}

#[test]
fn sysinfo_reports_uptime_loads_memory_and_processes() {
    let config = Config::new(SystemCallPath::Trampoline, SEED);
    let server = Server::new(VecFrames::with_limit(1000), standard_initrd(), config).unwrap();
    let mut harness = Harness {
        server,
        now: Nanoseconds(1_000_000),
    };
    harness.start_init(b"/bin/prog");
    let child = harness.fork(Pid::INIT);
    // init waits for its child: one process is active for a minute.
    let actions = harness.call(Pid::INIT, Syscall::Wait4, &[u64::MAX, 0, 0, 0]);
    assert!(!answers(&actions, Pid::INIT));
    harness.advance(60 * SECOND + 500_000_000);
    harness.handle(Event::Tick);

    let info = harness.scratch(child, 1);
    harness.poke(child, info, &[0xAA; 113]);
    harness.ok(child, Syscall::Sysinfo, &[info]);
    let bytes = harness.peek(child, info, 113);
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(word(0), 61, "uptime in whole seconds, rounded up");
    // After 12 samples of one active process: 1 - (1884/2048)^12 of it, and so on.
    let loads = [word(8), word(16), word(24)];
    let expected = [0.632, 0.181, 0.064];
    for (load, expected) in loads.iter().zip(expected) {
        let load = *load as f64 / 65536.0;
        assert!((load - expected).abs() < 0.01, "{loads:?}");
    }
    let used = harness.server.frames().live_count() as u64;
    assert_eq!(word(32), 1000 * 4096, "totalram");
    assert_eq!(word(40), (1000 - used) * 4096, "freeram");
    assert_eq!([word(48), word(56), word(64), word(72)], [0; 4]);
    assert_eq!(u16::from_le_bytes([bytes[80], bytes[81]]), 2, "procs");
    assert_eq!([word(88), word(96)], [0, 0], "no high memory");
    assert_eq!(u32::from_le_bytes(bytes[104..108].try_into().unwrap()), 1);
    assert_eq!(bytes[112], 0xAA, "112 bytes written");
    assert_eq!(harness.error(child, Syscall::Sysinfo, &[8]), Errno::EFAULT);
}

#[test]
fn the_load_average_decays_when_every_process_waits() {
    let mut harness = Harness::booted();
    harness.advance(15 * 60 * SECOND);
    let info = harness.scratch(Pid::INIT, 1);
    harness.ok(Pid::INIT, Syscall::Sysinfo, &[info]);
    let one_minute = harness.peek_u64(Pid::INIT, info + 8);
    assert!(one_minute > 65_000, "init ran for 15 minutes: {one_minute}");
    let request = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, request, &3600u64.to_le_bytes());
    harness.call(Pid::INIT, Syscall::Nanosleep, &[request, 0]);
    harness.advance(3600 * SECOND);
    harness.ok(Pid::INIT, Syscall::Sysinfo, &[info]);
    assert_eq!(
        harness.peek(Pid::INIT, info + 8, 24),
        [0; 24],
        "an hour asleep"
    );
}

#[test]
fn prctl_names_the_process_after_its_program_and_on_request() {
    let mut harness = Harness::booted();
    let name = harness.scratch(Pid::INIT, 1);
    harness.ok(Pid::INIT, Syscall::Prctl, &[16, name]);
    assert_eq!(
        harness.peek(Pid::INIT, name, 16),
        b"prog\0\0\0\0\0\0\0\0\0\0\0\0"
    );
    harness.poke(Pid::INIT, name, b"a-very-long-process-name\0");
    harness.ok(Pid::INIT, Syscall::Prctl, &[15, name]);
    let child = harness.fork(Pid::INIT);
    let copy = harness.scratch(child, 1);
    harness.ok(child, Syscall::Prctl, &[16, copy]);
    assert_eq!(
        harness.peek(child, copy, 16),
        b"a-very-long-pro\0",
        "15 bytes and a NUL, inherited"
    );
    // A name that runs into unmapped memory before 15 bytes is EFAULT.
    let memory = harness.scratch(child, 2);
    harness.ok(child, Syscall::Munmap, &[memory + PAGE_SIZE, PAGE_SIZE]);
    let end = memory + PAGE_SIZE - 4;
    harness.poke(child, end, b"abcd");
    assert_eq!(
        harness.error(child, Syscall::Prctl, &[15, end]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.error(child, Syscall::Prctl, &[16, 0]),
        Errno::EFAULT
    );

    let path = harness.string(child, b"/bin/other");
    let argv = harness.scratch(child, 1);
    harness.poke(child, argv, &path.to_le_bytes());
    let actions = harness.call(child, Syscall::Execve, &[path, argv, 0]);
    assert!(answers(&actions, child));
    let name = harness.scratch(child, 1);
    harness.ok(child, Syscall::Prctl, &[16, name]);
    assert_eq!(harness.peek(child, name, 6), b"other\0", "execve renames");
}

#[test]
fn prctl_parent_death_signal_is_sent_when_the_parent_ends() {
    let mut harness = Harness::booted();
    let parent = harness.fork(Pid::INIT);
    let child = harness.fork(parent);
    harness.ok(
        child,
        Syscall::Prctl,
        &[1, u64::from(Signal::SIGTERM.number())],
    );
    let slot = harness.scratch(child, 1);
    harness.ok(child, Syscall::Prctl, &[2, slot]);
    assert_eq!(harness.peek_u32(child, slot), 15);
    assert_eq!(
        harness.error(child, Syscall::Prctl, &[1, 65]),
        Errno::EINVAL
    );
    let grandchild = harness.fork(child);
    harness.ok(grandchild, Syscall::Prctl, &[2, slot]);
    assert_eq!(harness.peek_u32(grandchild, slot), 0, "not inherited");

    let actions = harness.exit(parent, 0);
    assert!(
        deletes(&actions, child),
        "SIGTERM's default action ended it"
    );
    assert!(!deletes(&actions, grandchild));
    let status = harness.scratch(Pid::INIT, 1);
    harness.ok(
        Pid::INIT,
        Syscall::Wait4,
        &[child.number() as u64, status, 0, 0],
    );
    assert_eq!(
        harness.peek_u32(Pid::INIT, status),
        signalled_status(Signal::SIGTERM, CoreDump::NotDumped)
    );
    assert_eq!(pid(grandchild.number()), grandchild);
}

#[test]
fn prctl_records_dumpable_and_no_new_privileges_and_refuses_other_options() {
    let mut harness = Harness::booted();
    assert_eq!(harness.ok(Pid::INIT, Syscall::Prctl, &[3]), 1);
    harness.ok(Pid::INIT, Syscall::Prctl, &[4, 0]);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Prctl, &[3]), 0);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Prctl, &[4, 2]),
        Errno::EINVAL
    );
    assert_eq!(harness.ok(Pid::INIT, Syscall::Prctl, &[39]), 0);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Prctl, &[38, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Prctl, &[38, 1, 1]),
        Errno::EINVAL
    );
    harness.ok(Pid::INIT, Syscall::Prctl, &[38, 1]);
    let child = harness.fork(Pid::INIT);
    assert_eq!(harness.ok(child, Syscall::Prctl, &[39]), 1, "inherited");
    assert_eq!(
        harness.error(child, Syscall::Prctl, &[39, 1]),
        Errno::EINVAL
    );
    assert_eq!(harness.ok(child, Syscall::Prctl, &[3]), 0, "inherited too");
    assert_eq!(harness.error(child, Syscall::Prctl, &[9999]), Errno::EINVAL);
}
