//! What processes and the system used: `getrusage`, `times`, the resource usage `wait4`
//! reports, `sysinfo`, and the load average behind it.
//!
//! The server sees every system call and page fault but not the CPU, so it reports what it
//! knows (see [`Accounting`]): CPU time is the time a process did not wait in a system call,
//! all of it reported as user time; minor faults are the page faults the server answered;
//! voluntary context switches are the waits in system calls; the peak resident set is the
//! most pages a process had mapped. What Linux would count and the server cannot see
//! (involuntary switches, time spent preempted) reads as zero, as do the counters Linux
//! keeps at zero (`ru_ixrss`, `ru_msgsnd`...) and those of absent hardware (block I/O,
//! swap). A child's usage, its own reaped children's included, goes to its parent when the
//! parent reaps it, as Linux's `wait_task_zombie` adds it; children reaped automatically
//! (`SIGCHLD` ignored) are not added, as on Linux.
//!
//! The load average is Linux's (`kernel/sched/loadavg.c`): every five seconds the number of
//! active processes (running ones that do not wait in a call) is folded into three
//! exponentially decaying averages in 11-bit fixed point. The server samples when it next
//! handles an event, with the count as it stood since the last event, which is what the
//! count was at the sampling time.

use linux_abi::errno::Errno;

use super::record::{Accounting, Usage};
use super::{Nanoseconds, Server, running};
use crate::memory::{Frames, PAGE_SIZE};
use crate::process::Pid;

/// `RUSAGE_SELF`.
const RUSAGE_SELF: i32 = 0;
/// `RUSAGE_CHILDREN`.
const RUSAGE_CHILDREN: i32 = -1;
/// `RUSAGE_THREAD`: the calling thread, which is the whole process here.
const RUSAGE_THREAD: i32 = 1;

/// The size of `struct rusage` on a 64-bit kernel: two `timeval`s and fourteen longs.
pub(super) const RUSAGE_SIZE: usize = 144;

/// The size of `struct tms`: four `clock_t`s.
const TMS_SIZE: usize = 32;

/// The size of `struct sysinfo` on a 64-bit kernel.
const SYSINFO_SIZE: usize = 112;

/// `USER_HZ`: the unit of `clock_t`, ticks per second.
const USER_HZ: u64 = 100;

/// `FSHIFT`: the load averages' fixed-point fraction bits.
const FIXED_SHIFT: u32 = 11;
/// `FIXED_1`: 1.0 in that fixed point.
const FIXED_ONE: u64 = 1 << FIXED_SHIFT;
/// `EXP_1`, `EXP_5`, `EXP_15`: the decay per sample of the 1, 5 and 15 minute averages.
const DECAY: [u64; 3] = [1884, 2014, 2037];
/// `LOAD_FREQ`: five seconds between samples.
const LOAD_INTERVAL: Nanoseconds = Nanoseconds(5 * Nanoseconds::PER_SECOND);
/// `SI_LOAD_SHIFT`: `sysinfo` reports loads with 16 fraction bits.
const SYSINFO_LOAD_SHIFT: u32 = 16;
/// After this many missed samples the averages have converged to the active count (the
/// 15-minute decay leaves less than 2^-20 of the old value after 600 samples).
const SAMPLE_CATCH_UP_LIMIT: u64 = 1024;

/// Linux's three load averages, in 11-bit fixed point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct LoadAverage {
    /// The 1, 5 and 15 minute averages.
    averages: [u64; 3],
    /// When the next sample is due.
    next_sample: Nanoseconds,
}

impl LoadAverage {
    /// Averages of zero, with the first sample five seconds after `now`.
    pub(super) fn new(now: Nanoseconds) -> LoadAverage {
        LoadAverage {
            averages: [0; 3],
            next_sample: now.saturating_add(LOAD_INTERVAL),
        }
    }

    /// Whether a sample is due at `now`.
    pub(super) fn is_due(&self, now: Nanoseconds) -> bool {
        now >= self.next_sample
    }

    /// Takes the samples due up to `now`, during all of which `active` processes were
    /// active.
    pub(super) fn sample(&mut self, now: Nanoseconds, active: u64) {
        if !self.is_due(now) {
            return;
        }
        let due = (now.0 - self.next_sample.0) / LOAD_INTERVAL.0 + 1;
        let active = active.saturating_mul(FIXED_ONE);
        for _ in 0..due.min(SAMPLE_CATCH_UP_LIMIT) {
            for (average, decay) in self.averages.iter_mut().zip(DECAY) {
                *average = fold(*average, decay, active);
            }
        }
        let advance = due.saturating_mul(LOAD_INTERVAL.0);
        self.next_sample = self.next_sample.saturating_add(Nanoseconds(advance));
    }

    /// The averages as `sysinfo` reports them (16 fraction bits).
    fn for_sysinfo(&self) -> [u64; 3] {
        self.averages
            .map(|average| average << (SYSINFO_LOAD_SHIFT - FIXED_SHIFT))
    }
}

/// Linux's `calc_load`: one sample of `active` (fixed point) folded into `load` with
/// `decay`, rounding up while the load rises.
fn fold(load: u64, decay: u64, active: u64) -> u64 {
    let mut folded = load
        .saturating_mul(decay)
        .saturating_add(active.saturating_mul(FIXED_ONE - decay));
    if active >= load {
        folded = folded.saturating_add(FIXED_ONE - 1);
    }
    folded / FIXED_ONE
}

/// `duration` in `clock_t` ticks.
fn ticks(duration: Nanoseconds) -> u64 {
    duration.0 / (Nanoseconds::PER_SECOND / USER_HZ)
}

/// `duration` as a `struct timeval`.
fn timeval(duration: Nanoseconds) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    let seconds = duration.0 / Nanoseconds::PER_SECOND;
    let microseconds = duration.0 % Nanoseconds::PER_SECOND / 1000;
    bytes[..8].copy_from_slice(&seconds.to_le_bytes());
    bytes[8..].copy_from_slice(&microseconds.to_le_bytes());
    bytes
}

/// `usage` as a `struct rusage`.
pub(super) fn rusage_bytes(usage: &Usage) -> [u8; RUSAGE_SIZE] {
    let mut bytes = [0u8; RUSAGE_SIZE];
    bytes[..16].copy_from_slice(&timeval(usage.cpu_time));
    // ru_stime stays zero: the server cannot tell system time from user time.
    let longs = [
        // ru_maxrss, in KiB.
        (
            2,
            usage.peak_resident_pages.saturating_mul(PAGE_SIZE / 1024),
        ),
        // ru_minflt.
        (6, usage.minor_faults),
        // ru_nvcsw.
        (14, usage.voluntary_switches),
    ];
    for (index, value) in longs {
        let at = 32 + 8 * (index - 2);
        if let Some(slot) = bytes.get_mut(at..at + 8) {
            slot.copy_from_slice(&value.to_le_bytes());
        }
    }
    bytes
}

impl<F: Frames> Server<F> {
    /// The usage of running process `pid` up to now, and its reaped children's.
    fn usage_of(&mut self, pid: Pid) -> Result<(Usage, Usage), Errno> {
        let now = self.now;
        let process = running(&mut self.processes, pid)?;
        let resident = process.space.resident_page_count();
        let accounting: &Accounting = &process.accounting;
        Ok((accounting.usage(now, resident), accounting.children))
    }

    /// The usage a process that is ending leaves for its parent: its own and its reaped
    /// children's.
    pub(super) fn final_usage(&mut self, pid: Pid) -> Option<Usage> {
        let (mut usage, children) = self.usage_of(pid).ok()?;
        usage.add(&children);
        Some(usage)
    }

    /// `getrusage(who, usage)`.
    pub(super) fn getrusage(&mut self, pid: Pid, who: i32, address: u64) -> Result<u64, Errno> {
        let (own, children) = self.usage_of(pid)?;
        let usage = match who {
            RUSAGE_SELF | RUSAGE_THREAD => own,
            RUSAGE_CHILDREN => children,
            _ => return Err(Errno::EINVAL),
        };
        let process = running(&mut self.processes, pid)?;
        process
            .space
            .write(&mut self.frames, address, &rusage_bytes(&usage))?;
        Ok(0)
    }

    /// `times(buffer)`: the caller's and its reaped children's CPU times in `clock_t`
    /// ticks (user time only, see the module documentation), and the ticks since the
    /// machine started. (Linux counts from `INITIAL_JIFFIES`, five minutes before its jiffy
    /// counter wraps, so only differences of the answer mean anything there either.)
    pub(super) fn times(&mut self, pid: Pid, address: u64) -> Result<u64, Errno> {
        let (own, children) = self.usage_of(pid)?;
        if address != 0 {
            let mut bytes = [0u8; TMS_SIZE];
            bytes[..8].copy_from_slice(&ticks(own.cpu_time).to_le_bytes());
            bytes[16..24].copy_from_slice(&ticks(children.cpu_time).to_le_bytes());
            let process = running(&mut self.processes, pid)?;
            process.space.write(&mut self.frames, address, &bytes)?;
        }
        Ok(ticks(self.now))
    }

    /// `sysinfo(info)`.
    pub(super) fn sysinfo(&mut self, pid: Pid, address: u64) -> Result<u64, Errno> {
        let mut bytes = [0u8; SYSINFO_SIZE];
        let mut put = |at: usize, value: u64| {
            if let Some(slot) = bytes.get_mut(at..at + 8) {
                slot.copy_from_slice(&value.to_le_bytes());
            }
        };
        // Whole seconds, rounded up as Linux rounds them.
        let uptime = self.now.0.div_ceil(Nanoseconds::PER_SECOND);
        put(0, uptime);
        for (index, load) in self.load.for_sysinfo().into_iter().enumerate() {
            put(8 + 8 * index, load);
        }
        let memory = self.frames.statistics();
        put(
            32,
            memory.map_or(0, |memory| memory.total.saturating_mul(PAGE_SIZE)),
        );
        put(
            40,
            memory.map_or(0, |memory| memory.free.saturating_mul(PAGE_SIZE)),
        );
        // sharedram, bufferram, totalswap, freeswap: no shared memory file system, no block
        // buffers, no swap.
        let processes = u16::try_from(self.processes.len()).unwrap_or(u16::MAX);
        if let Some(slot) = bytes.get_mut(80..82) {
            slot.copy_from_slice(&processes.to_le_bytes());
        }
        // totalhigh, freehigh: no high memory on a 64-bit machine. mem_unit: bytes.
        if let Some(slot) = bytes.get_mut(104..108) {
            slot.copy_from_slice(&1u32.to_le_bytes());
        }
        let process = running(&mut self.processes, pid)?;
        process.space.write(&mut self.frames, address, &bytes)?;
        Ok(0)
    }

    /// Takes the load samples due by now, with the processes active since the last event.
    /// Counting them is a walk over the processes, done only when a sample is due (every
    /// five seconds at most), not on every event.
    pub(super) fn sample_load(&mut self) {
        if !self.load.is_due(self.now) {
            return;
        }
        let active = self
            .processes
            .pids()
            .filter_map(|pid| self.processes.get(pid))
            .filter(|process| process.parked.is_none())
            .count();
        self.load.sample(self.now, active as u64);
    }
}
