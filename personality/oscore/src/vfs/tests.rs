//! Tests of the VFS on archives written by the `cpio` crate (an independent newc writer, the
//! one the image builder uses) or by hand, one file per concern. Every error a call can
//! answer is provoked at least once.

mod changes;
mod descriptors;
mod directories;
mod io;
mod metadata;
mod open;
mod paths;
mod pipes;
mod tree;

use std::boxed::Box;
use std::io::Cursor;
use std::vec::Vec;

use cpio::newc::Builder;
use linux_abi::errno::Errno;
use linux_abi::file::{AT_FDCWD, O_RDONLY, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG};
use linux_abi::layout::Stat;

use super::{DescriptorTable, FileSystemContext, IoOutcome, Vfs};

/// One archive member.
#[derive(Clone, Copy, Debug)]
enum Member<'a> {
    /// A regular file with permissions and contents.
    File(&'a str, u32, &'a [u8]),
    /// A directory with permissions.
    Directory(&'a str, u32),
    /// A symbolic link and its target.
    Link(&'a str, &'a str),
    /// A character device node (its numbers cannot reach the VFS).
    CharacterDevice(&'a str),
    /// A FIFO.
    Fifo(&'a str),
}

/// A newc archive of `members` with its trailer, leaked to get the `'static` lifetime an
/// initrd has.
fn archive(members: &[Member<'_>]) -> &'static [u8] {
    let inputs = members.iter().map(|member| {
        let (name, mode, data): (&str, u32, &[u8]) = match *member {
            Member::File(name, permissions, data) => (name, S_IFREG | permissions, data),
            Member::Directory(name, permissions) => (name, S_IFDIR | permissions, b""),
            Member::Link(name, target) => (name, S_IFLNK | 0o777, target.as_bytes()),
            Member::CharacterDevice(name) => (name, S_IFCHR | 0o600, b""),
            Member::Fifo(name) => (name, S_IFIFO | 0o644, b""),
        };
        (Builder::new(name).mode(mode), Cursor::new(data.to_vec()))
    });
    let bytes = cpio::write_cpio(inputs, Vec::new()).expect("writing into a Vec cannot fail");
    Box::leak(bytes.into_boxed_slice())
}

/// The contents of `/data.bin`: every byte value, ten times over (2560 bytes).
fn data_bytes() -> Vec<u8> {
    (0..2560).map(|index| (index % 256) as u8).collect()
}

/// The tree most tests use.
fn standard_archive() -> &'static [u8] {
    let data = data_bytes();
    archive(&[
        Member::Directory(".", 0o755),
        Member::Directory("bin", 0o755),
        Member::File("bin/busybox", 0o755, b"busybox image"),
        Member::Link("bin/sh", "busybox"),
        Member::Link("bin/ls", "/bin/busybox"),
        Member::Directory("etc", 0o755),
        Member::File("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n"),
        Member::File("etc/motd", 0o644, b"hello\n"),
        Member::File("etc/empty", 0o644, b""),
        Member::File("home/user/notes.txt", 0o600, b"notes"),
        Member::Link("etc_link", "etc"),
        Member::Link("up", "home/user/.."),
        Member::Link("loop_a", "loop_b"),
        Member::Link("loop_b", "loop_a"),
        Member::Link("dangling", "/nowhere/at/all"),
        Member::Link("dangling_dir", "/nowhere/"),
        Member::Link("empty_link", ""),
        Member::Link("passwd_link", "/etc/passwd"),
        Member::File("data.bin", 0o600, &data),
        Member::File("sbin/init", 0o744, b"init"),
    ])
}

/// A VFS with one process's context and descriptor table, and shortcuts for the calls.
#[derive(Debug)]
struct Fixture {
    vfs: Vfs,
    context: FileSystemContext,
    table: DescriptorTable,
}

impl Fixture {
    /// The standard tree, working directory `/`.
    fn new() -> Fixture {
        Fixture::with_archive(standard_archive())
    }

    /// The tree of `archive`, working directory `/`.
    fn with_archive(archive: &'static [u8]) -> Fixture {
        let vfs = Vfs::from_initrd(archive).expect("the test archive is well-formed");
        let context = vfs.initial_context();
        Fixture {
            vfs,
            context,
            table: DescriptorTable::new(),
        }
    }

    /// `openat(AT_FDCWD, path, flags, 0)`.
    fn open(&mut self, path: &str, flags: u32) -> Result<i32, Errno> {
        self.open_at(AT_FDCWD, path, flags)
    }

    /// `openat(directory_fd, path, flags, 0)`.
    fn open_at(&mut self, directory_fd: i32, path: &str, flags: u32) -> Result<i32, Errno> {
        self.vfs.openat(
            &self.context,
            &mut self.table,
            directory_fd,
            path.as_bytes(),
            flags,
            0o644,
        )
    }

    /// `newfstatat(AT_FDCWD, path, 0)`.
    fn stat(&self, path: &str) -> Result<Stat, Errno> {
        self.stat_at(AT_FDCWD, path, 0)
    }

    /// `newfstatat(directory_fd, path, flags)`.
    fn stat_at(&self, directory_fd: i32, path: &str, flags: u32) -> Result<Stat, Errno> {
        self.vfs.newfstatat(
            &self.context,
            &self.table,
            directory_fd,
            path.as_bytes(),
            flags,
        )
    }

    /// The inode number of `path`, following links.
    fn inode(&self, path: &str) -> u64 {
        self.stat(path).expect("the path exists").inode
    }

    /// `read(fd, buffer of length)`, expecting bytes rather than a terminal or a pipe.
    fn read(&self, fd: i32, length: usize) -> Result<Vec<u8>, Errno> {
        let mut buffer = vec![0xee; length];
        match self.vfs.read(&self.table, fd, &mut buffer)? {
            IoOutcome::Transferred(count) => {
                buffer.truncate(count);
                Ok(buffer)
            }
            IoOutcome::Terminal(device) => panic!("read was routed to {device:?}"),
            IoOutcome::Pipe => panic!("read was routed to a pipe"),
        }
    }

    /// Opens `path` read-only and reads it whole.
    fn contents(&mut self, path: &str) -> Vec<u8> {
        let fd = self.open(path, O_RDONLY).expect("the file opens");
        let contents = self.read(fd, 1 << 16).expect("the file reads");
        self.table.close(fd).expect("the descriptor is open");
        contents
    }
}
