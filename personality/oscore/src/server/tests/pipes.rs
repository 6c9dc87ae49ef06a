//! Pipes between processes: `pipe2`, reads and writes that park and wake each other, end of
//! file and broken pipes, descriptors that keep ends open, `ppoll`, and the calls pipes
//! refuse.

use linux_abi::errno::Errno;
use linux_abi::file::{
    AT_EMPTY_PATH, F_DUPFD, F_GETFD, F_GETFL, F_SETFL, FD_CLOEXEC, O_APPEND, O_CLOEXEC, O_DIRECT,
    O_EXCL, O_NONBLOCK, O_RDONLY, O_WRONLY, S_IFIFO,
};
use linux_abi::layout::{Iovec, Rlimit, SigAction, Stat};
use linux_abi::process::{CoreDump, RLIMIT_NOFILE, signalled_status};
use linux_abi::signal::{SIG_IGN, Signal, SignalSet};
use linux_abi::syscall::Syscall;
use linux_abi::terminal::FIONREAD;

use super::{AT_FDCWD, Harness, answer, answers, deletes};
use crate::memory::PAGE_SIZE;
use crate::memory::testing::TestFrame;
use crate::process::Pid;
use crate::server::Action;
use crate::vfs::{DEFAULT_PIPE_CAPACITY, PIPE_BUF, PIPE_FILE_SYSTEM_DEVICE};

/// `POLLIN`, `POLLOUT`, `POLLERR`, `POLLHUP`.
const POLLIN: u16 = 0x1;
const POLLOUT: u16 = 0x4;
const POLLERR: u16 = 0x8;
const POLLHUP: u16 = 0x10;

/// The pipe's capacity as a register.
const CAPACITY: u64 = DEFAULT_PIPE_CAPACITY as u64;

/// `pipe2(fds, flags)` in `pid`: the read and write descriptors.
fn pipe(harness: &mut Harness, pid: Pid, flags: u32) -> (u64, u64) {
    let fds = harness.scratch(pid, 1);
    harness.ok(pid, Syscall::Pipe2, &[fds, u64::from(flags)]);
    (
        u64::from(harness.peek_u32(pid, fds)),
        u64::from(harness.peek_u32(pid, fds + 4)),
    )
}

/// `length` bytes counting modulo 251 from `start`, in fresh memory of `pid`.
fn pattern(harness: &mut Harness, pid: Pid, start: usize, length: usize) -> u64 {
    let pages = (length as u64).div_ceil(PAGE_SIZE).max(1);
    let address = harness.scratch(pid, pages);
    let bytes: Vec<u8> = (start..start + length)
        .map(|index| (index % 251) as u8)
        .collect();
    harness.poke(pid, address, &bytes);
    address
}

/// Fresh memory of `pid` for `length` bytes.
fn buffer(harness: &mut Harness, pid: Pid, length: usize) -> u64 {
    let pages = (length as u64).div_ceil(PAGE_SIZE).max(1);
    harness.scratch(pid, pages)
}

/// Starts `write(fd, pattern of length)` in `pid` and returns the actions.
fn write_pattern(
    harness: &mut Harness,
    pid: Pid,
    fd: u64,
    length: usize,
) -> Vec<Action<TestFrame>> {
    let address = pattern(harness, pid, 0, length);
    harness.call(pid, Syscall::Write, &[fd, address, length as u64])
}

/// `write(fd, bytes)` in `pid`, which must complete at once.
fn write_now(harness: &mut Harness, pid: Pid, fd: u64, bytes: &[u8]) -> Result<u64, Errno> {
    let address = buffer(harness, pid, bytes.len());
    harness.poke(pid, address, bytes);
    harness.result(pid, Syscall::Write, &[fd, address, bytes.len() as u64])
}

/// `read(fd, length)` in `pid`, which must complete at once: the bytes.
fn read_now(harness: &mut Harness, pid: Pid, fd: u64, length: usize) -> Result<Vec<u8>, Errno> {
    let address = buffer(harness, pid, length);
    let count = harness.result(pid, Syscall::Read, &[fd, address, length as u64])?;
    Ok(harness.peek(pid, address, count as usize))
}

/// `FIONREAD` of `fd` in `pid`.
fn buffered(harness: &mut Harness, pid: Pid, fd: u64) -> u32 {
    let count = harness.scratch(pid, 1);
    harness.ok(pid, Syscall::Ioctl, &[fd, u64::from(FIONREAD), count]);
    harness.peek_u32(pid, count)
}

/// Sets `signal`'s handler in `pid` (`SIG_IGN`, or an address).
fn set_handler(harness: &mut Harness, pid: Pid, signal: Signal, handler: u64) {
    let action = SigAction {
        handler,
        ..SigAction::default()
    };
    let address = harness.scratch(pid, 1);
    harness.poke(pid, address, &action.to_bytes());
    harness.ok(
        pid,
        Syscall::RtSigaction,
        &[u64::from(signal.number()), address, 0, 8],
    );
}

/// The status `wait4` reaps for `child` of init.
fn status_of(harness: &mut Harness, child: Pid) -> u32 {
    let status = harness.scratch(Pid::INIT, 1);
    harness.ok(
        Pid::INIT,
        Syscall::Wait4,
        &[child.number() as u64, status, 0, 0],
    );
    harness.peek_u32(Pid::INIT, status)
}

/// `ppoll` of `entries` (descriptor, events) in `pid` with no timeout: the actions, and
/// where the array is.
fn poll(harness: &mut Harness, pid: Pid, entries: &[(u64, u16)]) -> (Vec<Action<TestFrame>>, u64) {
    let array = harness.scratch(pid, 1);
    for (index, (fd, events)) in entries.iter().enumerate() {
        let at = array + 8 * index as u64;
        harness.poke(pid, at, &(*fd as u32).to_le_bytes());
        harness.poke(pid, at + 4, &events.to_le_bytes());
    }
    let actions = harness.call(pid, Syscall::Ppoll, &[array, entries.len() as u64, 0, 0, 8]);
    (actions, array)
}

/// The `revents` of entry `index` of a poll array.
fn revents(harness: &mut Harness, pid: Pid, array: u64, index: u64) -> u16 {
    let bytes = harness.peek(pid, array + 8 * index + 6, 2);
    u16::from_le_bytes([bytes[0], bytes[1]])
}

/// `fstat` of `fd` in `pid`.
fn fstat(harness: &mut Harness, pid: Pid, fd: u64) -> Stat {
    let address = harness.scratch(pid, 1);
    harness.ok(pid, Syscall::Fstat, &[fd, address]);
    Stat::from_bytes(&harness.peek(pid, address, Stat::SIZE).try_into().unwrap())
}

#[test]
fn a_forked_child_reads_what_its_parent_writes_then_end_of_file() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    assert_eq!(
        (read, write),
        (3, 4),
        "the lowest free descriptors, read end first"
    );
    let child = harness.fork(Pid::INIT);
    harness.ok(child, Syscall::Close, &[write]);
    harness.ok(Pid::INIT, Syscall::Close, &[read]);
    assert_eq!(write_now(&mut harness, Pid::INIT, write, b"hello"), Ok(5));
    assert_eq!(
        read_now(&mut harness, child, read, 100),
        Ok(b"hello".to_vec())
    );
    harness.ok(Pid::INIT, Syscall::Close, &[write]);
    assert_eq!(
        read_now(&mut harness, child, read, 100),
        Ok(Vec::new()),
        "no writer is left: end of file"
    );
}

#[test]
fn a_reader_parks_on_an_empty_pipe_until_bytes_come() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let child = harness.fork(Pid::INIT);
    let target = buffer(&mut harness, child, 100);
    let actions = harness.call(child, Syscall::Read, &[read, target, 100]);
    assert!(!answers(&actions, child), "the reader waits");
    let address = pattern(&mut harness, Pid::INIT, 0, 3);
    let actions = harness.call(Pid::INIT, Syscall::Write, &[write, address, 3]);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(3)));
    assert_eq!(
        answer(&actions, child),
        Some(Ok(3)),
        "the write woke the reader"
    );
    assert_eq!(harness.peek(child, target, 3), [0, 1, 2]);
}

#[test]
fn a_parked_reader_reads_end_of_file_when_the_last_writer_exits() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let child = harness.fork(Pid::INIT);
    harness.ok(child, Syscall::Close, &[read]);
    harness.ok(Pid::INIT, Syscall::Close, &[write]);
    let target = buffer(&mut harness, Pid::INIT, 10);
    let actions = harness.call(Pid::INIT, Syscall::Read, &[read, target, 10]);
    assert!(
        !answers(&actions, Pid::INIT),
        "the child's copy of the write end keeps the pipe open"
    );
    let actions = harness.exit(child, 0);
    assert!(deletes(&actions, child));
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)), "end of file");
}

#[test]
fn a_writer_parks_on_a_full_pipe_until_the_reader_makes_room() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let child = harness.fork(Pid::INIT);
    let length = DEFAULT_PIPE_CAPACITY + 5000;
    let actions = write_pattern(&mut harness, Pid::INIT, write, length);
    assert!(!answers(&actions, Pid::INIT), "only the capacity fits");
    assert_eq!(buffered(&mut harness, child, read), CAPACITY as u32);

    let first = read_now(&mut harness, child, read, 3000).unwrap();
    assert_eq!(first.len(), 3000);
    // 3000 bytes of room do not take the 5000 left: the writer waits on.
    assert_eq!(buffered(&mut harness, child, read), CAPACITY as u32);
    let target = buffer(&mut harness, child, 10_000);
    let actions = harness.call(child, Syscall::Read, &[read, target, 10_000]);
    assert_eq!(answer(&actions, child), Some(Ok(10_000)));
    assert_eq!(
        answer(&actions, Pid::INIT),
        Some(Ok(length as u64)),
        "the write answers with the whole count once all went in"
    );
    let mut received = first;
    received.extend(harness.peek(child, target, 10_000));
    loop {
        let more = read_now(&mut harness, child, read, 20_000).unwrap();
        received.extend(&more);
        if received.len() == length {
            break;
        }
        assert!(!more.is_empty());
    }
    let expected: Vec<u8> = (0..length).map(|index| (index % 251) as u8).collect();
    assert!(received == expected, "every byte arrived once, in order");
}

#[test]
fn writes_of_at_most_pipe_buf_bytes_go_in_whole_or_wait() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let child = harness.fork(Pid::INIT);
    let almost = DEFAULT_PIPE_CAPACITY - 100;
    let actions = write_pattern(&mut harness, Pid::INIT, write, almost);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(almost as u64)));

    let actions = write_pattern(&mut harness, Pid::INIT, write, 200);
    assert!(!answers(&actions, Pid::INIT), "200 bytes do not fit in 100");
    assert_eq!(
        buffered(&mut harness, child, read),
        almost as u32,
        "nothing of the atomic write went in"
    );
    let actions = {
        let target = buffer(&mut harness, child, 100);
        harness.call(child, Syscall::Read, &[read, target, 100])
    };
    assert_eq!(answer(&actions, child), Some(Ok(100)));
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(200)));
    assert_eq!(buffered(&mut harness, child, read), CAPACITY as u32);

    // Without waiting: an atomic write that does not fit is EAGAIN, a longer one partial.
    read_now(&mut harness, child, read, 100).unwrap();
    harness.ok(
        Pid::INIT,
        Syscall::Fcntl,
        &[write, u64::from(F_SETFL), u64::from(O_NONBLOCK)],
    );
    let address = pattern(&mut harness, Pid::INIT, 0, PIPE_BUF + 1);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Write, &[write, address, 200]),
        Errno::EAGAIN
    );
    assert_eq!(
        harness.ok(
            Pid::INIT,
            Syscall::Write,
            &[write, address, PIPE_BUF as u64 + 1]
        ),
        100,
        "a write above PIPE_BUF takes what fits"
    );
}

#[test]
fn a_write_without_readers_is_epipe_and_sigpipe_ends_the_writer() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let child = harness.fork(Pid::INIT);
    harness.ok(child, Syscall::Close, &[read]);
    harness.ok(Pid::INIT, Syscall::Close, &[read]);
    let actions = write_pattern(&mut harness, child, write, 10);
    assert!(
        !answers(&actions, child),
        "SIGPIPE's default action ends the writer"
    );
    assert!(deletes(&actions, child));
    assert_eq!(
        status_of(&mut harness, child),
        signalled_status(Signal::SIGPIPE, CoreDump::NotDumped)
    );

    set_handler(&mut harness, Pid::INIT, Signal::SIGPIPE, SIG_IGN);
    assert_eq!(
        write_now(&mut harness, Pid::INIT, write, b"x"),
        Err(Errno::EPIPE),
        "with SIGPIPE ignored, only EPIPE"
    );
    assert_eq!(
        write_now(&mut harness, Pid::INIT, write, b""),
        Ok(0),
        "an empty write never looks for readers"
    );
}

#[test]
fn a_parked_writer_gets_sigpipe_when_the_last_reader_goes() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let killed = harness.fork(Pid::INIT);
    let survivor = harness.fork(Pid::INIT);
    for pid in [killed, survivor] {
        harness.ok(pid, Syscall::Close, &[read]);
    }
    // The survivor blocks SIGPIPE: its write answers with the count that went in.
    let set = harness.scratch(survivor, 1);
    harness.poke(
        survivor,
        set,
        &SignalSet::of(Signal::SIGPIPE).0.to_le_bytes(),
    );
    harness.ok(survivor, Syscall::RtSigprocmask, &[0, set, 0, 8]);

    let actions = write_pattern(&mut harness, survivor, write, DEFAULT_PIPE_CAPACITY + 10);
    assert!(!answers(&actions, survivor));
    let actions = write_pattern(&mut harness, killed, write, 10);
    assert!(!answers(&actions, killed), "the pipe is full");

    let actions = harness.call(Pid::INIT, Syscall::Close, &[read]);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)));
    assert!(deletes(&actions, killed), "SIGPIPE ended the writer");
    assert_eq!(
        answer(&actions, survivor),
        Some(Ok(CAPACITY)),
        "what went in before the reader left"
    );
    assert_eq!(
        status_of(&mut harness, killed),
        signalled_status(Signal::SIGPIPE, CoreDump::NotDumped)
    );
    let pending = harness.scratch(survivor, 1);
    harness.ok(survivor, Syscall::RtSigpending, &[pending, 8]);
    assert_eq!(
        harness.peek_u64(survivor, pending),
        SignalSet::of(Signal::SIGPIPE).0,
        "the blocked SIGPIPE is pending"
    );
}

#[test]
fn nonblocking_ends_answer_eagain_instead_of_waiting() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, O_NONBLOCK);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Fcntl, &[read, u64::from(F_GETFL)]),
        u64::from(O_RDONLY | O_NONBLOCK)
    );
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Fcntl, &[write, u64::from(F_GETFL)]),
        u64::from(O_WRONLY | O_NONBLOCK)
    );
    assert_eq!(
        read_now(&mut harness, Pid::INIT, read, 10),
        Err(Errno::EAGAIN)
    );
    let actions = write_pattern(&mut harness, Pid::INIT, write, DEFAULT_PIPE_CAPACITY + 1);
    assert_eq!(
        answer(&actions, Pid::INIT),
        Some(Ok(CAPACITY)),
        "what fits, without waiting for the rest"
    );
    assert_eq!(
        write_now(&mut harness, Pid::INIT, write, b"x"),
        Err(Errno::EAGAIN)
    );
}

#[test]
fn pipe2_checks_flags_pointer_and_descriptor_limit_leaving_nothing_open() {
    let mut harness = Harness::booted();
    let fds = harness.scratch(Pid::INIT, 1);
    for (flags, error) in [
        (O_APPEND, Errno::EINVAL),
        (O_WRONLY, Errno::EINVAL),
        (O_DIRECT, Errno::EINVAL),
        (O_EXCL, Errno::ENOPKG),
    ] {
        assert_eq!(
            harness.error(Pid::INIT, Syscall::Pipe2, &[fds, u64::from(flags)]),
            error
        );
    }
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Pipe2, &[0, 0]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.open(Pid::INIT, b"/etc/motd", O_RDONLY),
        3,
        "the failed pipe2 left no descriptor behind"
    );

    // 0..=3 are open; a limit of 5 leaves one free number.
    let limit = harness.scratch(Pid::INIT, 1);
    let five = Rlimit {
        current: 5,
        maximum: 4096,
    };
    harness.poke(Pid::INIT, limit, &five.to_bytes());
    harness.ok(
        Pid::INIT,
        Syscall::Setrlimit,
        &[u64::from(RLIMIT_NOFILE), limit],
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Pipe2, &[fds, 0]),
        Errno::EMFILE
    );
    assert_eq!(
        harness.open(Pid::INIT, b"/etc/motd", O_RDONLY),
        4,
        "the refused pipe2 took no number"
    );

    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, O_CLOEXEC);
    for fd in [read, write] {
        assert_eq!(
            harness.ok(Pid::INIT, Syscall::Fcntl, &[fd, u64::from(F_GETFD)]),
            u64::from(FD_CLOEXEC)
        );
    }
}

#[test]
fn duplicated_and_inherited_write_ends_keep_the_pipe_open() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, O_NONBLOCK);
    let duplicate = harness.ok(Pid::INIT, Syscall::Dup, &[write]);
    let above = harness.ok(Pid::INIT, Syscall::Fcntl, &[write, u64::from(F_DUPFD), 20]);
    assert_eq!(above, 20);
    harness.ok(Pid::INIT, Syscall::Dup3, &[write, 30, 0]);
    for fd in [write, duplicate, above] {
        harness.ok(Pid::INIT, Syscall::Close, &[fd]);
        assert_eq!(
            read_now(&mut harness, Pid::INIT, read, 1),
            Err(Errno::EAGAIN),
            "a write end is still open"
        );
    }
    // The last write end lives on in a child until it exits.
    let child = harness.fork(Pid::INIT);
    harness.ok(Pid::INIT, Syscall::Close, &[30]);
    assert_eq!(
        read_now(&mut harness, Pid::INIT, read, 1),
        Err(Errno::EAGAIN)
    );
    harness.exit(child, 0);
    assert_eq!(
        read_now(&mut harness, Pid::INIT, read, 1),
        Ok(Vec::new()),
        "the last write end is gone"
    );
}

#[test]
fn dup3_over_the_last_write_end_wakes_the_reader() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let child = harness.fork(Pid::INIT);
    harness.ok(Pid::INIT, Syscall::Close, &[write]);
    let target = buffer(&mut harness, Pid::INIT, 10);
    let actions = harness.call(Pid::INIT, Syscall::Read, &[read, target, 10]);
    assert!(!answers(&actions, Pid::INIT));
    // The child replaces its write end by standard input.
    let actions = harness.call(child, Syscall::Dup3, &[0, write, 0]);
    assert_eq!(answer(&actions, child), Some(Ok(write)));
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)));
}

#[test]
fn execve_closes_a_close_on_exec_write_end_and_the_reader_sees_end_of_file() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, O_CLOEXEC);
    let child = harness.fork(Pid::INIT);
    harness.ok(Pid::INIT, Syscall::Close, &[write]);
    let target = buffer(&mut harness, Pid::INIT, 10);
    let actions = harness.call(Pid::INIT, Syscall::Read, &[read, target, 10]);
    assert!(!answers(&actions, Pid::INIT));
    let path = harness.string(child, b"/bin/other");
    let argv = harness.scratch(child, 1);
    harness.poke(child, argv, &path.to_le_bytes());
    let actions = harness.call(child, Syscall::Execve, &[path, argv, 0]);
    assert!(answers(&actions, child), "execve succeeded");
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)));
}

#[test]
fn a_process_that_dies_waiting_on_a_pipe_is_forgotten() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let child = harness.fork(Pid::INIT);
    let target = buffer(&mut harness, child, 10);
    let actions = harness.call(child, Syscall::Read, &[read, target, 10]);
    assert!(!answers(&actions, child));
    let actions = harness.call(Pid::INIT, Syscall::Kill, &[child.number() as u64, 9]);
    assert!(deletes(&actions, child));
    let actions = write_pattern(&mut harness, Pid::INIT, write, 4);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(4)));
    assert!(!answers(&actions, child), "the dead reader gets nothing");
    assert_eq!(buffered(&mut harness, Pid::INIT, read), 4);
}

#[test]
fn a_read_into_unmapped_memory_leaves_the_bytes_in_the_pipe() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    write_now(&mut harness, Pid::INIT, write, b"kept").unwrap();
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[read, 0x1000, 4]),
        Errno::EFAULT
    );
    assert_eq!(
        read_now(&mut harness, Pid::INIT, read, 10),
        Ok(b"kept".to_vec())
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Write, &[write, 0x1000, 4]),
        Errno::EFAULT
    );
    assert_eq!(
        buffered(&mut harness, Pid::INIT, read),
        0,
        "nothing went in"
    );
}

#[test]
fn readv_and_writev_move_bytes_through_a_pipe() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let memory = harness.scratch(Pid::INIT, 2);
    harness.poke(Pid::INIT, memory, b"abcdefgh");
    let vector = memory + PAGE_SIZE;
    let entries = [(memory, 3u64), (memory + 5, 3u64)];
    for (index, (base, length)) in entries.iter().enumerate() {
        let iovec = Iovec {
            base: *base,
            length: *length,
        };
        harness.poke(
            Pid::INIT,
            vector + (index * Iovec::SIZE) as u64,
            &iovec.to_bytes(),
        );
    }
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Writev, &[write, vector, 2]),
        6
    );
    let target = harness.scratch(Pid::INIT, 1);
    let entries = [(target, 2u64), (target + 100, 10u64)];
    for (index, (base, length)) in entries.iter().enumerate() {
        let iovec = Iovec {
            base: *base,
            length: *length,
        };
        harness.poke(
            Pid::INIT,
            vector + (index * Iovec::SIZE) as u64,
            &iovec.to_bytes(),
        );
    }
    assert_eq!(harness.ok(Pid::INIT, Syscall::Readv, &[read, vector, 2]), 6);
    assert_eq!(harness.peek(Pid::INIT, target, 2), b"ab");
    assert_eq!(harness.peek(Pid::INIT, target + 100, 4), b"cfgh");
}

#[test]
fn ppoll_reports_pipe_readiness_and_waits_for_it() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let child = harness.fork(Pid::INIT);
    let (actions, array) = poll(&mut harness, Pid::INIT, &[(read, POLLIN), (write, POLLOUT)]);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(1)));
    assert_eq!(revents(&mut harness, Pid::INIT, array, 0), 0);
    assert_eq!(revents(&mut harness, Pid::INIT, array, 1), POLLOUT);

    let (actions, array) = poll(&mut harness, Pid::INIT, &[(read, POLLIN)]);
    assert!(
        !answers(&actions, Pid::INIT),
        "nothing to read: the poll waits"
    );
    let actions = write_pattern(&mut harness, child, write, 1);
    assert_eq!(
        answer(&actions, Pid::INIT),
        Some(Ok(1)),
        "the write woke the poll"
    );
    assert_eq!(revents(&mut harness, Pid::INIT, array, 0), POLLIN);

    // No writer left: the read end hangs up (reported even when not asked for).
    harness.ok(Pid::INIT, Syscall::Close, &[write]);
    harness.exit(child, 0);
    let (actions, array) = poll(&mut harness, Pid::INIT, &[(read, 0)]);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(1)));
    assert_eq!(revents(&mut harness, Pid::INIT, array, 0), POLLHUP);

    // No reader left: the write end is in error.
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    harness.ok(Pid::INIT, Syscall::Close, &[read]);
    let (actions, array) = poll(&mut harness, Pid::INIT, &[(write, POLLOUT)]);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(1)));
    assert_eq!(
        revents(&mut harness, Pid::INIT, array, 0),
        POLLOUT | POLLERR
    );
}

#[test]
fn a_full_pipe_is_not_writable_until_a_read_makes_room() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, O_NONBLOCK);
    let child = harness.fork(Pid::INIT);
    write_pattern(&mut harness, Pid::INIT, write, DEFAULT_PIPE_CAPACITY - 10);
    let (actions, array) = poll(&mut harness, Pid::INIT, &[(write, POLLOUT)]);
    assert!(
        !answers(&actions, Pid::INIT),
        "a PIPE_BUF write would wait: not writable"
    );
    let target = buffer(&mut harness, child, 100);
    let actions = harness.call(child, Syscall::Read, &[read, target, 100]);
    assert_eq!(answer(&actions, child), Some(Ok(100)));
    assert!(
        !answers(&actions, Pid::INIT),
        "110 bytes of room are still too few"
    );
    let target = buffer(&mut harness, child, PIPE_BUF);
    let actions = harness.call(child, Syscall::Read, &[read, target, PIPE_BUF as u64]);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(1)));
    assert_eq!(revents(&mut harness, Pid::INIT, array, 0), POLLOUT);
}

#[test]
fn pipes_stat_as_fifos_and_refuse_seeking_listing_and_the_wrong_direction() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let stat = fstat(&mut harness, Pid::INIT, read);
    assert_eq!(stat.mode, S_IFIFO | 0o600);
    assert_eq!(stat.size, 0, "Linux reports no size for a pipe");
    assert_eq!(stat.block_size, 4096);
    assert_eq!(stat.link_count, 1);
    assert_eq!(stat.device, PIPE_FILE_SYSTEM_DEVICE);
    assert_eq!(fstat(&mut harness, Pid::INIT, write).inode, stat.inode);
    let (other, _) = pipe(&mut harness, Pid::INIT, 0);
    assert_ne!(fstat(&mut harness, Pid::INIT, other).inode, stat.inode);

    // glibc's fstat is newfstatat(fd, "", AT_EMPTY_PATH).
    let empty = harness.string(Pid::INIT, b"");
    let address = harness.scratch(Pid::INIT, 1);
    harness.ok(
        Pid::INIT,
        Syscall::Newfstatat,
        &[write, empty, address, u64::from(AT_EMPTY_PATH)],
    );
    let through_path = Stat::from_bytes(
        &harness
            .peek(Pid::INIT, address, Stat::SIZE)
            .try_into()
            .unwrap(),
    );
    assert_eq!(through_path, fstat(&mut harness, Pid::INIT, write));
    let relative = harness.string(Pid::INIT, b"x");
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Newfstatat,
            &[write, relative, address, 0]
        ),
        Errno::ENOTDIR
    );

    write_now(&mut harness, Pid::INIT, write, b"abc").unwrap();
    assert_eq!(buffered(&mut harness, Pid::INIT, read), 3);
    assert_eq!(
        buffered(&mut harness, Pid::INIT, write),
        3,
        "either end counts"
    );
    let memory = harness.scratch(Pid::INIT, 1);
    for (call, arguments, error) in [
        (Syscall::Lseek, [read, 0, 0, 0], Errno::ESPIPE),
        (Syscall::Pread64, [read, memory, 1, 0], Errno::ESPIPE),
        (Syscall::Pwrite64, [write, memory, 1, 0], Errno::ESPIPE),
        (Syscall::Getdents64, [read, memory, 4096, 0], Errno::ENOTDIR),
        (Syscall::Fchdir, [read, 0, 0, 0], Errno::ENOTDIR),
        (Syscall::Read, [write, memory, 1, 0], Errno::EBADF),
        (Syscall::Write, [read, memory, 1, 0], Errno::EBADF),
        (Syscall::Ftruncate, [write, 0, 0, 0], Errno::EINVAL),
        (Syscall::Fsync, [write, 0, 0, 0], Errno::EINVAL),
        (Syscall::Ioctl, [read, 0x5401, memory, 0], Errno::ENOTTY),
    ] {
        assert_eq!(
            harness.error(Pid::INIT, call, &arguments),
            error,
            "{call:?}"
        );
    }
    let path = harness.string(Pid::INIT, b"motd");
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Openat, &[read, path, 0, 0]),
        Errno::ENOTDIR
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Openat, &[AT_FDCWD, 0, 0, 0]),
        Errno::EFAULT
    );
    assert_eq!(
        read_now(&mut harness, Pid::INIT, read, 10),
        Ok(b"abc".to_vec())
    );
}

#[test]
fn fchmod_and_fchown_change_a_pipe() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    harness.ok(Pid::INIT, Syscall::Fchmod, &[read, 0o640]);
    harness.ok(Pid::INIT, Syscall::Fchown, &[write, 7, u64::from(u32::MAX)]);
    let stat = fstat(&mut harness, Pid::INIT, write);
    assert_eq!(stat.mode, S_IFIFO | 0o640);
    assert_eq!((stat.user_id, stat.group_id), (7, 0));
}

#[test]
fn close_range_closing_the_last_write_end_wakes_the_reader() {
    let mut harness = Harness::booted();
    let (read, write) = pipe(&mut harness, Pid::INIT, 0);
    let child = harness.fork(Pid::INIT);
    harness.ok(Pid::INIT, Syscall::Close, &[write]);
    let target = buffer(&mut harness, Pid::INIT, 10);
    let actions = harness.call(Pid::INIT, Syscall::Read, &[read, target, 10]);
    assert!(!answers(&actions, Pid::INIT));
    let actions = harness.call(child, Syscall::CloseRange, &[3, u64::from(u32::MAX), 0]);
    assert_eq!(answer(&actions, child), Some(Ok(0)));
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)), "end of file");
    assert_eq!(
        harness.error(child, Syscall::Fcntl, &[read, u64::from(F_GETFD)]),
        Errno::EBADF
    );
    assert_eq!(
        harness.error(child, Syscall::CloseRange, &[4, 3, 0]),
        Errno::EINVAL
    );
}
