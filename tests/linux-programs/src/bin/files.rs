//! files: openat, read, readv, lseek, pread64, fstat, newfstatat, getdents64, readlinkat,
//! getcwd, chdir and close on the root filesystem, with their errors.
//!
//! It relies only on what every image has: `/etc/passwd` (a file starting with `root:`,
//! mode 0644), `/bin/busybox`, `/bin/sh` (a symbolic link to `/bin/busybox`) and a
//! read-only root.

#![no_main]

use std::ffi::{c_char, c_int};

use linux_programs::*;

const AT_FDCWD: c_int = libc::AT_FDCWD;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    let mut checks = Checks::new("files");
    let content = reading(&mut checks);
    seeking(&mut checks, &content);
    opening_errors(&mut checks);
    status(&mut checks, &content);
    directories(&mut checks);
    links(&mut checks);
    working_directory(&mut checks);
    checks.finish()
}

fn open(path: &str, flags: c_int) -> i64 {
    openat(AT_FDCWD, In::From(&c_string(path)), flags, 0)
}

/// Opens `/etc/passwd` read-only, or ends the program (nothing else can be checked).
fn open_passwd(checks: &mut Checks) -> c_int {
    match checks.success(
        "openat /etc/passwd read-only",
        open("/etc/passwd", libc::O_RDONLY),
    ) {
        Some(fd) => fd as c_int,
        None => checks.finish(),
    }
}

/// read, readv, EOF, bad buffers and descriptors; returns the file's bytes.
fn reading(checks: &mut Checks) -> Vec<u8> {
    let fd = open_passwd(checks);
    checks.check("a new descriptor is above 0, 1 and 2", fd > 2, || {
        format!("{fd}")
    });
    let mut buffer = [0u8; 4096];
    let length = read(fd, Out::To(&mut buffer));
    checks.check("read returns the file", length > 0, || describe(length));
    let content = buffer[..length.max(0) as usize].to_vec();
    checks.check(
        "/etc/passwd starts with root:",
        content.starts_with(b"root:"),
        || String::from_utf8_lossy(&content).into_owned(),
    );
    checks.equal(
        "read at the end returns 0",
        read(fd, Out::To(&mut buffer)),
        0,
    );
    // A read copies only when there is data: back to the start for the bad buffers.
    lseek(fd, 0, libc::SEEK_SET);
    checks.fails_with(
        "read into the null page",
        read(fd, Out::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
    checks.fails_with(
        "read into the kernel half",
        read(fd, Out::Bad(Bad::KernelHalf)),
        libc::EFAULT,
    );
    checks.fails_with(
        "read from descriptor -1",
        read(-1, Out::To(&mut buffer)),
        libc::EBADF,
    );
    checks.fails_with(
        "read from a closed descriptor",
        read(1000, Out::To(&mut buffer)),
        libc::EBADF,
    );
    checks.fails_with(
        "write to a read-only descriptor",
        write(fd, In::From(b"x")),
        libc::EBADF,
    );

    checks.equal("lseek back to 0", lseek(fd, 0, libc::SEEK_SET), 0);
    let (mut first, mut second) = ([0u8; 5], [0u8; 10]);
    let total = readv(fd, &mut [&mut first, &mut second]);
    checks.equal(
        "readv fills two buffers",
        total,
        15.min(content.len() as i64),
    );
    let mut joined = first.to_vec();
    joined.extend_from_slice(&second);
    checks.check(
        "readv reads in order",
        content.starts_with(&joined[..total.max(0) as usize]),
        || format!("{joined:?}"),
    );
    checks.fails_with(
        "readv from iovecs in the null page",
        readv_from_bad_vector(fd, Bad::NullPage, 2),
        libc::EFAULT,
    );
    checks.fails_with(
        "readv with 1025 iovecs",
        readv_from_bad_vector(fd, Bad::NullPage, 1025),
        libc::EINVAL,
    );
    checks.equal("close", close(fd), 0);
    checks.fails_with("close again", close(fd), libc::EBADF);
    content
}

/// lseek and pread64, and the file offset between them.
fn seeking(checks: &mut Checks, content: &[u8]) {
    let fd = open_passwd(checks);
    let size = content.len() as i64;
    let mut word = [0u8; 4];
    checks.equal("read 4 bytes", read(fd, Out::To(&mut word)), 4);
    checks.equal("the offset is 4", lseek(fd, 0, libc::SEEK_CUR), 4);
    checks.equal("lseek to the end", lseek(fd, 0, libc::SEEK_END), size);
    checks.equal(
        "lseek past the end",
        lseek(fd, 10, libc::SEEK_END),
        size + 10,
    );
    checks.equal(
        "read past the end returns 0",
        read(fd, Out::To(&mut word)),
        0,
    );
    checks.equal("lseek relative", lseek(fd, -(size + 6), libc::SEEK_CUR), 4);
    checks.fails_with(
        "lseek before the start",
        lseek(fd, -1, libc::SEEK_SET),
        libc::EINVAL,
    );
    checks.fails_with(
        "lseek with an unknown whence",
        lseek(fd, 0, 7),
        libc::EINVAL,
    );
    checks.fails_with(
        "lseek on a bad descriptor",
        lseek(1000, 0, libc::SEEK_SET),
        libc::EBADF,
    );

    checks.equal("pread64 at offset 5", pread64(fd, Out::To(&mut word), 5), 4);
    checks.check(
        "pread64 reads at its offset",
        content.get(5..9) == Some(&word[..]),
        || format!("{word:?}"),
    );
    checks.equal("pread64 leaves the offset", lseek(fd, 0, libc::SEEK_CUR), 4);
    checks.equal(
        "pread64 past the end returns 0",
        pread64(fd, Out::To(&mut word), size + 100),
        0,
    );
    checks.fails_with(
        "pread64 at a negative offset",
        pread64(fd, Out::To(&mut word), -1),
        libc::EINVAL,
    );
    checks.fails_with(
        "pread64 into the null page",
        pread64(fd, Out::Bad(Bad::NullPage), 0),
        libc::EFAULT,
    );
    close(fd);
}

fn opening_errors(checks: &mut Checks) {
    checks.fails_with(
        "openat a missing file",
        open("/nonexistent", libc::O_RDONLY),
        libc::ENOENT,
    );
    checks.fails_with(
        "openat below a missing directory",
        open("/nonexistent/file", libc::O_RDONLY),
        libc::ENOENT,
    );
    checks.fails_with(
        "openat below a file",
        open("/etc/passwd/file", libc::O_RDONLY),
        libc::ENOTDIR,
    );
    checks.fails_with(
        "openat a file with O_DIRECTORY",
        open("/etc/passwd", libc::O_RDONLY | libc::O_DIRECTORY),
        libc::ENOTDIR,
    );
    checks.fails_with(
        "openat an empty path",
        open("", libc::O_RDONLY),
        libc::ENOENT,
    );
    checks.fails_with(
        "openat a path in the null page",
        openat(AT_FDCWD, In::Bad(Bad::NullPage), libc::O_RDONLY, 0),
        libc::EFAULT,
    );
    checks.fails_with(
        "openat a path in the kernel half",
        openat(AT_FDCWD, In::Bad(Bad::KernelHalf), libc::O_RDONLY, 0),
        libc::EFAULT,
    );
    let long = format!("/{}", "a".repeat(5000));
    checks.fails_with(
        "openat a path longer than PATH_MAX",
        open(&long, libc::O_RDONLY),
        libc::ENAMETOOLONG,
    );
    checks.fails_with(
        "openat for writing on a read-only root",
        open("/etc/passwd", libc::O_WRONLY),
        libc::EROFS,
    );
    checks.fails_with(
        "openat for reading and writing on a read-only root",
        open("/etc/passwd", libc::O_RDWR),
        libc::EROFS,
    );
    let create = libc::O_WRONLY | libc::O_CREAT;
    checks.fails_with(
        "openat to create on a read-only root",
        openat(AT_FDCWD, In::From(&c_string("/etc/new")), create, 0o644),
        libc::EROFS,
    );
    checks.fails_with(
        "openat O_CREAT|O_EXCL of an existing file",
        openat(
            AT_FDCWD,
            In::From(&c_string("/etc/passwd")),
            create | libc::O_EXCL,
            0o644,
        ),
        libc::EEXIST,
    );
    checks.fails_with(
        "openat with O_NOFOLLOW of a symbolic link",
        open("/bin/sh", libc::O_RDONLY | libc::O_NOFOLLOW),
        libc::ELOOP,
    );

    if let Some(etc) = checks.success(
        "openat /etc as a directory",
        open("/etc", libc::O_RDONLY | libc::O_DIRECTORY),
    ) {
        let etc = etc as c_int;
        let relative = openat(etc, In::From(&c_string("passwd")), libc::O_RDONLY, 0);
        if let Some(fd) = checks.success("openat relative to a directory descriptor", relative) {
            close(fd as c_int);
        }
        let mut byte = [0u8; 1];
        checks.fails_with(
            "read from a directory",
            read(etc, Out::To(&mut byte)),
            libc::EISDIR,
        );
        close(etc);
    }
    let fd = open_passwd(checks);
    checks.fails_with(
        "openat relative to a file descriptor",
        openat(fd, In::From(&c_string("x")), libc::O_RDONLY, 0),
        libc::ENOTDIR,
    );
    checks.fails_with(
        "openat relative to a closed descriptor",
        openat(1000, In::From(&c_string("x")), libc::O_RDONLY, 0),
        libc::EBADF,
    );
    let absolute = openat(1000, In::From(&c_string("/etc/passwd")), libc::O_RDONLY, 0);
    if let Some(other) = checks.success(
        "openat an absolute path ignores the directory descriptor",
        absolute,
    ) {
        close(other as c_int);
    }
    close(fd);
}

/// fstat and newfstatat.
fn status(checks: &mut Checks, content: &[u8]) {
    let fd = open_passwd(checks);
    let mut file = empty_stat();
    checks.equal("fstat", fstat(fd, Out::To(&mut file)), 0);
    checks.equal(
        "fstat: a regular file",
        file.st_mode & libc::S_IFMT,
        libc::S_IFREG,
    );
    checks.equal("fstat: mode 0644", file.st_mode & 0o7777, 0o644);
    checks.equal("fstat: the size read", file.st_size, content.len() as i64);
    checks.check("fstat: at least one link", file.st_nlink >= 1, || {
        format!("{}", file.st_nlink)
    });
    checks.fails_with(
        "fstat into the null page",
        fstat(fd, Out::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
    checks.fails_with(
        "fstat a bad descriptor",
        fstat(-1, Out::To(&mut file)),
        libc::EBADF,
    );

    let stat_path = |path: &str, flags: c_int, status: &mut libc::stat| {
        newfstatat(AT_FDCWD, In::From(&c_string(path)), Out::To(status), flags)
    };
    let mut same = empty_stat();
    checks.equal(
        "newfstatat /etc/passwd",
        stat_path("/etc/passwd", 0, &mut same),
        0,
    );
    checks.check(
        "newfstatat and fstat agree",
        same.st_ino == file.st_ino && same.st_dev == file.st_dev && same.st_size == file.st_size,
        || format!("inode {} / {}", same.st_ino, file.st_ino),
    );
    let mut directory = empty_stat();
    checks.equal("newfstatat /bin", stat_path("/bin", 0, &mut directory), 0);
    checks.equal(
        "newfstatat: /bin is a directory",
        directory.st_mode & libc::S_IFMT,
        libc::S_IFDIR,
    );
    let (mut shell, mut busybox, mut link) = (empty_stat(), empty_stat(), empty_stat());
    checks.equal("newfstatat /bin/sh", stat_path("/bin/sh", 0, &mut shell), 0);
    checks.equal(
        "newfstatat /bin/busybox",
        stat_path("/bin/busybox", 0, &mut busybox),
        0,
    );
    checks.check(
        "newfstatat follows /bin/sh to /bin/busybox",
        shell.st_ino == busybox.st_ino && shell.st_mode & libc::S_IFMT == libc::S_IFREG,
        || format!("inode {} and {}", shell.st_ino, busybox.st_ino),
    );
    checks.equal(
        "newfstatat with AT_SYMLINK_NOFOLLOW",
        stat_path("/bin/sh", libc::AT_SYMLINK_NOFOLLOW, &mut link),
        0,
    );
    checks.equal(
        "newfstatat: /bin/sh is a symbolic link",
        link.st_mode & libc::S_IFMT,
        libc::S_IFLNK,
    );
    checks.equal(
        "newfstatat: a link's size is its target's length",
        link.st_size,
        "/bin/busybox".len() as i64,
    );
    checks.fails_with(
        "newfstatat a missing file",
        stat_path("/nonexistent", 0, &mut link),
        libc::ENOENT,
    );
    checks.fails_with(
        "newfstatat below a file",
        stat_path("/etc/passwd/x", 0, &mut link),
        libc::ENOTDIR,
    );
    checks.fails_with(
        "newfstatat an empty path",
        stat_path("", 0, &mut link),
        libc::ENOENT,
    );
    checks.fails_with(
        "newfstatat with unknown flags",
        stat_path("/etc/passwd", 0x4000_0000, &mut link),
        libc::EINVAL,
    );
    checks.fails_with(
        "newfstatat a path in the null page",
        newfstatat(AT_FDCWD, In::Bad(Bad::NullPage), Out::To(&mut link), 0),
        libc::EFAULT,
    );
    checks.fails_with(
        "newfstatat into the null page",
        newfstatat(
            AT_FDCWD,
            In::From(&c_string("/etc/passwd")),
            Out::Bad(Bad::NullPage),
            0,
        ),
        libc::EFAULT,
    );
    let mut empty_path = empty_stat();
    let by_descriptor = newfstatat(
        fd,
        In::From(&c_string("")),
        Out::To(&mut empty_path),
        libc::AT_EMPTY_PATH,
    );
    checks.equal("newfstatat with AT_EMPTY_PATH", by_descriptor, 0);
    checks.equal(
        "newfstatat with AT_EMPTY_PATH is the descriptor's file",
        empty_path.st_ino,
        file.st_ino,
    );
    close(fd);
}

/// One record of getdents64: name and type.
fn entries(buffer: &[u8], found: &mut Vec<(String, u8)>, well_formed: &mut bool) {
    let mut offset = 0;
    while offset + 19 <= buffer.len() {
        let length = u16::from_ne_bytes([buffer[offset + 16], buffer[offset + 17]]) as usize;
        let kind = buffer[offset + 18];
        let end = offset + length;
        if length < 20 || !length.is_multiple_of(8) || end > buffer.len() {
            *well_formed = false;
            return;
        }
        let name = &buffer[offset + 19..end];
        let name = &name[..name
            .iter()
            .position(|&byte| byte == 0)
            .unwrap_or(name.len())];
        found.push((String::from_utf8_lossy(name).into_owned(), kind));
        offset = end;
    }
    if offset != buffer.len() {
        *well_formed = false;
    }
}

fn directories(checks: &mut Checks) {
    let Some(fd) = checks.success(
        "openat /bin as a directory",
        open("/bin", libc::O_RDONLY | libc::O_DIRECTORY),
    ) else {
        return;
    };
    let fd = fd as c_int;
    let mut found = Vec::new();
    let mut well_formed = true;
    let mut calls = 0;
    let mut buffer = [0u8; 512];
    loop {
        let length = getdents64(fd, Out::To(&mut buffer));
        if length <= 0 {
            checks.equal("getdents64 ends with 0", length, 0);
            break;
        }
        calls += 1;
        entries(&buffer[..length as usize], &mut found, &mut well_formed);
        if calls > 10_000 {
            checks.check("getdents64 comes to an end", false, || {
                "more than 10000 calls".to_string()
            });
            break;
        }
    }
    checks.check(
        "getdents64 records are well formed (8-byte aligned, within the buffer)",
        well_formed,
        String::new,
    );
    let kind = |name: &str| {
        found
            .iter()
            .find(|(entry, _)| entry == name)
            .map(|(_, kind)| *kind)
    };
    checks.check(
        "getdents64 lists . and ..",
        kind(".").is_some() && kind("..").is_some(),
        || format!("{found:?}"),
    );
    checks.equal(
        "getdents64: busybox is a regular file",
        kind("busybox"),
        Some(libc::DT_REG),
    );
    checks.equal(
        "getdents64: sh is a symbolic link",
        kind("sh"),
        Some(libc::DT_LNK),
    );
    let mut names: Vec<&String> = found.iter().map(|(name, _)| name).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    checks.equal("getdents64 lists each name once", names.len(), before);
    checks.check(
        "getdents64 took more than one call with a small buffer",
        calls > 1,
        || format!("{calls}"),
    );
    close(fd);

    if let Some(fd) = checks.success(
        "openat /bin again",
        open("/bin", libc::O_RDONLY | libc::O_DIRECTORY),
    ) {
        let fd = fd as c_int;
        let mut tiny = [0u8; 1];
        checks.fails_with(
            "getdents64 into a buffer too small for a record",
            getdents64(fd, Out::To(&mut tiny)),
            libc::EINVAL,
        );
        checks.fails_with(
            "getdents64 into the null page",
            getdents64(fd, Out::Bad(Bad::NullPage)),
            libc::EFAULT,
        );
        close(fd);
    }
    let file = open_passwd(checks);
    checks.fails_with(
        "getdents64 on a file",
        getdents64(file, Out::To(&mut buffer)),
        libc::ENOTDIR,
    );
    close(file);
    checks.fails_with(
        "getdents64 on a bad descriptor",
        getdents64(1000, Out::To(&mut buffer)),
        libc::EBADF,
    );
}

fn links(checks: &mut Checks) {
    let link = |path: &str, buffer: &mut [u8]| {
        readlinkat(AT_FDCWD, In::From(&c_string(path)), Out::To(buffer))
    };
    let mut buffer = [0u8; 64];
    let length = link("/bin/sh", &mut buffer);
    checks.equal("readlinkat /bin/sh", length, 12);
    checks.equal(
        "readlinkat gives the target without a NUL",
        &buffer[..12],
        b"/bin/busybox",
    );
    let mut short = [0u8; 4];
    checks.equal(
        "readlinkat truncates to the buffer",
        link("/bin/sh", &mut short),
        4,
    );
    checks.equal("readlinkat truncated text", &short, b"/bin");
    checks.fails_with(
        "readlinkat a file that is no link",
        link("/etc/passwd", &mut buffer),
        libc::EINVAL,
    );
    checks.fails_with(
        "readlinkat a missing file",
        link("/nonexistent", &mut buffer),
        libc::ENOENT,
    );
    checks.fails_with(
        "readlinkat with a zero length",
        readlinkat_zero_length(AT_FDCWD, In::From(&c_string("/bin/sh")), &mut buffer),
        libc::EINVAL,
    );
    checks.fails_with(
        "readlinkat into the null page",
        readlinkat(
            AT_FDCWD,
            In::From(&c_string("/bin/sh")),
            Out::Bad(Bad::NullPage),
        ),
        libc::EFAULT,
    );
    checks.fails_with(
        "readlinkat a path in the null page",
        readlinkat(AT_FDCWD, In::Bad(Bad::NullPage), Out::To(&mut buffer)),
        libc::EFAULT,
    );
    if let Some(bin) = checks.success(
        "openat /bin for readlinkat",
        open("/bin", libc::O_RDONLY | libc::O_DIRECTORY),
    ) {
        let relative = readlinkat(
            bin as c_int,
            In::From(&c_string("sh")),
            Out::To(&mut buffer),
        );
        checks.equal(
            "readlinkat relative to a directory descriptor",
            relative,
            12,
        );
        close(bin as c_int);
    }
}

fn working_directory(checks: &mut Checks) {
    let mut buffer = [0u8; 256];
    let cwd = |buffer: &mut [u8]| getcwd(Out::To(buffer));
    checks.equal("chdir /bin", chdir(In::From(&c_string("/bin"))), 0);
    checks.equal(
        "getcwd returns the length with the NUL",
        cwd(&mut buffer),
        5,
    );
    checks.equal("getcwd text", &buffer[..5], b"/bin\0");
    let relative = open("busybox", libc::O_RDONLY);
    if let Some(fd) = checks.success("openat relative to the working directory", relative) {
        close(fd as c_int);
    }
    checks.equal("chdir ..", chdir(In::From(&c_string(".."))), 0);
    checks.equal("getcwd after chdir ..", cwd(&mut buffer), 2);
    checks.fails_with(
        "chdir to a file",
        chdir(In::From(&c_string("/etc/passwd"))),
        libc::ENOTDIR,
    );
    checks.fails_with(
        "chdir to a missing directory",
        chdir(In::From(&c_string("/nonexistent"))),
        libc::ENOENT,
    );
    checks.fails_with(
        "chdir to a path in the null page",
        chdir(In::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
    let mut tiny = [0u8; 1];
    checks.fails_with(
        "getcwd into a buffer too small",
        cwd(&mut tiny),
        libc::ERANGE,
    );
    checks.fails_with(
        "getcwd into the null page",
        getcwd(Out::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
}
