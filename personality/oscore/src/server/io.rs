//! `read`, `write` and their vector and positional forms, between files and client memory.
//!
//! Every form becomes a list of [`Segment`]s (one for `read`, one per `iovec` for `readv`),
//! checked in Linux's order: the descriptor and its mode first (`EBADF`, `EISDIR`,
//! `ESPIPE`), then the vector (`EINVAL` beyond `IOV_MAX` or for a negative length, `EFAULT`
//! for an unreadable array), then each range against the user range (`EFAULT`). Then bytes
//! move in 64 KiB steps through a server buffer; a transfer stops at the first short step,
//! and a fault after some bytes moved ends it with the count so far, as Linux's partial
//! transfers do. A fault when copying *out* gives the bytes back to the file (the offset
//! goes back), so a retried read sees them again. Terminals go to `terminal.rs`, pipes to
//! `pipes.rs` (both may park the caller).

use alloc::vec;
use alloc::vec::Vec;

use linux_abi::errno::Errno;
use linux_abi::file::SEEK_CUR;
use linux_abi::layout::Iovec;

use super::record::Segment;
use super::{Actions, CallResult, Completion, Server, running};
use crate::memory::{AddressSpace, Frames, PAGE_SIZE};
use crate::process::Pid;
use crate::vfs::IoOutcome;

/// Linux's `MAX_RW_COUNT`: one call moves at most `INT_MAX` rounded down to a page.
pub(super) const MAXIMUM_TRANSFER: u64 = 0x7fff_f000;

/// `IOV_MAX` (`UIO_MAXIOV`): the longest `iovec` array.
pub(super) const IOVEC_LIMIT: u64 = 1024;

/// Bytes moved per step between a file and client memory.
const CHUNK: u64 = 64 * 1024;

/// Copies `data` to client memory at `address` one page at a time, stopping at the first
/// page the client may not write: how many bytes arrived, and the error if one stopped it.
/// So a transfer into a buffer that runs into a hole moves what fits, as Linux's
/// `copy_to_user` does.
pub(super) fn copy_out<F: Frames>(
    space: &mut AddressSpace<F::Frame>,
    frames: &mut F,
    address: u64,
    data: &[u8],
) -> (usize, Option<Errno>) {
    let mut done = 0usize;
    while done < data.len() {
        let Some(at) = address.checked_add(done as u64) else {
            return (done, Some(Errno::EFAULT));
        };
        let in_page = (PAGE_SIZE - at % PAGE_SIZE) as usize;
        let piece = data
            .get(done..data.len().min(done + in_page))
            .unwrap_or(&[]);
        if let Err(error) = space.write(frames, at, piece) {
            return (done, Some(error));
        }
        done += piece.len();
    }
    (done, None)
}

/// Copies client memory at `address` into `buffer` one page at a time, stopping at the
/// first page the client may not read: how many bytes came, and the error if one stopped it.
pub(super) fn copy_in<F: Frames>(
    space: &mut AddressSpace<F::Frame>,
    frames: &mut F,
    address: u64,
    buffer: &mut [u8],
) -> (usize, Option<Errno>) {
    let mut done = 0usize;
    let length = buffer.len();
    while done < length {
        let Some(at) = address.checked_add(done as u64) else {
            return (done, Some(Errno::EFAULT));
        };
        let in_page = (PAGE_SIZE - at % PAGE_SIZE) as usize;
        let piece = buffer
            .get_mut(done..length.min(done + in_page))
            .unwrap_or(&mut []);
        let piece_length = piece.len();
        if let Err(error) = space.read(frames, at, piece) {
            return (done, Some(error));
        }
        done += piece_length;
    }
    (done, None)
}

/// The total length of `segments`.
pub(super) fn total_length(segments: &[Segment]) -> u64 {
    segments
        .iter()
        .fold(0u64, |total, segment| total.saturating_add(segment.length))
}

impl<F: Frames> Server<F> {
    /// The segments of an `iovec` array: `EINVAL` for more than [`IOVEC_LIMIT`] entries or
    /// a length that is negative as a `ssize_t`, `EFAULT` for an unreadable array or a range
    /// outside the user range. Lengths beyond [`MAXIMUM_TRANSFER`] in all are cut, as
    /// Linux's `import_iovec` cuts them.
    pub(super) fn iovecs(
        &mut self,
        pid: Pid,
        address: u64,
        count: u64,
    ) -> Result<Vec<Segment>, Errno> {
        if count > IOVEC_LIMIT {
            return Err(Errno::EINVAL);
        }
        let process = running(&mut self.processes, pid)?;
        // At most 1024 entries of 16 bytes.
        let mut bytes = vec![0u8; count as usize * Iovec::SIZE];
        process.space.read(&mut self.frames, address, &mut bytes)?;
        let mut total = 0u64;
        let mut segments = Vec::with_capacity(count as usize);
        for entry in bytes.chunks_exact(Iovec::SIZE) {
            let mut raw = [0u8; Iovec::SIZE];
            raw.copy_from_slice(entry);
            let iovec = Iovec::from_bytes(&raw);
            if (iovec.length as i64) < 0 {
                return Err(Errno::EINVAL);
            }
            let length = iovec.length.min(MAXIMUM_TRANSFER - total);
            total += length;
            segments.push(Segment {
                address: iovec.base,
                length,
            });
        }
        self.check_ranges(&segments)?;
        Ok(segments)
    }

    /// Linux's `access_ok`: every segment lies in the user range (`EFAULT`).
    pub(super) fn check_ranges(&self, segments: &[Segment]) -> Result<(), Errno> {
        let end = self.config.layout.user_end();
        let fits = |segment: &Segment| {
            segment.length == 0
                || segment
                    .address
                    .checked_add(segment.length)
                    .is_some_and(|last| last <= end)
        };
        if segments.iter().all(fits) {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }

    /// `read(fd, buffer, count)`.
    pub(super) fn read(&mut self, pid: Pid, fd: i32, address: u64, count: u64) -> CallResult {
        let route = self.read_route(pid, fd)?;
        let segments = vec![Segment {
            address,
            length: count.min(MAXIMUM_TRANSFER),
        }];
        self.read_segments(pid, fd, route, segments)
    }

    /// `readv(fd, iov, count)`.
    pub(super) fn readv(&mut self, pid: Pid, fd: i32, vector: u64, count: u64) -> CallResult {
        let route = self.read_route(pid, fd)?;
        let segments = self.iovecs(pid, vector, count)?;
        self.read_segments(pid, fd, route, segments)
    }

    /// The descriptor checks of a read, and whether it goes to a terminal.
    fn read_route(&mut self, pid: Pid, fd: i32) -> Result<IoOutcome, Errno> {
        let process = running(&mut self.processes, pid)?;
        self.vfs.read(&process.descriptors, fd, &mut [])
    }

    /// Reads into `segments` from a checked descriptor.
    fn read_segments(
        &mut self,
        pid: Pid,
        fd: i32,
        route: IoOutcome,
        segments: Vec<Segment>,
    ) -> CallResult {
        self.check_ranges(&segments)?;
        match route {
            IoOutcome::Terminal(_) => return self.console_read(pid, fd, segments, None, false),
            IoOutcome::Pipe => return self.pipe_read(pid, fd, segments),
            IoOutcome::Transferred(_) => {}
        }
        let process = running(&mut self.processes, pid)?;
        let mut buffer = vec![0u8; total_length(&segments).min(CHUNK) as usize];
        let mut total = 0u64;
        for segment in &segments {
            let mut done = 0u64;
            while done < segment.length {
                let wanted = (segment.length - done).min(CHUNK) as usize;
                let step = buffer.get_mut(..wanted).unwrap_or(&mut []);
                let count = match self.vfs.read(&process.descriptors, fd, step)? {
                    IoOutcome::Transferred(count) => count,
                    // Routed above.
                    IoOutcome::Terminal(_) | IoOutcome::Pipe => 0,
                };
                let moved = step.get(..count).unwrap_or(&[]);
                let address = segment.address + done;
                let (arrived, fault) =
                    copy_out(&mut process.space, &mut self.frames, address, moved);
                if let Some(error) = fault {
                    // Give back the bytes that did not arrive: the next read sees them again.
                    let back = -((count - arrived) as i64);
                    let _ = self.vfs.lseek(&process.descriptors, fd, back, SEEK_CUR);
                    total += arrived as u64;
                    return if total > 0 {
                        Ok(Completion::Value(total))
                    } else {
                        Err(error)
                    };
                }
                total += count as u64;
                done += count as u64;
                if count < wanted {
                    return Ok(Completion::Value(total));
                }
            }
        }
        Ok(Completion::Value(total))
    }

    /// `pread64(fd, buffer, count, offset)`.
    pub(super) fn pread64(
        &mut self,
        pid: Pid,
        fd: i32,
        address: u64,
        count: u64,
        offset: i64,
    ) -> Result<u64, Errno> {
        self.positional_read_check(pid, fd, offset)?;
        let segments = [Segment {
            address,
            length: count.min(MAXIMUM_TRANSFER),
        }];
        self.positional_read(pid, fd, &segments, offset)
    }

    /// `preadv(fd, iov, count, offset)`.
    pub(super) fn preadv(
        &mut self,
        pid: Pid,
        fd: i32,
        vector: u64,
        count: u64,
        offset: i64,
    ) -> Result<u64, Errno> {
        self.positional_read_check(pid, fd, offset)?;
        let segments = self.iovecs(pid, vector, count)?;
        self.positional_read(pid, fd, &segments, offset)
    }

    /// The descriptor and offset checks of a positional read.
    fn positional_read_check(&mut self, pid: Pid, fd: i32, offset: i64) -> Result<(), Errno> {
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .pread64(&process.descriptors, fd, &mut [], offset)
            .map(|_| ())
    }

    /// Reads into `segments` at `offset` without moving the description's offset.
    fn positional_read(
        &mut self,
        pid: Pid,
        fd: i32,
        segments: &[Segment],
        offset: i64,
    ) -> Result<u64, Errno> {
        self.check_ranges(segments)?;
        let process = running(&mut self.processes, pid)?;
        let mut buffer = vec![0u8; total_length(segments).min(CHUNK) as usize];
        let mut total = 0u64;
        for segment in segments {
            let mut done = 0u64;
            while done < segment.length {
                let wanted = (segment.length - done).min(CHUNK) as usize;
                let step = buffer.get_mut(..wanted).unwrap_or(&mut []);
                let at = i64::try_from(total)
                    .ok()
                    .and_then(|total| offset.checked_add(total))
                    .ok_or(Errno::EINVAL)?;
                let count = self.vfs.pread64(&process.descriptors, fd, step, at)?;
                let moved = step.get(..count).unwrap_or(&[]);
                let address = segment.address + done;
                let (arrived, fault) =
                    copy_out(&mut process.space, &mut self.frames, address, moved);
                if let Some(error) = fault {
                    total += arrived as u64;
                    return if total > 0 { Ok(total) } else { Err(error) };
                }
                total += count as u64;
                done += count as u64;
                if count < wanted {
                    return Ok(total);
                }
            }
        }
        Ok(total)
    }

    /// `write(fd, buffer, count)`.
    pub(super) fn write(
        &mut self,
        pid: Pid,
        fd: i32,
        address: u64,
        count: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        let route = self.write_route(pid, fd)?;
        let segments = vec![Segment {
            address,
            length: count.min(MAXIMUM_TRANSFER),
        }];
        self.write_segments(pid, fd, route, segments, actions)
    }

    /// `writev(fd, iov, count)`.
    pub(super) fn writev(
        &mut self,
        pid: Pid,
        fd: i32,
        vector: u64,
        count: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        let route = self.write_route(pid, fd)?;
        let segments = self.iovecs(pid, vector, count)?;
        self.write_segments(pid, fd, route, segments, actions)
    }

    /// The descriptor checks of a write, and whether it goes to a terminal.
    fn write_route(&mut self, pid: Pid, fd: i32) -> Result<IoOutcome, Errno> {
        let process = running(&mut self.processes, pid)?;
        self.vfs.write(&process.descriptors, fd, &[])
    }

    /// Writes the bytes of `segments` to a checked descriptor.
    fn write_segments(
        &mut self,
        pid: Pid,
        fd: i32,
        route: IoOutcome,
        segments: Vec<Segment>,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        self.check_ranges(&segments)?;
        match route {
            IoOutcome::Terminal(_) => return self.console_write(pid, fd, segments, actions),
            IoOutcome::Pipe => return self.pipe_write(pid, fd, segments, 0, actions),
            IoOutcome::Transferred(_) => {}
        }
        self.file_write(pid, &segments, |server, process_pid, data, _| {
            let process = running(&mut server.processes, process_pid)?;
            match server.vfs.write(&process.descriptors, fd, data)? {
                IoOutcome::Transferred(count) => Ok(count),
                // Routed above.
                IoOutcome::Terminal(_) | IoOutcome::Pipe => Ok(0),
            }
        })
        .map(Completion::Value)
    }

    /// `pwrite64(fd, buffer, count, offset)`.
    pub(super) fn pwrite64(
        &mut self,
        pid: Pid,
        fd: i32,
        address: u64,
        count: u64,
        offset: i64,
    ) -> Result<u64, Errno> {
        self.positional_write_check(pid, fd, offset)?;
        let segments = [Segment {
            address,
            length: count.min(MAXIMUM_TRANSFER),
        }];
        self.positional_write(pid, fd, &segments, offset)
    }

    /// `pwritev(fd, iov, count, offset)`.
    pub(super) fn pwritev(
        &mut self,
        pid: Pid,
        fd: i32,
        vector: u64,
        count: u64,
        offset: i64,
    ) -> Result<u64, Errno> {
        self.positional_write_check(pid, fd, offset)?;
        let segments = self.iovecs(pid, vector, count)?;
        self.positional_write(pid, fd, &segments, offset)
    }

    /// The descriptor and offset checks of a positional write.
    fn positional_write_check(&mut self, pid: Pid, fd: i32, offset: i64) -> Result<(), Errno> {
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .pwrite64(&process.descriptors, fd, &[], offset)
            .map(|_| ())
    }

    /// Writes the bytes of `segments` at `offset`.
    fn positional_write(
        &mut self,
        pid: Pid,
        fd: i32,
        segments: &[Segment],
        offset: i64,
    ) -> Result<u64, Errno> {
        self.check_ranges(segments)?;
        self.file_write(pid, segments, |server, process_pid, data, written| {
            let process = running(&mut server.processes, process_pid)?;
            let at = i64::try_from(written)
                .ok()
                .and_then(|written| offset.checked_add(written))
                .ok_or(Errno::EINVAL)?;
            server.vfs.pwrite64(&process.descriptors, fd, data, at)
        })
    }

    /// Copies `segments` in, step by step, and hands each step to `write` (with the bytes
    /// written so far), stopping at a short write or a fault.
    fn file_write(
        &mut self,
        pid: Pid,
        segments: &[Segment],
        mut write: impl FnMut(&mut Self, Pid, &[u8], u64) -> Result<usize, Errno>,
    ) -> Result<u64, Errno> {
        let mut buffer = vec![0u8; total_length(segments).min(CHUNK) as usize];
        let mut total = 0u64;
        for segment in segments {
            let mut done = 0u64;
            while done < segment.length {
                let wanted = (segment.length - done).min(CHUNK) as usize;
                let step = buffer.get_mut(..wanted).unwrap_or(&mut []);
                let process = running(&mut self.processes, pid)?;
                let address = segment.address + done;
                let (came, fault) = copy_in(&mut process.space, &mut self.frames, address, step);
                if came == 0
                    && let Some(error) = fault
                {
                    return if total > 0 { Ok(total) } else { Err(error) };
                }
                let readable = step.get(..came).unwrap_or(&[]);
                let count = write(self, pid, readable, total)?;
                total += count as u64;
                done += count as u64;
                if count < wanted {
                    return Ok(total);
                }
            }
        }
        Ok(total)
    }
}
