//! `fstat`, `newfstatat`, `readlinkat` and `faccessat`.

use linux_abi::errno::Errno;
use linux_abi::file::{
    AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, F_OK, O_NOFOLLOW,
    O_PATH, O_RDONLY, R_OK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, W_OK, X_OK,
};
use linux_abi::layout::{Stat, Timespec};

use super::super::node::{DEVICES_FILE_SYSTEM_DEVICE, INITRD_FILE_SYSTEM_DEVICE};
use super::super::{Device, make_device_number};
use super::Fixture;

#[test]
fn fstat_fills_every_field_of_a_regular_file() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/data.bin", O_RDONLY).unwrap();
    let stat = fixture.vfs.fstat(&fixture.table, fd).unwrap();
    assert_eq!(
        stat,
        Stat {
            device: INITRD_FILE_SYSTEM_DEVICE,
            inode: fixture.inode("/data.bin"),
            mode: S_IFREG | 0o600,
            link_count: 1,
            user_id: 0,
            group_id: 0,
            special_device: 0,
            reserved_1: 0,
            size: 2560,
            block_size: 4096,
            reserved_2: 0,
            // One 4 KiB page, in 512-byte units.
            blocks: 8,
            access_time: Timespec::default(),
            modification_time: Timespec::default(),
            change_time: Timespec::default(),
            reserved_3: [0; 8],
        }
    );
    assert_eq!(fixture.stat("/etc/empty").unwrap().blocks, 0);
    assert_eq!(fixture.vfs.fstat(&fixture.table, 3), Err(Errno::EBADF));
}

#[test]
fn a_directory_s_size_counts_its_entries_as_tmpfs_does() {
    let fixture = Fixture::new();
    let etc = fixture.stat("/etc").unwrap();
    assert_eq!(etc.mode, S_IFDIR | 0o755);
    // passwd, motd, empty, plus . and .., 20 bytes each.
    assert_eq!(etc.size, 5 * 20);
    assert_eq!(etc.blocks, 0);
    assert_eq!(etc.block_size, 4096);
}

#[test]
fn a_link_s_status_is_its_own_with_the_target_length_as_size() {
    let fixture = Fixture::new();
    let link = fixture
        .stat_at(AT_FDCWD, "/passwd_link", AT_SYMLINK_NOFOLLOW)
        .unwrap();
    assert_eq!(link.mode, S_IFLNK | 0o777);
    assert_eq!(link.size, "/etc/passwd".len() as i64);
    assert_eq!(link.link_count, 1);
    let target = fixture.stat("/passwd_link").unwrap();
    assert_eq!(target.mode, S_IFREG | 0o644);
    assert_eq!(target.inode, fixture.inode("/etc/passwd"));
}

#[test]
fn device_numbers_use_the_makedev_encoding() {
    let fixture = Fixture::new();
    let null = fixture.stat("/dev/null").unwrap();
    assert_eq!(null.special_device, 0x103);
    assert_eq!(null.mode, S_IFCHR | 0o666);
    assert_eq!(null.size, 0);
    assert_eq!(null.device, DEVICES_FILE_SYSTEM_DEVICE);
    assert_eq!(fixture.stat("/dev/zero").unwrap().special_device, 0x105);
    assert_eq!(fixture.stat("/dev/console").unwrap().special_device, 0x501);
    assert_eq!(fixture.stat("/dev/tty").unwrap().special_device, 0x500);
    assert_eq!(Device::Console.device_number(), make_device_number(5, 1));
    // Large numbers spread over the split fields as glibc's gnu_dev_makedev does.
    assert_eq!(make_device_number(0x12345, 0x6789a), 0x0001_2000_6783_459a);
    assert_eq!(make_device_number(0xfff, 0xff), 0xfffff);
}

#[test]
fn newfstatat_with_an_empty_path_and_at_empty_path_is_the_descriptor_itself() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/motd", O_RDONLY).unwrap();
    let stat = fixture.stat_at(fd, "", AT_EMPTY_PATH).unwrap();
    assert_eq!(stat.inode, fixture.inode("/etc/motd"));
    assert_eq!(fixture.stat_at(fd, "", 0), Err(Errno::ENOENT));
    assert_eq!(
        fixture.stat_at(AT_FDCWD, "", AT_EMPTY_PATH).unwrap().inode,
        1
    );
    assert_eq!(fixture.stat_at(40, "", AT_EMPTY_PATH), Err(Errno::EBADF));
    // The link itself, opened O_PATH | O_NOFOLLOW.
    let link = fixture.open("/bin/sh", O_PATH | O_NOFOLLOW).unwrap();
    assert_eq!(
        fixture.stat_at(link, "", AT_EMPTY_PATH).unwrap().mode,
        S_IFLNK | 0o777
    );
}

#[test]
fn newfstatat_with_unknown_flag_bits_is_einval() {
    let fixture = Fixture::new();
    assert_eq!(fixture.stat_at(AT_FDCWD, "/etc", 0x1), Err(Errno::EINVAL));
    assert_eq!(
        fixture.stat_at(AT_FDCWD, "/etc", AT_REMOVEDIR),
        Err(Errno::EINVAL)
    );
    // AT_NO_AUTOMOUNT and the statx synchronisation bits are accepted.
    assert!(fixture.stat_at(AT_FDCWD, "/etc", 0x800 | 0x2000).is_ok());
}

/// `readlinkat(AT_FDCWD, path)` into a buffer of `size` bytes.
fn read_link(
    fixture: &Fixture,
    directory_fd: i32,
    path: &str,
    size: usize,
) -> Result<Vec<u8>, Errno> {
    let mut buffer = vec![0xee; size];
    let count = fixture.vfs.readlinkat(
        &fixture.context,
        &fixture.table,
        directory_fd,
        path.as_bytes(),
        &mut buffer,
    )?;
    buffer.truncate(count);
    Ok(buffer)
}

#[test]
fn readlinkat_gives_the_target_without_a_nul_cut_to_the_buffer() {
    let fixture = Fixture::new();
    assert_eq!(
        read_link(&fixture, AT_FDCWD, "/passwd_link", 100).unwrap(),
        b"/etc/passwd"
    );
    assert_eq!(
        read_link(&fixture, AT_FDCWD, "/passwd_link", 4).unwrap(),
        b"/etc"
    );
    assert_eq!(
        read_link(&fixture, AT_FDCWD, "bin/sh", 7).unwrap(),
        b"busybox"
    );
    // Earlier links on the path are followed; only the last is read.
    assert_eq!(
        read_link(&fixture, AT_FDCWD, "/etc_link/../bin/sh", 64).unwrap(),
        b"busybox"
    );
    assert_eq!(
        read_link(&fixture, AT_FDCWD, "/dangling", 64).unwrap(),
        b"/nowhere/at/all"
    );
}

#[test]
fn readlinkat_of_a_non_link_is_einval_and_of_an_empty_path_enoent() {
    let mut fixture = Fixture::new();
    assert_eq!(
        read_link(&fixture, AT_FDCWD, "/etc/passwd", 64),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        read_link(&fixture, AT_FDCWD, "/etc", 64),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        read_link(&fixture, AT_FDCWD, "/nothing", 64),
        Err(Errno::ENOENT)
    );
    assert_eq!(read_link(&fixture, AT_FDCWD, "", 64), Err(Errno::ENOENT));
    let file = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(read_link(&fixture, file, "", 64), Err(Errno::ENOENT));
    let link = fixture.open("/bin/ls", O_PATH | O_NOFOLLOW).unwrap();
    assert_eq!(read_link(&fixture, link, "", 64).unwrap(), b"/bin/busybox");
}

#[test]
fn readlinkat_with_an_empty_buffer_is_einval_before_the_path_is_looked_at() {
    let fixture = Fixture::new();
    assert_eq!(
        read_link(&fixture, AT_FDCWD, "/passwd_link", 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        read_link(&fixture, AT_FDCWD, "/nothing", 0),
        Err(Errno::EINVAL)
    );
}

/// `faccessat2(AT_FDCWD, path, mode, flags)`.
fn access(fixture: &Fixture, path: &str, mode: u32, flags: u32) -> Result<(), Errno> {
    fixture.vfs.faccessat(
        &fixture.context,
        &fixture.table,
        AT_FDCWD,
        path.as_bytes(),
        mode,
        flags,
    )
}

#[test]
fn faccessat_answers_for_uid_zero_on_a_read_only_file_system() {
    let fixture = Fixture::new();
    assert_eq!(access(&fixture, "/etc/passwd", F_OK, 0), Ok(()));
    assert_eq!(access(&fixture, "/home/user/notes.txt", R_OK, 0), Ok(()));
    assert_eq!(access(&fixture, "/etc/passwd", W_OK, 0), Err(Errno::EROFS));
    assert_eq!(access(&fixture, "/etc", W_OK, 0), Err(Errno::EROFS));
    assert_eq!(access(&fixture, "/dev/null", R_OK | W_OK, 0), Ok(()));
    assert_eq!(access(&fixture, "/nothing", F_OK, 0), Err(Errno::ENOENT));
}

#[test]
fn faccessat_x_ok_needs_an_execute_bit_except_on_directories() {
    let fixture = Fixture::new();
    assert_eq!(access(&fixture, "/bin/busybox", X_OK, 0), Ok(()));
    assert_eq!(access(&fixture, "/bin/sh", X_OK | R_OK, 0), Ok(()));
    // 0744: the owner's bit is enough for root.
    assert_eq!(access(&fixture, "/sbin/init", X_OK, 0), Ok(()));
    assert_eq!(access(&fixture, "/etc/passwd", X_OK, 0), Err(Errno::EACCES));
    assert_eq!(access(&fixture, "/dev/null", X_OK, 0), Err(Errno::EACCES));
    assert_eq!(access(&fixture, "/home/user", X_OK, 0), Ok(()));
    // EROFS is checked before EACCES.
    assert_eq!(
        access(&fixture, "/etc/passwd", X_OK | W_OK, 0),
        Err(Errno::EROFS)
    );
}

#[test]
fn faccessat_follows_a_final_link_unless_told_not_to() {
    let mut fixture = Fixture::new();
    assert_eq!(access(&fixture, "/dangling", F_OK, 0), Err(Errno::ENOENT));
    assert_eq!(
        access(&fixture, "/dangling", F_OK, AT_SYMLINK_NOFOLLOW),
        Ok(())
    );
    assert_eq!(
        access(&fixture, "/passwd_link", X_OK, 0),
        Err(Errno::EACCES)
    );
    assert_eq!(
        access(&fixture, "/passwd_link", X_OK, AT_SYMLINK_NOFOLLOW),
        Ok(())
    );
    let fd = fixture.open("/bin/busybox", O_RDONLY).unwrap();
    assert_eq!(
        fixture.vfs.faccessat(
            &fixture.context,
            &fixture.table,
            fd,
            b"",
            X_OK,
            AT_EMPTY_PATH
        ),
        Ok(())
    );
    assert_eq!(access(&fixture, "/etc", R_OK, AT_EACCESS), Ok(()));
}

#[test]
fn faccessat_with_unknown_mode_or_flag_bits_is_einval() {
    let fixture = Fixture::new();
    assert_eq!(access(&fixture, "/etc/passwd", 8, 0), Err(Errno::EINVAL));
    assert_eq!(
        access(&fixture, "/etc/passwd", F_OK, 0x1),
        Err(Errno::EINVAL)
    );
    assert_eq!(access(&fixture, "/nothing", 0o10, 0), Err(Errno::EINVAL));
}
