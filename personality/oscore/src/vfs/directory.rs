//! Directories as a process sees them: listing (`getdents64`) and the working directory
//! (`chdir`, `fchdir`, `getcwd`).
//!
//! A listing position is an index: 0 is `.`, 1 is `..`, `2 + n` the `n`-th entry in name
//! order. The description's offset holds the position of the next record, and each
//! record's `d_off` is the position after it, so `lseek(fd, d_off, SEEK_SET)` resumes after
//! that record, as `telldir`/`seekdir` need. The tree never changes, so an index stays
//! valid; a writable file system will need cookies that survive insertions (tmpfs uses a
//! cursor in the directory for the same reason).

use alloc::vec::Vec;

use linux_abi::errno::Errno;
use linux_abi::file::directory_entry_type;
use linux_abi::layout::{DirentError, write_dirent64};

use super::Vfs;
use super::context::FileSystemContext;
use super::descriptors::DescriptorTable;
use super::node::NodeId;
use super::path::Resolution;

impl Vfs {
    /// `getdents64(fd, buffer)`: fills `buffer` with as many `linux_dirent64` records as fit
    /// from the description's position, advances it, and returns the bytes written (0 at
    /// the end of the directory).
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open or is `O_PATH`; `ENOTDIR` for a non-directory;
    /// `EINVAL` when the next record does not fit in `buffer` at all.
    pub fn getdents64(
        &self,
        table: &DescriptorTable,
        fd: i32,
        buffer: &mut [u8],
    ) -> Result<usize, Errno> {
        let description = table.get(fd)?;
        if description.is_path_only() {
            return Err(Errno::EBADF);
        }
        // A pipe is no directory either.
        let directory_id = description.node().ok_or(Errno::ENOTDIR)?;
        let directory = self.node(directory_id).directory().ok_or(Errno::ENOTDIR)?;
        let start = usize::try_from(description.offset()).unwrap_or(usize::MAX);
        let dot_entries = [(&b"."[..], directory_id), (&b".."[..], directory.parent)];
        let entries = dot_entries.into_iter().chain(
            directory
                .entries
                .iter()
                .map(|(name, &child)| (name.as_slice(), child)),
        );
        let mut written = 0;
        let mut position = start;
        for (name, child) in entries.skip(start) {
            let next_position = position.saturating_add(1);
            let cookie = i64::try_from(next_position).map_err(|_| Errno::EOVERFLOW)?;
            let entry_type = directory_entry_type(self.node(child).mode());
            let free = buffer.get_mut(written..).unwrap_or(&mut []);
            match write_dirent64(free, child.inode_number(), cookie, entry_type, name) {
                Ok(length) => written += length,
                Err(DirentError::BufferTooSmall { .. }) if written == 0 => {
                    return Err(Errno::EINVAL);
                }
                Err(DirentError::BufferTooSmall { .. }) => break,
                // Names are checked when the tree is built (not empty, no NUL or slash,
                // at most NAME_MAX bytes), so no record can be refused for its name.
                Err(DirentError::InvalidName) => return Err(Errno::EIO),
            }
            position = next_position;
        }
        if position != start {
            let position = i64::try_from(position).map_err(|_| Errno::EOVERFLOW)?;
            description.set_offset(position);
        }
        Ok(written)
    }

    /// `chdir(path)`: makes `path` (following links) the working directory of `context`.
    ///
    /// # Errors
    /// `ENAMETOOLONG`, `ENOENT` (for an empty path too), `ELOOP`; `ENOTDIR` when it (or a
    /// component on the way) is not a directory.
    pub fn chdir(&self, context: &mut FileSystemContext, path: &[u8]) -> Result<(), Errno> {
        let how = Resolution {
            follow_last: true,
            ..Resolution::default()
        };
        // chdir has no directory argument; an empty table stands for "only AT_FDCWD".
        let table = DescriptorTable::new();
        let node = self.resolve_existing(context, &table, linux_abi::file::AT_FDCWD, path, how)?;
        self.enter(context, node)
    }

    /// `fchdir(fd)`: makes the directory open as `fd` (`O_PATH` included) the working
    /// directory.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open, `ENOTDIR` when it is not a directory (a pipe
    /// included).
    pub fn fchdir(
        &self,
        context: &mut FileSystemContext,
        table: &DescriptorTable,
        fd: i32,
    ) -> Result<(), Errno> {
        let node = table.get(fd)?.node().ok_or(Errno::ENOTDIR)?;
        self.enter(context, node)
    }

    /// `getcwd(buffer)`: writes the working directory's absolute path and a NUL into
    /// `buffer` (sized as the caller's `size`, clamped to `PATH_MAX` by the dispatcher if it
    /// likes) and returns the length with the NUL, as the system call does.
    ///
    /// # Errors
    /// `ERANGE` when the path and its NUL do not fit in `buffer`.
    pub fn getcwd(&self, context: &FileSystemContext, buffer: &mut [u8]) -> Result<usize, Errno> {
        let path = self.working_directory_path(context);
        let length = path.len() + 1;
        let target = buffer.get_mut(..length).ok_or(Errno::ERANGE)?;
        let (last, text) = target.split_last_mut().ok_or(Errno::ERANGE)?;
        text.copy_from_slice(&path);
        *last = 0;
        Ok(length)
    }

    /// The absolute path of the working directory of `context`, without a NUL.
    pub fn working_directory_path(&self, context: &FileSystemContext) -> Vec<u8> {
        self.path_of(context.working_directory())
    }

    /// Makes `node` the working directory if it is a directory.
    fn enter(&self, context: &mut FileSystemContext, node: NodeId) -> Result<(), Errno> {
        if !self.node(node).is_directory() {
            return Err(Errno::ENOTDIR);
        }
        context.set_working_directory(node);
        Ok(())
    }
}
