//! The file system calls that are not reading or writing: opening, closing, duplicating,
//! seeking, status, directories, links and access checks. (The calls that would change the
//! tree are in `change_calls.rs`.)
//!
//! Each handler copies its user arguments in (paths with `PATH_MAX`, structures by size),
//! calls the VFS method of the same name, and copies the result out; the VFS holds the
//! semantics and the error order. The one rule added here is Linux's for `/dev/tty`:
//! opening it without a controlling terminal is `ENXIO`.

use alloc::vec;

use linux_abi::errno::Errno;
use linux_abi::file::SEEK_SET;
use linux_abi::layout::Stat;

use super::{Server, running};
use crate::memory::Frames;
use crate::process::Pid;
use crate::vfs::{Device, PATH_MAX};

/// The most bytes one `getdents64` returns (callers loop until it returns 0).
const DIRECTORY_CHUNK: usize = 32 * 1024;

impl<F: Frames> Server<F> {
    /// Reads the path argument at `address` (`EFAULT`, `ENAMETOOLONG`).
    pub(super) fn path_argument(
        &mut self,
        pid: Pid,
        address: u64,
    ) -> Result<alloc::vec::Vec<u8>, Errno> {
        let process = running(&mut self.processes, pid)?;
        process
            .space
            .read_c_string(&mut self.frames, address, PATH_MAX)
    }

    /// `openat(directory_fd, path, flags, mode)`.
    pub(super) fn openat(
        &mut self,
        pid: Pid,
        directory_fd: i32,
        path_address: u64,
        flags: u32,
        mode: u32,
    ) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let ids = self.processes.ids(pid).ok_or(Errno::ESRCH)?;
        let process = running(&mut self.processes, pid)?;
        let fd = self.vfs.openat(
            &process.file_system,
            &mut process.descriptors,
            directory_fd,
            &path,
            flags,
            mode,
        )?;
        let is_controlling_terminal = process
            .descriptors
            .get(fd)
            .is_ok_and(|description| description.terminal() == Some(Device::ControllingTerminal));
        if is_controlling_terminal && self.tty.session_of(&ids).is_err() {
            process.descriptors.close(fd)?;
            return Err(Errno::ENXIO);
        }
        Ok(u64::from(fd.unsigned_abs()))
    }

    /// `close(fd)`.
    pub(super) fn close(&mut self, pid: Pid, fd: i32) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        process.descriptors.close(fd).map(|_| 0)
    }

    /// `close_range(first, last, flags)`.
    pub(super) fn close_range(
        &mut self,
        pid: Pid,
        first: u32,
        last: u32,
        flags: u32,
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        process
            .descriptors
            .close_range(first, last, flags)
            .map(|_| 0)
    }

    /// `dup(fd)`.
    pub(super) fn dup(&mut self, pid: Pid, fd: i32) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        Ok(u64::from(process.descriptors.dup(fd)?.unsigned_abs()))
    }

    /// `dup3(old_fd, new_fd, flags)`.
    pub(super) fn dup3(
        &mut self,
        pid: Pid,
        old_fd: i32,
        new_fd: i32,
        flags: u32,
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        Ok(u64::from(
            process
                .descriptors
                .dup3(old_fd, new_fd, flags)?
                .unsigned_abs(),
        ))
    }

    /// `fcntl(fd, command, argument)`.
    pub(super) fn fcntl(
        &mut self,
        pid: Pid,
        fd: i32,
        command: u32,
        argument: u64,
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        process.descriptors.fcntl(fd, command, argument)
    }

    /// `lseek(fd, offset, whence)`.
    pub(super) fn lseek(
        &mut self,
        pid: Pid,
        fd: i32,
        offset: i64,
        whence: u32,
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        // The new offset is never negative.
        Ok(self
            .vfs
            .lseek(&process.descriptors, fd, offset, whence)?
            .unsigned_abs())
    }

    /// Copies `stat` out to `address`.
    fn put_stat(&mut self, pid: Pid, address: u64, stat: &Stat) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        process
            .space
            .write(&mut self.frames, address, &stat.to_bytes())?;
        Ok(0)
    }

    /// `fstat(fd, statbuf)`.
    pub(super) fn fstat(&mut self, pid: Pid, fd: i32, address: u64) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        let stat = self.vfs.fstat(&process.descriptors, fd)?;
        self.put_stat(pid, address, &stat)
    }

    /// `newfstatat(directory_fd, path, statbuf, flags)`.
    pub(super) fn newfstatat(
        &mut self,
        pid: Pid,
        directory_fd: i32,
        path_address: u64,
        address: u64,
        flags: u32,
    ) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        let stat = self.vfs.newfstatat(
            &process.file_system,
            &process.descriptors,
            directory_fd,
            &path,
            flags,
        )?;
        self.put_stat(pid, address, &stat)
    }

    /// `getdents64(fd, buffer, count)`. When the records cannot be copied out, the listing
    /// position goes back to where it was, so nothing is skipped.
    pub(super) fn getdents64(
        &mut self,
        pid: Pid,
        fd: i32,
        address: u64,
        count: u64,
    ) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        let size = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .min(DIRECTORY_CHUNK);
        let mut buffer = vec![0u8; size];
        let before = process.descriptors.get(fd)?.offset();
        let written = self.vfs.getdents64(&process.descriptors, fd, &mut buffer)?;
        let records = buffer.get(..written).unwrap_or(&[]);
        if let Err(error) = process.space.write(&mut self.frames, address, records) {
            self.vfs.lseek(&process.descriptors, fd, before, SEEK_SET)?;
            return Err(error);
        }
        Ok(written as u64)
    }

    /// `getcwd(buffer, size)`: the length with the NUL.
    pub(super) fn getcwd(&mut self, pid: Pid, address: u64, size: u64) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        let size = usize::try_from(size).unwrap_or(usize::MAX).min(PATH_MAX);
        let mut buffer = vec![0u8; size];
        let length = self.vfs.getcwd(&process.file_system, &mut buffer)?;
        let path = buffer.get(..length).ok_or(Errno::ERANGE)?;
        process.space.write(&mut self.frames, address, path)?;
        Ok(length as u64)
    }

    /// `chdir(path)`.
    pub(super) fn chdir(&mut self, pid: Pid, path_address: u64) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs.chdir(&mut process.file_system, &path).map(|()| 0)
    }

    /// `fchdir(fd)`.
    pub(super) fn fchdir(&mut self, pid: Pid, fd: i32) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .fchdir(&mut process.file_system, &process.descriptors, fd)
            .map(|()| 0)
    }

    /// `umask(mask)`: the old mask.
    pub(super) fn umask(&mut self, pid: Pid, mask: u32) -> Result<u64, Errno> {
        let process = running(&mut self.processes, pid)?;
        Ok(u64::from(process.file_system.set_umask(mask)))
    }

    /// `readlinkat(directory_fd, path, buffer, size)`.
    pub(super) fn readlinkat(
        &mut self,
        pid: Pid,
        directory_fd: i32,
        path_address: u64,
        address: u64,
        size: i32,
    ) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        let size = usize::try_from(size).unwrap_or(0).min(PATH_MAX);
        let mut buffer = vec![0u8; size];
        let count = self.vfs.readlinkat(
            &process.file_system,
            &process.descriptors,
            directory_fd,
            &path,
            &mut buffer,
        )?;
        let target = buffer.get(..count).unwrap_or(&[]);
        process.space.write(&mut self.frames, address, target)?;
        Ok(count as u64)
    }

    /// `faccessat(directory_fd, path, mode)` and `faccessat2(..., flags)`.
    pub(super) fn faccessat(
        &mut self,
        pid: Pid,
        directory_fd: i32,
        path_address: u64,
        mode: u32,
        flags: u32,
    ) -> Result<u64, Errno> {
        let path = self.path_argument(pid, path_address)?;
        let process = running(&mut self.processes, pid)?;
        self.vfs
            .faccessat(
                &process.file_system,
                &process.descriptors,
                directory_fd,
                &path,
                mode,
                flags,
            )
            .map(|()| 0)
    }
}
