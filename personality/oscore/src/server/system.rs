//! The calls about the system rather than a file or the memory: `uname`, `getrandom`,
//! `reboot`, resource limits, credentials, CPU affinity, the robust-futex list and the
//! futex operations a single-threaded process can make.
//!
//! Every process has one thread and runs as root (uid and gid 0, no supplementary groups).
//! So a futex can only be woken by another thread of the same process, which does not
//! exist: `FUTEX_WAKE` wakes nobody (0) and a `FUTEX_WAIT` whose word holds the expected
//! value waits for its timeout, or forever, exactly as Linux would let it. Futexes shared
//! between processes through `MAP_SHARED` memory are not supported (their waits also wait
//! for the timeout).

use linux_abi::errno::Errno;
use linux_abi::layout::{Rlimit, Timespec};
use linux_abi::process::{GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM, RLIM_NLIMITS, RLIMIT_NOFILE};

use super::io::copy_out;
use super::record::ParkedCall;
use super::{Action, Actions, CallResult, Completion, Nanoseconds, Server, running};
use crate::memory::Frames;
use crate::memory::exec::Credentials;
use crate::process::Pid;

/// `LINUX_REBOOT_MAGIC1`.
const REBOOT_MAGIC: u32 = 0xfee1_dead;
/// The four accepted second magic numbers (`LINUX_REBOOT_MAGIC2`, `2A`, `2B`, `2C`).
const REBOOT_MAGIC_2: [u32; 4] = [672_274_793, 85_072_278, 369_367_448, 537_993_216];
/// `LINUX_REBOOT_CMD_RESTART`.
pub const REBOOT_RESTART: u32 = 0x0123_4567;
/// `LINUX_REBOOT_CMD_HALT`.
pub const REBOOT_HALT: u32 = 0xCDEF_0123;
/// `LINUX_REBOOT_CMD_CAD_ON`: Ctrl-Alt-Del reboots.
pub const REBOOT_CAD_ON: u32 = 0x89AB_CDEF;
/// `LINUX_REBOOT_CMD_CAD_OFF`: Ctrl-Alt-Del signals init.
pub const REBOOT_CAD_OFF: u32 = 0;
/// `LINUX_REBOOT_CMD_POWER_OFF`.
pub const REBOOT_POWER_OFF: u32 = 0x4321_FEDC;
/// `LINUX_REBOOT_CMD_RESTART2`.
pub const REBOOT_RESTART2: u32 = 0xA1B2_C3D4;

/// The most bytes one `getrandom` returns (Linux's limit, `(32 MiB - 1)`).
const RANDOM_LIMIT: u64 = (32 << 20) - 1;

/// Bytes of random stream produced per step.
const RANDOM_STEP: usize = 4096;

/// Linux's `fs.nr_open`: the hard `RLIMIT_NOFILE` cannot exceed it.
const DESCRIPTOR_CEILING: u64 = 1 << 20;

/// The length of `struct robust_list_head`.
const ROBUST_LIST_HEAD_SIZE: u64 = 24;

/// `FUTEX_WAIT`.
const FUTEX_WAIT: u32 = 0;
/// `FUTEX_WAKE`.
const FUTEX_WAKE: u32 = 1;
/// `FUTEX_WAIT_BITSET`.
const FUTEX_WAIT_BITSET: u32 = 9;
/// `FUTEX_WAKE_BITSET`.
const FUTEX_WAKE_BITSET: u32 = 10;
/// `FUTEX_PRIVATE_FLAG`.
const FUTEX_PRIVATE_FLAG: u32 = 128;
/// `FUTEX_CLOCK_REALTIME`.
const FUTEX_CLOCK_REALTIME: u32 = 256;

impl<F: Frames> Server<F> {
    /// `uname(buffer)`.
    pub(super) fn uname(&mut self, pid: Pid, address: u64) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        process
            .space
            .write(&mut self.frames, address, &self.config.uname.to_bytes())?;
        Ok(0)
    }

    /// `getrandom(buffer, length, flags)`: bytes of the ChaCha20 stream (never blocks:
    /// the stream is ready from boot).
    pub(super) fn getrandom(
        &mut self,
        pid: Pid,
        address: u64,
        length: u64,
        flags: u32,
    ) -> Result<u64, Errno> {
        if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
            || flags & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE
        {
            return Err(Errno::EINVAL);
        }
        let process = running(&mut self.processes, pid)?;
        let length = length.min(RANDOM_LIMIT);
        let mut step = [0u8; RANDOM_STEP];
        let mut done = 0u64;
        while done < length {
            let count = (length - done).min(RANDOM_STEP as u64) as usize;
            let bytes = step.get_mut(..count).unwrap_or(&mut []);
            self.random.fill(bytes);
            let at = address.checked_add(done).ok_or(Errno::EFAULT)?;
            let (arrived, fault) = copy_out(&mut process.space, &mut self.frames, at, bytes);
            done += arrived as u64;
            if let Some(error) = fault {
                return if done > 0 { Ok(done) } else { Err(error) };
            }
        }
        Ok(done)
    }

    /// `reboot(magic, magic2, command, argument)`: power-off and halt power the machine
    /// off, restart restarts it (no answer either way), the Ctrl-Alt-Del settings are
    /// accepted; everything else is `EINVAL`, as on a kernel without hibernation or kexec.
    pub(super) fn reboot(
        &mut self,
        magic: i32,
        magic_2: i32,
        command: u32,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        if magic as u32 != REBOOT_MAGIC || !REBOOT_MAGIC_2.contains(&(magic_2 as u32)) {
            return Err(Errno::EINVAL);
        }
        match command {
            REBOOT_POWER_OFF | REBOOT_HALT => {
                actions.push(Action::PowerOff);
                Ok(Completion::NoAnswer)
            }
            REBOOT_RESTART | REBOOT_RESTART2 => {
                actions.push(Action::Restart);
                Ok(Completion::NoAnswer)
            }
            REBOOT_CAD_ON | REBOOT_CAD_OFF => Ok(Completion::Value(0)),
            _ => Err(Errno::EINVAL),
        }
    }

    /// `prlimit64(pid, resource, new, old)` for `caller`; `getrlimit` and `setrlimit` are
    /// this with pid 0 and one of the pointers null. The new limit applies at once:
    /// `RLIMIT_STACK` and `RLIMIT_DATA` to the address space, `RLIMIT_NOFILE` to the
    /// descriptor table.
    pub(super) fn prlimit64(
        &mut self,
        caller: Pid,
        target: i32,
        resource: u32,
        new_address: u64,
        old_address: u64,
    ) -> Result<u64, Errno> {
        let new = if new_address == 0 {
            None
        } else {
            let process = running(&mut self.processes, caller)?;
            let bytes = process.space.read_array(&mut self.frames, new_address)?;
            Some(Rlimit::from_bytes(&bytes))
        };
        let target = if target == 0 {
            caller
        } else {
            Pid::new(target).ok_or(Errno::ESRCH)?
        };
        let process = running(&mut self.processes, target)?;
        if resource >= RLIM_NLIMITS {
            return Err(Errno::EINVAL);
        }
        if let Some(new) = new {
            if new.current > new.maximum {
                return Err(Errno::EINVAL);
            }
            if resource == RLIMIT_NOFILE && new.maximum > DESCRIPTOR_CEILING {
                return Err(Errno::EPERM);
            }
        }
        let old = process.limits.get(resource).ok_or(Errno::EINVAL)?;
        if let Some(new) = new {
            process.limits.set(resource, new);
            process.space.set_limits(process.limits.memory());
            if resource == RLIMIT_NOFILE {
                // At most 2^20, checked above.
                let limit = usize::try_from(new.current).map_err(|_| Errno::EPERM)?;
                process.descriptors.set_limit(limit)?;
            }
        }
        if old_address != 0 {
            let process = running(&mut self.processes, caller)?;
            process
                .space
                .write(&mut self.frames, old_address, &old.to_bytes())?;
        }
        Ok(0)
    }

    /// `getrlimit(resource, limit)`: `prlimit64` of the caller, where a null pointer is a
    /// fault rather than "not asked".
    pub(super) fn getrlimit(
        &mut self,
        pid: Pid,
        resource: u32,
        address: u64,
    ) -> Result<u64, Errno> {
        if address == 0 {
            return Err(Errno::EFAULT);
        }
        self.prlimit64(pid, 0, resource, 0, address)
    }

    /// `setrlimit(resource, limit)`, likewise.
    pub(super) fn setrlimit(
        &mut self,
        pid: Pid,
        resource: u32,
        address: u64,
    ) -> Result<u64, Errno> {
        if address == 0 {
            return Err(Errno::EFAULT);
        }
        self.prlimit64(pid, 0, resource, address, 0)
    }

    /// `getuid`, `geteuid`, `getgid`, `getegid`: the field `field` chooses.
    pub(super) fn credential(
        &mut self,
        pid: Pid,
        field: impl Fn(&Credentials) -> u32,
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        Ok(u64::from(field(&process.credentials)))
    }

    /// `getresuid(ruid, euid, suid)` and `getresgid`: the three ids `ids` chooses (the
    /// saved id is the real one: no process changes its ids yet).
    pub(super) fn getresid(
        &mut self,
        pid: Pid,
        addresses: &[u64; 6],
        ids: impl Fn(&Credentials) -> [u32; 3],
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        let values = ids(&process.credentials);
        for (&address, value) in addresses.iter().zip(values) {
            process.space.write_u32(&mut self.frames, address, value)?;
        }
        Ok(0)
    }

    /// `getgroups(size, list)`: no supplementary groups.
    pub(super) fn getgroups(&mut self, size: i32) -> Result<u64, Errno> {
        if size < 0 {
            return Err(Errno::EINVAL);
        }
        Ok(0)
    }

    /// `sched_getaffinity(pid, size, mask)`: CPUs 0 to `cpu_count - 1`, in a mask of one
    /// `unsigned long` (the kernel's mask size while there are at most 64 CPUs).
    pub(super) fn sched_getaffinity(
        &mut self,
        pid: Pid,
        target: i32,
        size: u64,
        address: u64,
    ) -> Result<u64, Errno> {
        const MASK_BYTES: u64 = 8;
        let cpus = self.config.cpu_count.clamp(1, 64);
        if size.saturating_mul(8) < u64::from(cpus) || !size.is_multiple_of(MASK_BYTES) {
            return Err(Errno::EINVAL);
        }
        let target = if target == 0 {
            pid
        } else {
            Pid::new(target).ok_or(Errno::ESRCH)?
        };
        running(&mut self.processes, target)?;
        let mask = u64::MAX >> (64 - cpus);
        let process = running(&mut self.processes, pid)?;
        process.space.write_u64(&mut self.frames, address, mask)?;
        Ok(MASK_BYTES)
    }

    /// `set_robust_list(head, length)`: recorded.
    pub(super) fn set_robust_list(
        &mut self,
        pid: Pid,
        head: u64,
        length: u64,
    ) -> Result<u64, Errno> {
        if length != ROBUST_LIST_HEAD_SIZE {
            return Err(Errno::EINVAL);
        }
        running(&mut self.processes, pid)?.robust_list = head;
        Ok(0)
    }

    /// `futex(address, operation, value, timeout, address2, value3)`: the wait and wake
    /// operations, as the module documentation describes; others are `ENOSYS`.
    pub(super) fn futex(&mut self, pid: Pid, arguments: &[u64; 6]) -> CallResult {
        let [address, operation, value, timeout_address, _, bitset] = *arguments;
        let operation = operation as u32;
        let command = operation & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
        let waits = match command {
            FUTEX_WAIT | FUTEX_WAIT_BITSET => true,
            FUTEX_WAKE | FUTEX_WAKE_BITSET => false,
            _ => return Err(Errno::ENOSYS),
        };
        if operation & FUTEX_CLOCK_REALTIME != 0 && command != FUTEX_WAIT_BITSET {
            return Err(Errno::ENOSYS);
        }
        let process = running(&mut self.processes, pid)?;
        let deadline = if waits && timeout_address != 0 {
            let bytes = process
                .space
                .read_array(&mut self.frames, timeout_address)?;
            let time =
                Nanoseconds::from_timespec(Timespec::from_bytes(&bytes)).ok_or(Errno::EINVAL)?;
            Some(match command {
                // FUTEX_WAIT's timeout is relative; FUTEX_WAIT_BITSET's absolute.
                FUTEX_WAIT => self.now.saturating_add(time),
                _ if operation & FUTEX_CLOCK_REALTIME != 0 => {
                    time.saturating_sub(self.config.wall_clock_at_start)
                }
                _ => time,
            })
        } else {
            None
        };
        if (command == FUTEX_WAIT_BITSET || command == FUTEX_WAKE_BITSET) && bitset as u32 == 0 {
            return Err(Errno::EINVAL);
        }
        if !address.is_multiple_of(4) {
            return Err(Errno::EINVAL);
        }
        if !waits {
            // A private wake looks at no memory; there is no other thread to wake.
            return Ok(Completion::Value(0));
        }
        let word = process.space.read_u32(&mut self.frames, address)?;
        if word != value as u32 {
            return Err(Errno::EAGAIN);
        }
        match deadline {
            Some(deadline) if deadline <= self.now => Err(Errno::ETIMEDOUT),
            deadline => Ok(Completion::Park(ParkedCall::FutexWait { deadline })),
        }
    }
}
