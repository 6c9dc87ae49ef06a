//! Per-process descriptor tables: small integers naming open file descriptions, each with
//! its close-on-exec flag.
//!
//! The table is a vector of slots indexed by descriptor number, because Linux always hands
//! out the lowest free number (and programs rely on it: `close(1); dup(fd)` redirects
//! standard output), and tables are small (the default limit, 1024, is `RLIMIT_NOFILE`'s
//! soft limit). Descriptor numbers come from user space as `int`s; a negative one or one
//! past the table is simply not open (`EBADF`), never an index out of range.

use alloc::rc::Rc;
use alloc::vec::Vec;

use linux_abi::errno::Errno;
use linux_abi::file::{
    F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, F_SETFL, FD_CLOEXEC, O_CLOEXEC,
};

use super::description::OpenFileDescription;
use super::pipe::{F_GETPIPE_SZ, F_SETPIPE_SZ};

/// How many descriptors a process may have open unless `set_limit` says otherwise: the soft
/// `RLIMIT_NOFILE` Linux starts processes with. Descriptor numbers are below it.
pub const DEFAULT_DESCRIPTOR_LIMIT: usize = 1024;

/// `CLOSE_RANGE_UNSHARE`: `close_range` unshares the table first.
pub const CLOSE_RANGE_UNSHARE: u32 = 1 << 1;

/// `CLOSE_RANGE_CLOEXEC`: `close_range` sets close-on-exec instead of closing.
pub const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// The highest limit `set_limit` accepts: Linux's default `fs.nr_open`.
const MAXIMUM_DESCRIPTOR_LIMIT: usize = 1 << 20;

/// One open descriptor.
#[derive(Clone, Debug)]
struct Descriptor {
    description: Rc<OpenFileDescription>,
    close_on_exec: bool,
}

/// A process's descriptors. [`DescriptorTable::clone_for_fork`] gives a child the same
/// descriptions (shared offsets); [`DescriptorTable::close_on_exec`] is `execve`'s cleanup.
#[derive(Debug)]
pub struct DescriptorTable {
    /// Slot `n` is descriptor `n`; trailing free slots are trimmed.
    slots: Vec<Option<Descriptor>>,
    limit: usize,
}

impl Default for DescriptorTable {
    fn default() -> Self {
        DescriptorTable::new()
    }
}

impl DescriptorTable {
    /// An empty table with the default limit of 1024 descriptors.
    pub fn new() -> Self {
        DescriptorTable {
            slots: Vec::new(),
            limit: DEFAULT_DESCRIPTOR_LIMIT,
        }
    }

    /// The limit: every descriptor number is below it (`RLIMIT_NOFILE`'s soft limit).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Sets the limit (`setrlimit(RLIMIT_NOFILE)`); descriptors already open at or above it
    /// stay open, as on Linux.
    ///
    /// # Errors
    /// `EPERM` above 2^20 (Linux's `fs.nr_open`).
    pub fn set_limit(&mut self, limit: usize) -> Result<(), Errno> {
        if limit > MAXIMUM_DESCRIPTOR_LIMIT {
            return Err(Errno::EPERM);
        }
        self.limit = limit;
        Ok(())
    }

    /// The description behind descriptor `fd`.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open (negative numbers included).
    pub fn get(&self, fd: i32) -> Result<&Rc<OpenFileDescription>, Errno> {
        self.descriptor(fd)
            .map(|descriptor| &descriptor.description)
    }

    /// Whether descriptor `fd` is closed by `execve`.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open.
    pub fn is_close_on_exec(&self, fd: i32) -> Result<bool, Errno> {
        self.descriptor(fd)
            .map(|descriptor| descriptor.close_on_exec)
    }

    /// Installs `description` at the lowest free number (what `openat`, `pipe2` and
    /// `socket` do) and returns the number.
    ///
    /// # Errors
    /// `EMFILE` when every number below the limit is taken.
    pub fn install(
        &mut self,
        description: Rc<OpenFileDescription>,
        close_on_exec: bool,
    ) -> Result<i32, Errno> {
        self.place_at_lowest_free(
            0,
            Descriptor {
                description,
                close_on_exec,
            },
        )
    }

    /// `close(fd)`. Returns the description so that the caller can tell (by its reference
    /// count) whether this was the last reference, which matters to pipes and terminals.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open.
    pub fn close(&mut self, fd: i32) -> Result<Rc<OpenFileDescription>, Errno> {
        let index = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        let descriptor = self
            .slots
            .get_mut(index)
            .and_then(Option::take)
            .ok_or(Errno::EBADF)?;
        self.trim();
        Ok(descriptor.description)
    }

    /// `dup(fd)`: a new descriptor at the lowest free number for the same description,
    /// without close-on-exec.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open, `EMFILE` when the table is full.
    pub fn dup(&mut self, fd: i32) -> Result<i32, Errno> {
        let description = Rc::clone(self.get(fd)?);
        self.install(description, false)
    }

    /// `dup3(old_fd, new_fd, flags)`: makes `new_fd` refer to `old_fd`'s description,
    /// closing whatever `new_fd` was first; `flags` may hold only `O_CLOEXEC`. (`dup2`,
    /// which arm64 lacks, is what C libraries build from `dup3` and `fcntl`.)
    ///
    /// # Errors
    /// `EINVAL` for other flags or equal numbers; `EBADF` when `new_fd` is negative or not
    /// below the limit, or `old_fd` is not open (checked in that order, as Linux does).
    pub fn dup3(&mut self, old_fd: i32, new_fd: i32, flags: u32) -> Result<i32, Errno> {
        if flags & !O_CLOEXEC != 0 || old_fd == new_fd {
            return Err(Errno::EINVAL);
        }
        let new_index = usize::try_from(new_fd).map_err(|_| Errno::EBADF)?;
        if new_index >= self.limit {
            return Err(Errno::EBADF);
        }
        let description = Rc::clone(self.get(old_fd)?);
        self.place(
            new_index,
            Descriptor {
                description,
                close_on_exec: flags & O_CLOEXEC != 0,
            },
        );
        Ok(new_fd)
    }

    /// `fcntl(fd, command, argument)` for the commands about descriptors and status flags:
    ///
    /// - `F_DUPFD`, `F_DUPFD_CLOEXEC`: the lowest free number at or above `argument`
    ///   (whose low 32 bits count, as Linux reads it as an `unsigned int`);
    /// - `F_GETFD` / `F_SETFD`: the close-on-exec flag as `FD_CLOEXEC`;
    /// - `F_GETFL`: the access mode and status flags;
    /// - `F_SETFL`: sets `O_APPEND` and `O_NONBLOCK` from `argument`, ignores the rest;
    /// - `F_GETPIPE_SZ` / `F_SETPIPE_SZ`: a pipe's capacity (see
    ///   [`PipeEnd::set_capacity`](super::PipeEnd::set_capacity)).
    ///
    /// Record locks, leases, owners and signals are not implemented and answer `EINVAL`
    /// like any unknown command.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open, or is an `O_PATH` descriptor and the command is not
    /// one of the five Linux allows on those, or is not a pipe for the pipe commands;
    /// `EINVAL` for an unknown command or a duplication start not below the limit; `EMFILE`
    /// when no number at or above it is free; the errors of `set_capacity`.
    pub fn fcntl(&mut self, fd: i32, command: u32, argument: u64) -> Result<u64, Errno> {
        let descriptor = self.descriptor(fd)?;
        let description = Rc::clone(&descriptor.description);
        let allowed_on_path_only = matches!(
            command,
            F_DUPFD | F_DUPFD_CLOEXEC | F_GETFD | F_SETFD | F_GETFL
        );
        if description.is_path_only() && !allowed_on_path_only {
            return Err(Errno::EBADF);
        }
        // Linux reads the argument of these commands as an unsigned int.
        let argument_low = argument as u32;
        match command {
            F_DUPFD | F_DUPFD_CLOEXEC => {
                let minimum = usize::try_from(argument_low).map_err(|_| Errno::EINVAL)?;
                if minimum >= self.limit {
                    return Err(Errno::EINVAL);
                }
                let number = self.place_at_lowest_free(
                    minimum,
                    Descriptor {
                        description,
                        close_on_exec: command == F_DUPFD_CLOEXEC,
                    },
                )?;
                // Descriptor numbers are never negative.
                Ok(u64::from(number.unsigned_abs()))
            }
            F_GETFD => Ok(if descriptor.close_on_exec {
                u64::from(FD_CLOEXEC)
            } else {
                0
            }),
            F_SETFD => {
                let close_on_exec = argument_low & FD_CLOEXEC != 0;
                if let Some(descriptor) = self.descriptor_mut(fd) {
                    descriptor.close_on_exec = close_on_exec;
                }
                Ok(0)
            }
            F_GETFL => Ok(u64::from(description.status_flags())),
            F_SETFL => {
                description.set_status_flags(argument_low);
                Ok(0)
            }
            F_GETPIPE_SZ => {
                let pipe = description.pipe().ok_or(Errno::EBADF)?;
                Ok(pipe.capacity() as u64)
            }
            F_SETPIPE_SZ => {
                let pipe = description.pipe().ok_or(Errno::EBADF)?;
                Ok(pipe.set_capacity(u64::from(argument_low))? as u64)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// `close_range(first, last, flags)`: closes every open descriptor from `first` to
    /// `last` (inclusive; `last` may be far past the table), or with `CLOSE_RANGE_CLOEXEC`
    /// marks them close-on-exec instead. `CLOSE_RANGE_UNSHARE` asks for a private table
    /// first, which every table here already is (no process shares one: `CLONE_FILES` is
    /// refused). Returns the closed descriptions (for the caller to see which were last
    /// references).
    ///
    /// # Errors
    /// `EINVAL` for other flags or `first` above `last`.
    pub fn close_range(
        &mut self,
        first: u32,
        last: u32,
        flags: u32,
    ) -> Result<Vec<Rc<OpenFileDescription>>, Errno> {
        if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
            return Err(Errno::EINVAL);
        }
        let start = usize::try_from(first).unwrap_or(usize::MAX);
        let end = usize::try_from(last)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
            .min(self.slots.len());
        let mut closed = Vec::new();
        for slot in self.slots.get_mut(start..end).unwrap_or(&mut []) {
            if flags & CLOSE_RANGE_CLOEXEC != 0 {
                if let Some(descriptor) = slot {
                    descriptor.close_on_exec = true;
                }
            } else if let Some(descriptor) = slot.take() {
                closed.push(descriptor.description);
            }
        }
        self.trim();
        Ok(closed)
    }

    /// The table a child gets at `fork`: the same descriptions (so parent and child share
    /// offsets and status flags) with the same close-on-exec flags and limit.
    pub fn clone_for_fork(&self) -> DescriptorTable {
        DescriptorTable {
            slots: self.slots.clone(),
            limit: self.limit,
        }
    }

    /// `execve`'s cleanup: closes every close-on-exec descriptor and returns their
    /// descriptions (for the caller to see which were last references).
    pub fn close_on_exec(&mut self) -> Vec<Rc<OpenFileDescription>> {
        let mut closed = Vec::new();
        for slot in &mut self.slots {
            if slot
                .as_ref()
                .is_some_and(|descriptor| descriptor.close_on_exec)
                && let Some(descriptor) = slot.take()
            {
                closed.push(descriptor.description);
            }
        }
        self.trim();
        closed
    }

    /// Closes every descriptor (process exit) and returns the descriptions in descriptor
    /// order.
    pub fn close_all(&mut self) -> Vec<Rc<OpenFileDescription>> {
        let closed = self
            .slots
            .drain(..)
            .flatten()
            .map(|descriptor| descriptor.description)
            .collect();
        self.slots.clear();
        closed
    }

    /// The open descriptors in ascending order, with their descriptions.
    pub fn descriptors(&self) -> impl Iterator<Item = (i32, &Rc<OpenFileDescription>)> {
        self.slots.iter().enumerate().filter_map(|(index, slot)| {
            let descriptor = slot.as_ref()?;
            let number = i32::try_from(index).ok()?;
            Some((number, &descriptor.description))
        })
    }

    /// How many descriptors are open.
    pub fn open_count(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// The lowest free number at or above `minimum` and below the limit.
    ///
    /// # Errors
    /// `EMFILE` when there is none.
    pub(crate) fn lowest_free(&self, minimum: usize) -> Result<usize, Errno> {
        (minimum..self.limit)
            .find(|&index| matches!(self.slots.get(index), None | Some(None)))
            .ok_or(Errno::EMFILE)
    }

    /// The open descriptor `fd`.
    fn descriptor(&self, fd: i32) -> Result<&Descriptor, Errno> {
        let index = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        self.slots
            .get(index)
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    /// The open descriptor `fd`, to change.
    fn descriptor_mut(&mut self, fd: i32) -> Option<&mut Descriptor> {
        let index = usize::try_from(fd).ok()?;
        self.slots.get_mut(index).and_then(Option::as_mut)
    }

    /// Puts `descriptor` at the lowest free number at or above `minimum` and returns the
    /// number.
    ///
    /// # Errors
    /// `EMFILE` when every number from `minimum` to the limit is taken.
    fn place_at_lowest_free(
        &mut self,
        minimum: usize,
        descriptor: Descriptor,
    ) -> Result<i32, Errno> {
        let index = self.lowest_free(minimum)?;
        // The limit is at most 2^20, so every index below it is an i32.
        let number = i32::try_from(index).map_err(|_| Errno::EMFILE)?;
        self.place(index, descriptor);
        Ok(number)
    }

    /// Puts `descriptor` in slot `index` (below the limit), dropping what was there.
    fn place(&mut self, index: usize, descriptor: Descriptor) {
        if self.slots.len() <= index {
            self.slots.resize(index + 1, None);
        }
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Some(descriptor);
        }
    }

    /// Drops free slots at the end.
    fn trim(&mut self) {
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
    }
}
