//! Clocks and sleeping: `clock_gettime`, `clock_getres`, `gettimeofday`, `nanosleep`,
//! `clock_nanosleep`, and what happens when a parked call's time runs out.
//!
//! All time comes from the `now` of each event, which the glue reads from the generic
//! timer: the monotonic clocks (`MONOTONIC`, its `RAW` and `COARSE` forms, `BOOTTIME`; the
//! machine never suspends) are that value, the real-time clocks (`REALTIME`, `COARSE`,
//! `TAI` with Linux's default offset of 0) add [`super::Config::wall_clock_at_start`]. The
//! CPU-time clocks are approximated by the time since the process was created (fork or
//! init) less the time it waited in system calls (`record::Accounting`), an upper bound of
//! its CPU time, because the server does not see CPU time; they cannot be slept on
//! (`EINVAL`). A sleep parks the caller until its deadline, which
//! [`Server::next_deadline`](super::Server::next_deadline) gives the glue for its receive
//! timeout; nothing interrupts a sleep yet (no signal is delivered), so the remaining time
//! is never written back.

use linux_abi::errno::Errno;
use linux_abi::layout::{Timespec, Timeval};
use linux_abi::process::{
    CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW,
    CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_THREAD_CPUTIME_ID,
};

use super::record::ParkedCall;
use super::{CallResult, Completion, Nanoseconds, Server, running};
use crate::memory::Frames;
use crate::process::Pid;

/// `CLOCK_TAI`.
const CLOCK_TAI: u32 = 11;

/// `TIMER_ABSTIME`: `clock_nanosleep`'s time is a point, not a duration.
const TIMER_ABSTIME: u32 = 1;

/// The size of `struct timezone`, which `gettimeofday` fills with UTC (all zero).
const TIMEZONE_SIZE: usize = 8;

/// What a clock measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClockKind {
    /// Time since the machine started.
    Monotonic,
    /// Wall-clock time.
    RealTime,
    /// The calling process's CPU time (approximated).
    ProcessTime,
}

/// The kind of clock `clock`, or `EINVAL` for a clock Linux does not have (negative ids,
/// the CPU clocks of other processes, are not supported).
fn clock_kind(clock: u32) -> Result<ClockKind, Errno> {
    match clock {
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
            Ok(ClockKind::Monotonic)
        }
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_TAI => Ok(ClockKind::RealTime),
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => Ok(ClockKind::ProcessTime),
        _ => Err(Errno::EINVAL),
    }
}

impl<F: Frames> Server<F> {
    /// The value of `clock` for `pid`.
    fn clock_value(&mut self, pid: Pid, clock: u32) -> Result<Nanoseconds, Errno> {
        Ok(match clock_kind(clock)? {
            ClockKind::Monotonic => self.now,
            ClockKind::RealTime => self.config.wall_clock_at_start.saturating_add(self.now),
            ClockKind::ProcessTime => {
                let process = running(&mut self.processes, pid)?;
                process.accounting.cpu_time(self.now)
            }
        })
    }

    /// Copies `bytes` out to `address` in `pid`'s memory.
    fn put(&mut self, pid: Pid, address: u64, bytes: &[u8]) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        process.space.write(&mut self.frames, address, bytes)?;
        Ok(0)
    }

    /// Reads a `struct timespec` duration (`EFAULT`, `EINVAL`).
    fn duration_argument(&mut self, pid: Pid, address: u64) -> Result<Nanoseconds, Errno> {
        let process = running(&mut self.processes, pid)?;
        let bytes = process.space.read_array(&mut self.frames, address)?;
        Nanoseconds::from_timespec(Timespec::from_bytes(&bytes)).ok_or(Errno::EINVAL)
    }

    /// `clock_gettime(clock, timespec)`.
    pub(super) fn clock_gettime(
        &mut self,
        pid: Pid,
        clock: u32,
        address: u64,
    ) -> Result<u64, Errno> {
        let value = self.clock_value(pid, clock)?;
        self.put(pid, address, &value.to_timespec().to_bytes())
    }

    /// `clock_getres(clock, timespec)`: the configured resolution; a null pointer only
    /// checks the clock.
    pub(super) fn clock_getres(
        &mut self,
        pid: Pid,
        clock: u32,
        address: u64,
    ) -> Result<u64, Errno> {
        clock_kind(clock)?;
        if address == 0 {
            return Ok(0);
        }
        let resolution = self.config.clock_resolution.to_timespec();
        self.put(pid, address, &resolution.to_bytes())
    }

    /// `gettimeofday(timeval, timezone)`: real time in microseconds, and UTC.
    pub(super) fn gettimeofday(
        &mut self,
        pid: Pid,
        time_address: u64,
        zone_address: u64,
    ) -> Result<u64, Errno> {
        if time_address != 0 {
            let now = self.clock_value(pid, CLOCK_REALTIME)?.to_timespec();
            let time = Timeval {
                seconds: now.seconds,
                microseconds: now.nanoseconds / 1000,
            };
            self.put(pid, time_address, &time.to_bytes())?;
        }
        if zone_address != 0 {
            self.put(pid, zone_address, &[0; TIMEZONE_SIZE])?;
        }
        Ok(0)
    }

    /// `nanosleep(request, remaining)`.
    pub(super) fn nanosleep(&mut self, pid: Pid, request: u64) -> CallResult {
        let duration = self.duration_argument(pid, request)?;
        Ok(self.sleep_until(self.now.saturating_add(duration)))
    }

    /// `clock_nanosleep(clock, flags, request, remaining)`.
    pub(super) fn clock_nanosleep(
        &mut self,
        pid: Pid,
        clock: u32,
        flags: u32,
        request: u64,
    ) -> CallResult {
        let kind = match clock {
            CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_REALTIME_COARSE => {
                return Err(Errno::EOPNOTSUPP);
            }
            _ => clock_kind(clock)?,
        };
        let time = self.duration_argument(pid, request)?;
        let deadline = match (kind, flags & TIMER_ABSTIME != 0) {
            (ClockKind::ProcessTime, _) => return Err(Errno::EINVAL),
            (_, false) => self.now.saturating_add(time),
            (ClockKind::Monotonic, true) => time,
            (ClockKind::RealTime, true) => time.saturating_sub(self.config.wall_clock_at_start),
        };
        Ok(self.sleep_until(deadline))
    }

    /// A sleep until `deadline`: 0 at once when it has passed, else parked.
    fn sleep_until(&self, deadline: Nanoseconds) -> Completion {
        if deadline <= self.now {
            Completion::Value(0)
        } else {
            Completion::Park(ParkedCall::Sleep { deadline })
        }
    }

    /// The deadline of `pid`'s parked `call` passed: finish it.
    pub(super) fn time_out(&mut self, pid: Pid, call: ParkedCall) -> CallResult {
        match call {
            ParkedCall::Sleep { .. } => Ok(Completion::Value(0)),
            ParkedCall::FutexWait { .. } => Err(Errno::ETIMEDOUT),
            ParkedCall::ConsoleRead { fd, segments, .. } => {
                self.console_read(pid, fd, segments, None, true)
            }
            ParkedCall::Poll {
                descriptors,
                count,
                timeout_address,
                deadline,
            } => self.poll_again(pid, descriptors, count, timeout_address, deadline, true),
            other => Ok(Completion::Park(other)),
        }
    }
}
