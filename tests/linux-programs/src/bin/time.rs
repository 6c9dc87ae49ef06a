//! time: clock_gettime (monotonic, realtime, boot time), clock_getres and nanosleep, with
//! their errors.

#![no_main]

use std::ffi::{c_char, c_int};

use linux_programs::*;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    let mut checks = Checks::new("time");
    clocks(&mut checks);
    sleeping(&mut checks);
    checks.finish()
}

fn zero() -> libc::timespec {
    libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    }
}

fn nanoseconds(time: &libc::timespec) -> i128 {
    i128::from(time.tv_sec) * 1_000_000_000 + i128::from(time.tv_nsec)
}

fn now(clock: libc::clockid_t) -> Option<libc::timespec> {
    let mut time = zero();
    (clock_gettime(clock, Out::To(&mut time)) == 0).then_some(time)
}

fn clocks(checks: &mut Checks) {
    for (name, clock) in [
        ("CLOCK_MONOTONIC", libc::CLOCK_MONOTONIC),
        ("CLOCK_REALTIME", libc::CLOCK_REALTIME),
        ("CLOCK_BOOTTIME", libc::CLOCK_BOOTTIME),
    ] {
        let time = now(clock);
        checks.check(
            &format!("clock_gettime {name}"),
            time.is_some(),
            String::new,
        );
        let normalised =
            time.is_some_and(|time| (0..1_000_000_000).contains(&time.tv_nsec) && time.tv_sec >= 0);
        checks.check(
            &format!("{name}: nanoseconds below one second"),
            normalised,
            || format!("{time:?}"),
        );
        let mut resolution = zero();
        checks.equal(
            &format!("clock_getres {name}"),
            clock_getres(clock, Out::To(&mut resolution)),
            0,
        );
        let fine = resolution.tv_sec == 0 && (1..=10_000_000).contains(&resolution.tv_nsec);
        checks.check(
            &format!("{name}: resolution between 1 ns and 10 ms"),
            fine,
            || format!("{resolution:?}"),
        );
    }
    let earlier = now(libc::CLOCK_MONOTONIC);
    let mut increasing = true;
    let mut previous = earlier.map_or(0, |time| nanoseconds(&time));
    for _ in 0..1000 {
        let current = now(libc::CLOCK_MONOTONIC).map_or(0, |time| nanoseconds(&time));
        increasing &= current >= previous;
        previous = current;
    }
    checks.check(
        "CLOCK_MONOTONIC never goes back over 1000 readings",
        increasing,
        String::new,
    );
    let mut time = zero();
    checks.fails_with(
        "clock_gettime of an unknown clock",
        clock_gettime(12345, Out::To(&mut time)),
        libc::EINVAL,
    );
    checks.fails_with(
        "clock_gettime into the null page",
        clock_gettime(libc::CLOCK_MONOTONIC, Out::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
    checks.fails_with(
        "clock_gettime into the kernel half",
        clock_gettime(libc::CLOCK_REALTIME, Out::Bad(Bad::KernelHalf)),
        libc::EFAULT,
    );
    checks.fails_with(
        "clock_getres of an unknown clock",
        clock_getres(12345, Out::To(&mut time)),
        libc::EINVAL,
    );
    checks.equal(
        "clock_getres without a result pointer",
        clock_getres(libc::CLOCK_MONOTONIC, Out::Absent),
        0,
    );
}

fn sleeping(checks: &mut Checks) {
    let duration = libc::timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    let before = now(libc::CLOCK_MONOTONIC).map_or(0, |time| nanoseconds(&time));
    let wall_before = now(libc::CLOCK_REALTIME).map_or(0, |time| nanoseconds(&time));
    let mut remaining = zero();
    checks.equal(
        "nanosleep 50 ms",
        nanosleep(In::From(&duration), Out::To(&mut remaining)),
        0,
    );
    let after = now(libc::CLOCK_MONOTONIC).map_or(0, |time| nanoseconds(&time));
    let wall_after = now(libc::CLOCK_REALTIME).map_or(0, |time| nanoseconds(&time));
    let slept = after - before;
    // (Where the wall clock starts is the machine's business: no RTC means 1970, on Linux
    // too. It advances, though, unless someone sets it, which nothing here does.)
    checks.check(
        "CLOCK_REALTIME advances across the sleep",
        wall_after - wall_before >= 50_000_000,
        || format!("{} ns", wall_after - wall_before),
    );
    checks.check(
        "nanosleep sleeps at least as long as asked",
        slept >= 50_000_000,
        || format!("{slept} ns"),
    );
    checks.check(
        "nanosleep 50 ms returns within 5 s",
        slept < 5_000_000_000,
        || format!("{slept} ns"),
    );
    checks.equal(
        "nanosleep without a remaining-time pointer",
        nanosleep(In::From(&zero()), Out::Absent),
        0,
    );
    let too_many = libc::timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000_000,
    };
    checks.fails_with(
        "nanosleep with a billion nanoseconds",
        nanosleep(In::From(&too_many), Out::Absent),
        libc::EINVAL,
    );
    let negative = libc::timespec {
        tv_sec: -1,
        tv_nsec: 0,
    };
    checks.fails_with(
        "nanosleep with negative seconds",
        nanosleep(In::From(&negative), Out::Absent),
        libc::EINVAL,
    );
    checks.fails_with(
        "nanosleep from the null page",
        nanosleep(In::Bad(Bad::NullPage), Out::Absent),
        libc::EFAULT,
    );
}
