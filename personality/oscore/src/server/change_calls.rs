//! The calls that would change the tree or a file's metadata: `mkdirat`, `mknodat`,
//! `symlinkat`, `linkat`, `unlinkat`, `renameat`/`renameat2`, `fchmod`/`fchmodat`,
//! `fchown`/`fchownat`, `utimensat`, `truncate`/`ftruncate` and `fsync`/`fdatasync`.
//!
//! Every file system is read-only, so they all fail, except the metadata changes of pipes;
//! the VFS gives each the error Linux gives first (`ENOENT`, `EEXIST`, `EROFS`...), and
//! these handlers only copy the paths in.
//! They are separate from `file_calls.rs` because a writable file system will turn them
//! into real work without touching the rest.

use linux_abi::errno::Errno;
use linux_abi::layout::Timespec;

use super::{Server, running};
use crate::memory::Frames;
use crate::process::Pid;
use crate::vfs::{UTIME_NOW, UTIME_OMIT};

impl<F: Frames> Server<F> {
    /// `mkdirat(directory_fd, path, mode)`.
    pub(super) fn mkdirat(
        &mut self,
        pid: Pid,
        directory_fd: i32,
        path_address: u64,
        mode: u32,
    ) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .mkdirat(
                &process.file_system,
                &process.descriptors,
                directory_fd,
                &path,
                mode,
            )
            .map(|()| 0)
    }

    /// `mknodat(directory_fd, path, mode, device)`.
    pub(super) fn mknodat(
        &mut self,
        pid: Pid,
        directory_fd: i32,
        path_address: u64,
        mode: u32,
        device: u64,
    ) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .mknodat(
                &process.file_system,
                &process.descriptors,
                directory_fd,
                &path,
                mode,
                device,
            )
            .map(|()| 0)
    }

    /// `symlinkat(target, directory_fd, path)`.
    pub(super) fn symlinkat(
        &mut self,
        pid: Pid,
        target_address: u64,
        directory_fd: i32,
        path_address: u64,
    ) -> Result<u64, Errno> {
        let target = self.path_argument(pid, target_address)?;
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .symlinkat(
                &process.file_system,
                &process.descriptors,
                &target,
                directory_fd,
                &path,
            )
            .map(|()| 0)
    }

    /// `linkat(old_fd, old_path, new_fd, new_path, flags)`.
    pub(super) fn linkat(
        &mut self,
        pid: Pid,
        old_fd: i32,
        old_address: u64,
        new_fd: i32,
        new_address: u64,
        flags: u32,
    ) -> Result<u64, Errno> {
        let old_path = self.path_argument(pid, old_address)?;
        let new_path = self.path_argument(pid, new_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .linkat(
                &process.file_system,
                &process.descriptors,
                old_fd,
                &old_path,
                new_fd,
                &new_path,
                flags,
            )
            .map(|()| 0)
    }

    /// `unlinkat(directory_fd, path, flags)`.
    pub(super) fn unlinkat(
        &mut self,
        pid: Pid,
        directory_fd: i32,
        path_address: u64,
        flags: u32,
    ) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .unlinkat(
                &process.file_system,
                &process.descriptors,
                directory_fd,
                &path,
                flags,
            )
            .map(|()| 0)
    }

    /// `renameat2(old_fd, old_path, new_fd, new_path, flags)` (and `renameat`, flags 0).
    pub(super) fn renameat2(
        &mut self,
        pid: Pid,
        old_fd: i32,
        old_address: u64,
        new_fd: i32,
        new_address: u64,
        flags: u32,
    ) -> Result<u64, Errno> {
        let old_path = self.path_argument(pid, old_address)?;
        let new_path = self.path_argument(pid, new_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .renameat2(
                &process.file_system,
                &process.descriptors,
                old_fd,
                &old_path,
                new_fd,
                &new_path,
                flags,
            )
            .map(|()| 0)
    }

    /// `fchmod(fd, mode)`.
    pub(super) fn fchmod(&mut self, pid: Pid, fd: i32, mode: u32) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        self.vfs.fchmod(&process.descriptors, fd, mode).map(|()| 0)
    }

    /// `fchmodat(directory_fd, path, mode)`: the system call has no flags argument.
    pub(super) fn fchmodat(
        &mut self,
        pid: Pid,
        directory_fd: i32,
        path_address: u64,
        mode: u32,
    ) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .fchmodat(
                &process.file_system,
                &process.descriptors,
                directory_fd,
                &path,
                mode,
                0,
            )
            .map(|()| 0)
    }

    /// `fchown(fd, owner, group)`.
    pub(super) fn fchown(
        &mut self,
        pid: Pid,
        fd: i32,
        owner: u32,
        group: u32,
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .fchown(&process.descriptors, fd, owner, group)
            .map(|()| 0)
    }

    /// `fchownat(directory_fd, path, owner, group, flags)`.
    pub(super) fn fchownat(
        &mut self,
        pid: Pid,
        directory_fd: i32,
        path_address: u64,
        owner: u32,
        group: u32,
        flags: u32,
    ) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .fchownat(
                &process.file_system,
                &process.descriptors,
                directory_fd,
                &path,
                owner,
                group,
                flags,
            )
            .map(|()| 0)
    }

    /// `utimensat(directory_fd, path, times, flags)`: a null path means `directory_fd`
    /// itself; the two times, when given, are checked as Linux checks them, and when both
    /// are `UTIME_OMIT` there is nothing to do: Linux answers 0 without looking at the path.
    pub(super) fn utimensat(
        &mut self,
        pid: Pid,
        directory_fd: i32,
        path_address: u64,
        times_address: u64,
        flags: u32,
    ) -> Result<u64, Errno> {
        let mut times = None;
        if times_address != 0 {
            let process = running(&mut self.processes, pid)?;
            let bytes: [u8; 2 * Timespec::SIZE] =
                process.space.read_array(&mut self.frames, times_address)?;
            let mut pair = [Timespec::default(); 2];
            for (time, half) in pair.iter_mut().zip(bytes.chunks_exact(Timespec::SIZE)) {
                let mut raw = [0u8; Timespec::SIZE];
                raw.copy_from_slice(half);
                *time = Timespec::from_bytes(&raw);
            }
            if pair.iter().all(|time| time.nanoseconds == UTIME_OMIT) {
                return Ok(0);
            }
            for time in &pair {
                let special = time.nanoseconds == UTIME_NOW || time.nanoseconds == UTIME_OMIT;
                if !special && !(0..1_000_000_000).contains(&time.nanoseconds) {
                    return Err(Errno::EINVAL);
                }
            }
            times = Some(pair);
        }
        let path = if path_address == 0 {
            None
        } else {
            Some(self.path_argument(pid, path_address)?)
        };
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .utimensat(
                &process.file_system,
                &process.descriptors,
                directory_fd,
                path.as_deref(),
                times.as_ref(),
                flags,
            )
            .map(|()| 0)
    }

    /// `truncate(path, length)`.
    pub(super) fn truncate(
        &mut self,
        pid: Pid,
        path_address: u64,
        length: i64,
    ) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .truncate(&process.file_system, &path, length)
            .map(|()| 0)
    }

    /// `ftruncate(fd, length)`.
    pub(super) fn ftruncate(&mut self, pid: Pid, fd: i32, length: i64) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .ftruncate(&process.descriptors, fd, length)
            .map(|()| 0)
    }

    /// `fsync(fd)` and `fdatasync(fd)`.
    pub(super) fn fsync(&mut self, pid: Pid, fd: i32) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        self.vfs.fsync(&process.descriptors, fd).map(|()| 0)
    }
}
