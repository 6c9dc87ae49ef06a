//! `openat` flags and their error order, and the `execve` lookup.

use linux_abi::errno::Errno;
use linux_abi::file::{
    AT_FDCWD, F_GETFD, F_GETFL, FD_CLOEXEC, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY,
    O_EXCL, O_LARGEFILE, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_TMPFILE, O_TRUNC,
    O_WRONLY, S_IFLNK, S_IFMT,
};

use super::super::{DescriptorTable, Device, IoOutcome};
use super::Fixture;

#[test]
fn opening_files_gives_the_lowest_free_descriptors() {
    let mut fixture = Fixture::new();
    assert_eq!(fixture.open("/etc/passwd", O_RDONLY), Ok(0));
    assert_eq!(fixture.open("/etc/motd", O_RDONLY), Ok(1));
    assert_eq!(fixture.open("/bin", O_RDONLY), Ok(2));
    fixture.table.close(1).unwrap();
    assert_eq!(fixture.open("/etc/motd", O_RDONLY), Ok(1));
    assert_eq!(fixture.read(1, 100).unwrap(), b"hello\n");
}

#[test]
fn write_access_or_truncation_on_the_read_only_root_is_erofs() {
    let mut fixture = Fixture::new();
    for flags in [
        O_WRONLY,
        O_RDWR,
        O_ACCMODE,
        O_RDONLY | O_TRUNC,
        O_WRONLY | O_APPEND,
    ] {
        assert_eq!(
            fixture.open("/etc/passwd", flags),
            Err(Errno::EROFS),
            "flags {flags:#o}"
        );
    }
    assert_eq!(fixture.open("/bin/sh", O_WRONLY), Err(Errno::EROFS));
    assert_eq!(fixture.table.open_count(), 0);
}

#[test]
fn o_creat_of_a_missing_file_is_erofs_but_needs_its_directory() {
    let mut fixture = Fixture::new();
    assert_eq!(
        fixture.open("/etc/new", O_WRONLY | O_CREAT),
        Err(Errno::EROFS)
    );
    assert_eq!(
        fixture.open("/etc/new", O_RDONLY | O_CREAT),
        Err(Errno::EROFS)
    );
    assert_eq!(
        fixture.open("/dev/new", O_WRONLY | O_CREAT),
        Err(Errno::EROFS)
    );
    assert_eq!(
        fixture.open("/nowhere/new", O_WRONLY | O_CREAT),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        fixture.open("/etc/passwd/new", O_WRONLY | O_CREAT),
        Err(Errno::ENOTDIR)
    );
    // Following a dangling link with O_CREAT would create its target.
    assert_eq!(
        fixture.open("/dangling", O_WRONLY | O_CREAT),
        Err(Errno::ENOENT)
    );
    assert_eq!(fixture.open("/passwd_link", O_RDONLY | O_CREAT), Ok(0));
}

#[test]
fn o_creat_of_an_existing_file_without_write_access_opens_it() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/motd", O_RDONLY | O_CREAT).unwrap();
    assert_eq!(fixture.read(fd, 100).unwrap(), b"hello\n");
    assert_eq!(
        fixture.open("/etc/motd", O_WRONLY | O_CREAT),
        Err(Errno::EROFS)
    );
}

#[test]
fn o_creat_o_excl_of_any_existing_name_is_eexist_before_erofs() {
    let mut fixture = Fixture::new();
    let exclusive = O_WRONLY | O_CREAT | O_EXCL;
    assert_eq!(fixture.open("/etc/passwd", exclusive), Err(Errno::EEXIST));
    assert_eq!(fixture.open("/etc", exclusive), Err(Errno::EEXIST));
    // A link is a name that exists, even a dangling one: it is not followed.
    assert_eq!(fixture.open("/dangling", exclusive), Err(Errno::EEXIST));
    assert_eq!(fixture.open("/loop_a", exclusive), Err(Errno::EEXIST));
    assert_eq!(fixture.open("/dev/null", exclusive), Err(Errno::EEXIST));
    assert_eq!(fixture.open("/etc/fresh", exclusive), Err(Errno::EROFS));
}

#[test]
fn o_creat_with_a_trailing_slash_is_eisdir_whether_or_not_the_name_exists() {
    let mut fixture = Fixture::new();
    assert_eq!(
        fixture.open("/etc/new/", O_RDONLY | O_CREAT),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        fixture.open("/etc/passwd/", O_RDONLY | O_CREAT),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        fixture.open("/etc/", O_RDONLY | O_CREAT),
        Err(Errno::EISDIR)
    );
    // Without O_CREAT a missing name with a slash is simply missing.
    assert_eq!(fixture.open("/etc/new/", O_RDONLY), Err(Errno::ENOENT));
    // A link whose target ends in a slash asks for a directory as well.
    assert_eq!(
        fixture.open("/dangling_dir", O_RDONLY | O_CREAT),
        Err(Errno::EISDIR)
    );
}

#[test]
fn o_creat_on_a_directory_is_eisdir() {
    let mut fixture = Fixture::new();
    assert_eq!(fixture.open("/etc", O_RDONLY | O_CREAT), Err(Errno::EISDIR));
    assert_eq!(fixture.open("/", O_RDONLY | O_CREAT), Err(Errno::EISDIR));
    assert_eq!(fixture.open(".", O_RDONLY | O_CREAT), Err(Errno::EISDIR));
    assert_eq!(
        fixture.open("/etc_link", O_RDONLY | O_CREAT),
        Err(Errno::EISDIR)
    );
}

#[test]
fn o_creat_together_with_o_directory_is_einval_before_anything_else() {
    let mut fixture = Fixture::new();
    assert_eq!(
        fixture.open("/etc", O_CREAT | O_DIRECTORY),
        Err(Errno::EINVAL)
    );
    assert_eq!(fixture.open("", O_CREAT | O_DIRECTORY), Err(Errno::EINVAL));
}

#[test]
fn o_directory_on_a_non_directory_is_enotdir() {
    let mut fixture = Fixture::new();
    assert_eq!(
        fixture.open("/etc/passwd", O_DIRECTORY),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(fixture.open("/dev/null", O_DIRECTORY), Err(Errno::ENOTDIR));
    assert_eq!(fixture.open("/etc_link", O_DIRECTORY), Ok(0));
    // Not following the link leaves a link, which is no directory.
    assert_eq!(
        fixture.open("/etc_link", O_DIRECTORY | O_NOFOLLOW),
        Err(Errno::ENOTDIR)
    );
}

#[test]
fn write_access_or_truncation_of_a_directory_is_eisdir() {
    let mut fixture = Fixture::new();
    for flags in [O_WRONLY, O_RDWR, O_ACCMODE, O_RDONLY | O_TRUNC] {
        assert_eq!(
            fixture.open("/etc", flags),
            Err(Errno::EISDIR),
            "flags {flags:#o}"
        );
    }
    assert_eq!(fixture.open("/etc", O_RDONLY), Ok(0));
}

#[test]
fn o_nofollow_refuses_a_final_link_with_eloop_but_follows_earlier_ones() {
    let mut fixture = Fixture::new();
    assert_eq!(
        fixture.open("/bin/sh", O_RDONLY | O_NOFOLLOW),
        Err(Errno::ELOOP)
    );
    assert_eq!(
        fixture.open("/dangling", O_RDONLY | O_NOFOLLOW),
        Err(Errno::ELOOP)
    );
    let fd = fixture
        .open("/etc_link/motd", O_RDONLY | O_NOFOLLOW)
        .unwrap();
    assert_eq!(fixture.read(fd, 10).unwrap(), b"hello\n");
}

#[test]
fn o_path_opens_even_a_link_itself_and_allows_no_io() {
    let mut fixture = Fixture::new();
    let link = fixture.open("/bin/sh", O_PATH | O_NOFOLLOW).unwrap();
    let stat = fixture.vfs.fstat(&fixture.table, link).unwrap();
    assert_eq!(stat.mode & S_IFMT, S_IFLNK);
    let description = fixture.table.get(link).unwrap();
    assert!(description.is_path_only());
    assert!(!description.is_readable() && !description.is_writable());
    assert_eq!(fixture.read(link, 10), Err(Errno::EBADF));

    // O_PATH drops the access mode and O_CREAT: this opens, and cannot write.
    let file = fixture
        .open("/etc/passwd", O_PATH | O_RDWR | O_CREAT | O_TRUNC)
        .unwrap();
    assert_eq!(
        fixture.vfs.write(&fixture.table, file, b"x"),
        Err(Errno::EBADF)
    );
    assert_eq!(fixture.table.fcntl(file, F_GETFL, 0), Ok(u64::from(O_PATH)));
    let directory = fixture.open("/etc", O_PATH | O_DIRECTORY).unwrap();
    assert_eq!(
        fixture.table.fcntl(directory, F_GETFL, 0),
        Ok(u64::from(O_PATH | O_DIRECTORY))
    );
    let mut buffer = [0; 64];
    assert_eq!(
        fixture
            .vfs
            .getdents64(&fixture.table, directory, &mut buffer),
        Err(Errno::EBADF)
    );
    assert_eq!(
        fixture.vfs.lseek(&fixture.table, file, 0, 0),
        Err(Errno::EBADF)
    );
    let console = fixture.open("/dev/console", O_PATH).unwrap();
    assert_eq!(fixture.table.get(console).unwrap().terminal(), None);
    assert_eq!(
        fixture.vfs.terminal(&fixture.table, console),
        Err(Errno::EBADF)
    );
}

#[test]
fn o_cloexec_becomes_the_descriptor_flag_and_not_a_status_flag() {
    let mut fixture = Fixture::new();
    let with = fixture.open("/etc/passwd", O_RDONLY | O_CLOEXEC).unwrap();
    let without = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(
        fixture.table.fcntl(with, F_GETFD, 0),
        Ok(u64::from(FD_CLOEXEC))
    );
    assert_eq!(fixture.table.fcntl(without, F_GETFD, 0), Ok(0));
    assert_eq!(
        fixture.table.fcntl(with, F_GETFL, 0),
        Ok(u64::from(O_RDONLY | O_LARGEFILE))
    );
}

#[test]
fn unknown_open_flag_bits_are_ignored() {
    let mut fixture = Fixture::new();
    let unknown = 0x4000_0000 | 0x8000_0000;
    let fd = fixture.open("/etc/motd", O_RDONLY | unknown).unwrap();
    assert_eq!(fixture.read(fd, 10).unwrap(), b"hello\n");
    assert_eq!(
        fixture.table.fcntl(fd, F_GETFL, 0),
        Ok(u64::from(O_RDONLY | O_LARGEFILE))
    );
}

#[test]
fn status_flags_given_at_open_are_kept_in_the_description() {
    let mut fixture = Fixture::new();
    let fd = fixture
        .open("/dev/null", O_WRONLY | O_APPEND | O_NONBLOCK | O_TRUNC)
        .unwrap();
    let description = fixture.table.get(fd).unwrap();
    assert!(description.is_append() && description.is_nonblocking());
    assert_eq!(
        description.status_flags(),
        O_WRONLY | O_APPEND | O_NONBLOCK | O_LARGEFILE
    );
}

#[test]
fn o_tmpfile_needs_write_access_and_a_writable_directory() {
    let mut fixture = Fixture::new();
    assert_eq!(
        fixture.open("/etc", O_TMPFILE | O_RDONLY),
        Err(Errno::EINVAL)
    );
    // __O_TMPFILE without O_DIRECTORY, or with O_CREAT, is malformed.
    let bare = O_TMPFILE & !O_DIRECTORY;
    assert_eq!(fixture.open("/etc", bare | O_RDWR), Err(Errno::EINVAL));
    assert_eq!(
        fixture.open("/etc", O_TMPFILE | O_CREAT | O_RDWR),
        Err(Errno::EINVAL)
    );
    assert_eq!(fixture.open("/etc", O_TMPFILE | O_RDWR), Err(Errno::EROFS));
    assert_eq!(
        fixture.open("/nowhere", O_TMPFILE | O_RDWR),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        fixture.open("/etc/passwd", O_TMPFILE | O_RDWR),
        Err(Errno::ENOTDIR)
    );
}

#[test]
fn a_full_table_is_emfile_even_for_a_path_that_does_not_exist() {
    let mut fixture = Fixture::new();
    fixture.table.set_limit(3).unwrap();
    for expected in 0..3 {
        assert_eq!(fixture.open("/etc/passwd", O_RDONLY), Ok(expected));
    }
    assert_eq!(fixture.open("/etc/passwd", O_RDONLY), Err(Errno::EMFILE));
    assert_eq!(fixture.open("/nothing", O_RDONLY), Err(Errno::EMFILE));
    // The path's own errors come first.
    assert_eq!(fixture.open("", O_RDONLY), Err(Errno::ENOENT));
}

#[test]
fn devices_open_for_writing_on_the_read_only_file_system() {
    let mut fixture = Fixture::new();
    for path in ["/dev/null", "/dev/zero", "/dev/console", "/dev/tty"] {
        let fd = fixture.open(path, O_RDWR | O_TRUNC).unwrap();
        assert!(fixture.table.get(fd).unwrap().is_writable(), "{path}");
    }
    let console = fixture.open("/dev/console", O_WRONLY).unwrap();
    assert_eq!(
        fixture.table.get(console).unwrap().terminal(),
        Some(Device::Console)
    );
    assert_eq!(
        fixture.vfs.write(&fixture.table, console, b"hi"),
        Ok(IoOutcome::Terminal(Device::Console))
    );
}

#[test]
fn open_description_checks_without_installing() {
    let fixture = Fixture::new();
    let description = fixture
        .vfs
        .open_description(
            &fixture.context,
            &fixture.table,
            AT_FDCWD,
            b"/etc/passwd",
            O_RDONLY,
            0,
        )
        .unwrap();
    assert_eq!(description.offset(), 0);
    assert_eq!(fixture.table.open_count(), 0);
    let mut full = DescriptorTable::new();
    full.set_limit(0).unwrap();
    assert_eq!(
        fixture
            .vfs
            .open_description(
                &fixture.context,
                &full,
                AT_FDCWD,
                b"/etc/passwd",
                O_RDONLY,
                0
            )
            .unwrap_err(),
        Errno::EMFILE
    );
}

#[test]
fn executable_gives_the_bytes_of_a_regular_file_with_an_execute_bit() {
    let mut fixture = Fixture::new();
    let context = fixture.context.clone();
    assert_eq!(
        fixture.vfs.executable(&context, b"/bin/sh"),
        Ok(&b"busybox image"[..])
    );
    assert_eq!(
        fixture.vfs.executable(&context, b"/sbin/init"),
        Ok(&b"init"[..])
    );
    assert_eq!(
        fixture.vfs.executable(&context, b"/etc/passwd"),
        Err(Errno::EACCES)
    );
    assert_eq!(
        fixture.vfs.executable(&context, b"/bin"),
        Err(Errno::EACCES)
    );
    assert_eq!(
        fixture.vfs.executable(&context, b"/dev/null"),
        Err(Errno::EACCES)
    );
    assert_eq!(
        fixture.vfs.executable(&context, b"/nothing"),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        fixture.vfs.executable(&context, b"/loop_a"),
        Err(Errno::ELOOP)
    );
    fixture.vfs.chdir(&mut fixture.context, b"/bin").unwrap();
    assert_eq!(
        fixture.vfs.executable(&fixture.context, b"busybox"),
        Ok(&b"busybox image"[..])
    );
}
