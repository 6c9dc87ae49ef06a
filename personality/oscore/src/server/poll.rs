//! `ppoll`: which descriptors are ready, waiting until one is or the timeout ends.
//!
//! busybox's line editor polls standard input before every key, so this is what an
//! interactive shell waits in. Readiness follows Linux: files without a poll method
//! (regular files, directories, `/dev/null`, `/dev/zero`) are always readable and writable;
//! the console is readable when the line discipline says a read would not block and
//! writable unless output is stopped; a pipe's read end is readable when bytes are buffered
//! and hung up (`POLLHUP`) when no writer is left, its write end writable when a
//! `PIPE_BUF` write would not wait and in error (`POLLERR`) when no reader is left; a
//! closed or `O_PATH` descriptor is `POLLNVAL`. A poll with nothing ready parks and is
//! re-evaluated when console input arrives, output resumes or a pipe changes, and answers
//! 0 at its deadline; the time left is written back to the timeout,
//! as Linux's `ppoll` does. The signal mask argument is checked and read but has no effect,
//! since signals are not delivered yet.

use linux_abi::errno::Errno;
use linux_abi::layout::Timespec;
use linux_abi::process::RLIMIT_NOFILE;
use linux_abi::signal::SignalSet;

use super::record::ParkedCall;
use super::{CallResult, Completion, Nanoseconds, Server, running};
use crate::memory::Frames;
use crate::process::Pid;

/// `POLLIN`: there is data to read.
pub const POLLIN: u16 = 0x1;
/// `POLLOUT`: writing would not block.
pub const POLLOUT: u16 = 0x4;
/// `POLLERR`: an error condition (always reported).
pub const POLLERR: u16 = 0x8;
/// `POLLHUP`: hung up (always reported).
pub const POLLHUP: u16 = 0x10;
/// `POLLNVAL`: the descriptor is not open.
pub const POLLNVAL: u16 = 0x20;
/// `POLLRDNORM`: normal data to read.
pub const POLLRDNORM: u16 = 0x40;
/// `POLLWRNORM`: normal data may be written.
pub const POLLWRNORM: u16 = 0x100;

/// Readiness of a file without a poll method (Linux's `DEFAULT_POLLMASK`).
const ALWAYS_READY: u16 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

/// The size of `struct pollfd`: `int fd; short events; short revents;`.
const POLLFD_SIZE: usize = 8;

/// Entries of the client's array handled at a time.
const POLL_BATCH: usize = 256;

/// What a pass over the array does besides counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PollPass {
    /// Count the ready entries.
    Count,
    /// Count them and write their `revents` back.
    WriteBack,
}

impl<F: Frames> Server<F> {
    /// `ppoll(fds, count, timeout, sigmask, sigsetsize)`.
    pub(super) fn ppoll(
        &mut self,
        pid: Pid,
        descriptors: u64,
        count: u64,
        timeout_address: u64,
        signal_mask: u64,
        signal_set_size: u64,
    ) -> CallResult {
        let process = running(&mut self.processes, pid)?;
        let deadline = if timeout_address == 0 {
            None
        } else {
            let bytes = process
                .space
                .read_array(&mut self.frames, timeout_address)?;
            let timeout =
                Nanoseconds::from_timespec(Timespec::from_bytes(&bytes)).ok_or(Errno::EINVAL)?;
            Some(self.now.saturating_add(timeout))
        };
        if signal_mask != 0 {
            if signal_set_size != SignalSet::SIZE {
                return Err(Errno::EINVAL);
            }
            process.space.read_u64(&mut self.frames, signal_mask)?;
        }
        let limit = process
            .limits
            .get(RLIMIT_NOFILE)
            .map_or(0, |limit| limit.current);
        if count > limit {
            return Err(Errno::EINVAL);
        }
        // Below RLIMIT_NOFILE, which setrlimit keeps at most 2^20.
        let count = usize::try_from(count).map_err(|_| Errno::EINVAL)?;
        self.poll_again(pid, descriptors, count, timeout_address, deadline, false)
    }

    /// Evaluates a poll: answers with the number of ready descriptors when there are some,
    /// when the deadline has come or when `timed_out`; parks it otherwise.
    ///
    /// The array is read in batches of [`POLL_BATCH`] entries, so the server's memory use
    /// does not grow with the client's `nfds` (up to `RLIMIT_NOFILE`, 2^20): a first pass
    /// counts the ready entries, and only an answer writes them back, in a second pass.
    pub(super) fn poll_again(
        &mut self,
        pid: Pid,
        descriptors: u64,
        count: usize,
        timeout_address: u64,
        deadline: Option<Nanoseconds>,
        timed_out: bool,
    ) -> CallResult {
        let ready = self.poll_pass(pid, descriptors, count, PollPass::Count)?;
        let expired = timed_out || deadline.is_some_and(|deadline| deadline <= self.now);
        if ready == 0 && !expired {
            return Ok(Completion::Park(ParkedCall::Poll {
                descriptors,
                count,
                timeout_address,
                deadline,
            }));
        }
        self.poll_pass(pid, descriptors, count, PollPass::WriteBack)?;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_sub(self.now).to_timespec();
            let process = running(&mut self.processes, pid)?;
            // Linux ignores a timeout it cannot update.
            let _ = process
                .space
                .write(&mut self.frames, timeout_address, &left.to_bytes());
        }
        Ok(Completion::Value(ready))
    }

    /// One pass over the `struct pollfd` array: the number of ready entries, and with
    /// [`PollPass::WriteBack`] their `revents` stored.
    fn poll_pass(
        &mut self,
        pid: Pid,
        descriptors: u64,
        count: usize,
        pass: PollPass,
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        let mut batch = [0u8; POLL_BATCH * POLLFD_SIZE];
        let mut ready = 0u64;
        let mut done = 0usize;
        while done < count {
            let entries = (count - done).min(POLL_BATCH);
            let bytes = batch.get_mut(..entries * POLLFD_SIZE).unwrap_or(&mut []);
            // Saturates; an address past the end of the user range fails the read.
            let address = descriptors.saturating_add((done * POLLFD_SIZE) as u64);
            process.space.read(&mut self.frames, address, bytes)?;
            for entry in bytes.chunks_exact_mut(POLLFD_SIZE) {
                let fd = i32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
                let events = u16::from_le_bytes([entry[4], entry[5]]);
                let revents = if fd < 0 {
                    0
                } else {
                    match process.descriptors.get(fd) {
                        Err(_) => POLLNVAL,
                        Ok(description) if description.is_path_only() => POLLNVAL,
                        Ok(description) if description.pipe().is_some() => {
                            let state = description
                                .pipe()
                                .map(|pipe| pipe.poll())
                                .unwrap_or_default();
                            let mut ready = 0;
                            if state.readable {
                                ready |= POLLIN | POLLRDNORM;
                            }
                            if state.hung_up {
                                ready |= POLLHUP;
                            }
                            if state.writable {
                                ready |= POLLOUT | POLLWRNORM;
                            }
                            if state.broken {
                                ready |= POLLERR;
                            }
                            ready & (events | POLLERR | POLLHUP)
                        }
                        Ok(description) if description.terminal().is_some() => {
                            let readable = if self.tty.poll_readable() {
                                POLLIN | POLLRDNORM
                            } else {
                                0
                            };
                            let writable = if self.tty.is_output_stopped() {
                                0
                            } else {
                                POLLOUT | POLLWRNORM
                            };
                            (readable | writable) & (events | POLLERR | POLLHUP)
                        }
                        Ok(_) => ALWAYS_READY & (events | POLLERR | POLLHUP),
                    }
                };
                entry[6..8].copy_from_slice(&revents.to_le_bytes());
                if revents != 0 {
                    ready += 1;
                }
            }
            if pass == PollPass::WriteBack {
                process.space.write(&mut self.frames, address, bytes)?;
            }
            done += entries;
        }
        Ok(ready)
    }
}
