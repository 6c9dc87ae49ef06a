//! Pipes as the dispatcher sees them: `pipe2`, reads and writes that may wait, and waking
//! the waiters when the other side acts.
//!
//! The VFS keeps the pipe (`vfs/pipe.rs`): bytes, capacity, and how many descriptions of
//! each end live. This file adds what needs client memory or parking, with Linux's
//! `fs/pipe.c` semantics:
//!
//! - A read returns what is buffered, up to the request; an empty pipe with a writer left
//!   parks the reader ([`ParkedCall::PipeRead`]; `O_NONBLOCK`: `EAGAIN`), and one with no
//!   writer left reads 0 (end of file).
//! - A write of at most `PIPE_BUF` bytes goes in whole or waits; a longer one puts in what
//!   fits and waits for room for the rest ([`ParkedCall::PipeWrite`] remembers how much
//!   went in), answering with the total once all went in. With `O_NONBLOCK` a write takes
//!   what fits now, or answers `EAGAIN` when nothing does.
//! - A write with no reader left sends `SIGPIPE` to the writer (which, at the default
//!   action, ends it: see `signals.rs`) and answers `EPIPE`, or the count written before
//!   the last reader went.
//! - A fault while copying out leaves the bytes that did not arrive in the pipe; a fault
//!   while copying in ends the write with what went in before it (`EFAULT` if nothing did),
//!   and an atomic write that faults puts nothing in.
//!
//! Waking: every change of any pipe counts in the VFS's [`pipe_activity`]; after each event
//! the server retries every call parked on pipes ([`Server::settle_pipes`]) until the
//! counter stands still. The changes include descriptions dropped by `close`, `dup3`,
//! `execve`'s close-on-exec and an exiting process, so the last writer or reader going wakes
//! the other side however it went. Retrying every pipe waiter rather than the waiters of one
//! pipe keeps no list of waiters per pipe to go stale; the waiters are few (one per blocked
//! process), and each retry that cannot go on parks again without counting a change, so the
//! loop ends.
//!
//! [`pipe_activity`]: crate::vfs::Vfs::pipe_activity

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;

use linux_abi::errno::Errno;
use linux_abi::signal::Signal;

use super::io::{copy_in, copy_out, total_length};
use super::record::{ParkedCall, Segment};
use super::{Actions, CallResult, Completion, Server, running};
use crate::memory::{AddressSpace, Frames};
use crate::process::Pid;
use crate::vfs::{PIPE_BUF, PipeReadiness, PipeRoom};

/// Copies client memory into `buffer` from `segments`, starting `skip` bytes into them:
/// how many bytes came, and the error if a fault stopped the copy.
fn gather<F: Frames>(
    space: &mut AddressSpace<F::Frame>,
    frames: &mut F,
    segments: &[Segment],
    skip: u64,
    buffer: &mut [u8],
) -> (usize, Option<Errno>) {
    let mut skip = skip;
    let mut done = 0usize;
    for segment in segments {
        if done == buffer.len() {
            break;
        }
        if skip >= segment.length {
            skip -= segment.length;
            continue;
        }
        let available = segment.length - skip;
        let target = buffer.get_mut(done..).unwrap_or(&mut []);
        let length = target
            .len()
            .min(usize::try_from(available).unwrap_or(usize::MAX));
        let piece = target.get_mut(..length).unwrap_or(&mut []);
        // The range was checked against the user range, so this does not overflow.
        let address = segment.address.saturating_add(skip);
        let (came, fault) = copy_in(space, frames, address, piece);
        done += came;
        if fault.is_some() {
            return (done, fault);
        }
        skip = 0;
    }
    (done, None)
}

/// Copies `data` to client memory across `segments`: how many bytes arrived, and the error
/// if a fault stopped the copy.
fn scatter<F: Frames>(
    space: &mut AddressSpace<F::Frame>,
    frames: &mut F,
    segments: &[Segment],
    data: &[u8],
) -> (usize, Option<Errno>) {
    let mut done = 0usize;
    for segment in segments {
        if done == data.len() {
            break;
        }
        let rest = data.get(done..).unwrap_or(&[]);
        let length = rest
            .len()
            .min(usize::try_from(segment.length).unwrap_or(usize::MAX));
        let piece = rest.get(..length).unwrap_or(&[]);
        let (arrived, fault) = copy_out(space, frames, segment.address, piece);
        done += arrived;
        if fault.is_some() {
            return (done, fault);
        }
    }
    (done, None)
}

impl<F: Frames> Server<F> {
    /// `pipe2(fds, flags)`: makes a pipe and stores its two descriptors at `address`.
    /// When they cannot be stored (`EFAULT`), both are closed again, so nothing was made.
    pub(super) fn pipe2(&mut self, pid: Pid, address: u64, flags: u32) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        let credentials = process.credentials;
        let [read_fd, write_fd] = self.vfs.pipe2(
            &mut process.descriptors,
            flags,
            credentials.euid,
            credentials.egid,
        )?;
        let mut numbers = [0u8; 8];
        numbers[..4].copy_from_slice(&read_fd.to_le_bytes());
        numbers[4..].copy_from_slice(&write_fd.to_le_bytes());
        if let Err(error) = process.space.write(&mut self.frames, address, &numbers) {
            let _ = process.descriptors.close(write_fd);
            let _ = process.descriptors.close(read_fd);
            return Err(error);
        }
        Ok(0)
    }

    /// A read of the pipe open as `fd` into `segments` (already checked against the user
    /// range).
    pub(super) fn pipe_read(&mut self, pid: Pid, fd: i32, segments: Vec<Segment>) -> CallResult {
        let now = self.vfs.clock();
        let process = running(&mut self.processes, pid)?;
        let description = Rc::clone(process.descriptors.get(fd)?);
        let pipe = description.pipe().ok_or(Errno::EBADF)?;
        let total = total_length(&segments);
        if total == 0 {
            return Ok(Completion::Value(0));
        }
        let available = match pipe.read_readiness() {
            PipeReadiness::Data(available) => available,
            PipeReadiness::EndOfFile => return Ok(Completion::Value(0)),
            PipeReadiness::WouldBlock if description.is_nonblocking() => {
                return Err(Errno::EAGAIN);
            }
            PipeReadiness::WouldBlock => {
                return Ok(Completion::Park(ParkedCall::PipeRead { fd, segments }));
            }
        };
        let count = available.min(usize::try_from(total).unwrap_or(usize::MAX));
        let mut buffer = vec![0u8; count];
        let peeked = pipe.peek(&mut buffer);
        let data = buffer.get(..peeked).unwrap_or(&[]);
        let (arrived, fault) = scatter(&mut process.space, &mut self.frames, &segments, data);
        // What did not arrive stays in the pipe for the next read.
        pipe.consume(arrived, now);
        match fault {
            Some(error) if arrived == 0 => Err(error),
            _ => Ok(Completion::Value(arrived as u64)),
        }
    }

    /// A write of `segments` (already checked against the user range) to the pipe open as
    /// `fd`, of which `written` bytes went in before (a parked write being retried).
    pub(super) fn pipe_write(
        &mut self,
        pid: Pid,
        fd: i32,
        segments: Vec<Segment>,
        written: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        let now = self.vfs.clock();
        let total = total_length(&segments);
        if total == 0 {
            return Ok(Completion::Value(0));
        }
        let atomic = total <= PIPE_BUF as u64;
        let process = running(&mut self.processes, pid)?;
        let description = Rc::clone(process.descriptors.get(fd)?);
        let pipe = description.pipe().ok_or(Errno::EBADF)?;
        let mut written = written;
        while written < total {
            let wanted = usize::try_from(total - written).unwrap_or(usize::MAX);
            match pipe.write_room(wanted, atomic) {
                PipeRoom::Room(room) => {
                    let mut buffer = vec![0u8; room];
                    let (came, fault) = gather(
                        &mut process.space,
                        &mut self.frames,
                        &segments,
                        written,
                        &mut buffer,
                    );
                    if let Some(error) = fault {
                        if !atomic {
                            written += pipe.append(buffer.get(..came).unwrap_or(&[]), now) as u64;
                        }
                        return if written > 0 {
                            Ok(Completion::Value(written))
                        } else {
                            Err(error)
                        };
                    }
                    let appended = pipe.append(buffer.get(..came).unwrap_or(&[]), now);
                    if appended == 0 {
                        // Cannot happen (there was room for what came); wait rather than spin.
                        return Ok(Completion::Park(ParkedCall::PipeWrite {
                            fd,
                            segments,
                            written,
                        }));
                    }
                    written += appended as u64;
                }
                PipeRoom::WouldBlock if description.is_nonblocking() => {
                    return if written > 0 {
                        Ok(Completion::Value(written))
                    } else {
                        Err(Errno::EAGAIN)
                    };
                }
                PipeRoom::WouldBlock => {
                    return Ok(Completion::Park(ParkedCall::PipeWrite {
                        fd,
                        segments,
                        written,
                    }));
                }
                PipeRoom::Broken => return self.broken_pipe(pid, written, actions),
            }
        }
        Ok(Completion::Value(written))
    }

    /// A write found no reader: `SIGPIPE` to the writer, then `EPIPE` or the count written
    /// before, unless the signal ended the writer.
    fn broken_pipe(
        &mut self,
        pid: Pid,
        written: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        self.send_signal(pid, Signal::SIGPIPE, actions);
        if self.processes.get(pid).is_none() {
            Ok(Completion::NoAnswer)
        } else if written > 0 {
            Ok(Completion::Value(written))
        } else {
            Err(Errno::EPIPE)
        }
    }

    /// Retries the calls parked on pipes until no pipe changes any more; see the module
    /// documentation.
    pub(super) fn settle_pipes(&mut self, actions: &mut Actions<F::Frame>) {
        while self.vfs.pipe_activity() != self.pipe_activity_seen {
            self.pipe_activity_seen = self.vfs.pipe_activity();
            let waiters: Vec<Pid> = self.pipe_waiters.drain(..).collect();
            for pid in waiters {
                let waiting = self
                    .processes
                    .get(pid)
                    .and_then(|process| process.parked.as_ref())
                    .is_some_and(|parked| parked.call.waits_for_pipes());
                if !waiting {
                    continue;
                }
                let Some(parked) = self.take_parked(pid) else {
                    continue;
                };
                let result = self.retry_pipe(pid, parked.call, actions);
                self.conclude(pid, parked.via, result, actions);
            }
        }
    }

    /// Retries a call parked on pipes.
    fn retry_pipe(
        &mut self,
        pid: Pid,
        call: ParkedCall,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        match call {
            ParkedCall::PipeRead { fd, segments } => self.pipe_read(pid, fd, segments),
            ParkedCall::PipeWrite {
                fd,
                segments,
                written,
            } => self.pipe_write(pid, fd, segments, written, actions),
            ParkedCall::Poll {
                descriptors,
                count,
                timeout_address,
                deadline,
            } => self.poll_again(pid, descriptors, count, timeout_address, deadline, false),
            other => Ok(Completion::Park(other)),
        }
    }
}
