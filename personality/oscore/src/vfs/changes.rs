//! The calls that would change the tree or a file's metadata: `mkdirat`, `mknodat`,
//! `symlinkat`, `linkat`, `unlinkat`, `renameat2`, `fchmodat`/`fchmod`,
//! `fchownat`/`fchown`, `utimensat`, `truncate`/`ftruncate`, and `fsync`.
//!
//! Every file system here is read-only, so each of them fails; what matters is *which*
//! error, because programs branch on it (`mkdir -p` treats `EEXIST` as success, `rm -f`
//! ignores `ENOENT`, shells report the rest). Each method makes the checks Linux makes
//! before it asks for write access to the mount, in Linux's order (`fs/namei.c`'s
//! `filename_create`, `do_unlinkat`, `do_rmdir`, `do_renameat2`; `fs/open.c`'s
//! `chmod_common`, `chown_common`, `do_sys_truncate`, `do_sys_ftruncate`;
//! `fs/utimes.c`), and then answers `EROFS`. A writable tmpfs will replace that last step
//! with the change itself; the checks stay.
//!
//! Pipes are the exception: pipefs is writable, so `fchmod`, `fchown` and `utimensat` on a
//! pipe (by descriptor, or by an empty path with `AT_EMPTY_PATH`) change its metadata as
//! Linux does, at the VFS's clock; `ftruncate` and `fsync` answer `EINVAL` as pipefs has
//! neither.

use linux_abi::errno::Errno;
use linux_abi::file::{
    AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, S_IFBLK,
    S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK,
};
use linux_abi::layout::Timespec;

use super::Vfs;
use super::context::FileSystemContext;
use super::descriptors::DescriptorTable;
use super::node::{NodeId, NodeKind};
use super::path::{LastComponent, Resolution, checked_path};
use super::pipe::PipeEnd;

/// `RENAME_NOREPLACE` (`linux/fs.h`): fail with `EEXIST` rather than replace the target.
pub const RENAME_NOREPLACE: u32 = 1;
/// `RENAME_EXCHANGE`: swap the two names.
pub const RENAME_EXCHANGE: u32 = 2;
/// `RENAME_WHITEOUT`: leave a whiteout at the old name (overlay file systems).
pub const RENAME_WHITEOUT: u32 = 4;

/// `UTIME_NOW`: `utimensat` sets this time to now.
pub const UTIME_NOW: i64 = (1 << 30) - 1;
/// `UTIME_OMIT`: `utimensat` leaves this time alone.
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// `S_ISUID`.
const SET_USER_ID: u32 = 0o4000;
/// `S_ISGID`.
const SET_GROUP_ID: u32 = 0o2000;
/// `S_IXGRP`.
const GROUP_EXECUTE: u32 = 0o010;

/// What a metadata change applies to.
enum Target<'table> {
    /// A node of the tree.
    Node(NodeId),
    /// A pipe.
    Pipe(&'table PipeEnd),
}

impl Vfs {
    /// `mkdirat(directory_fd, path, mode)`.
    ///
    /// # Errors
    /// The parent's path errors (`ENAMETOOLONG`, `ENOENT`, `ENOTDIR`, `ELOOP`, `EBADF`);
    /// `EEXIST` when the name exists or is `.`, `..` or `/`; `ENAMETOOLONG` for a long
    /// last name; otherwise `EROFS`.
    pub fn mkdirat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        // Nothing can be created, so the mode is never applied.
        _mode: u32,
    ) -> Result<(), Errno> {
        Err(self.create_name(context, table, directory_fd, path, true))
    }

    /// `mknodat(directory_fd, path, mode, device)`.
    ///
    /// # Errors
    /// `EPERM` for a directory type, `EINVAL` for an unknown type (before the path is
    /// looked at); then as [`Vfs::mkdirat`], except that a trailing slash after a missing
    /// name is `ENOENT`.
    pub fn mknodat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        mode: u32,
        // Nothing can be created, so the device number is never recorded.
        _device: u64,
    ) -> Result<(), Errno> {
        match mode & S_IFMT {
            0 | S_IFREG | S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK => {}
            S_IFDIR => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        }
        Err(self.create_name(context, table, directory_fd, path, false))
    }

    /// `symlinkat(target, directory_fd, path)`.
    ///
    /// # Errors
    /// `ENOENT` for an empty target, `ENAMETOOLONG` for a target of `PATH_MAX` bytes or
    /// more; then as [`Vfs::mknodat`].
    pub fn symlinkat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        target: &[u8],
        directory_fd: i32,
        path: &[u8],
    ) -> Result<(), Errno> {
        checked_path(target, false)?;
        Err(self.create_name(context, table, directory_fd, path, false))
    }

    /// `linkat(old_directory_fd, old_path, new_directory_fd, new_path, flags)`.
    ///
    /// # Errors
    /// `EINVAL` for flags other than `AT_SYMLINK_FOLLOW` and `AT_EMPTY_PATH`; the old
    /// path's errors (it must exist); then as [`Vfs::mknodat`] for the new path.
    #[allow(clippy::too_many_arguments)] // The system call's arguments, plus the process.
    pub fn linkat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        old_directory_fd: i32,
        old_path: &[u8],
        new_directory_fd: i32,
        new_path: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let empty_path_allowed = flags & AT_EMPTY_PATH != 0;
        let old_is_pipe = self
            .empty_path_pipe(table, old_directory_fd, old_path, empty_path_allowed)
            .is_some();
        if !old_is_pipe {
            let how = Resolution {
                follow_last: flags & AT_SYMLINK_FOLLOW != 0,
                empty_path_allowed,
                creating: false,
            };
            self.resolve_existing(context, table, old_directory_fd, old_path, how)?;
        }
        Err(self.create_name(context, table, new_directory_fd, new_path, false))
    }

    /// `unlinkat(directory_fd, path, flags)`: `unlink`, or `rmdir` with `AT_REMOVEDIR`.
    ///
    /// # Errors
    /// `EINVAL` for flags other than `AT_REMOVEDIR`; the parent's path errors; for
    /// `unlink`, `EISDIR` when the last component is `.`, `..` or `/`; for `rmdir`,
    /// `EINVAL` for `.`, `ENOTEMPTY` for `..`, `EBUSY` for `/`; then `EROFS` (Linux asks for
    /// write access before looking the name up, so a missing name is `EROFS` too).
    pub fn unlinkat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !AT_REMOVEDIR != 0 {
            return Err(Errno::EINVAL);
        }
        let parent = self.resolve_parent(context, table, directory_fd, path)?;
        let removing_directory = flags & AT_REMOVEDIR != 0;
        match parent.last {
            LastComponent::Name(_) => Err(self.change_refused(parent.directory)),
            _ if !removing_directory => Err(Errno::EISDIR),
            LastComponent::Dot => Err(Errno::EINVAL),
            LastComponent::DotDot => Err(Errno::ENOTEMPTY),
            LastComponent::Root => Err(Errno::EBUSY),
        }
    }

    /// `renameat2(old_directory_fd, old_path, new_directory_fd, new_path, flags)` (and
    /// `renameat`, with `flags` 0).
    ///
    /// # Errors
    /// `EINVAL` for unknown flags or `RENAME_EXCHANGE` with `RENAME_NOREPLACE` or
    /// `RENAME_WHITEOUT`; both parents' path errors; `EXDEV` across file systems; `EBUSY`
    /// when either last component is `.`, `..` or `/` (`EEXIST` for the new one under
    /// `RENAME_NOREPLACE`); then `EROFS`.
    #[allow(clippy::too_many_arguments)] // The system call's arguments, plus the process.
    pub fn renameat2(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        old_directory_fd: i32,
        old_path: &[u8],
        new_directory_fd: i32,
        new_path: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & (RENAME_NOREPLACE | RENAME_WHITEOUT) != 0 && flags & RENAME_EXCHANGE != 0 {
            return Err(Errno::EINVAL);
        }
        let old = self.resolve_parent(context, table, old_directory_fd, old_path)?;
        let new = self.resolve_parent(context, table, new_directory_fd, new_path)?;
        if self.node(old.directory).file_system != self.node(new.directory).file_system {
            return Err(Errno::EXDEV);
        }
        if !matches!(old.last, LastComponent::Name(_)) {
            return Err(Errno::EBUSY);
        }
        if !matches!(new.last, LastComponent::Name(_)) {
            return Err(if flags & RENAME_NOREPLACE != 0 {
                Errno::EEXIST
            } else {
                Errno::EBUSY
            });
        }
        Err(self.change_refused(old.directory))
    }

    /// `fchmodat2(directory_fd, path, mode, flags)` (and `fchmodat`, with `flags` 0).
    ///
    /// # Errors
    /// `EINVAL` for flags other than `AT_SYMLINK_NOFOLLOW` and `AT_EMPTY_PATH`; the path's
    /// errors; then `EROFS` (a pipe, named by an empty path, changes).
    pub fn fchmodat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        mode: u32,
        flags: u32,
    ) -> Result<(), Errno> {
        let target = self.resolve_for_metadata_change(context, table, directory_fd, path, flags)?;
        self.change_mode(target, mode)
    }

    /// `fchmod(fd, mode)`.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open or is `O_PATH`; then `EROFS` (a pipe changes).
    pub fn fchmod(&self, table: &DescriptorTable, fd: i32, mode: u32) -> Result<(), Errno> {
        let target = self.non_path_target(table, fd)?;
        self.change_mode(target, mode)
    }

    /// `fchownat(directory_fd, path, owner, group, flags)`.
    ///
    /// # Errors
    /// As [`Vfs::fchmodat`].
    #[allow(clippy::too_many_arguments)] // The system call's arguments, plus the process.
    pub fn fchownat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        owner: u32,
        group: u32,
        flags: u32,
    ) -> Result<(), Errno> {
        let target = self.resolve_for_metadata_change(context, table, directory_fd, path, flags)?;
        self.change_owner(target, owner, group)
    }

    /// `fchown(fd, owner, group)`.
    ///
    /// # Errors
    /// As [`Vfs::fchmod`].
    pub fn fchown(
        &self,
        table: &DescriptorTable,
        fd: i32,
        owner: u32,
        group: u32,
    ) -> Result<(), Errno> {
        let target = self.non_path_target(table, fd)?;
        self.change_owner(target, owner, group)
    }

    /// `utimensat(directory_fd, path, times, flags)` after the dispatcher has checked the
    /// times (`EINVAL` for a bad `tv_nsec`, `EFAULT`). `path` is `None` for a null
    /// pointer, which means `directory_fd` itself (Linux's `futimens`); `times` is `None`
    /// for a null pointer, which means both times become now; a time whose nanoseconds are
    /// [`UTIME_NOW`] becomes now, one with [`UTIME_OMIT`] stays.
    ///
    /// # Errors
    /// `EINVAL` for flags other than `AT_SYMLINK_NOFOLLOW` and `AT_EMPTY_PATH`, or any flag
    /// with a null path; `EBADF` for a null path and a descriptor that is not open (or is
    /// `O_PATH`); `EFAULT` for a null path with `AT_FDCWD`; the path's errors; then `EROFS`
    /// (a pipe changes).
    pub fn utimensat(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: Option<&[u8]>,
        times: Option<&[Timespec; 2]>,
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let empty_path_allowed = flags & AT_EMPTY_PATH != 0;
        let target = match path {
            None if directory_fd == AT_FDCWD => return Err(Errno::EFAULT),
            None if flags != 0 => return Err(Errno::EINVAL),
            None => self.non_path_target(table, directory_fd)?,
            Some(path) => {
                match self.empty_path_pipe(table, directory_fd, path, empty_path_allowed) {
                    Some(pipe) => Target::Pipe(pipe),
                    None => {
                        let how = Resolution {
                            follow_last: flags & AT_SYMLINK_NOFOLLOW == 0,
                            empty_path_allowed,
                            creating: false,
                        };
                        Target::Node(self.resolve_existing(
                            context,
                            table,
                            directory_fd,
                            path,
                            how,
                        )?)
                    }
                }
            }
        };
        match target {
            Target::Node(node) => Err(self.change_refused(node)),
            Target::Pipe(pipe) => {
                let now = self.clock();
                let chosen = |time: Timespec| match time.nanoseconds {
                    UTIME_NOW => Some(now),
                    UTIME_OMIT => None,
                    _ => Some(time),
                };
                let (access, modification) = match times {
                    None => (Some(now), Some(now)),
                    Some([access, modification]) => (chosen(*access), chosen(*modification)),
                };
                pipe.set_times(access, modification, now);
                Ok(())
            }
        }
    }

    /// `truncate(path, length)`, relative to the working directory.
    ///
    /// # Errors
    /// `EINVAL` for a negative length; the path's errors; `EISDIR` for a directory,
    /// `EINVAL` for anything else but a regular file; then `EROFS`.
    pub fn truncate(
        &self,
        context: &FileSystemContext,
        path: &[u8],
        length: i64,
    ) -> Result<(), Errno> {
        if length < 0 {
            return Err(Errno::EINVAL);
        }
        let how = Resolution {
            follow_last: true,
            ..Resolution::default()
        };
        let table = DescriptorTable::new();
        let node = self.resolve_existing(context, &table, AT_FDCWD, path, how)?;
        match self.node(node).kind {
            NodeKind::Directory(_) => Err(Errno::EISDIR),
            NodeKind::RegularFile(_) => Err(self.change_refused(node)),
            NodeKind::SymbolicLink(_) | NodeKind::CharacterDevice(_) => Err(Errno::EINVAL),
        }
    }

    /// `ftruncate(fd, length)`.
    ///
    /// # Errors
    /// `EINVAL` for a negative length; `EBADF` when `fd` is not open or is `O_PATH`;
    /// `EINVAL` unless it is a regular file open for writing (which no file of the
    /// read-only root can be).
    pub fn ftruncate(&self, table: &DescriptorTable, fd: i32, length: i64) -> Result<(), Errno> {
        if length < 0 {
            return Err(Errno::EINVAL);
        }
        let description = table.get(fd)?;
        if description.is_path_only() {
            return Err(Errno::EBADF);
        }
        // A pipe is not a regular file.
        let node = description.node().ok_or(Errno::EINVAL)?;
        let is_regular = matches!(self.node(node).kind, NodeKind::RegularFile(_));
        if !is_regular || !description.is_writable() {
            return Err(Errno::EINVAL);
        }
        Err(self.change_refused(node))
    }

    /// `fsync(fd)` and `fdatasync(fd)`: nothing is ever dirty, so files and directories
    /// succeed at once.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open or is `O_PATH`; `EINVAL` for a device or a pipe,
    /// which have no way to synchronise (Linux's `/dev/null`, terminals and pipes answer
    /// the same).
    pub fn fsync(&self, table: &DescriptorTable, fd: i32) -> Result<(), Errno> {
        let Target::Node(node) = self.non_path_target(table, fd)? else {
            return Err(Errno::EINVAL);
        };
        match self.node(node).kind {
            NodeKind::CharacterDevice(_) => Err(Errno::EINVAL),
            NodeKind::Directory(_) | NodeKind::RegularFile(_) | NodeKind::SymbolicLink(_) => Ok(()),
        }
    }

    /// Linux's `filename_create` up to its request for write access: the answer to creating
    /// `path` (a directory when `directory`, which allows a trailing slash).
    fn create_name(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        directory: bool,
    ) -> Errno {
        let parent = match self.resolve_parent(context, table, directory_fd, path) {
            Ok(parent) => parent,
            Err(error) => return error,
        };
        let LastComponent::Name(name) = parent.last else {
            return Errno::EEXIST;
        };
        match self.lookup_child(parent.directory, &name) {
            Err(error) => error,
            Ok(Some(_)) => Errno::EEXIST,
            Ok(None) if parent.trailing_slash && !directory => Errno::ENOENT,
            Ok(None) => self.change_refused(parent.directory),
        }
    }

    /// What `fchmodat`/`fchownat` change, after their flag check.
    fn resolve_for_metadata_change<'table>(
        &self,
        context: &FileSystemContext,
        table: &'table DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        flags: u32,
    ) -> Result<Target<'table>, Errno> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let empty_path_allowed = flags & AT_EMPTY_PATH != 0;
        if let Some(pipe) = self.empty_path_pipe(table, directory_fd, path, empty_path_allowed) {
            return Ok(Target::Pipe(pipe));
        }
        let how = Resolution {
            follow_last: flags & AT_SYMLINK_NOFOLLOW == 0,
            empty_path_allowed,
            creating: false,
        };
        self.resolve_existing(context, table, directory_fd, path, how)
            .map(Target::Node)
    }

    /// The node or pipe of `fd`, which must not be an `O_PATH` descriptor (`EBADF`, as
    /// Linux's `fdget` does not see those).
    fn non_path_target<'table>(
        &self,
        table: &'table DescriptorTable,
        fd: i32,
    ) -> Result<Target<'table>, Errno> {
        let description = table.get(fd)?;
        if description.is_path_only() {
            return Err(Errno::EBADF);
        }
        match (description.node(), description.pipe()) {
            (Some(node), _) => Ok(Target::Node(node)),
            (None, Some(pipe)) => Ok(Target::Pipe(pipe)),
            // A description is of a node or a pipe; nothing else exists.
            (None, None) => Err(Errno::EBADF),
        }
    }

    /// `chmod_common`'s change: refused on the read-only tree, applied to a pipe.
    fn change_mode(&self, target: Target<'_>, mode: u32) -> Result<(), Errno> {
        match target {
            Target::Node(node) => Err(self.change_refused(node)),
            Target::Pipe(pipe) => {
                pipe.change_mode(mode, self.clock());
                Ok(())
            }
        }
    }

    /// `chown_common`'s change: refused on the read-only tree, applied to a pipe (an id
    /// of `-1` stays). As on Linux, a change of owner by anyone clears set-user-ID, and
    /// set-group-ID when group execute is set too (otherwise it marks mandatory locking).
    fn change_owner(&self, target: Target<'_>, owner: u32, group: u32) -> Result<(), Errno> {
        match target {
            Target::Node(node) => Err(self.change_refused(node)),
            Target::Pipe(pipe) => {
                let now = self.clock();
                let unless_unchanged = |id: u32| (id != u32::MAX).then_some(id);
                pipe.change_owner(unless_unchanged(owner), unless_unchanged(group), now);
                let mode = pipe.permissions();
                let mut kept = mode & !SET_USER_ID;
                if mode & (SET_GROUP_ID | GROUP_EXECUTE) == SET_GROUP_ID | GROUP_EXECUTE {
                    kept &= !SET_GROUP_ID;
                }
                if kept != mode {
                    pipe.change_mode(kept, now);
                }
                Ok(())
            }
        }
    }

    /// The answer to changing something on `node`'s file system once every earlier check
    /// has passed: `EROFS`, as every file system here is read-only (a writable one will
    /// make the change instead of calling this).
    pub(crate) fn change_refused(&self, node: NodeId) -> Errno {
        let file_system = self.node(node).file_system;
        if file_system.is_read_only() {
            Errno::EROFS
        } else {
            // No writable file system exists; one would implement the change rather than
            // reach here, so refuse loudly rather than pretend it happened.
            Errno::EOPNOTSUPP
        }
    }
}
