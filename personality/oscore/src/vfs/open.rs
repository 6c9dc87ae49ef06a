//! `openat`, and the lookup `execve` makes: from a path and flags to an open file
//! description, with Linux's checks in Linux's order.
//!
//! The order matters because programs test for specific errors (`O_CREAT | O_EXCL` on an
//! existing file must be `EEXIST` even on a read-only file system; a full table is `EMFILE`
//! even for a path that does not exist). It follows `fs/open.c` (`build_open_flags`,
//! `do_sys_openat2`) and `fs/namei.c` (`open_last_lookups`, `do_open`, `may_open`):
//! flag checks, then the path's own errors, then a free descriptor, then the walk, then the
//! checks on what the walk found.

use alloc::rc::Rc;

use linux_abi::errno::Errno;
use linux_abi::file::{
    AT_FDCWD, O_ACCMODE, O_APPEND, O_ASYNC, O_CLOEXEC, O_CREAT, O_DIRECT, O_DIRECTORY, O_DSYNC,
    O_EXCL, O_LARGEFILE, O_NOATIME, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_SYNC,
    O_TMPFILE, O_TRUNC,
};

use super::Vfs;
use super::context::FileSystemContext;
use super::description::OpenFileDescription;
use super::descriptors::DescriptorTable;
use super::node::{Contents, NodeKind};
use super::path::{Lookup, Resolution, checked_path};

/// `__O_TMPFILE`: the bit that, with `O_DIRECTORY`, makes `O_TMPFILE`.
const TMPFILE_BIT: u32 = O_TMPFILE & !O_DIRECTORY;

/// `VALID_OPEN_FLAGS` (`include/linux/fcntl.h`): the bits `openat` looks at; others are
/// ignored, as Linux ignores them.
const VALID_OPEN_FLAGS: u32 = 0o3 // O_RDONLY, O_WRONLY, O_RDWR
    | O_CREAT
    | O_EXCL
    | O_NOCTTY
    | O_TRUNC
    | O_APPEND
    | O_NONBLOCK
    | O_SYNC
    | O_DSYNC
    | O_ASYNC
    | O_DIRECT
    | O_LARGEFILE
    | O_DIRECTORY
    | O_NOFOLLOW
    | O_NOATIME
    | O_CLOEXEC
    | O_PATH
    | TMPFILE_BIT;

/// `O_PATH_FLAGS`: what `O_PATH` keeps of the other flags.
const PATH_ONLY_FLAGS: u32 = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;

/// Flags that act at open time only and are not reported by `F_GETFL`.
const OPEN_TIME_FLAGS: u32 = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;

/// `openat`'s flags, decoded and checked.
#[derive(Clone, Copy, Debug)]
struct OpenFlags {
    /// The flags as given, less unknown bits (and less everything `O_PATH` drops).
    bits: u32,
}

impl OpenFlags {
    /// Decodes `flags` as `build_open_how` and `build_open_flags` do.
    ///
    /// # Errors
    /// `EINVAL` for `O_CREAT | O_DIRECTORY` (Linux 6.4 on), for `O_TMPFILE` without
    /// `O_DIRECTORY`, with `O_CREAT`, or without write access.
    fn decode(flags: u32) -> Result<OpenFlags, Errno> {
        let mut bits = flags & VALID_OPEN_FLAGS;
        if bits & O_PATH != 0 {
            bits &= PATH_ONLY_FLAGS;
        }
        let decoded = OpenFlags { bits };
        if decoded.has(O_CREAT | O_DIRECTORY) {
            return Err(Errno::EINVAL);
        }
        if bits & TMPFILE_BIT != 0 && (bits & (O_TMPFILE | O_CREAT) != O_TMPFILE) {
            return Err(Errno::EINVAL);
        }
        if bits & TMPFILE_BIT != 0 && !decoded.needs_write_permission() {
            return Err(Errno::EINVAL);
        }
        Ok(decoded)
    }

    /// Whether every bit of `flags` is set.
    fn has(self, flags: u32) -> bool {
        self.bits & flags == flags
    }

    /// Whether the open needs permission to write: write access, the "ioctl only" access
    /// mode 3 (which Linux checks as read and write), or truncation. Never for `O_PATH`.
    fn needs_write_permission(self) -> bool {
        !self.has(O_PATH) && (self.bits & O_ACCMODE != O_RDONLY || self.has(O_TRUNC))
    }

    /// What `F_GETFL` will report: `O_LARGEFILE` as every open on a 64-bit kernel gets
    /// (except `O_PATH` ones, which drop it with everything else), less the open-time flags.
    fn status_flags(self) -> u32 {
        let large_file = if self.has(O_PATH) { 0 } else { O_LARGEFILE };
        (self.bits | large_file) & !OPEN_TIME_FLAGS
    }
}

impl Vfs {
    /// `openat(directory_fd, path, flags, mode)`: opens `path` and installs the description
    /// at the lowest free descriptor, which it returns (with close-on-exec when `O_CLOEXEC`).
    ///
    /// Every file system is read-only, so nothing can be created or truncated: `O_CREAT` of
    /// a missing file answers `EROFS`, and `mode` (and the umask) have nothing to apply to.
    /// `O_PATH` opens are supported (flags reduced as Linux reduces them; no permission
    /// checks; a symbolic link is opened itself with `O_NOFOLLOW`). Unknown flag bits are
    /// ignored. The installed description's [`OpenFileDescription::terminal`] tells when
    /// the file is the console or `/dev/tty`, which the tty module may want to know at open
    /// (controlling terminal, `ENXIO` for `/dev/tty` without one).
    ///
    /// # Errors
    /// In Linux's order: `EINVAL` for `O_CREAT | O_DIRECTORY` or a malformed `O_TMPFILE`
    /// (without `O_DIRECTORY`, with `O_CREAT`, or without write access);
    /// `ENAMETOOLONG`, `ENOENT` for an empty path; `EMFILE`; `EBADF`/`ENOTDIR` for the
    /// directory descriptor; `ENOENT`, `ENOTDIR`, `ENAMETOOLONG`, `ELOOP` from the walk;
    /// `EISDIR` for `O_CREAT` with a trailing slash or on a directory; `EEXIST` for
    /// `O_CREAT | O_EXCL` on anything existing; `EROFS` for creating; `ENOTDIR` for
    /// `O_DIRECTORY` on a non-directory; `ELOOP` for a final symbolic link with
    /// `O_NOFOLLOW`; `EISDIR` for write access or `O_TRUNC` on a directory; `EROFS` for
    /// write access or `O_TRUNC` on a read-only file.
    pub fn openat(
        &self,
        context: &FileSystemContext,
        table: &mut DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        flags: u32,
        mode: u32,
    ) -> Result<i32, Errno> {
        let close_on_exec = flags & O_CLOEXEC != 0;
        let description = self.open_description(context, table, directory_fd, path, flags, mode)?;
        table.install(description, close_on_exec)
    }

    /// The description `openat` would install, without installing it (but failing with
    /// `EMFILE` as `openat` would, so the error order stays Linux's).
    ///
    /// # Errors
    /// As [`Vfs::openat`].
    pub fn open_description(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        flags: u32,
        // Nothing can be created yet, so the creation mode is never applied.
        _creation_mode: u32,
    ) -> Result<Rc<OpenFileDescription>, Errno> {
        let flags = OpenFlags::decode(flags)?;
        checked_path(path, false)?;
        table.lowest_free(0)?;

        if flags.has(O_TMPFILE) {
            let how = Resolution {
                follow_last: true,
                ..Resolution::default()
            };
            let directory = self.resolve_existing(context, table, directory_fd, path, how)?;
            if !self.node(directory).is_directory() {
                return Err(Errno::ENOTDIR);
            }
            // Linux asks for write access to the mount before anything else.
            return Err(self.change_refused(directory));
        }

        let creating = flags.has(O_CREAT) && !flags.has(O_PATH);
        // O_EXCL makes a final link an existing name rather than a way to one.
        let exclusive_creation = creating && flags.has(O_EXCL);
        let how = Resolution {
            follow_last: !(flags.has(O_NOFOLLOW) || exclusive_creation),
            empty_path_allowed: false,
            creating,
        };
        let node_id = match self.resolve(context, table, directory_fd, path, how)? {
            Lookup::Existing(node) => node,
            Lookup::Missing(missing) if creating => {
                if missing.trailing_slash {
                    return Err(Errno::EISDIR);
                }
                return Err(self.change_refused(missing.directory));
            }
            Lookup::Missing(_) => return Err(Errno::ENOENT),
        };
        let node = self.node(node_id);
        if creating {
            if flags.has(O_EXCL) {
                return Err(Errno::EEXIST);
            }
            if node.is_directory() {
                return Err(Errno::EISDIR);
            }
        }
        if flags.has(O_DIRECTORY) && !node.is_directory() {
            return Err(Errno::ENOTDIR);
        }
        if !flags.has(O_PATH) {
            match node.kind {
                NodeKind::SymbolicLink(_) => return Err(Errno::ELOOP),
                NodeKind::Directory(_) if flags.needs_write_permission() => {
                    return Err(Errno::EISDIR);
                }
                _ => {}
            }
            if flags.needs_write_permission() && node.write_is_read_only() {
                return Err(Errno::EROFS);
            }
        }
        Ok(Rc::new(OpenFileDescription::new(
            node_id,
            node.device(),
            flags.status_flags(),
            flags.has(O_PATH),
        )))
    }

    /// The lookup `execve` makes: the bytes of the regular file `path` (relative to the
    /// working directory), following symbolic links. They are the archive's own bytes, which
    /// live as long as the server (the loader keeps them to fill pages on first touch); a
    /// writable file system will need shared ownership of file contents here instead.
    ///
    /// # Errors
    /// `ENAMETOOLONG`, `ENOENT`, `ENOTDIR`, `ELOOP` from the path; `EACCES` when it is not a
    /// regular file or has no execute bit (uid 0 may execute anything with some `x` bit).
    pub fn executable(
        &self,
        context: &FileSystemContext,
        path: &[u8],
    ) -> Result<&'static [u8], Errno> {
        let how = Resolution {
            follow_last: true,
            ..Resolution::default()
        };
        let table = DescriptorTable::new();
        let node = self.node(self.resolve_existing(context, &table, AT_FDCWD, path, how)?);
        match &node.kind {
            NodeKind::RegularFile(Contents::Archive(bytes)) if node.permissions & 0o111 != 0 => {
                Ok(bytes)
            }
            _ => Err(Errno::EACCES),
        }
    }
}
