//! Clocks, sleeps and futex timeouts, all driven by the `now` of events.

use linux_abi::errno::Errno;
use linux_abi::layout::{Timespec, Timeval};
use linux_abi::syscall::Syscall;
use protocol::SystemCallPath;

use super::{Harness, SEED, answer, answers};
use crate::process::Pid;
use crate::server::{Config, Nanoseconds};

/// Writes a `struct timespec` of `seconds` and `nanoseconds` into fresh memory.
fn timespec(harness: &mut Harness, pid: Pid, seconds: i64, nanoseconds: i64) -> u64 {
    let address = harness.scratch(pid, 1);
    let time = Timespec {
        seconds,
        nanoseconds,
    };
    harness.poke(pid, address, &time.to_bytes());
    address
}

/// `clock_gettime(clock)` as a number of nanoseconds.
fn clock(harness: &mut Harness, pid: Pid, clock: u64) -> u64 {
    let buffer = harness.scratch(pid, 1);
    harness.ok(pid, Syscall::ClockGettime, &[clock, buffer]);
    let time = Timespec::from_bytes(&harness.peek(pid, buffer, 16).try_into().unwrap());
    time.seconds as u64 * 1_000_000_000 + time.nanoseconds as u64
}

/// A server whose wall clock started at `wall` seconds.
fn with_wall_clock(wall: u64) -> Harness {
    let mut config = Config::new(SystemCallPath::Trampoline, SEED);
    config.wall_clock_at_start = Nanoseconds(wall * 1_000_000_000);
    config.clock_resolution = Nanoseconds(16);
    let mut harness = Harness::with_config(config);
    harness.start_init(b"/bin/prog");
    harness
}

#[test]
fn the_clocks_read_the_event_time() {
    let mut harness = with_wall_clock(1_700_000_000);
    harness.now = Nanoseconds(5_000_000_123);
    for monotonic in [1, 4, 6, 7] {
        assert_eq!(clock(&mut harness, Pid::INIT, monotonic), 5_000_000_123);
    }
    for real in [0, 5, 11] {
        assert_eq!(
            clock(&mut harness, Pid::INIT, real),
            1_700_000_000 * 1_000_000_000 + 5_000_000_123
        );
    }
    let cpu = clock(&mut harness, Pid::INIT, 2);
    assert_eq!(
        cpu,
        5_000_000_123 - 1_000_000,
        "time since init was created"
    );
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::ClockGettime, &[3000, buffer]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::ClockGettime, &[1, 16]),
        Errno::EFAULT
    );
}

#[test]
fn clock_getres_reports_the_configured_resolution() {
    let mut harness = with_wall_clock(0);
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.ok(Pid::INIT, Syscall::ClockGetres, &[1, buffer]);
    assert_eq!(
        harness.peek(Pid::INIT, buffer, 16),
        Timespec {
            seconds: 0,
            nanoseconds: 16
        }
        .to_bytes()
    );
    assert_eq!(harness.ok(Pid::INIT, Syscall::ClockGetres, &[0, 0]), 0);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::ClockGetres, &[99, buffer]),
        Errno::EINVAL
    );
}

#[test]
fn gettimeofday_gives_microseconds_and_utc() {
    let mut harness = with_wall_clock(100);
    harness.now = Nanoseconds(2_500_000_000);
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, buffer + 16, &[0xff; 8]);
    harness.ok(Pid::INIT, Syscall::Gettimeofday, &[buffer, buffer + 16]);
    let time = Timeval::from_bytes(&harness.peek(Pid::INIT, buffer, 16).try_into().unwrap());
    assert_eq!((time.seconds, time.microseconds), (102, 500_000));
    assert_eq!(harness.peek(Pid::INIT, buffer + 16, 8), [0; 8]);
}

#[test]
fn nanosleep_parks_until_its_deadline() {
    let mut harness = Harness::booted();
    let request = timespec(&mut harness, Pid::INIT, 1, 500);
    let actions = harness.call(Pid::INIT, Syscall::Nanosleep, &[request, 0]);
    assert!(!answers(&actions, Pid::INIT));
    let deadline = harness.now.saturating_add(Nanoseconds(1_000_000_500));
    assert_eq!(harness.server.next_deadline(), Some(deadline));
    assert!(!answers(&harness.advance(1_000_000_499), Pid::INIT));
    let actions = harness.advance(1);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)));
    assert_eq!(harness.server.next_deadline(), None);
}

#[test]
fn nanosleep_checks_its_request() {
    let mut harness = Harness::booted();
    let negative = timespec(&mut harness, Pid::INIT, -1, 0);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Nanosleep, &[negative, 0]),
        Errno::EINVAL
    );
    let too_many = timespec(&mut harness, Pid::INIT, 0, 1_000_000_000);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Nanosleep, &[too_many, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Nanosleep, &[16, 0]),
        Errno::EFAULT
    );
    let zero = timespec(&mut harness, Pid::INIT, 0, 0);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Nanosleep, &[zero, 0]), 0);
}

#[test]
fn sleepers_wake_in_deadline_order_with_one_tick() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let long = timespec(&mut harness, Pid::INIT, 0, 3000);
    let short = timespec(&mut harness, child, 0, 1000);
    harness.call(Pid::INIT, Syscall::Nanosleep, &[long, 0]);
    harness.call(child, Syscall::Nanosleep, &[short, 0]);
    assert_eq!(
        harness.server.next_deadline(),
        Some(harness.now.saturating_add(Nanoseconds(1000)))
    );
    let actions = harness.advance(2000);
    assert!(answers(&actions, child) && !answers(&actions, Pid::INIT));
    let actions = harness.advance(5000);
    assert!(answers(&actions, Pid::INIT));
}

#[test]
fn clock_nanosleep_takes_absolute_times_on_each_clock() {
    let mut harness = with_wall_clock(1000);
    harness.now = Nanoseconds(10_000_000);
    let absolute = timespec(&mut harness, Pid::INIT, 0, 20_000_000);
    let actions = harness.call(Pid::INIT, Syscall::ClockNanosleep, &[1, 1, absolute, 0]);
    assert!(!answers(&actions, Pid::INIT));
    assert_eq!(
        harness.server.next_deadline(),
        Some(Nanoseconds(20_000_000))
    );
    assert_eq!(answer(&harness.advance(10_000_000), Pid::INIT), Some(Ok(0)));
    let past = timespec(&mut harness, Pid::INIT, 999, 0);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::ClockNanosleep, &[0, 1, past, 0]),
        0
    );
    let relative = timespec(&mut harness, Pid::INIT, 0, 10);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::ClockNanosleep, &[2, 0, relative, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::ClockNanosleep, &[4, 0, relative, 0]),
        Errno::EOPNOTSUPP
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::ClockNanosleep, &[77, 0, relative, 0]),
        Errno::EINVAL
    );
}

#[test]
fn futex_waits_time_out_and_wakes_find_nobody() {
    let mut harness = Harness::booted();
    let word = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, word, &5u32.to_le_bytes());
    let timeout = timespec(&mut harness, Pid::INIT, 0, 100);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Futex, &[word, 128, 6, timeout]),
        Errno::EAGAIN
    );
    let actions = harness.call(Pid::INIT, Syscall::Futex, &[word, 128, 5, timeout]);
    assert!(!answers(&actions, Pid::INIT));
    assert_eq!(
        answer(&harness.advance(100), Pid::INIT),
        Some(Err(Errno::ETIMEDOUT))
    );
    assert_eq!(harness.ok(Pid::INIT, Syscall::Futex, &[word, 129, 1]), 0);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Futex, &[word + 1, 128, 5, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Futex, &[16, 128, 5, 0]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Futex, &[word, 5, 0, 0]),
        Errno::ENOSYS
    );
}

#[test]
fn a_new_call_from_a_sleeping_process_drops_the_sleep() {
    let mut harness = Harness::booted();
    let request = timespec(&mut harness, Pid::INIT, 0, 1000);
    harness.call(Pid::INIT, Syscall::Nanosleep, &[request, 0]);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Getpid, &[]), 1);
    assert_eq!(harness.server.next_deadline(), None);
    assert!(!answers(&harness.advance(5000), Pid::INIT));
}

#[test]
fn timespecs_convert_to_nanoseconds_and_back() {
    let time = Timespec {
        seconds: 3,
        nanoseconds: 7,
    };
    assert_eq!(
        Nanoseconds::from_timespec(time),
        Some(Nanoseconds(3_000_000_007))
    );
    assert_eq!(Nanoseconds(3_000_000_007).to_timespec(), time);
    let huge = Timespec {
        seconds: i64::MAX,
        nanoseconds: 999_999_999,
    };
    assert_eq!(
        Nanoseconds::from_timespec(huge),
        Some(Nanoseconds(u64::MAX)),
        "saturates"
    );
    let negative = Timespec {
        seconds: 0,
        nanoseconds: -1,
    };
    assert_eq!(Nanoseconds::from_timespec(negative), None);
}
