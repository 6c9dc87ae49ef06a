//! Pipes in the VFS: `pipe2`'s descriptors and flags, the buffer and its readiness, ends
//! counted by description life, the activity counter, metadata, and the calls pipes refuse.

use linux_abi::errno::Errno;
use linux_abi::file::{
    AT_EMPTY_PATH, F_DUPFD, F_GETFD, F_GETFL, F_SETFL, FD_CLOEXEC, O_CLOEXEC, O_DIRECT, O_EXCL,
    O_NONBLOCK, O_RDONLY, O_TRUNC, O_WRONLY, R_OK, S_IFIFO, W_OK, X_OK,
};
use linux_abi::layout::Timespec;

use super::Fixture;
use crate::vfs::{
    DEFAULT_PIPE_CAPACITY, F_GETPIPE_SZ, F_SETPIPE_SZ, IoOutcome, MAXIMUM_PIPE_CAPACITY, PIPE_BUF,
    PIPE_FILE_SYSTEM_DEVICE, PIPE_MEMORY_HARD_LIMIT, PIPE_MEMORY_SOFT_LIMIT, PipeEnd, PipePoll,
    PipeReadiness, PipeRoom, PipeSide, REDUCED_PIPE_CAPACITY, UTIME_NOW, UTIME_OMIT,
};

/// A time for the VFS's clock.
fn at(seconds: i64) -> Timespec {
    Timespec {
        seconds,
        nanoseconds: 0,
    }
}

impl Fixture {
    /// `pipe2(flags)` by root.
    fn pipe(&mut self, flags: u32) -> Result<[i32; 2], Errno> {
        self.vfs.pipe2(&mut self.table, flags, 0, 0)
    }

    /// The pipe end open as `fd`.
    fn end(&self, fd: i32) -> &PipeEnd {
        self.table
            .get(fd)
            .expect("the descriptor is open")
            .pipe()
            .expect("the descriptor is a pipe")
    }
}

#[test]
fn pipe2_installs_the_read_end_then_the_write_end_at_the_lowest_free_numbers() {
    let mut fixture = Fixture::new();
    fixture.open("/etc/motd", O_RDONLY).unwrap();
    fixture.open("/etc/passwd", O_RDONLY).unwrap();
    fixture.table.close(0).unwrap();
    let [read, write] = fixture.pipe(0).unwrap();
    assert_eq!((read, write), (0, 2));
    assert_eq!(fixture.end(read).side(), PipeSide::Read);
    assert_eq!(fixture.end(write).side(), PipeSide::Write);
    assert!(fixture.end(read).same_pipe(fixture.end(write)));
    assert_eq!(
        fixture.table.fcntl(read, F_GETFL, 0),
        Ok(u64::from(O_RDONLY)),
        "no O_LARGEFILE: pipe2 is not open"
    );
    assert_eq!(
        fixture.table.fcntl(write, F_GETFL, 0),
        Ok(u64::from(O_WRONLY))
    );
    assert_eq!(fixture.table.fcntl(write, F_GETFD, 0), Ok(0));

    let [read, write] = fixture.pipe(O_NONBLOCK | O_CLOEXEC).unwrap();
    for fd in [read, write] {
        assert!(fixture.table.get(fd).unwrap().is_nonblocking());
        assert_eq!(
            fixture.table.fcntl(fd, F_GETFD, 0),
            Ok(u64::from(FD_CLOEXEC))
        );
    }
    assert!(!fixture.end(read).same_pipe(fixture.end(0)));
}

#[test]
fn pipe2_refuses_unknown_flags_packet_mode_notification_pipes_and_a_full_table() {
    let mut fixture = Fixture::new();
    assert_eq!(fixture.pipe(O_TRUNC), Err(Errno::EINVAL));
    assert_eq!(fixture.pipe(O_DIRECT), Err(Errno::EINVAL));
    assert_eq!(fixture.pipe(O_EXCL), Err(Errno::ENOPKG));
    fixture.table.set_limit(3).unwrap();
    fixture.open("/etc/motd", O_RDONLY).unwrap();
    fixture.open("/etc/motd", O_RDONLY).unwrap();
    assert_eq!(
        fixture.pipe(0),
        Err(Errno::EMFILE),
        "one free number is not enough"
    );
    assert_eq!(fixture.table.open_count(), 2, "nothing was installed");
    fixture.table.close(0).unwrap();
    assert_eq!(fixture.pipe(0), Ok([0, 2]));
}

#[test]
fn bytes_come_out_in_order_and_readiness_follows_the_buffer() {
    let mut fixture = Fixture::new();
    let [read, write] = fixture.pipe(0).unwrap();
    let (reader, writer) = (fixture.end(read), fixture.end(write));
    assert_eq!(reader.read_readiness(), PipeReadiness::WouldBlock);
    assert_eq!(writer.write_room(10, true), PipeRoom::Room(10));
    assert_eq!(writer.append(b"hello world", at(1)), 11);
    assert_eq!(reader.read_readiness(), PipeReadiness::Data(11));
    assert_eq!(reader.buffered(), 11);
    assert_eq!(writer.buffered(), 11, "both ends see the same buffer");
    let mut buffer = [0u8; 5];
    assert_eq!(reader.peek(&mut buffer), 5);
    assert_eq!(&buffer, b"hello");
    assert_eq!(reader.peek(&mut buffer), 5, "peeking takes nothing");
    reader.consume(6, at(2));
    let mut rest = [0u8; 20];
    assert_eq!(reader.peek(&mut rest), 5);
    assert_eq!(&rest[..5], b"world");
    reader.consume(5, at(3));
    assert_eq!(reader.read_readiness(), PipeReadiness::WouldBlock);
}

#[test]
fn the_buffer_holds_the_capacity_and_small_writes_wait_for_room_for_all_of_them() {
    let mut fixture = Fixture::new();
    let [read, write] = fixture.pipe(0).unwrap();
    let (reader, writer) = (fixture.end(read), fixture.end(write));
    assert_eq!(writer.capacity(), DEFAULT_PIPE_CAPACITY);
    let big = vec![7u8; DEFAULT_PIPE_CAPACITY + 100];
    assert_eq!(writer.append(&big, at(1)), DEFAULT_PIPE_CAPACITY);
    assert_eq!(writer.write_room(1, true), PipeRoom::WouldBlock);
    assert_eq!(writer.write_room(PIPE_BUF + 1, false), PipeRoom::WouldBlock);
    reader.consume(100, at(2));
    assert_eq!(
        writer.write_room(200, true),
        PipeRoom::WouldBlock,
        "an atomic write needs room for all of it"
    );
    assert_eq!(writer.write_room(100, true), PipeRoom::Room(100));
    assert_eq!(
        writer.write_room(PIPE_BUF + 1, false),
        PipeRoom::Room(100),
        "a longer write takes what fits"
    );
    assert_eq!(writer.append(&big, at(3)), 100);
}

#[test]
fn ends_are_counted_while_their_descriptions_live() {
    let mut fixture = Fixture::new();
    let [read, write] = fixture.pipe(0).unwrap();
    let duplicate = fixture.table.dup(write).unwrap();
    let above = fixture.table.fcntl(write, F_DUPFD, 10).unwrap() as i32;
    fixture.table.dup3(write, 20, 0).unwrap();
    let mut child = fixture.table.clone_for_fork();
    for fd in [write, duplicate, above, 20] {
        fixture.table.close(fd).unwrap();
        assert!(fixture.end(read).has_writers(), "the child still has it");
    }
    assert_eq!(
        fixture.end(read).read_readiness(),
        PipeReadiness::WouldBlock
    );
    child.close_all();
    assert!(!fixture.end(read).has_writers());
    assert_eq!(fixture.end(read).read_readiness(), PipeReadiness::EndOfFile);

    let [read, write] = fixture.pipe(O_CLOEXEC).unwrap();
    let kept = fixture.table.dup(read).unwrap();
    fixture.table.close_on_exec();
    let reader_gone = fixture.table.get(read).is_err() && fixture.table.get(write).is_err();
    assert!(reader_gone, "both close-on-exec ends closed");
    let kept = fixture.end(kept);
    assert!(!kept.has_writers());
    assert!(
        kept.has_readers(),
        "the duplicate without close-on-exec stays"
    );
}

#[test]
fn a_write_end_without_readers_is_broken() {
    let mut fixture = Fixture::new();
    let [read, write] = fixture.pipe(0).unwrap();
    fixture.table.close(read).unwrap();
    assert_eq!(fixture.end(write).write_room(1, true), PipeRoom::Broken);
    assert_eq!(
        fixture.end(write).poll(),
        PipePoll {
            writable: true,
            broken: true,
            ..PipePoll::default()
        }
    );
}

#[test]
fn poll_sees_bytes_hang_ups_room_and_broken_pipes() {
    let mut fixture = Fixture::new();
    let [read, write] = fixture.pipe(0).unwrap();
    assert_eq!(fixture.end(read).poll(), PipePoll::default());
    assert_eq!(
        fixture.end(write).poll(),
        PipePoll {
            writable: true,
            ..PipePoll::default()
        }
    );
    let fill = vec![0u8; DEFAULT_PIPE_CAPACITY - PIPE_BUF + 1];
    fixture.end(write).append(&fill, at(1));
    assert!(fixture.end(read).poll().readable);
    assert!(
        !fixture.end(write).poll().writable,
        "a PIPE_BUF write would wait"
    );
    fixture.end(read).consume(1, at(2));
    assert!(fixture.end(write).poll().writable);
    fixture.table.close(write).unwrap();
    assert_eq!(
        fixture.end(read).poll(),
        PipePoll {
            readable: true,
            hung_up: true,
            ..PipePoll::default()
        }
    );
}

#[test]
fn every_change_a_waiter_may_care_about_counts_as_activity() {
    let mut fixture = Fixture::new();
    let [read, write] = fixture.pipe(0).unwrap();
    let before = fixture.vfs.pipe_activity();
    fixture.end(write).append(b"x", at(1));
    let after_write = fixture.vfs.pipe_activity();
    assert_ne!(after_write, before);
    fixture.end(read).peek(&mut [0u8; 1]);
    fixture.end(read).poll();
    fixture.end(write).write_room(1, true);
    assert_eq!(
        fixture.vfs.pipe_activity(),
        after_write,
        "looking changes nothing"
    );
    fixture.end(read).consume(1, at(2));
    let after_read = fixture.vfs.pipe_activity();
    assert_ne!(after_read, after_write);
    let duplicate = fixture.table.dup(write).unwrap();
    fixture.table.close(duplicate).unwrap();
    assert_eq!(
        fixture.vfs.pipe_activity(),
        after_read,
        "a descriptor closed while its description lives changes nothing"
    );
    fixture.table.close(write).unwrap();
    assert_ne!(fixture.vfs.pipe_activity(), after_read);
}

#[test]
fn fstat_describes_a_fifo_of_pipefs_with_its_times() {
    let mut fixture = Fixture::new();
    fixture.vfs.set_clock(at(100));
    let [read, write] = fixture.vfs.pipe2(&mut fixture.table, 0, 5, 6).unwrap();
    let stat = fixture.vfs.fstat(&fixture.table, read).unwrap();
    assert_eq!(stat.mode, S_IFIFO | 0o600);
    assert_eq!((stat.user_id, stat.group_id), (5, 6));
    assert_eq!(stat.device, PIPE_FILE_SYSTEM_DEVICE);
    assert_eq!((stat.size, stat.blocks, stat.block_size), (0, 0, 4096));
    assert_eq!(stat.link_count, 1);
    assert_eq!(stat.special_device, 0);
    assert_eq!(
        (stat.access_time, stat.modification_time, stat.change_time),
        (at(100), at(100), at(100))
    );
    assert_eq!(
        fixture.vfs.fstat(&fixture.table, write).unwrap(),
        stat,
        "both ends are one inode"
    );
    let [other, _] = fixture.pipe(0).unwrap();
    assert_ne!(
        fixture.vfs.fstat(&fixture.table, other).unwrap().inode,
        stat.inode
    );

    fixture.end(write).append(b"abc", at(200));
    fixture.end(read).consume(3, at(300));
    let stat = fixture.vfs.fstat(&fixture.table, read).unwrap();
    assert_eq!(stat.size, 0, "Linux reports no size for a pipe");
    assert_eq!(
        (stat.access_time, stat.modification_time, stat.change_time),
        (at(300), at(200), at(200)),
        "reads touch the access time, writes the modification and change times"
    );
    assert_eq!(
        fixture.stat_at(read, "", AT_EMPTY_PATH),
        Ok(stat),
        "an empty path names the pipe itself"
    );
}

#[test]
fn pipes_refuse_seeking_positional_io_listing_and_directory_use() {
    let mut fixture = Fixture::new();
    let [read, write] = fixture.pipe(0).unwrap();
    let (vfs, table) = (&fixture.vfs, &fixture.table);
    assert_eq!(vfs.lseek(table, read, 0, 0), Err(Errno::ESPIPE));
    assert_eq!(vfs.pread64(table, read, &mut [0; 4], 0), Err(Errno::ESPIPE));
    assert_eq!(vfs.pwrite64(table, write, b"x", 0), Err(Errno::ESPIPE));
    assert_eq!(
        vfs.getdents64(table, read, &mut [0; 512]),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(vfs.terminal(table, read), Err(Errno::ENOTTY));
    assert_eq!(vfs.read(table, read, &mut [0; 4]), Ok(IoOutcome::Pipe));
    assert_eq!(vfs.write(table, write, b"x"), Ok(IoOutcome::Pipe));
    assert_eq!(vfs.read(table, write, &mut [0; 4]), Err(Errno::EBADF));
    assert_eq!(vfs.write(table, read, b"x"), Err(Errno::EBADF));
    assert_eq!(vfs.ftruncate(table, write, 0), Err(Errno::EINVAL));
    assert_eq!(vfs.fsync(table, write), Err(Errno::EINVAL));
    assert_eq!(
        fixture.stat_at(read, "etc", 0),
        Err(Errno::ENOTDIR),
        "a pipe is no directory to start from"
    );
    assert_eq!(fixture.stat_at(read, "/etc", 0).map(|_| ()), Ok(()));
    let mut context = fixture.context.clone();
    assert_eq!(
        fixture.vfs.fchdir(&mut context, &fixture.table, read),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(fixture.open_at(read, "etc", O_RDONLY), Err(Errno::ENOTDIR));
    let mut buffer = [0u8; 16];
    assert_eq!(
        fixture
            .vfs
            .readlinkat(&fixture.context, &fixture.table, read, b"", &mut buffer),
        Err(Errno::ENOENT)
    );
}

#[test]
fn access_checks_through_an_empty_path_see_a_writable_pipe_without_execute_bits() {
    let mut fixture = Fixture::new();
    let [read, _] = fixture.pipe(0).unwrap();
    let (vfs, context, table) = (&fixture.vfs, &fixture.context, &fixture.table);
    assert_eq!(
        vfs.faccessat(context, table, read, b"", R_OK | W_OK, AT_EMPTY_PATH),
        Ok(())
    );
    assert_eq!(
        vfs.faccessat(context, table, read, b"", X_OK, AT_EMPTY_PATH),
        Err(Errno::EACCES)
    );
    assert_eq!(
        vfs.faccessat(context, table, read, b"", R_OK, 0),
        Err(Errno::ENOENT),
        "without AT_EMPTY_PATH an empty path is no name"
    );
}

#[test]
fn metadata_changes_apply_to_pipes_at_the_clock() {
    let mut fixture = Fixture::new();
    fixture.vfs.set_clock(at(10));
    let [read, write] = fixture.pipe(0).unwrap();
    fixture.vfs.set_clock(at(20));
    fixture.vfs.fchmod(&fixture.table, read, 0o6755).unwrap();
    let stat = fixture.vfs.fstat(&fixture.table, write).unwrap();
    assert_eq!(stat.mode, S_IFIFO | 0o6755);
    assert_eq!(stat.change_time, at(20));

    fixture.vfs.set_clock(at(30));
    fixture
        .vfs
        .fchownat(
            &fixture.context,
            &fixture.table,
            write,
            b"",
            7,
            u32::MAX,
            AT_EMPTY_PATH,
        )
        .unwrap();
    let stat = fixture.vfs.fstat(&fixture.table, read).unwrap();
    assert_eq!((stat.user_id, stat.group_id), (7, 0), "-1 keeps the group");
    assert_eq!(
        stat.mode,
        S_IFIFO | 0o755,
        "a change of owner clears set-user-ID, and set-group-ID with group execute"
    );
    assert_eq!(stat.change_time, at(30));

    fixture.vfs.set_clock(at(40));
    let times = [
        Timespec {
            seconds: 5,
            nanoseconds: UTIME_OMIT,
        },
        Timespec {
            seconds: 0,
            nanoseconds: UTIME_NOW,
        },
    ];
    fixture
        .vfs
        .utimensat(
            &fixture.context,
            &fixture.table,
            read,
            None,
            Some(&times),
            0,
        )
        .unwrap();
    let stat = fixture.vfs.fstat(&fixture.table, read).unwrap();
    assert_eq!(
        (stat.access_time, stat.modification_time, stat.change_time),
        (at(10), at(40), at(40))
    );
    let given = [at(1), at(2)];
    fixture
        .vfs
        .utimensat(
            &fixture.context,
            &fixture.table,
            write,
            Some(b""),
            Some(&given),
            AT_EMPTY_PATH,
        )
        .unwrap();
    let stat = fixture.vfs.fstat(&fixture.table, read).unwrap();
    assert_eq!((stat.access_time, stat.modification_time), (at(1), at(2)));
}

#[test]
fn fcntl_reads_and_sets_a_pipe_s_capacity() {
    let mut fixture = Fixture::new();
    let [read, write] = fixture.pipe(0).unwrap();
    let file = fixture.open("/etc/motd", O_RDONLY).unwrap();
    assert_eq!(
        fixture.table.fcntl(read, F_GETPIPE_SZ, 0),
        Ok(DEFAULT_PIPE_CAPACITY as u64)
    );
    assert_eq!(
        fixture.table.fcntl(file, F_GETPIPE_SZ, 0),
        Err(Errno::EBADF)
    );
    assert_eq!(
        fixture.table.fcntl(write, F_SETPIPE_SZ, 5000),
        Ok(8192),
        "rounded up to a power of two pages"
    );
    assert_eq!(fixture.table.fcntl(write, F_SETPIPE_SZ, 0), Ok(4096));
    assert_eq!(
        fixture
            .table
            .fcntl(read, F_SETPIPE_SZ, MAXIMUM_PIPE_CAPACITY as u64 + 1),
        Err(Errno::EPERM)
    );
    assert_eq!(
        fixture.table.fcntl(read, F_SETPIPE_SZ, (1 << 31) + 1),
        Err(Errno::EINVAL)
    );
    fixture.end(write).append(&[0; 4096], at(1));
    fixture.table.fcntl(read, F_SETPIPE_SZ, 8192).unwrap();
    fixture.end(write).append(&[0; 100], at(1));
    assert_eq!(
        fixture.table.fcntl(read, F_SETPIPE_SZ, 4096),
        Err(Errno::EBUSY),
        "the buffered bytes would not fit"
    );
    assert_eq!(fixture.end(read).capacity(), 8192);
    assert_eq!(
        fixture.table.fcntl(read, F_SETFL, u64::from(O_NONBLOCK)),
        Ok(0)
    );
    assert!(fixture.table.get(read).unwrap().is_nonblocking());
}

#[test]
fn pipe_memory_is_bounded_by_a_soft_and_a_hard_limit() {
    let mut fixture = Fixture::new();
    fixture.table.set_limit(1 << 20).unwrap();
    let full_pipes = PIPE_MEMORY_SOFT_LIMIT / DEFAULT_PIPE_CAPACITY;
    let mut last = [0, 0];
    for _ in 0..full_pipes {
        last = fixture.pipe(0).unwrap();
        assert_eq!(fixture.end(last[0]).capacity(), DEFAULT_PIPE_CAPACITY);
    }
    let [small, _] = fixture.pipe(0).unwrap();
    assert_eq!(
        fixture.end(small).capacity(),
        REDUCED_PIPE_CAPACITY,
        "past the soft limit a pipe gets two pages"
    );
    assert_eq!(
        fixture.table.fcntl(small, F_SETPIPE_SZ, 4 * 4096),
        Err(Errno::EPERM),
        "and cannot grow"
    );
    assert_eq!(fixture.table.fcntl(small, F_SETPIPE_SZ, 4096), Ok(4096));
    let small_pipes =
        (PIPE_MEMORY_HARD_LIMIT - PIPE_MEMORY_SOFT_LIMIT - 4096) / REDUCED_PIPE_CAPACITY;
    for _ in 0..small_pipes {
        fixture.pipe(0).unwrap();
    }
    let open = fixture.table.open_count();
    assert_eq!(fixture.pipe(0), Err(Errno::ENFILE), "past the hard limit");
    assert_eq!(fixture.table.open_count(), open, "nothing was installed");

    // A pipe gives its memory back when both ends are gone, not before.
    fixture.table.close(last[0]).unwrap();
    assert_eq!(fixture.pipe(0), Err(Errno::ENFILE));
    fixture.table.close(last[1]).unwrap();
    let [again, _] = fixture.pipe(0).unwrap();
    assert_eq!(fixture.end(again).capacity(), REDUCED_PIPE_CAPACITY);
}
