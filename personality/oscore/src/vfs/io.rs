//! Reading, writing and seeking: `read`, `pread64`, `write`, `pwrite64`, `lseek`, and the
//! `ioctl` routing question.
//!
//! Buffers are the server's own (the dispatcher copies to and from client memory), so a call
//! transfers at most one buffer and reports how much it moved; `readv` and `writev` are the
//! dispatcher's loop over these calls, stopping at the first short transfer, which gives
//! Linux's partial semantics. The checks follow `fs/read_write.c` in order: descriptor
//! (`EBADF`), positional calls on unseekable files (`ESPIPE`), access mode (`EBADF`), then
//! what the file kind allows.
//!
//! Pipes are routed like terminals: `read` and `write` answer [`IoOutcome::Pipe`] after the
//! descriptor checks, and the dispatcher moves the bytes through the
//! [`PipeEnd`](super::PipeEnd) (it may have to park the caller, which only it can do).
//! Pipes cannot seek (`ESPIPE`).

use linux_abi::errno::Errno;

use super::Vfs;
use super::description::OpenFileDescription;
use super::descriptors::DescriptorTable;
use super::node::{Device, NodeKind};

/// `SEEK_DATA`: the next offset at or after the given one that holds data.
const SEEK_DATA: u32 = 3;
/// `SEEK_HOLE`: the next hole at or after the given offset (the end, for a file without
/// holes).
const SEEK_HOLE: u32 = 4;
/// `SEEK_SET`.
const SEEK_SET: u32 = linux_abi::file::SEEK_SET;
/// `SEEK_CUR`.
const SEEK_CUR: u32 = linux_abi::file::SEEK_CUR;
/// `SEEK_END`.
const SEEK_END: u32 = linux_abi::file::SEEK_END;

/// What a `read` or `write` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoOutcome {
    /// It moved this many bytes (0 at the end of a file).
    Transferred(usize),
    /// The file is a terminal ([`Device::Console`] or [`Device::ControllingTerminal`]):
    /// nothing was done, the dispatcher must pass the call to the tty module.
    Terminal(Device),
    /// The file is a pipe: nothing was done, the dispatcher must move the bytes through
    /// the description's [`PipeEnd`](super::PipeEnd).
    Pipe,
}

impl Vfs {
    /// `read(fd, buffer)`: reads at the description's offset and advances it.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open, is `O_PATH`, or was not opened for reading; `EISDIR`
    /// for a directory.
    pub fn read(
        &self,
        table: &DescriptorTable,
        fd: i32,
        buffer: &mut [u8],
    ) -> Result<IoOutcome, Errno> {
        let description = table.get(fd)?;
        if !description.is_readable() {
            return Err(Errno::EBADF);
        }
        if let Some(terminal) = description.terminal() {
            return Ok(IoOutcome::Terminal(terminal));
        }
        if description.pipe().is_some() {
            return Ok(IoOutcome::Pipe);
        }
        let offset = description.offset();
        let count = self.read_at(description, buffer, offset)?;
        // `count` is at most the buffer's length and the offset plus it at most the file's
        // length, which an `i64` holds.
        let advanced = i64::try_from(count)
            .ok()
            .and_then(|count| offset.checked_add(count))
            .ok_or(Errno::EOVERFLOW)?;
        if self.is_seekable_file(description) {
            description.set_offset(advanced);
        }
        Ok(IoOutcome::Transferred(count))
    }

    /// `pread64(fd, buffer, offset)`: reads at `offset` without moving the description's
    /// offset.
    ///
    /// # Errors
    /// `EINVAL` for a negative offset (before anything else, as Linux checks it); `EBADF`
    /// when `fd` is not open or is `O_PATH`; `ESPIPE` for a terminal or a pipe; `EBADF`
    /// when not opened for reading; `EISDIR` for a directory.
    pub fn pread64(
        &self,
        table: &DescriptorTable,
        fd: i32,
        buffer: &mut [u8],
        offset: i64,
    ) -> Result<usize, Errno> {
        if offset < 0 {
            return Err(Errno::EINVAL);
        }
        let description = table.get(fd)?;
        if description.is_path_only() {
            return Err(Errno::EBADF);
        }
        if description.terminal().is_some() || description.pipe().is_some() {
            return Err(Errno::ESPIPE);
        }
        if !description.is_readable() {
            return Err(Errno::EBADF);
        }
        self.read_at(description, buffer, offset)
    }

    /// `write(fd, data)`: writes at the description's offset (or routes to the terminal).
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open, is `O_PATH`, or was not opened for writing (which is
    /// every file of the read-only root).
    pub fn write(&self, table: &DescriptorTable, fd: i32, data: &[u8]) -> Result<IoOutcome, Errno> {
        let description = table.get(fd)?;
        if !description.is_writable() {
            return Err(Errno::EBADF);
        }
        if let Some(terminal) = description.terminal() {
            return Ok(IoOutcome::Terminal(terminal));
        }
        if description.pipe().is_some() {
            return Ok(IoOutcome::Pipe);
        }
        self.write_at(description, data).map(IoOutcome::Transferred)
    }

    /// `pwrite64(fd, data, offset)`: writes at `offset` without moving the offset.
    ///
    /// # Errors
    /// `EINVAL` for a negative offset; `EBADF` when `fd` is not open or is `O_PATH`;
    /// `ESPIPE` for a terminal or a pipe; `EBADF` when not opened for writing.
    pub fn pwrite64(
        &self,
        table: &DescriptorTable,
        fd: i32,
        data: &[u8],
        offset: i64,
    ) -> Result<usize, Errno> {
        if offset < 0 {
            return Err(Errno::EINVAL);
        }
        let description = table.get(fd)?;
        if description.is_path_only() {
            return Err(Errno::EBADF);
        }
        if description.terminal().is_some() || description.pipe().is_some() {
            return Err(Errno::ESPIPE);
        }
        if !description.is_writable() {
            return Err(Errno::EBADF);
        }
        self.write_at(description, data)
    }

    /// `lseek(fd, offset, whence)`: moves the description's offset and returns it.
    ///
    /// Regular files take `SEEK_SET`, `SEEK_CUR`, `SEEK_END`, `SEEK_DATA` and `SEEK_HOLE`
    /// (a file here has no holes). Directories take `SEEK_SET` and `SEEK_CUR` (a position in
    /// the listing, as tmpfs does); `/dev/null` and `/dev/zero` answer 0 whatever is asked,
    /// as Linux's `null_lseek` does.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open or is `O_PATH`; `EINVAL` for a `whence` above
    /// `SEEK_HOLE`; `ESPIPE` for a terminal or a pipe; `EINVAL` for a negative or
    /// overflowing result or a `whence` the file kind does not take; `ENXIO` for
    /// `SEEK_DATA`/`SEEK_HOLE` at or past the end.
    pub fn lseek(
        &self,
        table: &DescriptorTable,
        fd: i32,
        offset: i64,
        whence: u32,
    ) -> Result<i64, Errno> {
        let description = table.get(fd)?;
        if description.is_path_only() {
            return Err(Errno::EBADF);
        }
        if whence > SEEK_HOLE {
            return Err(Errno::EINVAL);
        }
        let current = description.offset();
        let Some(node) = description.node() else {
            // A pipe.
            return Err(Errno::ESPIPE);
        };
        let new_offset = match &self.node(node).kind {
            NodeKind::CharacterDevice(device) if device.is_terminal() => {
                return Err(Errno::ESPIPE);
            }
            NodeKind::CharacterDevice(_) => 0,
            NodeKind::RegularFile(contents) => {
                let size = i64::try_from(contents.bytes().len()).map_err(|_| Errno::EOVERFLOW)?;
                match whence {
                    SEEK_SET => offset,
                    SEEK_CUR => current.checked_add(offset).ok_or(Errno::EINVAL)?,
                    SEEK_END => size.checked_add(offset).ok_or(Errno::EINVAL)?,
                    // Linux compares the offset as unsigned, so a negative one is past the
                    // end too.
                    SEEK_DATA if (0..size).contains(&offset) => offset,
                    SEEK_HOLE if (0..size).contains(&offset) => size,
                    _ => return Err(Errno::ENXIO),
                }
            }
            NodeKind::Directory(_) => match whence {
                SEEK_SET => offset,
                SEEK_CUR => current.checked_add(offset).ok_or(Errno::EINVAL)?,
                _ => return Err(Errno::EINVAL),
            },
            // A link is only ever open as O_PATH, refused above.
            NodeKind::SymbolicLink(_) => return Err(Errno::EBADF),
        };
        if new_offset < 0 {
            return Err(Errno::EINVAL);
        }
        description.set_offset(new_offset);
        Ok(new_offset)
    }

    /// Where `ioctl(fd, ...)` goes: the terminal whose tty module answers it. (`FIOCLEX`
    /// and `FIONCLEX`, which work on any descriptor, are `fcntl(F_SETFD)` in disguise.)
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open or is `O_PATH`; `ENOTTY` for anything but a terminal.
    pub fn terminal(&self, table: &DescriptorTable, fd: i32) -> Result<Device, Errno> {
        let description = table.get(fd)?;
        if description.is_path_only() {
            return Err(Errno::EBADF);
        }
        description.terminal().ok_or(Errno::ENOTTY)
    }

    /// Reads from a readable description of a node that is not a terminal at `offset` (not
    /// negative).
    fn read_at(
        &self,
        description: &OpenFileDescription,
        buffer: &mut [u8],
        offset: i64,
    ) -> Result<usize, Errno> {
        // Pipes are routed before reaching here.
        let node = description.node().ok_or(Errno::ESPIPE)?;
        match &self.node(node).kind {
            NodeKind::Directory(_) => Err(Errno::EISDIR),
            NodeKind::RegularFile(contents) => {
                let bytes = contents.bytes();
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                let available = bytes.get(start..).unwrap_or(&[]);
                let count = available.len().min(buffer.len());
                buffer
                    .iter_mut()
                    .zip(available)
                    .for_each(|(target, &byte)| *target = byte);
                Ok(count)
            }
            NodeKind::CharacterDevice(Device::Zero) => {
                buffer.fill(0);
                Ok(buffer.len())
            }
            NodeKind::CharacterDevice(Device::Null) => Ok(0),
            // Terminals are routed before reaching here.
            NodeKind::CharacterDevice(Device::Console | Device::ControllingTerminal) => {
                Err(Errno::ESPIPE)
            }
            // A link is only ever open as O_PATH, which is not readable.
            NodeKind::SymbolicLink(_) => Err(Errno::EBADF),
        }
    }

    /// Writes to a writable description of a node that is not a terminal.
    fn write_at(&self, description: &OpenFileDescription, data: &[u8]) -> Result<usize, Errno> {
        // Pipes are routed before reaching here.
        let node = description.node().ok_or(Errno::ESPIPE)?;
        match &self.node(node).kind {
            NodeKind::CharacterDevice(Device::Null | Device::Zero) => Ok(data.len()),
            // Terminals are routed before reaching here.
            NodeKind::CharacterDevice(Device::Console | Device::ControllingTerminal) => {
                Err(Errno::ESPIPE)
            }
            // Archive files, directories and links are never opened for writing (`openat`
            // answers EROFS or EISDIR), so no writable description reaches this.
            NodeKind::RegularFile(_) | NodeKind::Directory(_) | NodeKind::SymbolicLink(_) => {
                Err(Errno::EBADF)
            }
        }
    }

    /// Whether reads move the description's offset (regular files; Linux's `/dev/zero` and
    /// `/dev/null` keep theirs at 0, which `lseek` reports).
    fn is_seekable_file(&self, description: &OpenFileDescription) -> bool {
        description
            .node()
            .is_some_and(|node| matches!(self.node(node).kind, NodeKind::RegularFile(_)))
    }
}
