//! `read`, `pread64`, `write`, `pwrite64`, `lseek` and the terminal routing.

use linux_abi::errno::Errno;
use linux_abi::file::{O_DIRECTORY, O_RDONLY, O_RDWR, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET};

use super::super::{Device, IoOutcome};
use super::{Fixture, data_bytes};

/// `SEEK_DATA`.
const SEEK_DATA: u32 = 3;
/// `SEEK_HOLE`.
const SEEK_HOLE: u32 = 4;

#[test]
fn read_moves_the_offset_and_returns_zero_at_the_end() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(fixture.read(fd, 5).unwrap(), b"root:");
    assert_eq!(
        fixture.read(fd, 100).unwrap(),
        b"x:0:0:root:/root:/bin/sh\n"
    );
    assert_eq!(fixture.read(fd, 100).unwrap(), b"");
    assert_eq!(fixture.table.get(fd).unwrap().offset(), 30);
    let empty = fixture.open("/etc/empty", O_RDONLY).unwrap();
    assert_eq!(fixture.read(empty, 10).unwrap(), b"");
}

#[test]
fn reading_in_small_pieces_gives_the_file_in_order() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/data.bin", O_RDONLY).unwrap();
    let mut gathered = Vec::new();
    loop {
        let piece = fixture.read(fd, 7).unwrap();
        if piece.is_empty() {
            break;
        }
        assert!(piece.len() == 7 || gathered.len() + piece.len() == 2560);
        gathered.extend_from_slice(&piece);
    }
    assert_eq!(gathered, data_bytes());
    assert_eq!(fixture.read(fd, 0).unwrap(), b"");
}

#[test]
fn pread_reads_at_its_offset_and_leaves_the_description_s_alone() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/data.bin", O_RDONLY).unwrap();
    let mut buffer = [0; 4];
    assert_eq!(
        fixture.vfs.pread64(&fixture.table, fd, &mut buffer, 258),
        Ok(4)
    );
    assert_eq!(buffer, [2, 3, 4, 5]);
    assert_eq!(
        fixture.vfs.pread64(&fixture.table, fd, &mut buffer, 2558),
        Ok(2)
    );
    assert_eq!(buffer[..2], [254, 255]);
    assert_eq!(
        fixture
            .vfs
            .pread64(&fixture.table, fd, &mut buffer, 1 << 40),
        Ok(0)
    );
    assert_eq!(fixture.table.get(fd).unwrap().offset(), 0);
    assert_eq!(fixture.read(fd, 2).unwrap(), [0, 1]);
}

#[test]
fn pread_with_a_negative_offset_is_einval_even_before_a_bad_descriptor() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/data.bin", O_RDONLY).unwrap();
    let mut buffer = [0; 4];
    assert_eq!(
        fixture.vfs.pread64(&fixture.table, fd, &mut buffer, -1),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.pread64(&fixture.table, 77, &mut buffer, -1),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.pread64(&fixture.table, 77, &mut buffer, 0),
        Err(Errno::EBADF)
    );
    assert_eq!(
        fixture.vfs.pwrite64(&fixture.table, 77, b"x", -1),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.pwrite64(&fixture.table, 77, b"x", 0),
        Err(Errno::EBADF)
    );
}

#[test]
fn reading_a_directory_is_eisdir() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc", O_RDONLY | O_DIRECTORY).unwrap();
    assert_eq!(fixture.read(fd, 10), Err(Errno::EISDIR));
    assert_eq!(fixture.read(fd, 0), Err(Errno::EISDIR));
    let mut buffer = [0; 8];
    assert_eq!(
        fixture.vfs.pread64(&fixture.table, fd, &mut buffer, 0),
        Err(Errno::EISDIR)
    );
}

#[test]
fn the_access_mode_decides_between_reading_and_writing() {
    let mut fixture = Fixture::new();
    let read_only = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(
        fixture.vfs.write(&fixture.table, read_only, b"x"),
        Err(Errno::EBADF)
    );
    assert_eq!(
        fixture.vfs.pwrite64(&fixture.table, read_only, b"x", 0),
        Err(Errno::EBADF)
    );
    let write_only = fixture.open("/dev/zero", O_WRONLY).unwrap();
    assert_eq!(fixture.read(write_only, 4), Err(Errno::EBADF));
    let mut buffer = [0; 4];
    assert_eq!(
        fixture
            .vfs
            .pread64(&fixture.table, write_only, &mut buffer, 0),
        Err(Errno::EBADF)
    );
    assert_eq!(
        fixture.vfs.write(&fixture.table, 30, b"x"),
        Err(Errno::EBADF)
    );
}

#[test]
fn dev_null_reads_nothing_and_swallows_every_write() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/dev/null", O_RDWR).unwrap();
    assert_eq!(fixture.read(fd, 100).unwrap(), b"");
    assert_eq!(
        fixture.vfs.write(&fixture.table, fd, &[7; 5000]),
        Ok(IoOutcome::Transferred(5000))
    );
    assert_eq!(fixture.vfs.pwrite64(&fixture.table, fd, b"abc", 99), Ok(3));
    let mut buffer = [1; 3];
    assert_eq!(
        fixture.vfs.pread64(&fixture.table, fd, &mut buffer, 0),
        Ok(0)
    );
    assert_eq!(buffer, [1; 3]);
}

#[test]
fn dev_zero_reads_zeros_and_swallows_writes() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/dev/zero", O_RDWR).unwrap();
    assert_eq!(fixture.read(fd, 300).unwrap(), vec![0; 300]);
    let mut buffer = [9; 16];
    assert_eq!(
        fixture.vfs.pread64(&fixture.table, fd, &mut buffer, 12345),
        Ok(16)
    );
    assert_eq!(buffer, [0; 16]);
    assert_eq!(
        fixture.vfs.write(&fixture.table, fd, b"ignored"),
        Ok(IoOutcome::Transferred(7))
    );
}

#[test]
fn console_and_tty_reads_and_writes_are_routed_to_the_terminal() {
    let mut fixture = Fixture::new();
    let console = fixture.open("/dev/console", O_RDWR).unwrap();
    let tty = fixture.open("/dev/tty", O_RDWR).unwrap();
    let mut buffer = [0xaa; 8];
    assert_eq!(
        fixture.vfs.read(&fixture.table, console, &mut buffer),
        Ok(IoOutcome::Terminal(Device::Console))
    );
    assert_eq!(buffer, [0xaa; 8], "nothing was pretended into the buffer");
    assert_eq!(
        fixture.vfs.write(&fixture.table, tty, b"$ "),
        Ok(IoOutcome::Terminal(Device::ControllingTerminal))
    );
    assert_eq!(
        fixture.vfs.terminal(&fixture.table, console),
        Ok(Device::Console)
    );
    assert_eq!(
        fixture.vfs.terminal(&fixture.table, tty),
        Ok(Device::ControllingTerminal)
    );
    // The access mode is still checked before routing.
    let read_only = fixture.open("/dev/console", O_RDONLY).unwrap();
    assert_eq!(
        fixture.vfs.write(&fixture.table, read_only, b"x"),
        Err(Errno::EBADF)
    );
}

#[test]
fn positional_io_and_seeking_on_a_terminal_are_espipe() {
    let mut fixture = Fixture::new();
    let console = fixture.open("/dev/console", O_RDWR).unwrap();
    let mut buffer = [0; 4];
    assert_eq!(
        fixture.vfs.pread64(&fixture.table, console, &mut buffer, 0),
        Err(Errno::ESPIPE)
    );
    assert_eq!(
        fixture.vfs.pwrite64(&fixture.table, console, b"x", 0),
        Err(Errno::ESPIPE)
    );
    assert_eq!(
        fixture.vfs.lseek(&fixture.table, console, 0, SEEK_SET),
        Err(Errno::ESPIPE)
    );
    assert_eq!(
        fixture.vfs.lseek(&fixture.table, console, 0, 99),
        Err(Errno::EINVAL)
    );
    // ESPIPE comes before the access mode.
    let write_only = fixture.open("/dev/tty", O_WRONLY).unwrap();
    assert_eq!(
        fixture
            .vfs
            .pread64(&fixture.table, write_only, &mut buffer, 0),
        Err(Errno::ESPIPE)
    );
}

#[test]
fn ioctl_on_anything_but_a_terminal_is_enotty() {
    let mut fixture = Fixture::new();
    let file = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    let null = fixture.open("/dev/null", O_RDONLY).unwrap();
    let directory = fixture.open("/etc", O_RDONLY).unwrap();
    for fd in [file, null, directory] {
        assert_eq!(fixture.vfs.terminal(&fixture.table, fd), Err(Errno::ENOTTY));
    }
    assert_eq!(fixture.vfs.terminal(&fixture.table, 55), Err(Errno::EBADF));
}

#[test]
fn lseek_sets_moves_and_ends_on_a_regular_file() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/data.bin", O_RDONLY).unwrap();
    let table = &fixture.table;
    assert_eq!(fixture.vfs.lseek(table, fd, 100, SEEK_SET), Ok(100));
    assert_eq!(fixture.vfs.lseek(table, fd, 10, SEEK_CUR), Ok(110));
    assert_eq!(fixture.vfs.lseek(table, fd, -10, SEEK_CUR), Ok(100));
    assert_eq!(fixture.vfs.lseek(table, fd, -1, SEEK_END), Ok(2559));
    assert_eq!(fixture.read(fd, 5).unwrap(), [255]);
    assert_eq!(fixture.vfs.lseek(&fixture.table, fd, 0, SEEK_CUR), Ok(2560));
}

#[test]
fn lseek_to_a_negative_offset_or_with_an_unknown_whence_is_einval() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/data.bin", O_RDONLY).unwrap();
    let table = &fixture.table;
    fixture.vfs.lseek(table, fd, 50, SEEK_SET).unwrap();
    assert_eq!(
        fixture.vfs.lseek(table, fd, -1, SEEK_SET),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.lseek(table, fd, -51, SEEK_CUR),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.lseek(table, fd, -2561, SEEK_END),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.lseek(table, fd, i64::MAX, SEEK_END),
        Err(Errno::EINVAL)
    );
    assert_eq!(fixture.vfs.lseek(table, fd, 0, 5), Err(Errno::EINVAL));
    assert_eq!(
        fixture.vfs.lseek(table, fd, 0, SEEK_CUR),
        Ok(50),
        "failures move nothing"
    );
    assert_eq!(fixture.vfs.lseek(table, 99, 0, SEEK_SET), Err(Errno::EBADF));
}

#[test]
fn seeking_past_the_end_is_allowed_and_reads_nothing_there() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/motd", O_RDONLY).unwrap();
    assert_eq!(
        fixture.vfs.lseek(&fixture.table, fd, 1000, SEEK_SET),
        Ok(1000)
    );
    assert_eq!(fixture.read(fd, 10).unwrap(), b"");
    assert_eq!(
        fixture.vfs.lseek(&fixture.table, fd, i64::MAX, SEEK_SET),
        Ok(i64::MAX)
    );
    assert_eq!(fixture.read(fd, 10).unwrap(), b"");
    assert_eq!(
        fixture.vfs.lseek(&fixture.table, fd, 1, SEEK_CUR),
        Err(Errno::EINVAL)
    );
}

#[test]
fn seek_data_and_seek_hole_see_a_file_without_holes() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/data.bin", O_RDONLY).unwrap();
    let table = &fixture.table;
    assert_eq!(fixture.vfs.lseek(table, fd, 10, SEEK_DATA), Ok(10));
    assert_eq!(fixture.vfs.lseek(table, fd, 10, SEEK_HOLE), Ok(2560));
    assert_eq!(
        fixture.vfs.lseek(table, fd, 2560, SEEK_DATA),
        Err(Errno::ENXIO)
    );
    assert_eq!(
        fixture.vfs.lseek(table, fd, 2560, SEEK_HOLE),
        Err(Errno::ENXIO)
    );
    assert_eq!(
        fixture.vfs.lseek(table, fd, -1, SEEK_DATA),
        Err(Errno::ENXIO)
    );
}

#[test]
fn lseek_on_dev_null_and_dev_zero_answers_zero() {
    let mut fixture = Fixture::new();
    for path in ["/dev/null", "/dev/zero"] {
        let fd = fixture.open(path, O_RDWR).unwrap();
        assert_eq!(
            fixture.vfs.lseek(&fixture.table, fd, 1234, SEEK_SET),
            Ok(0),
            "{path}"
        );
        assert_eq!(
            fixture.vfs.lseek(&fixture.table, fd, -5, SEEK_END),
            Ok(0),
            "{path}"
        );
        assert_eq!(
            fixture.vfs.lseek(&fixture.table, fd, 0, 7),
            Err(Errno::EINVAL),
            "{path}"
        );
    }
}

#[test]
fn lseek_on_a_directory_takes_set_and_cur_only() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc", O_RDONLY).unwrap();
    let table = &fixture.table;
    assert_eq!(fixture.vfs.lseek(table, fd, 2, SEEK_SET), Ok(2));
    assert_eq!(fixture.vfs.lseek(table, fd, 1, SEEK_CUR), Ok(3));
    assert_eq!(
        fixture.vfs.lseek(table, fd, 0, SEEK_END),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.lseek(table, fd, 0, SEEK_DATA),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.lseek(table, fd, -4, SEEK_CUR),
        Err(Errno::EINVAL)
    );
}
