//! Reading and writing files: plain, vector and positional forms, partial transfers and
//! faults.

use linux_abi::errno::Errno;
use linux_abi::file::{O_DIRECTORY, O_RDONLY, O_RDWR, O_WRONLY};
use linux_abi::memory::PROT_READ;
use linux_abi::syscall::Syscall;

use super::{Harness, console_output};
use crate::memory::PAGE_SIZE;
use crate::process::Pid;

/// Writes an `iovec` array of `(base, length)` pairs into fresh memory.
fn iovecs(harness: &mut Harness, pid: Pid, entries: &[(u64, u64)]) -> u64 {
    let pages = (entries.len() as u64 * 16).div_ceil(PAGE_SIZE).max(1);
    let array = harness.scratch(pid, pages);
    for (index, (base, length)) in entries.iter().enumerate() {
        let at = array + 16 * index as u64;
        harness.poke(pid, at, &base.to_le_bytes());
        harness.poke(pid, at + 8, &length.to_le_bytes());
    }
    array
}

#[test]
fn a_read_into_unmapped_memory_is_efault_and_loses_nothing() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[fd, 16, 10]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Lseek, &[fd, 0, 1]),
        0,
        "the offset stayed"
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[fd, u64::MAX - 4, 10]),
        Errno::EFAULT,
        "a range that wraps"
    );
}

#[test]
fn a_read_that_runs_into_unmapped_memory_returns_what_fitted() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/data/big", O_RDONLY);
    let buffer = harness.scratch(Pid::INIT, 2);
    harness.ok(Pid::INIT, Syscall::Munmap, &[buffer + PAGE_SIZE, PAGE_SIZE]);
    let start = buffer + PAGE_SIZE - 100;
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Read, &[fd, start, 1000]),
        100
    );
    assert_eq!(harness.ok(Pid::INIT, Syscall::Lseek, &[fd, 0, 1]), 100);
}

#[test]
fn reads_fail_on_bad_descriptors_directories_and_write_only_files() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[33, buffer, 1]),
        Errno::EBADF
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[u64::MAX, buffer, 1]),
        Errno::EBADF
    );
    let directory = harness.open(Pid::INIT, b"/etc", O_RDONLY | O_DIRECTORY);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[directory, buffer, 1]),
        Errno::EISDIR
    );
    let null = harness.open(Pid::INIT, b"/dev/null", O_WRONLY);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[null, buffer, 1]),
        Errno::EBADF
    );
    let file = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Write, &[file, buffer, 1]),
        Errno::EBADF
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[directory, 16, 1]),
        Errno::EISDIR,
        "the descriptor is checked before the buffer"
    );
}

#[test]
fn a_large_read_crosses_the_server_s_steps() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/data/big", O_RDONLY);
    let buffer = harness.scratch(Pid::INIT, 50);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Read, &[fd, buffer, 300_000]),
        200_000
    );
    let bytes = harness.peek(Pid::INIT, buffer, 200_000);
    assert!(
        bytes
            .iter()
            .enumerate()
            .all(|(index, &byte)| byte == (index % 251) as u8)
    );
}

#[test]
fn readv_scatters_and_stops_at_the_end_of_the_file() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    let buffer = harness.scratch(Pid::INIT, 1);
    let vector = iovecs(
        &mut harness,
        Pid::INIT,
        &[(buffer, 2), (buffer + 100, 0), (buffer + 200, 10)],
    );
    assert_eq!(harness.ok(Pid::INIT, Syscall::Readv, &[fd, vector, 3]), 6);
    assert_eq!(harness.peek(Pid::INIT, buffer, 2), b"he");
    assert_eq!(harness.peek(Pid::INIT, buffer + 200, 4), b"llo\n");
}

#[test]
fn readv_checks_the_vector_as_linux_does() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    let buffer = harness.scratch(Pid::INIT, 1);
    let good = iovecs(&mut harness, Pid::INIT, &[(buffer, 6)]);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Readv, &[fd, good, 1025]),
        Errno::EINVAL
    );
    let negative = iovecs(&mut harness, Pid::INIT, &[(buffer, u64::MAX)]);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Readv, &[fd, negative, 1]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Readv, &[fd, 16, 1]),
        Errno::EFAULT
    );
    let outside = iovecs(&mut harness, Pid::INIT, &[(1 << 47, 8)]);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Readv, &[fd, outside, 1]),
        Errno::EFAULT
    );
    assert_eq!(harness.ok(Pid::INIT, Syscall::Readv, &[fd, good, 0]), 0);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Readv, &[40, good, 1]),
        Errno::EBADF
    );
}

#[test]
fn writev_gathers_into_one_console_write() {
    let mut harness = Harness::booted();
    let first = harness.string(Pid::INIT, b"ab");
    let second = harness.string(Pid::INIT, b"cd");
    let vector = iovecs(&mut harness, Pid::INIT, &[(first, 2), (second, 2)]);
    let actions = harness.call(Pid::INIT, Syscall::Writev, &[1, vector, 2]);
    assert_eq!(super::answer(&actions, Pid::INIT), Some(Ok(4)));
    assert_eq!(console_output(&actions), b"abcd");
}

#[test]
fn writes_to_dev_null_vanish_and_bad_buffers_are_efault() {
    let mut harness = Harness::booted();
    let null = harness.open(Pid::INIT, b"/dev/null", O_RDWR);
    let data = harness.string(Pid::INIT, b"gone");
    assert_eq!(harness.ok(Pid::INIT, Syscall::Write, &[null, data, 4]), 4);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Write, &[null, 16, 4]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Write, &[1, 16, 4]),
        Errno::EFAULT
    );
    assert_eq!(harness.ok(Pid::INIT, Syscall::Write, &[null, 16, 0]), 0);
}

#[test]
fn a_write_from_partly_readable_memory_writes_the_readable_part() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 2);
    harness.poke(Pid::INIT, buffer + PAGE_SIZE - 3, b"end");
    let null = harness.open(Pid::INIT, b"/dev/null", O_WRONLY);
    let start = buffer + PAGE_SIZE - 3;
    let vector = iovecs(
        &mut harness,
        Pid::INIT,
        &[(start, 3), (buffer + PAGE_SIZE, 10)],
    );
    let across = iovecs(&mut harness, Pid::INIT, &[(start, 13)]);
    harness.ok(Pid::INIT, Syscall::Munmap, &[buffer + PAGE_SIZE, PAGE_SIZE]);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Writev, &[null, vector, 2]),
        3
    );
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Writev, &[null, across, 1]),
        3,
        "within one segment"
    );
}

#[test]
fn pread64_reads_at_an_offset_without_moving_it() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Pread64, &[fd, buffer, 3, 2]),
        3
    );
    assert_eq!(harness.peek(Pid::INIT, buffer, 3), b"llo");
    assert_eq!(harness.ok(Pid::INIT, Syscall::Lseek, &[fd, 0, 1]), 0);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Pread64, &[fd, buffer, 3, u64::MAX]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Pread64, &[0, buffer, 3, 0]),
        Errno::ESPIPE
    );
    let vector = iovecs(
        &mut harness,
        Pid::INIT,
        &[(buffer + 100, 2), (buffer + 200, 2)],
    );
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Preadv, &[fd, vector, 2, 1]),
        4
    );
    assert_eq!(harness.peek(Pid::INIT, buffer + 200, 2), b"lo");
}

#[test]
fn pwrite64_writes_to_dev_null_and_refuses_the_console() {
    let mut harness = Harness::booted();
    let null = harness.open(Pid::INIT, b"/dev/null", O_WRONLY);
    let data = harness.string(Pid::INIT, b"abc");
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Pwrite64, &[null, data, 3, 100]),
        3
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Pwrite64, &[1, data, 3, 0]),
        Errno::ESPIPE
    );
    let vector = iovecs(&mut harness, Pid::INIT, &[(data, 3)]);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Pwritev, &[null, vector, 1, 0]),
        3
    );
}

#[test]
fn a_read_into_read_only_memory_is_efault() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.ok(
        Pid::INIT,
        Syscall::Mprotect,
        &[buffer, PAGE_SIZE, u64::from(PROT_READ)],
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[fd, buffer, 6]),
        Errno::EFAULT
    );
    let zero = harness.open(Pid::INIT, b"/dev/zero", O_RDONLY);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[zero, buffer, 6]),
        Errno::EFAULT
    );
}
