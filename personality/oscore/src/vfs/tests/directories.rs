//! `getdents64`, `chdir`, `fchdir`, `getcwd` and the per-process context.

use linux_abi::errno::Errno;
use linux_abi::file::{DT_CHR, DT_DIR, DT_LNK, DT_REG, O_PATH, O_RDONLY, SEEK_SET};
use linux_abi::layout::{Dirent64Header, dirent64_record_length, read_dirent64};

use super::Fixture;

/// The records in `bytes` as (header, name) pairs.
fn records(bytes: &[u8]) -> Vec<(Dirent64Header, Vec<u8>)> {
    let mut records = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (header, name) = read_dirent64(rest).expect("a well-formed record");
        records.push((header, name.to_vec()));
        rest = &rest[usize::from(header.record_length)..];
    }
    records
}

/// `getdents64(fd)` into a buffer of `size` bytes, decoded.
fn list(fixture: &Fixture, fd: i32, size: usize) -> Result<Vec<(Dirent64Header, Vec<u8>)>, Errno> {
    let mut buffer = vec![0; size];
    let count = fixture.vfs.getdents64(&fixture.table, fd, &mut buffer)?;
    Ok(records(&buffer[..count]))
}

/// The names of the records.
fn names(records: &[(Dirent64Header, Vec<u8>)]) -> Vec<String> {
    records
        .iter()
        .map(|(_, name)| String::from_utf8(name.clone()).unwrap())
        .collect()
}

#[test]
fn getdents64_lists_dot_dot_dot_then_the_entries_in_name_order_with_types() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/bin", O_RDONLY).unwrap();
    let listing = list(&fixture, fd, 4096).unwrap();
    assert_eq!(names(&listing), [".", "..", "busybox", "ls", "sh"]);
    let types: Vec<u8> = listing
        .iter()
        .map(|(header, _)| header.entry_type)
        .collect();
    assert_eq!(types, [DT_DIR, DT_DIR, DT_REG, DT_LNK, DT_LNK]);
    assert_eq!(listing[0].0.inode, fixture.inode("/bin"));
    assert_eq!(listing[1].0.inode, 1);
    assert_eq!(listing[2].0.inode, fixture.inode("/bin/busybox"));
    let offsets: Vec<i64> = listing.iter().map(|(header, _)| header.offset).collect();
    assert_eq!(offsets, [1, 2, 3, 4, 5]);
    assert_eq!(
        list(&fixture, fd, 4096).unwrap(),
        [],
        "the end reads as 0 bytes"
    );
}

#[test]
fn getdents64_of_the_root_gives_the_root_as_its_own_parent_and_dev_s_devices() {
    let mut fixture = Fixture::new();
    let root = fixture.open("/", O_RDONLY).unwrap();
    let listing = list(&fixture, root, 4096).unwrap();
    assert_eq!((listing[0].0.inode, listing[1].0.inode), (1, 1));
    assert!(names(&listing).contains(&"dev".to_string()));
    let dev = fixture.open("/dev", O_RDONLY).unwrap();
    let devices = list(&fixture, dev, 4096).unwrap();
    assert_eq!(
        names(&devices),
        [".", "..", "console", "null", "tty", "zero"]
    );
    assert!(
        devices[2..]
            .iter()
            .all(|(header, _)| header.entry_type == DT_CHR)
    );
}

#[test]
fn getdents64_continues_where_the_last_call_stopped() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/bin", O_RDONLY).unwrap();
    // Room for two 24-byte records ("." and "..") but not a third.
    let first = list(&fixture, fd, 2 * 24 + 20).unwrap();
    assert_eq!(names(&first), [".", ".."]);
    assert_eq!(fixture.table.get(fd).unwrap().offset(), 2);
    let second = list(&fixture, fd, dirent64_record_length("busybox".len())).unwrap();
    assert_eq!(names(&second), ["busybox"]);
    let rest = list(&fixture, fd, 4096).unwrap();
    assert_eq!(names(&rest), ["ls", "sh"]);
    assert_eq!(list(&fixture, fd, 4096).unwrap(), []);
}

#[test]
fn getdents64_with_no_room_for_the_next_record_is_einval() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/bin", O_RDONLY).unwrap();
    assert_eq!(list(&fixture, fd, 23), Err(Errno::EINVAL));
    assert_eq!(list(&fixture, fd, 0), Err(Errno::EINVAL));
    list(&fixture, fd, 48).unwrap();
    // "busybox" needs 32 bytes.
    assert_eq!(list(&fixture, fd, 31), Err(Errno::EINVAL));
    assert_eq!(
        fixture.table.get(fd).unwrap().offset(),
        2,
        "a failure moves nothing"
    );
}

#[test]
fn getdents64_on_a_non_directory_is_enotdir_and_on_o_path_ebadf() {
    let mut fixture = Fixture::new();
    let file = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    let null = fixture.open("/dev/null", O_RDONLY).unwrap();
    let path_only = fixture.open("/etc", O_PATH).unwrap();
    assert_eq!(list(&fixture, file, 4096), Err(Errno::ENOTDIR));
    assert_eq!(list(&fixture, null, 4096), Err(Errno::ENOTDIR));
    assert_eq!(list(&fixture, path_only, 4096), Err(Errno::EBADF));
    assert_eq!(list(&fixture, 77, 4096), Err(Errno::EBADF));
}

#[test]
fn seeking_to_a_record_s_d_off_resumes_after_that_record() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc", O_RDONLY).unwrap();
    let all = list(&fixture, fd, 4096).unwrap();
    assert_eq!(names(&all), [".", "..", "empty", "motd", "passwd"]);
    let after_empty = all[2].0.offset;
    assert_eq!(
        fixture.vfs.lseek(&fixture.table, fd, after_empty, SEEK_SET),
        Ok(3)
    );
    assert_eq!(
        names(&list(&fixture, fd, 4096).unwrap()),
        ["motd", "passwd"]
    );
    fixture.vfs.lseek(&fixture.table, fd, 0, SEEK_SET).unwrap();
    assert_eq!(
        list(&fixture, fd, 4096).unwrap(),
        all,
        "rewinddir starts over"
    );
    fixture
        .vfs
        .lseek(&fixture.table, fd, 1000, SEEK_SET)
        .unwrap();
    assert_eq!(list(&fixture, fd, 4096).unwrap(), []);
}

#[test]
fn chdir_follows_links_and_getcwd_gives_the_canonical_path() {
    let mut fixture = Fixture::new();
    fixture
        .vfs
        .chdir(&mut fixture.context, b"/etc_link")
        .unwrap();
    assert_eq!(
        fixture.vfs.working_directory_path(&fixture.context),
        b"/etc"
    );
    fixture
        .vfs
        .chdir(&mut fixture.context, b"../home/./user/")
        .unwrap();
    assert_eq!(
        fixture.vfs.working_directory_path(&fixture.context),
        b"/home/user"
    );
    fixture
        .vfs
        .chdir(&mut fixture.context, b"../../..")
        .unwrap();
    assert_eq!(fixture.vfs.working_directory_path(&fixture.context), b"/");
    fixture.vfs.chdir(&mut fixture.context, b"up").unwrap();
    assert_eq!(
        fixture.vfs.working_directory_path(&fixture.context),
        b"/home"
    );
}

#[test]
fn chdir_to_a_non_directory_or_a_missing_path_fails_and_stays() {
    let mut fixture = Fixture::new();
    fixture.vfs.chdir(&mut fixture.context, b"/etc").unwrap();
    assert_eq!(
        fixture.vfs.chdir(&mut fixture.context, b"passwd"),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        fixture.vfs.chdir(&mut fixture.context, b"/dev/null"),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        fixture.vfs.chdir(&mut fixture.context, b"/nothing"),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        fixture.vfs.chdir(&mut fixture.context, b"/loop_a"),
        Err(Errno::ELOOP)
    );
    assert_eq!(
        fixture.vfs.chdir(&mut fixture.context, b""),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        fixture.vfs.working_directory_path(&fixture.context),
        b"/etc"
    );
}

#[test]
fn fchdir_enters_an_open_directory_even_an_o_path_one() {
    let mut fixture = Fixture::new();
    let home = fixture.open("/home/user", O_PATH).unwrap();
    let file = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    fixture
        .vfs
        .fchdir(&mut fixture.context, &fixture.table, home)
        .unwrap();
    assert_eq!(
        fixture.vfs.working_directory_path(&fixture.context),
        b"/home/user"
    );
    assert_eq!(
        fixture
            .vfs
            .fchdir(&mut fixture.context, &fixture.table, file),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        fixture.vfs.fchdir(&mut fixture.context, &fixture.table, 50),
        Err(Errno::EBADF)
    );
    assert_eq!(
        fixture.vfs.working_directory_path(&fixture.context),
        b"/home/user"
    );
}

#[test]
fn getcwd_writes_the_path_and_a_nul_or_answers_erange() {
    let mut fixture = Fixture::new();
    fixture
        .vfs
        .chdir(&mut fixture.context, b"/home/user")
        .unwrap();
    let mut buffer = [0xff; 64];
    assert_eq!(fixture.vfs.getcwd(&fixture.context, &mut buffer), Ok(11));
    assert_eq!(&buffer[..12], b"/home/user\0\xff");
    let mut exact = [0xff; 11];
    assert_eq!(fixture.vfs.getcwd(&fixture.context, &mut exact), Ok(11));
    let mut short = [0xff; 10];
    assert_eq!(
        fixture.vfs.getcwd(&fixture.context, &mut short),
        Err(Errno::ERANGE)
    );
    assert_eq!(
        fixture.vfs.getcwd(&fixture.context, &mut []),
        Err(Errno::ERANGE)
    );
    let root = fixture.vfs.initial_context();
    let mut two = [0xff; 2];
    assert_eq!(fixture.vfs.getcwd(&root, &mut two), Ok(2));
    assert_eq!(&two, b"/\0");
}

#[test]
fn a_forked_context_changes_directory_and_umask_on_its_own() {
    let fixture = Fixture::new();
    let mut child = fixture.context.clone();
    fixture.vfs.chdir(&mut child, b"/etc").unwrap();
    assert_eq!(fixture.vfs.working_directory_path(&fixture.context), b"/");
    assert_eq!(child.umask(), 0o022);
    assert_eq!(child.set_umask(0o7077), 0o022);
    assert_eq!(child.umask(), 0o077);
    assert_eq!(fixture.context.umask(), 0o022);
    assert_eq!(
        child.working_directory().inode_number(),
        fixture.inode("/etc")
    );
}
