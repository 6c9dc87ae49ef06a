//! The file system layer of the OS server: the tree (the initrd as a read-only root, and the
//! device nodes in `/dev`), path resolution, open file descriptions, per-process descriptor
//! tables and working directories, and one method per file system call.
//!
//! Why it is shaped this way: the server's system-call dispatcher copies user memory in and
//! out and nothing else, so every method here takes the call's decoded arguments (path bytes
//! already copied in, kernel-side buffers) and answers `Result<_, Errno>` exactly as Linux
//! would, error order included; the dispatcher stays a thin layer that cannot get the
//! semantics wrong. The state a Linux process owns is split the way Linux splits it:
//!
//! - [`Vfs`]: the one tree, shared by every process. Nodes live in an arena indexed by
//!   [`NodeId`]; the index gives a stable, unique inode number. Regular files and symbolic
//!   links borrow their bytes from the archive (nothing is copied). The node kind is an enum
//!   so that a writable tmpfs (owned contents, creation, unlinking) can be added as further
//!   variants and a writable file system, without touching path resolution or the
//!   descriptor code.
//! - [`OpenFileDescription`]: what `open` creates (node, offset, status flags), shared by
//!   `Rc` between descriptors after `dup` and between processes after `fork`, so they share
//!   one offset as POSIX requires. The server is single-threaded, so `Rc` and `Cell` suffice.
//! - [`DescriptorTable`]: one per process: numbers to descriptions plus the close-on-exec
//!   flag, `dup`/`dup3`/`fcntl`, `fork`'s copy and `exec`'s cleanup.
//! - [`FileSystemContext`]: one per process: working directory and umask, cloned at `fork`.
//! - [`PipeEnd`]: what a description of a pipe holds instead of a node. Pipes are not in
//!   the tree; the calls that take a descriptor answer for them as Linux's pipefs does, and
//!   the dispatcher moves their bytes and parks callers that must wait, as it does for
//!   terminals.
//!
//! The console and `/dev/tty` are not implemented here: their line discipline lives in the
//! tty module. `read` and `write` on such a description answer
//! [`IoOutcome::Terminal`] instead of pretending, and [`Vfs::terminal`] tells `ioctl` where
//! to go, so the dispatcher routes them.
//!
//! Permissions are checked with the semantics of uid 0 (the only user for now): reading and
//! writing are always allowed except writing on a read-only file system (`EROFS`), executing
//! needs some execute bit on non-directories. Every file system is read-only today, so every
//! attempt to create or change a file answers `EROFS` (after the errors Linux reports first).
//!
//! The calls, for the dispatcher (`context` and `table` are the calling process's):
//!
//! | system call | method |
//! |---|---|
//! | `openat` | [`Vfs::openat`] (or [`Vfs::open_description`] + [`DescriptorTable::install`]) |
//! | `close`, `close_range`, `dup`, `dup3`, `fcntl` | [`DescriptorTable::close`], [`DescriptorTable::close_range`], [`DescriptorTable::dup`], [`DescriptorTable::dup3`], [`DescriptorTable::fcntl`] |
//! | `pipe2` | [`Vfs::pipe2`]; then, for each transfer, [`PipeEnd`] (see [`IoOutcome::Pipe`]) |
//! | `read`, `write` (`readv`, `writev`: loop) | [`Vfs::read`], [`Vfs::write`] |
//! | `pread64`, `pwrite64` (`preadv`, `pwritev`: loop) | [`Vfs::pread64`], [`Vfs::pwrite64`] |
//! | `lseek` | [`Vfs::lseek`] |
//! | `ioctl` | [`Vfs::terminal`], then the tty module |
//! | `getdents64` | [`Vfs::getdents64`] |
//! | `fstat`, `newfstatat` | [`Vfs::fstat`], [`Vfs::newfstatat`] |
//! | `readlinkat`, `faccessat`, `faccessat2` | [`Vfs::readlinkat`], [`Vfs::faccessat`] |
//! | `chdir`, `fchdir`, `getcwd`, `umask` | [`Vfs::chdir`], [`Vfs::fchdir`], [`Vfs::getcwd`], [`FileSystemContext::set_umask`] |
//! | `mkdirat`, `mknodat`, `symlinkat`, `linkat`, `unlinkat`, `renameat`, `renameat2` | [`Vfs::mkdirat`], [`Vfs::mknodat`], [`Vfs::symlinkat`], [`Vfs::linkat`], [`Vfs::unlinkat`], [`Vfs::renameat2`] |
//! | `fchmod`, `fchmodat`, `fchown`, `fchownat`, `utimensat` | [`Vfs::fchmod`], [`Vfs::fchmodat`], [`Vfs::fchown`], [`Vfs::fchownat`], [`Vfs::utimensat`] |
//! | `truncate`, `ftruncate`, `fsync`, `fdatasync` | [`Vfs::truncate`], [`Vfs::ftruncate`], [`Vfs::fsync`] |
//! | `execve` (the file) | [`Vfs::executable`] |
//! | `fork`, `execve`, `exit` (the tables) | [`DescriptorTable::clone_for_fork`], [`DescriptorTable::close_on_exec`], [`DescriptorTable::close_all`]; `FileSystemContext` is `Clone` |
//!
//! Known gaps, all from what the archive reader exposes: `kcore::boot_modules::Entry` carries
//! the name, mode and data only, so owners are root (uid and gid 0), all times are 0, hard
//! links in the archive become independent files, and device nodes in the archive cannot
//! carry their numbers (see [`BuildError::UnsupportedFileType`]).

mod build;
mod changes;
mod context;
mod description;
mod descriptors;
mod directory;
mod io;
mod metadata;
mod node;
mod open;
mod path;
mod pipe;

#[cfg(test)]
mod tests;

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::Cell;

use linux_abi::layout::Timespec;

pub use build::BuildError;
pub use changes::{RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT, UTIME_NOW, UTIME_OMIT};
pub use context::FileSystemContext;
pub use description::OpenFileDescription;
pub use descriptors::{
    CLOSE_RANGE_CLOEXEC, CLOSE_RANGE_UNSHARE, DEFAULT_DESCRIPTOR_LIMIT, DescriptorTable,
};
pub use io::IoOutcome;
pub use node::{
    DEVICES_FILE_SYSTEM_DEVICE, Device, INITRD_FILE_SYSTEM_DEVICE, NodeId, make_device_number,
};
pub use pipe::{
    DEFAULT_PIPE_CAPACITY, F_GETPIPE_SZ, F_SETPIPE_SZ, MAXIMUM_PIPE_CAPACITY, PIPE_BUF,
    PIPE_FILE_SYSTEM_DEVICE, PIPE_MEMORY_HARD_LIMIT, PIPE_MEMORY_SOFT_LIMIT, PipeEnd, PipePoll,
    PipeReadiness, PipeRoom, PipeSide, REDUCED_PIPE_CAPACITY,
};

use node::Node;
use pipe::PipeLedger;

/// `PATH_MAX`: the longest path a call accepts, counting its terminating NUL.
pub const PATH_MAX: usize = 4096;

/// `NAME_MAX`: the longest name of one path component.
pub const NAME_MAX: usize = 255;

/// `MAXSYMLINKS`: how many symbolic links one path resolution may follow; one more is
/// `ELOOP`.
pub const MAXIMUM_SYMBOLIC_LINKS: u32 = 40;

/// The file system tree shared by every process: the initrd's files, directories and
/// symbolic links, and the device nodes in `/dev`.
///
/// Built once by [`Vfs::from_initrd`]; the system-call methods take the calling process's
/// [`FileSystemContext`] and [`DescriptorTable`] as arguments, so one `Vfs` serves all.
#[derive(Debug)]
pub struct Vfs {
    /// The arena: a node's [`NodeId`] is its index, the root is index 0.
    nodes: Vec<Node>,
    /// What "now" is for the times files record (pipes today); the dispatcher sets it
    /// before each event with [`Vfs::set_clock`].
    clock: Cell<Timespec>,
    /// The inode number the next pipe gets.
    next_pipe_inode: Cell<u64>,
    /// Counts pipe changes that may let a waiting call continue, and pipe memory.
    pipe_ledger: Rc<PipeLedger>,
}

impl Vfs {
    /// A tree of `nodes` (the builder's arena) with no pipes yet and the clock at the epoch.
    fn with_nodes(nodes: Vec<Node>) -> Vfs {
        Vfs {
            nodes,
            clock: Cell::new(Timespec::default()),
            next_pipe_inode: Cell::new(1),
            pipe_ledger: Rc::new(PipeLedger::default()),
        }
    }

    /// Sets the wall-clock time that changes made from now on record (until the next call).
    pub fn set_clock(&self, now: Timespec) {
        self.clock.set(now);
    }

    /// The time [`Vfs::set_clock`] last set (the epoch before the first call).
    pub fn clock(&self) -> Timespec {
        self.clock.get()
    }

    /// How many pipe changes that may let a waiting call continue there have been: the
    /// dispatcher retries its pipe waiters when this moved (see `pipe.rs`).
    pub fn pipe_activity(&self) -> u64 {
        self.pipe_ledger.activity()
    }

    /// The root directory.
    pub fn root(&self) -> NodeId {
        NodeId::ROOT
    }

    /// The file system context of the first process: working directory `/`, umask `0o022`.
    pub fn initial_context(&self) -> FileSystemContext {
        FileSystemContext::new(self.root())
    }

    /// The node behind `id`. [`NodeId`]s are minted only by this module, only for nodes in
    /// the arena, and nodes are never removed, so the index is always in range (user space
    /// names files by path and descriptor, never by `NodeId`).
    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }
}
