//! Pipes: a byte buffer shared by a read end and a write end, what `pipe2` creates.
//!
//! Why it is shaped this way: Linux counts a pipe's readers and writers per open file
//! description (`struct file`), which `dup`, `dup3`, `fcntl(F_DUPFD)` and `fork` share and
//! which goes away when its last descriptor is closed, replaced, closed on exec or closed by
//! an exiting process. Here a description of a pipe owns a [`PipeEnd`], and descriptions are
//! shared by `Rc`, so an end is counted exactly while its description lives: it counts
//! itself in when created and out in `Drop`. No caller has to remember to tell the pipe.
//!
//! Waiting is not modelled here. The ends answer what would happen *now* (bytes to read,
//! end of file, room to write, a broken pipe, or "would block"), and the dispatcher parks
//! the caller when the answer is to wait. Every change that may let a waiting call go on
//! (bytes in, bytes out, the last reader or writer gone) counts one more in a counter all
//! pipes share (the [`PipeLedger`]), so the dispatcher learns after each event that it must
//! retry its pipe waiters, even when the change was a description dropped deep inside an
//! `exit`.
//!
//! The buffer is counted in bytes with Linux's default capacity of 16 pages (64 KiB), which
//! `F_SETPIPE_SZ` changes. Writes of at most [`PIPE_BUF`] bytes are atomic: they wait until
//! all of them fit (Linux puts such a write in one page buffer). The bytes live in a
//! `VecDeque` that grows as they come and is given back when the pipe drains, so an idle
//! pipe costs the server about a hundred bytes, not 64 KiB.
//!
//! The bytes live in the server's heap, so a client filling many pipes must not exhaust it.
//! As Linux does per user (`fs.pipe-user-pages-soft` and `-hard`), the ledger adds up the
//! capacities of all live pipes: past [`PIPE_MEMORY_SOFT_LIMIT`] new pipes get two pages
//! and `F_SETPIPE_SZ` may not grow one (`EPERM`), past [`PIPE_MEMORY_HARD_LIMIT`] `pipe2`
//! fails with `ENFILE`. Linux exempts privileged callers, and every process here is root;
//! the server applies the limits to everyone, scaled to its 64 MiB heap, because its heap
//! is shared by all of them.
//!
//! Metadata follows Linux's pipefs: `S_IFIFO | 0600`, owned by its creator, one link, size
//! 0, `st_blksize` a page, an inode number of its own on a device of its own; times are set
//! at creation, reads move the access time and writes the modification and change times
//! (the VFS's clock, [`super::Vfs::set_clock`], gives "now").

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use linux_abi::errno::Errno;
use linux_abi::file::{O_CLOEXEC, O_DIRECT, O_EXCL, O_NONBLOCK, O_RDONLY, O_WRONLY, S_IFIFO};
use linux_abi::layout::{Stat, Timespec};

use super::Vfs;
use super::description::OpenFileDescription;
use super::descriptors::DescriptorTable;
use super::node::make_device_number;

/// `PIPE_BUF`: writes of at most this many bytes are atomic.
pub const PIPE_BUF: usize = 4096;

/// The capacity a pipe starts with: Linux's 16 pages.
pub const DEFAULT_PIPE_CAPACITY: usize = 16 * PAGE_SIZE;

/// The largest capacity `F_SETPIPE_SZ` grants: Linux's default `fs.pipe-max-size`, 1 MiB.
/// Linux lets a caller with `CAP_SYS_RESOURCE` (root) exceed it; the server does not, so
/// that a client cannot make it hold gigabytes on its behalf.
pub const MAXIMUM_PIPE_CAPACITY: usize = 1 << 20;

/// `st_dev` of every pipe: an anonymous device of its own, as Linux's pipefs has.
pub const PIPE_FILE_SYSTEM_DEVICE: u64 = make_device_number(0, 12);

/// The capacity all live pipes may have together before new pipes get only
/// [`REDUCED_PIPE_CAPACITY`] (Linux's `pipe-user-pages-soft`, scaled to the server).
pub const PIPE_MEMORY_SOFT_LIMIT: usize = 16 << 20;

/// The capacity all live pipes may have together; `pipe2` beyond it is `ENFILE` (Linux's
/// `pipe-user-pages-hard`, unlimited there by default).
pub const PIPE_MEMORY_HARD_LIMIT: usize = 32 << 20;

/// The capacity of a pipe made past the soft limit: Linux's `PIPE_MIN_DEF_BUFFERS`, two
/// pages.
pub const REDUCED_PIPE_CAPACITY: usize = 2 * PAGE_SIZE;

/// `F_SETPIPE_SZ` (`F_LINUX_SPECIFIC_BASE + 7`): set a pipe's capacity.
pub const F_SETPIPE_SZ: u32 = 1031;

/// `F_GETPIPE_SZ` (`F_LINUX_SPECIFIC_BASE + 8`): a pipe's capacity.
pub const F_GETPIPE_SZ: u32 = 1032;

/// `O_NOTIFICATION_PIPE` (`O_EXCL`): a pipe for kernel notifications (watch queues).
const O_NOTIFICATION_PIPE: u32 = O_EXCL;

/// The page size: pipes are sized in pages.
const PAGE_SIZE: usize = 4096;

/// The permission bits of a new pipe (`S_IRUSR | S_IWUSR`).
const PIPE_PERMISSIONS: u32 = 0o600;

/// Above this many bytes of spare capacity, a drained pipe gives its buffer back.
const KEPT_SPARE_CAPACITY: usize = PAGE_SIZE;

/// Which end of a pipe a description is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeSide {
    /// The read end (`fds[0]`).
    Read,
    /// The write end (`fds[1]`).
    Write,
}

/// What all pipes of one VFS share: a counter of the changes that may let a waiting call
/// continue (the dispatcher compares it before and after its work), and the sum of their
/// capacities, which the memory limits bound. See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct PipeLedger {
    /// Changes so far (wrapping; only equality matters).
    activity: Cell<u64>,
    /// The capacities of all live pipes, added up.
    capacity_in_use: Cell<usize>,
}

impl PipeLedger {
    /// How many changes there have been.
    pub(crate) fn activity(&self) -> u64 {
        self.activity.get()
    }

    /// Counts one change.
    fn bump(&self) {
        self.activity.set(self.activity.get().wrapping_add(1));
    }

    /// The capacity of a new pipe: the default, or two pages past the soft limit.
    ///
    /// # Errors
    /// `ENFILE` when even that would pass the hard limit.
    fn capacity_for_new_pipe(&self) -> Result<usize, Errno> {
        let in_use = self.capacity_in_use.get();
        let capacity = if in_use.saturating_add(DEFAULT_PIPE_CAPACITY) <= PIPE_MEMORY_SOFT_LIMIT {
            DEFAULT_PIPE_CAPACITY
        } else {
            REDUCED_PIPE_CAPACITY
        };
        if in_use.saturating_add(capacity) > PIPE_MEMORY_HARD_LIMIT {
            return Err(Errno::ENFILE);
        }
        Ok(capacity)
    }

    /// Replaces `old` bytes of capacity in use by `new`.
    fn exchange(&self, old: usize, new: usize) {
        let in_use = self.capacity_in_use.get().saturating_sub(old);
        self.capacity_in_use.set(in_use.saturating_add(new));
    }
}

/// What a read of a pipe would do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeReadiness {
    /// This many bytes are buffered (at least one).
    Data(usize),
    /// Nothing is buffered and no write end is left: the read answers 0.
    EndOfFile,
    /// Nothing is buffered and a writer may still write: the read waits (or `EAGAIN`).
    WouldBlock,
}

/// What a write to a pipe would do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeRoom {
    /// This many of the bytes may be written now (at least one).
    Room(usize),
    /// Too little room: the write waits (or `EAGAIN`).
    WouldBlock,
    /// No read end is left: `EPIPE` and `SIGPIPE`.
    Broken,
}

/// What `poll` sees on one end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipePoll {
    /// Read end: bytes are buffered (`POLLIN`).
    pub readable: bool,
    /// Read end: no writer is left (`POLLHUP`).
    pub hung_up: bool,
    /// Write end: a write of `PIPE_BUF` bytes would not wait (`POLLOUT`).
    pub writable: bool,
    /// Write end: no reader is left (`POLLERR`).
    pub broken: bool,
}

/// The state both ends share.
#[derive(Debug)]
struct PipeState {
    /// The buffered bytes, oldest first.
    bytes: RefCell<VecDeque<u8>>,
    /// How many bytes may be buffered.
    capacity: Cell<usize>,
    /// Live descriptions of the read end.
    readers: Cell<usize>,
    /// Live descriptions of the write end.
    writers: Cell<usize>,
    /// `st_ino`.
    inode: u64,
    /// The permission bits (`fchmod` changes them).
    permissions: Cell<u32>,
    /// `st_uid`.
    owner: Cell<u32>,
    /// `st_gid`.
    group: Cell<u32>,
    /// `st_atime`.
    access_time: Cell<Timespec>,
    /// `st_mtime`.
    modification_time: Cell<Timespec>,
    /// `st_ctime`.
    change_time: Cell<Timespec>,
    /// Told of every change that may wake a waiter, and of the capacity.
    ledger: Rc<PipeLedger>,
}

impl Drop for PipeState {
    fn drop(&mut self) {
        // The pipe is gone (both ends are): its capacity is free for others.
        self.ledger.exchange(self.capacity.get(), 0);
    }
}

impl PipeState {
    /// Bytes buffered.
    fn buffered(&self) -> usize {
        self.bytes.borrow().len()
    }

    /// Bytes that fit.
    fn room(&self) -> usize {
        self.capacity.get().saturating_sub(self.buffered())
    }
}

/// One end of a pipe, owned by the open file description of that end. Dropping it (when
/// the description's last reference goes) counts it out of the pipe.
#[derive(Debug)]
pub struct PipeEnd {
    state: Rc<PipeState>,
    side: PipeSide,
}

/// Makes a pipe: its read end and its write end, inode `inode`, owned by `owner` and
/// `group`, created at `now`, accounted in `ledger`.
///
/// # Errors
/// `ENFILE` past the hard limit of pipe memory.
fn new_pipe(
    inode: u64,
    owner: u32,
    group: u32,
    now: Timespec,
    ledger: &Rc<PipeLedger>,
) -> Result<(PipeEnd, PipeEnd), Errno> {
    let capacity = ledger.capacity_for_new_pipe()?;
    ledger.exchange(0, capacity);
    let state = Rc::new(PipeState {
        bytes: RefCell::new(VecDeque::new()),
        capacity: Cell::new(capacity),
        readers: Cell::new(1),
        writers: Cell::new(1),
        inode,
        permissions: Cell::new(PIPE_PERMISSIONS),
        owner: Cell::new(owner),
        group: Cell::new(group),
        access_time: Cell::new(now),
        modification_time: Cell::new(now),
        change_time: Cell::new(now),
        ledger: Rc::clone(ledger),
    });
    let read = PipeEnd {
        state: Rc::clone(&state),
        side: PipeSide::Read,
    };
    let write = PipeEnd {
        state,
        side: PipeSide::Write,
    };
    Ok((read, write))
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let count = match self.side {
            PipeSide::Read => &self.state.readers,
            PipeSide::Write => &self.state.writers,
        };
        count.set(count.get().saturating_sub(1));
        // The last reader or writer gone wakes the other side; any end going may matter
        // to a poll, so every drop counts.
        self.state.ledger.bump();
    }
}

impl PipeEnd {
    /// Which end this is.
    pub fn side(&self) -> PipeSide {
        self.side
    }

    /// Whether `other` is an end of the same pipe.
    pub fn same_pipe(&self, other: &PipeEnd) -> bool {
        Rc::ptr_eq(&self.state, &other.state)
    }

    /// Bytes buffered, what `FIONREAD` reports on either end.
    pub fn buffered(&self) -> usize {
        self.state.buffered()
    }

    /// The capacity in bytes, what `F_GETPIPE_SZ` reports.
    pub fn capacity(&self) -> usize {
        self.state.capacity.get()
    }

    /// Whether some description of the read end is still open.
    pub fn has_readers(&self) -> bool {
        self.state.readers.get() > 0
    }

    /// Whether some description of the write end is still open.
    pub fn has_writers(&self) -> bool {
        self.state.writers.get() > 0
    }

    /// What a read would do now.
    pub fn read_readiness(&self) -> PipeReadiness {
        match self.buffered() {
            0 if self.has_writers() => PipeReadiness::WouldBlock,
            0 => PipeReadiness::EndOfFile,
            count => PipeReadiness::Data(count),
        }
    }

    /// What a write of `wanted` more bytes (at least one) would do now: all of them must
    /// fit when `atomic` (the whole write is at most [`PIPE_BUF`] bytes), any part
    /// otherwise.
    pub fn write_room(&self, wanted: usize, atomic: bool) -> PipeRoom {
        if !self.has_readers() {
            return PipeRoom::Broken;
        }
        let room = self.state.room();
        if room == 0 || (atomic && room < wanted) {
            PipeRoom::WouldBlock
        } else {
            PipeRoom::Room(room.min(wanted))
        }
    }

    /// What `poll` sees on this end.
    pub fn poll(&self) -> PipePoll {
        match self.side {
            PipeSide::Read => PipePoll {
                readable: self.buffered() > 0,
                hung_up: !self.has_writers(),
                ..PipePoll::default()
            },
            PipeSide::Write => PipePoll {
                writable: self.state.room() >= PIPE_BUF.min(self.capacity()),
                broken: !self.has_readers(),
                ..PipePoll::default()
            },
        }
    }

    /// Copies the oldest buffered bytes into `buffer` without taking them; how many.
    pub fn peek(&self, buffer: &mut [u8]) -> usize {
        let bytes = self.state.bytes.borrow();
        let (first, second) = bytes.as_slices();
        let mut count = 0;
        for part in [first, second] {
            let target = buffer.get_mut(count..).unwrap_or(&mut []);
            let length = part.len().min(target.len());
            if let (Some(target), Some(source)) = (target.get_mut(..length), part.get(..length)) {
                target.copy_from_slice(source);
            }
            count += length;
        }
        count
    }

    /// Takes the oldest `count` bytes (they were read) at time `now`.
    pub fn consume(&self, count: usize, now: Timespec) {
        if count == 0 {
            return;
        }
        {
            let mut bytes = self.state.bytes.borrow_mut();
            let count = count.min(bytes.len());
            bytes.drain(..count);
            if bytes.is_empty() && bytes.capacity() > KEPT_SPARE_CAPACITY {
                *bytes = VecDeque::new();
            }
        }
        self.state.access_time.set(now);
        self.state.ledger.bump();
    }

    /// Buffers as much of `data` as fits at time `now`; how much did.
    pub fn append(&self, data: &[u8], now: Timespec) -> usize {
        let count = data.len().min(self.state.room());
        if count == 0 {
            return 0;
        }
        self.state
            .bytes
            .borrow_mut()
            .extend(data.iter().take(count).copied());
        self.state.modification_time.set(now);
        self.state.change_time.set(now);
        self.state.ledger.bump();
        count
    }

    /// `F_SETPIPE_SZ`: sets the capacity to `requested` bytes rounded up to a power of two
    /// pages (at least one page) and returns the new capacity.
    ///
    /// # Errors
    /// `EINVAL` above 2^31 bytes, as Linux's `round_pipe_size` answers; `EPERM` above
    /// [`MAXIMUM_PIPE_CAPACITY`], or for a growth that takes all pipes past
    /// [`PIPE_MEMORY_SOFT_LIMIT`]; `EBUSY` when the buffered bytes would not fit.
    pub fn set_capacity(&self, requested: u64) -> Result<usize, Errno> {
        if requested > 1 << 31 {
            return Err(Errno::EINVAL);
        }
        let capacity = usize::try_from(requested)
            .map_err(|_| Errno::EINVAL)?
            .max(PAGE_SIZE)
            .checked_next_power_of_two()
            .ok_or(Errno::EINVAL)?;
        if capacity > MAXIMUM_PIPE_CAPACITY {
            return Err(Errno::EPERM);
        }
        let old = self.capacity();
        let in_use = self.state.ledger.capacity_in_use.get();
        let growth = capacity.saturating_sub(old);
        if growth > 0 && in_use.saturating_add(growth) > PIPE_MEMORY_SOFT_LIMIT {
            return Err(Errno::EPERM);
        }
        if capacity < self.buffered() {
            return Err(Errno::EBUSY);
        }
        self.state.ledger.exchange(old, capacity);
        self.state.capacity.set(capacity);
        // More room may let a writer go on.
        self.state.ledger.bump();
        Ok(capacity)
    }

    /// The permission bits (for access checks).
    pub fn permissions(&self) -> u32 {
        self.state.permissions.get()
    }

    /// `fchmod`: the permission bits become `mode & 0o7777`; the change time is `now`.
    pub fn change_mode(&self, mode: u32, now: Timespec) {
        self.state.permissions.set(mode & 0o7777);
        self.state.change_time.set(now);
    }

    /// `fchown`: `owner` and `group` unless `None` (`-1`); the change time is `now`.
    pub fn change_owner(&self, owner: Option<u32>, group: Option<u32>, now: Timespec) {
        if let Some(owner) = owner {
            self.state.owner.set(owner);
        }
        if let Some(group) = group {
            self.state.group.set(group);
        }
        self.state.change_time.set(now);
    }

    /// `utimensat`: the access and modification times, each unless `None`; the change time
    /// is `now`.
    pub fn set_times(
        &self,
        access: Option<Timespec>,
        modification: Option<Timespec>,
        now: Timespec,
    ) {
        if let Some(access) = access {
            self.state.access_time.set(access);
        }
        if let Some(modification) = modification {
            self.state.modification_time.set(modification);
        }
        self.state.change_time.set(now);
    }

    /// `fstat` of either end, as Linux's pipefs answers it.
    pub fn stat(&self) -> Stat {
        let state = &self.state;
        Stat {
            device: PIPE_FILE_SYSTEM_DEVICE,
            inode: state.inode,
            mode: S_IFIFO | state.permissions.get(),
            link_count: 1,
            user_id: state.owner.get(),
            group_id: state.group.get(),
            special_device: 0,
            size: 0,
            block_size: PAGE_SIZE as i32,
            blocks: 0,
            access_time: state.access_time.get(),
            modification_time: state.modification_time.get(),
            change_time: state.change_time.get(),
            ..Stat::default()
        }
    }
}

impl Vfs {
    /// `pipe2(flags)`: makes a pipe and installs its read end, then its write end, at the
    /// lowest free descriptors (with close-on-exec for `O_CLOEXEC`; both descriptions
    /// `O_NONBLOCK` when asked), owned by `owner` and `group` (the caller's file system
    /// ids), and returns the two numbers. The dispatcher copies them out; if that fails it
    /// closes both, as Linux's `do_pipe2` gives nothing back.
    ///
    /// # Errors
    /// `EINVAL` for flags other than `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT` and
    /// `O_NOTIFICATION_PIPE`, and for `O_DIRECT` (packet mode, not implemented);
    /// `ENOPKG` for `O_NOTIFICATION_PIPE`, as a kernel built without watch queues answers;
    /// `EMFILE` when fewer than two descriptors are free; `ENFILE` past the hard limit of
    /// pipe memory. Nothing stays open after an error.
    pub fn pipe2(
        &self,
        table: &mut DescriptorTable,
        flags: u32,
        owner: u32,
        group: u32,
    ) -> Result<[i32; 2], Errno> {
        if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & O_DIRECT != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & O_NOTIFICATION_PIPE != 0 {
            return Err(Errno::ENOPKG);
        }
        // Linux makes the pipe, then reserves both numbers before installing anything.
        let inode = self.next_pipe_inode.get();
        let (read_end, write_end) = new_pipe(inode, owner, group, self.clock(), &self.pipe_ledger)?;
        self.next_pipe_inode.set(inode.wrapping_add(1));
        let first = table.lowest_free(0)?;
        table.lowest_free(first.saturating_add(1))?;
        let status = flags & O_NONBLOCK;
        let close_on_exec = flags & O_CLOEXEC != 0;
        let read_description = Rc::new(OpenFileDescription::new_pipe(read_end, O_RDONLY | status));
        let write_description =
            Rc::new(OpenFileDescription::new_pipe(write_end, O_WRONLY | status));
        let read_fd = table.install(read_description, close_on_exec)?;
        match table.install(write_description, close_on_exec) {
            Ok(write_fd) => Ok([read_fd, write_fd]),
            Err(error) => {
                // Cannot happen after the check above; undo rather than leave half a pipe.
                let _ = table.close(read_fd);
                Err(error)
            }
        }
    }
}
