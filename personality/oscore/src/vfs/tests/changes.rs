//! The calls that would change the tree: which error each answers on the read-only root.

use linux_abi::errno::Errno;
use linux_abi::file::{
    AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, O_PATH,
    O_RDONLY, O_WRONLY, S_IFDIR, S_IFIFO, S_IFREG,
};

use super::super::{NAME_MAX, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT};
use super::Fixture;

impl Fixture {
    fn mkdir(&self, path: &str) -> Result<(), Errno> {
        self.vfs
            .mkdirat(&self.context, &self.table, AT_FDCWD, path.as_bytes(), 0o755)
    }

    fn unlink(&self, path: &str, flags: u32) -> Result<(), Errno> {
        self.vfs
            .unlinkat(&self.context, &self.table, AT_FDCWD, path.as_bytes(), flags)
    }

    fn rename(&self, old: &str, new: &str, flags: u32) -> Result<(), Errno> {
        self.vfs.renameat2(
            &self.context,
            &self.table,
            AT_FDCWD,
            old.as_bytes(),
            AT_FDCWD,
            new.as_bytes(),
            flags,
        )
    }
}

#[test]
fn mkdir_of_an_existing_name_is_eexist_and_of_a_new_one_erofs() {
    let fixture = Fixture::new();
    assert_eq!(fixture.mkdir("/etc"), Err(Errno::EEXIST));
    assert_eq!(fixture.mkdir("/etc/passwd"), Err(Errno::EEXIST));
    assert_eq!(fixture.mkdir("/dangling"), Err(Errno::EEXIST));
    assert_eq!(fixture.mkdir("/"), Err(Errno::EEXIST));
    assert_eq!(fixture.mkdir("/etc/.."), Err(Errno::EEXIST));
    assert_eq!(fixture.mkdir("/tmp"), Err(Errno::EROFS));
    assert_eq!(fixture.mkdir("/tmp/"), Err(Errno::EROFS));
    assert_eq!(fixture.mkdir("/dev/shm"), Err(Errno::EROFS));
}

#[test]
fn mkdir_reports_the_parent_s_path_errors_first() {
    let fixture = Fixture::new();
    assert_eq!(fixture.mkdir("/nothing/new"), Err(Errno::ENOENT));
    assert_eq!(fixture.mkdir("/etc/passwd/new"), Err(Errno::ENOTDIR));
    assert_eq!(fixture.mkdir("/loop_a/new"), Err(Errno::ELOOP));
    assert_eq!(fixture.mkdir(""), Err(Errno::ENOENT));
    let long = "x".repeat(NAME_MAX + 1);
    assert_eq!(
        fixture.mkdir(&format!("/etc/{long}")),
        Err(Errno::ENAMETOOLONG)
    );
    assert_eq!(
        fixture
            .vfs
            .mkdirat(&fixture.context, &fixture.table, 9, b"relative", 0o755),
        Err(Errno::EBADF)
    );
    assert_eq!(
        fixture
            .vfs
            .mkdirat(&fixture.context, &fixture.table, 9, b"/tmp", 0o755),
        Err(Errno::EROFS)
    );
}

#[test]
fn mknod_checks_the_type_before_the_path() {
    let fixture = Fixture::new();
    let mknod = |path: &str, mode: u32| {
        fixture.vfs.mknodat(
            &fixture.context,
            &fixture.table,
            AT_FDCWD,
            path.as_bytes(),
            mode,
            0,
        )
    };
    assert_eq!(mknod("/nothing/x", S_IFDIR | 0o755), Err(Errno::EPERM));
    assert_eq!(mknod("/nothing/x", 0o170000), Err(Errno::EINVAL));
    assert_eq!(mknod("/etc/fifo", S_IFIFO | 0o644), Err(Errno::EROFS));
    assert_eq!(mknod("/etc/passwd", S_IFREG | 0o644), Err(Errno::EEXIST));
    // A trailing slash after a new non-directory name is ENOENT.
    assert_eq!(mknod("/etc/new/", S_IFREG | 0o644), Err(Errno::ENOENT));
}

#[test]
fn symlink_checks_its_target_then_creates_like_mknod() {
    let fixture = Fixture::new();
    let symlink = |target: &[u8], path: &str| {
        fixture.vfs.symlinkat(
            &fixture.context,
            &fixture.table,
            target,
            AT_FDCWD,
            path.as_bytes(),
        )
    };
    assert_eq!(symlink(b"", "/etc/new"), Err(Errno::ENOENT));
    assert_eq!(symlink(&[b'a'; 4096], "/etc/new"), Err(Errno::ENAMETOOLONG));
    assert_eq!(symlink(b"/etc/passwd", "/bin/sh"), Err(Errno::EEXIST));
    assert_eq!(symlink(b"/etc/passwd", "/etc/new"), Err(Errno::EROFS));
    assert_eq!(symlink(b"anything", "/etc/new/"), Err(Errno::ENOENT));
}

#[test]
fn link_needs_an_existing_source_and_a_new_name() {
    let fixture = Fixture::new();
    let link = |old: &str, new: &str, flags: u32| {
        fixture.vfs.linkat(
            &fixture.context,
            &fixture.table,
            AT_FDCWD,
            old.as_bytes(),
            AT_FDCWD,
            new.as_bytes(),
            flags,
        )
    };
    assert_eq!(
        link("/etc/passwd", "/etc/new", AT_SYMLINK_NOFOLLOW),
        Err(Errno::EINVAL)
    );
    assert_eq!(link("/nothing", "/etc/new", 0), Err(Errno::ENOENT));
    // The source link is not followed unless asked.
    assert_eq!(link("/dangling", "/etc/new", 0), Err(Errno::EROFS));
    assert_eq!(
        link("/dangling", "/etc/new", AT_SYMLINK_FOLLOW),
        Err(Errno::ENOENT)
    );
    assert_eq!(link("/etc/passwd", "/etc/motd", 0), Err(Errno::EEXIST));
    assert_eq!(link("/etc/passwd", "/etc/new", 0), Err(Errno::EROFS));
    assert_eq!(link("", "/etc/new", 0), Err(Errno::ENOENT));
    assert_eq!(link("", "/etc/new", AT_EMPTY_PATH), Err(Errno::EROFS));
}

#[test]
fn unlink_of_any_name_is_erofs_even_a_missing_one() {
    let fixture = Fixture::new();
    assert_eq!(fixture.unlink("/etc/passwd", 0), Err(Errno::EROFS));
    assert_eq!(fixture.unlink("/etc/nothing", 0), Err(Errno::EROFS));
    assert_eq!(fixture.unlink("/dev/null", 0), Err(Errno::EROFS));
    assert_eq!(fixture.unlink("/nothing/x", 0), Err(Errno::ENOENT));
    assert_eq!(fixture.unlink("/etc/passwd/x", 0), Err(Errno::ENOTDIR));
    assert_eq!(fixture.unlink("/etc/.", 0), Err(Errno::EISDIR));
    assert_eq!(fixture.unlink("/", 0), Err(Errno::EISDIR));
    assert_eq!(fixture.unlink("/etc/passwd", 0x100), Err(Errno::EINVAL));
}

#[test]
fn rmdir_refuses_dot_dot_dot_and_the_root_with_their_own_errors() {
    let fixture = Fixture::new();
    assert_eq!(fixture.unlink("/etc/.", AT_REMOVEDIR), Err(Errno::EINVAL));
    assert_eq!(
        fixture.unlink("/etc/..", AT_REMOVEDIR),
        Err(Errno::ENOTEMPTY)
    );
    assert_eq!(fixture.unlink("/", AT_REMOVEDIR), Err(Errno::EBUSY));
    assert_eq!(
        fixture.unlink("/home/user", AT_REMOVEDIR),
        Err(Errno::EROFS)
    );
    assert_eq!(
        fixture.unlink("/home/user/", AT_REMOVEDIR),
        Err(Errno::EROFS)
    );
}

#[test]
fn rename_checks_flags_parents_file_systems_and_names_before_erofs() {
    let fixture = Fixture::new();
    assert_eq!(
        fixture.rename("/etc/motd", "/etc/new", 8),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.rename("/etc/motd", "/etc/new", RENAME_EXCHANGE | RENAME_NOREPLACE),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.rename("/etc/motd", "/etc/new", RENAME_EXCHANGE | RENAME_WHITEOUT),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.rename("/nothing/a", "/etc/new", 0),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        fixture.rename("/etc/motd", "/nothing/b", 0),
        Err(Errno::ENOENT)
    );
    // /dev was made by the VFS, so it is another file system.
    assert_eq!(
        fixture.rename("/dev/null", "/etc/null", 0),
        Err(Errno::EXDEV)
    );
    assert_eq!(fixture.rename("/etc/..", "/etc/new", 0), Err(Errno::EBUSY));
    assert_eq!(fixture.rename("/etc/motd", "/etc/.", 0), Err(Errno::EBUSY));
    assert_eq!(
        fixture.rename("/etc/motd", "/etc/.", RENAME_NOREPLACE),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        fixture.rename("/etc/motd", "/etc/new", 0),
        Err(Errno::EROFS)
    );
    assert_eq!(
        fixture.rename("/etc/gone", "/etc/new", 0),
        Err(Errno::EROFS)
    );
}

#[test]
fn chmod_and_chown_find_the_file_then_answer_erofs() {
    let mut fixture = Fixture::new();
    let chmod = |fixture: &Fixture, path: &str, flags: u32| {
        fixture.vfs.fchmodat(
            &fixture.context,
            &fixture.table,
            AT_FDCWD,
            path.as_bytes(),
            0o600,
            flags,
        )
    };
    assert_eq!(chmod(&fixture, "/etc/passwd", 0), Err(Errno::EROFS));
    assert_eq!(chmod(&fixture, "/dev/null", 0), Err(Errno::EROFS));
    assert_eq!(chmod(&fixture, "/nothing", 0), Err(Errno::ENOENT));
    assert_eq!(chmod(&fixture, "/dangling", 0), Err(Errno::ENOENT));
    assert_eq!(
        chmod(&fixture, "/dangling", AT_SYMLINK_NOFOLLOW),
        Err(Errno::EROFS)
    );
    assert_eq!(chmod(&fixture, "/etc/passwd", 0x2), Err(Errno::EINVAL));
    assert_eq!(
        fixture
            .vfs
            .fchownat(&fixture.context, &fixture.table, AT_FDCWD, b"/etc", 0, 0, 0),
        Err(Errno::EROFS)
    );
    assert_eq!(
        fixture
            .vfs
            .fchownat(&fixture.context, &fixture.table, AT_FDCWD, b"/etc", 0, 0, 1),
        Err(Errno::EINVAL)
    );
    let file = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    let path_only = fixture.open("/etc/passwd", O_PATH).unwrap();
    assert_eq!(
        fixture.vfs.fchmod(&fixture.table, file, 0o600),
        Err(Errno::EROFS)
    );
    assert_eq!(
        fixture.vfs.fchmod(&fixture.table, path_only, 0o600),
        Err(Errno::EBADF)
    );
    assert_eq!(
        fixture.vfs.fchown(&fixture.table, file, 0, 0),
        Err(Errno::EROFS)
    );
    assert_eq!(
        fixture.vfs.fchown(&fixture.table, 40, 0, 0),
        Err(Errno::EBADF)
    );
}

#[test]
fn utimensat_takes_a_path_or_a_descriptor_and_answers_erofs() {
    let mut fixture = Fixture::new();
    let file = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    let (vfs, context, table) = (&fixture.vfs, &fixture.context, &fixture.table);
    assert_eq!(
        vfs.utimensat(context, table, AT_FDCWD, Some(b"/etc/motd"), None, 0),
        Err(Errno::EROFS)
    );
    assert_eq!(
        vfs.utimensat(context, table, AT_FDCWD, Some(b"/nothing"), None, 0),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        vfs.utimensat(context, table, file, None, None, 0),
        Err(Errno::EROFS)
    );
    assert_eq!(
        vfs.utimensat(context, table, 33, None, None, 0),
        Err(Errno::EBADF)
    );
    assert_eq!(
        vfs.utimensat(context, table, AT_FDCWD, None, None, 0),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        vfs.utimensat(context, table, file, None, None, AT_SYMLINK_NOFOLLOW),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        vfs.utimensat(context, table, AT_FDCWD, Some(b"/etc"), None, 0x4),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        vfs.utimensat(context, table, file, Some(b""), None, AT_EMPTY_PATH),
        Err(Errno::EROFS)
    );
}

#[test]
fn truncate_wants_a_regular_file_and_a_non_negative_length() {
    let mut fixture = Fixture::new();
    let truncate = |fixture: &Fixture, path: &str, length: i64| {
        fixture
            .vfs
            .truncate(&fixture.context, path.as_bytes(), length)
    };
    assert_eq!(truncate(&fixture, "/etc/passwd", 0), Err(Errno::EROFS));
    assert_eq!(truncate(&fixture, "/passwd_link", 10), Err(Errno::EROFS));
    assert_eq!(truncate(&fixture, "/etc", 0), Err(Errno::EISDIR));
    assert_eq!(truncate(&fixture, "/dev/null", 0), Err(Errno::EINVAL));
    assert_eq!(truncate(&fixture, "/nothing", 0), Err(Errno::ENOENT));
    assert_eq!(truncate(&fixture, "/nothing", -1), Err(Errno::EINVAL));

    let read_only = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    let null = fixture.open("/dev/null", O_WRONLY).unwrap();
    let path_only = fixture.open("/etc/passwd", O_PATH).unwrap();
    assert_eq!(
        fixture.vfs.ftruncate(&fixture.table, read_only, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.ftruncate(&fixture.table, null, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.ftruncate(&fixture.table, path_only, 0),
        Err(Errno::EBADF)
    );
    assert_eq!(
        fixture.vfs.ftruncate(&fixture.table, 60, 0),
        Err(Errno::EBADF)
    );
    assert_eq!(
        fixture.vfs.ftruncate(&fixture.table, 60, -1),
        Err(Errno::EINVAL)
    );
}

#[test]
fn fsync_succeeds_on_files_and_directories_and_refuses_devices() {
    let mut fixture = Fixture::new();
    let file = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    let directory = fixture.open("/etc", O_RDONLY).unwrap();
    let null = fixture.open("/dev/null", O_RDONLY).unwrap();
    let console = fixture.open("/dev/console", O_RDONLY).unwrap();
    let path_only = fixture.open("/etc", O_PATH).unwrap();
    assert_eq!(fixture.vfs.fsync(&fixture.table, file), Ok(()));
    assert_eq!(fixture.vfs.fsync(&fixture.table, directory), Ok(()));
    assert_eq!(fixture.vfs.fsync(&fixture.table, null), Err(Errno::EINVAL));
    assert_eq!(
        fixture.vfs.fsync(&fixture.table, console),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fixture.vfs.fsync(&fixture.table, path_only),
        Err(Errno::EBADF)
    );
    assert_eq!(fixture.vfs.fsync(&fixture.table, 80), Err(Errno::EBADF));
}
