//! What a file is, rather than what it holds: `fstat`, `newfstatat`, `readlinkat` and
//! `faccessat`.
//!
//! `struct stat` is filled completely, never left with fields a program would misread:
//! sizes and block counts follow tmpfs (regular files occupy whole pages, a directory's size
//! is 20 bytes per entry counting `.` and `..`, links and devices occupy no blocks), device
//! numbers use the `makedev` encoding, and owners and times are 0 because the archive
//! reader does not expose them (see the module documentation of [`super`]). Pipes answer
//! from their own metadata ([`PipeEnd::stat`](super::PipeEnd::stat)), also through an
//! empty path with `AT_EMPTY_PATH`, which is how glibc's `fstat` asks.

use linux_abi::errno::Errno;
use linux_abi::file::{AT_EACCESS, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, F_OK, R_OK, W_OK, X_OK};
use linux_abi::layout::Stat;

use super::Vfs;
use super::context::FileSystemContext;
use super::descriptors::DescriptorTable;
use super::node::{NodeId, NodeKind};
use super::path::{Resolution, checked_path};

/// `st_blksize`: the preferred I/O size, a page.
const BLOCK_SIZE: i32 = 4096;

/// The unit of `st_blocks`.
const STAT_BLOCK_UNIT: u64 = 512;

/// The page size tmpfs allocates file contents in, and so counts blocks in.
const PAGE_SIZE: u64 = 4096;

/// tmpfs's `BOGO_DIRENT_SIZE`: what each entry adds to a directory's size.
const DIRECTORY_ENTRY_SIZE: u64 = 20;

/// `AT_NO_AUTOMOUNT` (`linux/fcntl.h`): accepted and meaningless, as there are no automounts.
const AT_NO_AUTOMOUNT: u32 = 0x800;

/// `AT_STATX_SYNC_TYPE` (`linux/fcntl.h`): the `statx` synchronisation bits, which
/// `newfstatat` accepts too; meaningless for files in memory.
const AT_STATX_SYNC_TYPE: u32 = 0x6000;

/// The any-execute-bit mask (`S_IXUGO`).
const ANY_EXECUTE_BIT: u32 = 0o111;

impl Vfs {
    /// `fstat(fd)`. Works on `O_PATH` descriptors too.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open.
    pub fn fstat(&self, table: &DescriptorTable, fd: i32) -> Result<Stat, Errno> {
        let description = table.get(fd)?;
        Ok(match (description.node(), description.pipe()) {
            (Some(node), _) => self.stat_of(node),
            (None, Some(pipe)) => pipe.stat(),
            // A description is of a node or a pipe; nothing else exists.
            (None, None) => return Err(Errno::EBADF),
        })
    }

    /// `newfstatat(directory_fd, path, flags)`: the status of `path`, of the link itself
    /// with `AT_SYMLINK_NOFOLLOW`, of `directory_fd` (or the working directory) for an empty
    /// path with `AT_EMPTY_PATH`.
    ///
    /// # Errors
    /// `ENAMETOOLONG`, `ENOENT` for an empty path without `AT_EMPTY_PATH`; `EINVAL` for
    /// flag bits other than `AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`, `AT_NO_AUTOMOUNT` and
    /// the `AT_STATX_SYNC_TYPE` bits; then the path's errors (`EBADF`, `ENOENT`, `ENOTDIR`,
    /// `ELOOP`, `ENAMETOOLONG`).
    pub fn newfstatat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        flags: u32,
    ) -> Result<Stat, Errno> {
        let empty_path_allowed = flags & AT_EMPTY_PATH != 0;
        checked_path(path, empty_path_allowed)?;
        let known = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
        if flags & !known != 0 {
            return Err(Errno::EINVAL);
        }
        if let Some(pipe) = self.empty_path_pipe(table, directory_fd, path, empty_path_allowed) {
            return Ok(pipe.stat());
        }
        let how = Resolution {
            follow_last: flags & AT_SYMLINK_NOFOLLOW == 0,
            empty_path_allowed,
            creating: false,
        };
        let node = self.resolve_existing(context, table, directory_fd, path, how)?;
        Ok(self.stat_of(node))
    }

    /// `readlinkat(directory_fd, path, buffer)`: copies the target of the symbolic link
    /// `path` into `buffer`, cut to its length and without a NUL, and returns the count. An
    /// empty path means `directory_fd` itself (a link opened `O_PATH | O_NOFOLLOW`). The
    /// dispatcher passes an empty buffer for a size of 0 or less.
    ///
    /// # Errors
    /// `EINVAL` for an empty buffer; the path's errors (`ENAMETOOLONG`, `EBADF`, `ENOENT`,
    /// `ENOTDIR`, `ELOOP`); `EINVAL` when the path is not a link, or `ENOENT` when the path
    /// is empty and `directory_fd` is not a link.
    pub fn readlinkat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        buffer: &mut [u8],
    ) -> Result<usize, Errno> {
        if buffer.is_empty() {
            return Err(Errno::EINVAL);
        }
        if self
            .empty_path_pipe(table, directory_fd, path, true)
            .is_some()
        {
            return Err(Errno::ENOENT);
        }
        let how = Resolution {
            follow_last: false,
            empty_path_allowed: true,
            creating: false,
        };
        let node = self.resolve_existing(context, table, directory_fd, path, how)?;
        match self.node(node).kind {
            NodeKind::SymbolicLink(target) => {
                let count = target.len().min(buffer.len());
                buffer
                    .iter_mut()
                    .zip(target)
                    .for_each(|(byte, &target_byte)| *byte = target_byte);
                Ok(count)
            }
            _ if checked_path(path, true)?.is_empty() => Err(Errno::ENOENT),
            _ => Err(Errno::EINVAL),
        }
    }

    /// `faccessat2(directory_fd, path, mode, flags)` (and `faccessat`, with `flags` 0):
    /// whether uid 0 may access `path` as `mode` (`F_OK`, or any of `R_OK`, `W_OK`, `X_OK`)
    /// says. Reading is always allowed; writing too, except to a regular file, directory or
    /// link on a read-only file system; executing a non-directory needs some execute bit.
    ///
    /// # Errors
    /// `EINVAL` for mode bits above `0o7` or flags other than `AT_SYMLINK_NOFOLLOW`,
    /// `AT_EACCESS`, `AT_EMPTY_PATH`; the path's errors; `EROFS` for `W_OK` on the read-only
    /// file system; `EACCES` for `X_OK` on a file without execute bits.
    pub fn faccessat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        mode: u32,
        flags: u32,
    ) -> Result<(), Errno> {
        if mode & !(R_OK | W_OK | X_OK) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let empty_path_allowed = flags & AT_EMPTY_PATH != 0;
        if let Some(pipe) = self.empty_path_pipe(table, directory_fd, path, empty_path_allowed) {
            // Pipes live in no read-only file system and are never directories.
            if mode & X_OK != 0 && pipe.permissions() & ANY_EXECUTE_BIT == 0 {
                return Err(Errno::EACCES);
            }
            return Ok(());
        }
        let how = Resolution {
            follow_last: flags & AT_SYMLINK_NOFOLLOW == 0,
            empty_path_allowed,
            creating: false,
        };
        let node = self.node(self.resolve_existing(context, table, directory_fd, path, how)?);
        if mode == F_OK {
            return Ok(());
        }
        if mode & W_OK != 0 && node.write_is_read_only() {
            return Err(Errno::EROFS);
        }
        if mode & X_OK != 0 && !node.is_directory() && node.permissions & ANY_EXECUTE_BIT == 0 {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// The full `struct stat` of `node`.
    pub(crate) fn stat_of(&self, id: NodeId) -> Stat {
        let node = self.node(id);
        let (size, blocks, link_count, special_device) = match &node.kind {
            NodeKind::Directory(directory) => {
                let entries = u64::try_from(directory.entries.len()).unwrap_or(u64::MAX);
                let subdirectories = directory
                    .entries
                    .values()
                    .filter(|&&child| self.node(child).is_directory())
                    .count();
                let size = entries
                    .saturating_add(2)
                    .saturating_mul(DIRECTORY_ENTRY_SIZE);
                let link_count = u32::try_from(subdirectories)
                    .unwrap_or(u32::MAX)
                    .saturating_add(2);
                (size, 0, link_count, 0)
            }
            NodeKind::RegularFile(contents) => {
                let size = u64::try_from(contents.bytes().len()).unwrap_or(u64::MAX);
                let blocks = size
                    .div_ceil(PAGE_SIZE)
                    .saturating_mul(PAGE_SIZE / STAT_BLOCK_UNIT);
                (size, blocks, 1, 0)
            }
            NodeKind::SymbolicLink(target) => {
                (u64::try_from(target.len()).unwrap_or(u64::MAX), 0, 1, 0)
            }
            NodeKind::CharacterDevice(device) => (0, 0, 1, device.device_number()),
        };
        Stat {
            device: node.file_system.device_number(),
            inode: id.inode_number(),
            mode: node.mode(),
            link_count,
            user_id: 0,
            group_id: 0,
            special_device,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            block_size: BLOCK_SIZE,
            blocks: i64::try_from(blocks).unwrap_or(i64::MAX),
            ..Stat::default()
        }
    }
}
