//! Open file descriptions: what one successful `open` creates, and what `dup` and `fork`
//! share.
//!
//! POSIX separates the descriptor (a number, with the close-on-exec flag) from the open file
//! description it refers to (the file, the offset, the status flags). Descriptors made by
//! `dup`, `dup3`, `fcntl(F_DUPFD)` or inherited through `fork` refer to the same description
//! and so move one shared offset; a second `open` of the same file makes a new one. Tables
//! hold an `Rc<OpenFileDescription>`; the offset and the changeable flags are `Cell`s, which
//! cannot fail to borrow, because the server is single-threaded and never holds them across
//! a call.
//!
//! A description refers to a node of the tree or to one end of a pipe ([`PipeEnd`]), which
//! is not in the tree: pipefs has no names. The description owns the end, so the pipe's count
//! of readers and writers follows the description's life (see `pipe.rs`).

use core::cell::Cell;

use linux_abi::file::{O_ACCMODE, O_APPEND, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY};

use super::node::{Device, NodeId};
use super::pipe::PipeEnd;

/// The status flags `F_SETFL` may change; the part of Linux's `SETFL_MASK` that this server
/// implements (`O_ASYNC`, `O_DIRECT` and `O_NOATIME` are accepted and ignored, as they would
/// change nothing here).
const CHANGEABLE_STATUS_FLAGS: u32 = O_APPEND | O_NONBLOCK;

/// What a description refers to.
#[derive(Debug)]
enum OpenFile {
    /// A node of the tree, with its device when it is a device node.
    Node {
        /// The node.
        node: NodeId,
        /// The device, for a device node.
        device: Option<Device>,
    },
    /// One end of a pipe.
    Pipe(PipeEnd),
}

/// One open file: the node or pipe end, the offset, the access mode and the status flags.
#[derive(Debug)]
pub struct OpenFileDescription {
    file: OpenFile,
    path_only: bool,
    /// What `F_GETFL` reports: access mode and status flags.
    status_flags: Cell<u32>,
    /// The file offset; never negative. For a directory, the position in its listing.
    offset: Cell<i64>,
}

impl OpenFileDescription {
    /// A description of `node` at offset 0. `status_flags` is the `F_GETFL` value (access
    /// mode included); `path_only` marks an `O_PATH` description, which can neither read nor
    /// write.
    pub(crate) fn new(
        node: NodeId,
        device: Option<Device>,
        status_flags: u32,
        path_only: bool,
    ) -> Self {
        OpenFileDescription {
            file: OpenFile::Node { node, device },
            path_only,
            status_flags: Cell::new(status_flags),
            offset: Cell::new(0),
        }
    }

    /// A description of the pipe end `end`; `status_flags` is the `F_GETFL` value
    /// (`O_RDONLY` or `O_WRONLY`, with `O_NONBLOCK` if asked for).
    pub(crate) fn new_pipe(end: PipeEnd, status_flags: u32) -> Self {
        OpenFileDescription {
            file: OpenFile::Pipe(end),
            path_only: false,
            status_flags: Cell::new(status_flags),
            offset: Cell::new(0),
        }
    }

    /// The file's node, `None` for a pipe (which is not in the tree).
    pub fn node(&self) -> Option<NodeId> {
        match self.file {
            OpenFile::Node { node, .. } => Some(node),
            OpenFile::Pipe(_) => None,
        }
    }

    /// The device, when the file is a device node.
    pub fn device(&self) -> Option<Device> {
        match self.file {
            OpenFile::Node { device, .. } => device,
            OpenFile::Pipe(_) => None,
        }
    }

    /// The pipe end, when the file is a pipe.
    pub fn pipe(&self) -> Option<&PipeEnd> {
        match &self.file {
            OpenFile::Pipe(end) => Some(end),
            OpenFile::Node { .. } => None,
        }
    }

    /// The terminal ([`Device::Console`] or [`Device::ControllingTerminal`]) whose I/O and
    /// ioctls the tty module must answer, when the file is one (and not opened `O_PATH`).
    pub fn terminal(&self) -> Option<Device> {
        self.device()
            .filter(|device| device.is_terminal() && !self.path_only)
    }

    /// What `fcntl(F_GETFL)` answers: the access mode (`O_RDONLY`, `O_WRONLY`, `O_RDWR`, or
    /// 3 for Linux's "ioctl only" mode), `O_LARGEFILE` as every 64-bit open gets, and the
    /// other open flags that stay with a description (`O_APPEND`, `O_NONBLOCK`,
    /// `O_DIRECTORY`, `O_NOFOLLOW`, `O_PATH`, ...).
    pub fn status_flags(&self) -> u32 {
        self.status_flags.get()
    }

    /// Whether `O_NONBLOCK` is set: reads and writes that would wait answer `EAGAIN`.
    pub fn is_nonblocking(&self) -> bool {
        self.status_flags() & O_NONBLOCK != 0
    }

    /// Whether `O_APPEND` is set: every write goes to the end of the file.
    pub fn is_append(&self) -> bool {
        self.status_flags() & O_APPEND != 0
    }

    /// Whether it was opened `O_PATH`: usable as a directory for `*at` calls, for `fstat`,
    /// `fchdir`, `dup` and `close`, but for no I/O (`EBADF`).
    pub fn is_path_only(&self) -> bool {
        self.path_only
    }

    /// Whether `read` is allowed (opened `O_RDONLY` or `O_RDWR`, not `O_PATH`).
    pub fn is_readable(&self) -> bool {
        let mode = self.status_flags() & O_ACCMODE;
        !self.path_only && (mode == O_RDONLY || mode == O_RDWR)
    }

    /// Whether `write` is allowed (opened `O_WRONLY` or `O_RDWR`, not `O_PATH`).
    pub fn is_writable(&self) -> bool {
        let mode = self.status_flags() & O_ACCMODE;
        !self.path_only && (mode == O_WRONLY || mode == O_RDWR)
    }

    /// The file offset (for a directory: how many entries `getdents64` has returned, `.`
    /// and `..` included).
    pub fn offset(&self) -> i64 {
        self.offset.get()
    }

    /// Moves the offset; `offset` is never negative.
    pub(crate) fn set_offset(&self, offset: i64) {
        self.offset.set(offset);
    }

    /// `F_SETFL`: takes `O_APPEND` and `O_NONBLOCK` from `requested` and keeps every other
    /// flag, the access mode included.
    pub(crate) fn set_status_flags(&self, requested: u32) {
        let kept = self.status_flags() & !CHANGEABLE_STATUS_FLAGS;
        self.status_flags
            .set(kept | (requested & CHANGEABLE_STATUS_FLAGS));
    }
}
