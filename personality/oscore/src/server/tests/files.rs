//! The file calls other than reading and writing: open, close, dup, fcntl, seek, stat,
//! directories, links, access, and the calls that would change the tree.

use linux_abi::errno::Errno;
use linux_abi::file::{
    AT_EMPTY_PATH, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_OK, F_SETFL, FD_CLOEXEC, O_CLOEXEC,
    O_CREAT, O_DIRECTORY, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, R_OK, S_IFMT, S_IFREG, W_OK,
    X_OK,
};
use linux_abi::layout::{Stat, read_dirent64};
use linux_abi::syscall::Syscall;

use super::{AT_FDCWD, Harness};
use crate::process::Pid;

/// `fstat` of `fd` in `pid`.
fn fstat(harness: &mut Harness, pid: Pid, fd: u64) -> Stat {
    let buffer = harness.scratch(pid, 1);
    harness.ok(pid, Syscall::Fstat, &[fd, buffer]);
    let bytes = harness.peek(pid, buffer, Stat::SIZE);
    Stat::from_bytes(&bytes.try_into().unwrap())
}

#[test]
fn a_file_opens_reads_and_closes_once() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    assert_eq!(fd, 3, "the lowest free descriptor");
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Read, &[fd, buffer, 100]), 6);
    assert_eq!(harness.peek(Pid::INIT, buffer, 6), b"hello\n");
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Read, &[fd, buffer, 100]),
        0,
        "end of file"
    );
    harness.ok(Pid::INIT, Syscall::Close, &[fd]);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Close, &[fd]),
        Errno::EBADF
    );
}

#[test]
fn openat_fails_with_the_vfs_s_errors_and_efault_for_a_bad_path() {
    let mut harness = Harness::booted();
    for (path, flags, error) in [
        (&b"/etc/none"[..], O_RDONLY, Errno::ENOENT),
        (b"/etc/motd/x", O_RDONLY, Errno::ENOTDIR),
        (b"/etc/new", O_CREAT | O_WRONLY, Errno::EROFS),
        (b"/etc", O_WRONLY, Errno::EISDIR),
        (b"/etc/motd", O_WRONLY, Errno::EROFS),
        (b"/etc/motd", O_DIRECTORY, Errno::ENOTDIR),
    ] {
        let address = harness.string(Pid::INIT, path);
        let arguments = [AT_FDCWD, address, u64::from(flags), 0o644];
        assert_eq!(harness.error(Pid::INIT, Syscall::Openat, &arguments), error);
    }
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Openat, &[AT_FDCWD, 0, 0, 0]),
        Errno::EFAULT
    );
    let long = vec![b'a'; 5000];
    let address = harness.string(Pid::INIT, &long);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Openat, &[AT_FDCWD, address, 0, 0]),
        Errno::ENAMETOOLONG
    );
    let path = harness.string(Pid::INIT, b"motd");
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Openat, &[99, path, 0, 0]),
        Errno::EBADF
    );
}

#[test]
fn dev_tty_opens_only_for_a_process_with_a_controlling_terminal() {
    let mut harness = Harness::booted();
    let path = harness.string(Pid::INIT, b"/dev/tty");
    let arguments = [AT_FDCWD, path, u64::from(O_RDWR), 0];
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Openat, &arguments),
        Errno::ENXIO
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Fcntl, &[3, u64::from(F_GETFD), 0]),
        Errno::EBADF
    );
    harness.ok(Pid::INIT, Syscall::Setsid, &[]);
    harness.ok(Pid::INIT, Syscall::Ioctl, &[0, 0x540E, 0]);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Openat, &arguments), 3);
}

#[test]
fn dup_dup3_and_fcntl_manage_descriptors() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Dup, &[fd]), 4);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Dup3, &[fd, 9, u64::from(O_CLOEXEC)]),
        9
    );
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Fcntl, &[9, u64::from(F_GETFD), 0]),
        u64::from(FD_CLOEXEC)
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Dup3, &[fd, fd, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.ok(
            Pid::INIT,
            Syscall::Fcntl,
            &[fd, u64::from(F_DUPFD_CLOEXEC), 20]
        ),
        20
    );
    harness.ok(
        Pid::INIT,
        Syscall::Fcntl,
        &[fd, u64::from(F_SETFL), u64::from(O_NONBLOCK)],
    );
    let flags = harness.ok(Pid::INIT, Syscall::Fcntl, &[4, u64::from(F_GETFL), 0]);
    assert_ne!(
        flags & u64::from(O_NONBLOCK),
        0,
        "status flags are the description's"
    );
    assert_eq!(harness.error(Pid::INIT, Syscall::Dup, &[77]), Errno::EBADF);
}

#[test]
fn lseek_moves_the_offset_and_checks_its_arguments() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Lseek, &[fd, 2, 0]), 2);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Lseek, &[fd, u64::MAX, 1]),
        1,
        "SEEK_CUR -1"
    );
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Lseek, &[fd, 0, 2]),
        6,
        "SEEK_END"
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Lseek, &[fd, u64::MAX - 9, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Lseek, &[0, 0, 0]),
        Errno::ESPIPE
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Lseek, &[55, 0, 0]),
        Errno::EBADF
    );
}

#[test]
fn fstat_and_newfstatat_fill_struct_stat() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    let stat = fstat(&mut harness, Pid::INIT, fd);
    assert_eq!(stat.mode & S_IFMT, S_IFREG);
    assert_eq!(stat.size, 6);
    let path = harness.string(Pid::INIT, b"/etc/motd");
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.ok(Pid::INIT, Syscall::Newfstatat, &[AT_FDCWD, path, buffer, 0]);
    let bytes = harness.peek(Pid::INIT, buffer, Stat::SIZE);
    assert_eq!(
        Stat::from_bytes(&bytes.try_into().unwrap()).inode,
        stat.inode
    );
    let empty = harness.string(Pid::INIT, b"");
    harness.ok(
        Pid::INIT,
        Syscall::Newfstatat,
        &[fd, empty, buffer, u64::from(AT_EMPTY_PATH)],
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Fstat, &[fd, 16]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Fstat, &[40, buffer]),
        Errno::EBADF
    );
    let missing = harness.string(Pid::INIT, b"/nothing");
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Newfstatat,
            &[AT_FDCWD, missing, buffer, 0]
        ),
        Errno::ENOENT
    );
}

#[test]
fn getdents64_lists_a_directory_and_keeps_its_place_on_efault() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc", O_RDONLY | O_DIRECTORY);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Getdents64, &[fd, 16, 4096]),
        Errno::EFAULT
    );
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Getdents64, &[fd, buffer, 8]),
        Errno::EINVAL
    );
    let length = harness.ok(Pid::INIT, Syscall::Getdents64, &[fd, buffer, 4096]) as usize;
    let bytes = harness.peek(Pid::INIT, buffer, length);
    let mut names = Vec::new();
    let mut rest = bytes.as_slice();
    while let Some((header, name)) = read_dirent64(rest) {
        names.push(String::from_utf8_lossy(name).into_owned());
        rest = &rest[usize::from(header.record_length)..];
    }
    assert_eq!(names, [".", "..", "motd", "passwd"]);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Getdents64, &[fd, buffer, 4096]),
        0
    );
    let file = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Getdents64, &[file, buffer, 4096]),
        Errno::ENOTDIR
    );
}

#[test]
fn the_working_directory_follows_chdir_and_fchdir() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Getcwd, &[buffer, 100]), 2);
    assert_eq!(harness.peek(Pid::INIT, buffer, 2), b"/\0");
    let etc = harness.string(Pid::INIT, b"/etc");
    harness.ok(Pid::INIT, Syscall::Chdir, &[etc]);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Getcwd, &[buffer, 100]), 5);
    assert_eq!(harness.peek(Pid::INIT, buffer, 5), b"/etc\0");
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Getcwd, &[buffer, 3]),
        Errno::ERANGE
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Getcwd, &[16, 100]),
        Errno::EFAULT
    );
    let motd = harness.string(Pid::INIT, b"motd");
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Chdir, &[motd]),
        Errno::ENOTDIR
    );
    let relative = harness.open(Pid::INIT, b"motd", O_RDONLY);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Fchdir, &[relative]),
        Errno::ENOTDIR
    );
    let root = harness.open(Pid::INIT, b"/", O_RDONLY);
    harness.ok(Pid::INIT, Syscall::Fchdir, &[root]);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Getcwd, &[buffer, 100]), 2);
}

#[test]
fn readlinkat_reads_a_link_s_target_and_refuses_other_files() {
    let mut harness = Harness::booted();
    let link = harness.string(Pid::INIT, b"/bin/sh");
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.ok(
            Pid::INIT,
            Syscall::Readlinkat,
            &[AT_FDCWD, link, buffer, 64]
        ),
        4
    );
    assert_eq!(harness.peek(Pid::INIT, buffer, 4), b"prog");
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Readlinkat, &[AT_FDCWD, link, buffer, 2]),
        2
    );
    let file = harness.string(Pid::INIT, b"/etc/motd");
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Readlinkat,
            &[AT_FDCWD, file, buffer, 64]
        ),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Readlinkat, &[AT_FDCWD, link, 16, 64]),
        Errno::EFAULT
    );
}

#[test]
fn faccessat_answers_for_root_on_a_read_only_tree() {
    let mut harness = Harness::booted();
    let motd = harness.string(Pid::INIT, b"/etc/motd");
    let program = harness.string(Pid::INIT, b"/bin/prog");
    harness.ok(
        Pid::INIT,
        Syscall::Faccessat,
        &[AT_FDCWD, motd, u64::from(R_OK)],
    );
    harness.ok(
        Pid::INIT,
        Syscall::Faccessat,
        &[AT_FDCWD, motd, u64::from(F_OK)],
    );
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Faccessat,
            &[AT_FDCWD, motd, u64::from(W_OK)]
        ),
        Errno::EROFS
    );
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Faccessat,
            &[AT_FDCWD, motd, u64::from(X_OK)]
        ),
        Errno::EACCES
    );
    harness.ok(
        Pid::INIT,
        Syscall::Faccessat2,
        &[AT_FDCWD, program, u64::from(X_OK), 0],
    );
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Faccessat2,
            &[AT_FDCWD, program, 0, 0x8000]
        ),
        Errno::EINVAL
    );
}

#[test]
fn umask_returns_the_previous_mask() {
    let mut harness = Harness::booted();
    assert_eq!(harness.ok(Pid::INIT, Syscall::Umask, &[0o077]), 0o022);
    assert_eq!(harness.ok(Pid::INIT, Syscall::Umask, &[0o022]), 0o077);
}

#[test]
fn changes_to_the_tree_fail_with_linux_s_errors() {
    let mut harness = Harness::booted();
    let new = harness.string(Pid::INIT, b"/etc/new");
    let existing = harness.string(Pid::INIT, b"/etc");
    let missing = harness.string(Pid::INIT, b"/etc/none");
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Mkdirat, &[AT_FDCWD, new, 0o755]),
        Errno::EROFS
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Mkdirat, &[AT_FDCWD, existing, 0o755]),
        Errno::EEXIST
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Unlinkat, &[AT_FDCWD, missing, 0]),
        Errno::EROFS,
        "Linux asks for write access before it looks the name up"
    );
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Renameat,
            &[AT_FDCWD, missing, AT_FDCWD, new]
        ),
        Errno::EROFS
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Symlinkat, &[new, AT_FDCWD, existing]),
        Errno::EEXIST
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Fchmodat, &[AT_FDCWD, missing, 0o644]),
        Errno::ENOENT
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Ftruncate, &[0, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Truncate, &[0, 0]),
        Errno::EFAULT
    );
}

#[test]
fn utimensat_checks_its_times_before_the_path() {
    let mut harness = Harness::booted();
    let motd = harness.string(Pid::INIT, b"/etc/motd");
    let times = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, times + 8, &2_000_000_000i64.to_le_bytes());
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Utimensat, &[AT_FDCWD, motd, times, 0]),
        Errno::EINVAL
    );
    harness.poke(Pid::INIT, times + 8, &0i64.to_le_bytes());
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Utimensat, &[AT_FDCWD, motd, times, 0]),
        Errno::EROFS
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Utimensat, &[AT_FDCWD, motd, 16, 0]),
        Errno::EFAULT
    );
}
