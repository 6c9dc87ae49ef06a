//! descriptors: dup, dup3, fcntl (descriptor and status flags, F_DUPFD, F_DUPFD_CLOEXEC),
//! close-on-exec across execve, shared file offsets, /dev/null, /dev/zero, readv and writev,
//! with their errors.
//!
//! The close-on-exec check runs the program again (`descriptors exec-check <kept> <closed>`),
//! found through argv[0] or PATH, which then reports by its exit status.

#![no_main]

use std::ffi::{CStr, c_char, c_int};

use linux_programs::*;

const EXEC_CHECK: &str = "exec-check";

#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C library passes main its argc and argv.
    let arguments = unsafe { linux_programs::arguments(argc, argv) };
    if arguments.get(1).map(String::as_str) == Some(EXEC_CHECK) {
        exit(after_exec(&arguments))
    }
    let mut checks = Checks::new("descriptors");
    duplicates(&mut checks);
    flags(&mut checks);
    close_on_exec(
        &mut checks,
        arguments
            .first()
            .map(String::as_str)
            .unwrap_or("descriptors"),
    );
    devices(&mut checks);
    checks.finish()
}

fn open(path: &str, flags: c_int) -> i64 {
    openat(libc::AT_FDCWD, In::From(&c_string(path)), flags, 0)
}

fn open_passwd(checks: &mut Checks) -> c_int {
    match checks.success("openat /etc/passwd", open("/etc/passwd", libc::O_RDONLY)) {
        Some(fd) => fd as c_int,
        None => checks.finish(),
    }
}

fn duplicates(checks: &mut Checks) {
    let fd = open_passwd(checks);
    let copy = dup(fd);
    checks.check("dup returns a new descriptor", copy > i64::from(fd), || {
        describe(copy)
    });
    let copy = copy as c_int;
    let mut bytes = [0u8; 5];
    checks.equal(
        "read through the original",
        read(fd, Out::To(&mut bytes)),
        5,
    );
    checks.equal(
        "the duplicate shares the offset",
        lseek(copy, 0, libc::SEEK_CUR),
        5,
    );
    checks.equal("close the original", close(fd), 0);
    checks.equal(
        "the duplicate stays open",
        lseek(copy, 0, libc::SEEK_CUR),
        5,
    );
    let lowest = dup(copy);
    checks.equal(
        "dup takes the lowest free descriptor",
        lowest,
        i64::from(fd),
    );
    close(lowest as c_int);
    checks.fails_with("dup of a closed descriptor", dup(1000), libc::EBADF);

    checks.equal("dup3 to a chosen descriptor", dup3(copy, 40, 0), 40);
    checks.equal("dup3 shares the offset", lseek(40, 0, libc::SEEK_CUR), 5);
    checks.equal(
        "dup3 without O_CLOEXEC",
        fcntl(40, Fcntl::GetDescriptorFlags, 0),
        0,
    );
    checks.equal(
        "dup3 over an open descriptor",
        dup3(copy, 40, libc::O_CLOEXEC),
        40,
    );
    checks.equal(
        "dup3 with O_CLOEXEC",
        fcntl(40, Fcntl::GetDescriptorFlags, 0),
        i64::from(libc::FD_CLOEXEC),
    );
    checks.fails_with("dup3 onto itself", dup3(copy, copy, 0), libc::EINVAL);
    checks.fails_with(
        "dup3 with unknown flags",
        dup3(copy, 41, 0x10),
        libc::EINVAL,
    );
    checks.fails_with(
        "dup3 of a closed descriptor",
        dup3(1000, 41, 0),
        libc::EBADF,
    );
    checks.fails_with(
        "dup3 to a negative descriptor",
        dup3(copy, -1, 0),
        libc::EBADF,
    );
    close(40);
    close(copy);
}

fn flags(checks: &mut Checks) {
    let fd = open_passwd(checks);
    checks.equal(
        "F_GETFD of a new descriptor",
        fcntl(fd, Fcntl::GetDescriptorFlags, 0),
        0,
    );
    checks.equal(
        "F_SETFD FD_CLOEXEC",
        fcntl(fd, Fcntl::SetDescriptorFlags, libc::FD_CLOEXEC as u64),
        0,
    );
    checks.equal(
        "F_GETFD shows FD_CLOEXEC",
        fcntl(fd, Fcntl::GetDescriptorFlags, 0),
        i64::from(libc::FD_CLOEXEC),
    );
    checks.equal("F_SETFD 0", fcntl(fd, Fcntl::SetDescriptorFlags, 0), 0);
    checks.equal(
        "F_GETFD shows it cleared",
        fcntl(fd, Fcntl::GetDescriptorFlags, 0),
        0,
    );

    let status = fcntl(fd, Fcntl::GetStatusFlags, 0);
    checks.equal(
        "F_GETFL: the access mode",
        status & i64::from(libc::O_ACCMODE),
        i64::from(libc::O_RDONLY),
    );
    checks.equal(
        "F_GETFL: not non-blocking",
        status & i64::from(libc::O_NONBLOCK),
        0,
    );
    let nonblocking = (status | i64::from(libc::O_NONBLOCK)) as u64;
    checks.equal(
        "F_SETFL O_NONBLOCK",
        fcntl(fd, Fcntl::SetStatusFlags, nonblocking),
        0,
    );
    let after = fcntl(fd, Fcntl::GetStatusFlags, 0);
    checks.equal(
        "F_GETFL shows O_NONBLOCK",
        after & i64::from(libc::O_NONBLOCK),
        i64::from(libc::O_NONBLOCK),
    );
    let write_mode = (after | i64::from(libc::O_RDWR)) as u64;
    checks.equal(
        "F_SETFL with another access mode",
        fcntl(fd, Fcntl::SetStatusFlags, write_mode),
        0,
    );
    checks.equal(
        "F_SETFL leaves the access mode",
        fcntl(fd, Fcntl::GetStatusFlags, 0) & i64::from(libc::O_ACCMODE),
        i64::from(libc::O_RDONLY),
    );
    let opened = open("/etc/passwd", libc::O_RDONLY | libc::O_CLOEXEC);
    if let Some(other) = checks.success("openat with O_CLOEXEC", opened) {
        checks.equal(
            "O_CLOEXEC sets FD_CLOEXEC",
            fcntl(other as c_int, Fcntl::GetDescriptorFlags, 0),
            i64::from(libc::FD_CLOEXEC),
        );
        close(other as c_int);
    }

    let duplicate = fcntl(fd, Fcntl::DuplicateAtLeast, 50);
    checks.equal(
        "F_DUPFD takes the lowest free at or above its argument",
        duplicate,
        50,
    );
    checks.equal(
        "F_DUPFD clears FD_CLOEXEC",
        fcntl(50, Fcntl::GetDescriptorFlags, 0),
        0,
    );
    let again = fcntl(fd, Fcntl::DuplicateAtLeast, 50);
    checks.equal("F_DUPFD skips an open descriptor", again, 51);
    let cloexec = fcntl(fd, Fcntl::DuplicateAtLeastCloseOnExec, 50);
    checks.equal("F_DUPFD_CLOEXEC takes the next free one", cloexec, 52);
    checks.equal(
        "F_DUPFD_CLOEXEC sets FD_CLOEXEC",
        fcntl(52, Fcntl::GetDescriptorFlags, 0),
        i64::from(libc::FD_CLOEXEC),
    );
    for duplicate in 50..=52 {
        close(duplicate);
    }
    checks.fails_with(
        "F_DUPFD beyond the descriptor limit",
        fcntl(fd, Fcntl::DuplicateAtLeast, 1 << 30),
        libc::EINVAL,
    );
    checks.fails_with(
        "fcntl of a closed descriptor",
        fcntl(1000, Fcntl::GetDescriptorFlags, 0),
        libc::EBADF,
    );
    checks.fails_with(
        "fcntl with an undefined command",
        fcntl(fd, Fcntl::Undefined, 0),
        libc::EINVAL,
    );
    close(fd);
}

fn close_on_exec(checks: &mut Checks, argument0: &str) {
    let Some(path) = own_path(argument0) else {
        checks.check("find this program to run it again", false, || {
            format!("argv[0] is {argument0}")
        });
        return;
    };
    let fd = open_passwd(checks);
    checks.equal("a descriptor to keep", dup3(fd, 60, 0), 60);
    checks.equal(
        "a descriptor to close on exec",
        dup3(fd, 61, libc::O_CLOEXEC),
        61,
    );
    close(fd);
    let status = in_child(|| {
        let program = c_string(&path);
        let words = [
            c_string(&path),
            c_string(EXEC_CHECK),
            c_string("60"),
            c_string("61"),
        ];
        let argv: Vec<&CStr> = words.iter().map(|word| word.as_c_str()).collect();
        execve(In::From(&program), &argv, &[]);
        // Reached only if execve failed.
        100
    });
    checks.equal(
        "after execve, kept descriptors stay and close-on-exec ones are closed",
        status.and_then(exit_code),
        Some(0),
    );
    close(60);
    close(61);
}

/// The program run again: exit 0 if descriptor argv[2] is open and argv[3] closed.
fn after_exec(arguments: &[String]) -> c_int {
    let descriptor = |index: usize| {
        arguments
            .get(index)
            .and_then(|text| text.parse::<c_int>().ok())
    };
    let (Some(kept), Some(closed)) = (descriptor(2), descriptor(3)) else {
        return 101;
    };
    let kept_open = fcntl(kept, Fcntl::GetDescriptorFlags, 0) == 0;
    let closed_gone = fcntl(closed, Fcntl::GetDescriptorFlags, 0) == -i64::from(libc::EBADF);
    match (kept_open, closed_gone) {
        (true, true) => 0,
        (false, _) => 102,
        (true, false) => 103,
    }
}

fn devices(checks: &mut Checks) {
    if let Some(null) = checks.success(
        "openat /dev/null for writing",
        open("/dev/null", libc::O_RDWR),
    ) {
        let null = null as c_int;
        checks.equal(
            "write to /dev/null takes everything",
            write(null, In::From(&[7u8; 100])),
            100,
        );
        let mut byte = [0u8; 1];
        checks.equal(
            "read from /dev/null is at its end",
            read(null, Out::To(&mut byte)),
            0,
        );
        checks.equal("writev to /dev/null", writev(null, &[b"abc", b"defgh"]), 8);
        close(null);
    }
    if let Some(zero) = checks.success("openat /dev/zero", open("/dev/zero", libc::O_RDONLY)) {
        let zero = zero as c_int;
        let mut bytes = [0xFFu8; 300];
        checks.equal(
            "read from /dev/zero fills the buffer",
            read(zero, Out::To(&mut bytes)),
            300,
        );
        checks.check(
            "read from /dev/zero gives zeros",
            bytes.iter().all(|&byte| byte == 0),
            || format!("{bytes:?}"),
        );
        let (mut first, mut second) = ([1u8; 3], [1u8; 9]);
        checks.equal(
            "readv from /dev/zero",
            readv(zero, &mut [&mut first, &mut second]),
            12,
        );
        checks.check(
            "readv from /dev/zero gives zeros",
            first == [0; 3] && second == [0; 9],
            || format!("{first:?} {second:?}"),
        );
        checks.fails_with(
            "read from /dev/zero into the null page",
            read(zero, Out::Bad(Bad::NullPage)),
            libc::EFAULT,
        );
        close(zero);
    }
    // (Not to /dev/null: it takes any buffer without reading it, on Linux too.)
    checks.fails_with(
        "writev from a bad iovec base",
        writev_from_bad_base(1, Bad::NullPage),
        libc::EFAULT,
    );
    checks.fails_with(
        "write from the null page",
        write(1, In::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
    checks.fails_with(
        "write to a closed descriptor",
        write(1000, In::From(b"x")),
        libc::EBADF,
    );
    checks.fails_with(
        "readv from a closed descriptor",
        readv(1000, &mut [&mut [0u8; 4]]),
        libc::EBADF,
    );
}
