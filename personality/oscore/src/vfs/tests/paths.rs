//! Path resolution, seen through `newfstatat` and `openat`: components, `.` and `..`,
//! slashes, symbolic links, lengths and where relative paths start.

use linux_abi::errno::Errno;
use linux_abi::file::{
    AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_DIRECTORY, O_PATH, O_RDONLY, S_IFLNK, S_IFMT,
};

use super::super::{NAME_MAX, PATH_MAX};
use super::{Fixture, Member, archive};

#[test]
fn absolute_and_relative_paths_reach_the_same_file() {
    let mut fixture = Fixture::new();
    let expected = fixture.inode("/etc/passwd");
    assert_eq!(fixture.inode("etc/passwd"), expected);
    fixture.vfs.chdir(&mut fixture.context, b"/etc").unwrap();
    assert_eq!(fixture.inode("passwd"), expected);
    assert_eq!(fixture.inode("./passwd"), expected);
}

#[test]
fn dot_dot_dot_and_repeated_slashes_are_resolved() {
    let fixture = Fixture::new();
    let expected = fixture.inode("/etc/passwd");
    for path in [
        "//etc///passwd",
        "/./etc/./passwd",
        "/bin/../etc/passwd",
        "/home/user/../../etc/passwd",
        "etc/../etc/passwd",
    ] {
        assert_eq!(fixture.inode(path), expected, "{path}");
    }
    assert_eq!(fixture.inode("."), 1);
    assert_eq!(fixture.inode("/home/user/.."), fixture.inode("/home"));
}

#[test]
fn dot_dot_at_the_root_stays_at_the_root() {
    let fixture = Fixture::new();
    assert_eq!(fixture.inode("/.."), 1);
    assert_eq!(fixture.inode("/../../.."), 1);
    assert_eq!(fixture.inode("/../etc"), fixture.inode("/etc"));
    assert_eq!(fixture.inode(".."), 1);
}

#[test]
fn a_trailing_slash_on_a_non_directory_is_enotdir() {
    let mut fixture = Fixture::new();
    assert_eq!(fixture.stat("/etc/passwd/"), Err(Errno::ENOTDIR));
    assert_eq!(fixture.stat("/etc/passwd/."), Err(Errno::ENOTDIR));
    assert_eq!(fixture.stat("/dev/null/"), Err(Errno::ENOTDIR));
    assert_eq!(fixture.open("/etc/passwd/", O_RDONLY), Err(Errno::ENOTDIR));
    // A trailing slash forces a final link to be followed, and then demands a directory.
    assert_eq!(
        fixture.stat_at(AT_FDCWD, "/passwd_link/", AT_SYMLINK_NOFOLLOW),
        Err(Errno::ENOTDIR)
    );
}

#[test]
fn a_trailing_slash_on_a_directory_or_a_link_to_one_is_accepted() {
    let fixture = Fixture::new();
    assert_eq!(fixture.inode("/etc/"), fixture.inode("/etc"));
    assert_eq!(fixture.inode("/etc//"), fixture.inode("/etc"));
    // With the slash, the link is followed even when the last link is not to be.
    let through_link = fixture
        .stat_at(AT_FDCWD, "/etc_link/", AT_SYMLINK_NOFOLLOW)
        .unwrap();
    assert_eq!(through_link.inode, fixture.inode("/etc"));
    let link_itself = fixture
        .stat_at(AT_FDCWD, "/etc_link", AT_SYMLINK_NOFOLLOW)
        .unwrap();
    assert_eq!(link_itself.mode & S_IFMT, S_IFLNK);
}

#[test]
fn a_file_in_the_middle_of_a_path_is_enotdir() {
    let fixture = Fixture::new();
    assert_eq!(fixture.stat("/etc/passwd/x"), Err(Errno::ENOTDIR));
    assert_eq!(fixture.stat("/etc/passwd/.."), Err(Errno::ENOTDIR));
    assert_eq!(fixture.stat("/passwd_link/x"), Err(Errno::ENOTDIR));
    assert_eq!(fixture.stat("/dev/zero/x"), Err(Errno::ENOTDIR));
}

#[test]
fn a_missing_component_is_enoent() {
    let mut fixture = Fixture::new();
    assert_eq!(fixture.stat("/nothing"), Err(Errno::ENOENT));
    assert_eq!(fixture.stat("/nothing/x"), Err(Errno::ENOENT));
    assert_eq!(fixture.stat("/etc/nothing/"), Err(Errno::ENOENT));
    assert_eq!(fixture.open("/etc/nothing", O_RDONLY), Err(Errno::ENOENT));
}

#[test]
fn an_empty_path_is_enoent() {
    let mut fixture = Fixture::new();
    assert_eq!(fixture.stat(""), Err(Errno::ENOENT));
    assert_eq!(fixture.open("", O_RDONLY), Err(Errno::ENOENT));
    assert_eq!(
        fixture.vfs.chdir(&mut fixture.context, b""),
        Err(Errno::ENOENT)
    );
}

#[test]
fn a_path_of_path_max_bytes_is_enametoolong_and_one_byte_less_is_resolved() {
    let fixture = Fixture::new();
    let prefix = "/etc/";
    let padding = PATH_MAX - 1 - prefix.len() - "passwd".len();
    // Slashes are free to repeat, so the longest acceptable path still names the file.
    let longest = format!("/{}etc/passwd", "/".repeat(padding));
    assert_eq!(longest.len(), PATH_MAX - 1);
    assert_eq!(fixture.inode(&longest), fixture.inode("/etc/passwd"));
    let too_long = format!("/{longest}");
    assert_eq!(too_long.len(), PATH_MAX);
    assert_eq!(fixture.stat(&too_long), Err(Errno::ENAMETOOLONG));
}

#[test]
fn a_component_longer_than_name_max_is_enametoolong() {
    let fixture = Fixture::new();
    let long = "x".repeat(NAME_MAX + 1);
    assert_eq!(
        fixture.stat(&format!("/etc/{long}")),
        Err(Errno::ENAMETOOLONG)
    );
    assert_eq!(
        fixture.stat(&format!("/{long}/etc")),
        Err(Errno::ENAMETOOLONG)
    );
    let longest = "x".repeat(NAME_MAX);
    assert_eq!(fixture.stat(&format!("/etc/{longest}")), Err(Errno::ENOENT));
}

#[test]
fn links_in_the_middle_of_a_path_are_always_followed() {
    let fixture = Fixture::new();
    let passwd = fixture.inode("/etc/passwd");
    let through = fixture
        .stat_at(AT_FDCWD, "/etc_link/passwd", AT_SYMLINK_NOFOLLOW)
        .unwrap();
    assert_eq!(through.inode, passwd);
    assert_eq!(
        fixture.inode("/up/user/notes.txt"),
        fixture.inode("/home/user/notes.txt")
    );
}

#[test]
fn relative_link_targets_resolve_from_the_link_s_directory() {
    let mut fixture = Fixture::new();
    // bin/sh -> busybox, which is bin/busybox, not /busybox.
    assert_eq!(fixture.inode("/bin/sh"), fixture.inode("/bin/busybox"));
    fixture.vfs.chdir(&mut fixture.context, b"/home").unwrap();
    assert_eq!(fixture.inode("../bin/sh"), fixture.inode("/bin/busybox"));
    // up -> home/user/.. resolves from /, giving /home.
    assert_eq!(fixture.inode("/up"), fixture.inode("/home"));
}

#[test]
fn absolute_link_targets_restart_at_the_root() {
    let fixture = Fixture::new();
    assert_eq!(fixture.inode("/bin/ls"), fixture.inode("/bin/busybox"));
    assert_eq!(
        fixture.inode("/home/../passwd_link"),
        fixture.inode("/etc/passwd")
    );
}

#[test]
fn a_link_loop_is_eloop() {
    let mut fixture = Fixture::new();
    assert_eq!(fixture.stat("/loop_a"), Err(Errno::ELOOP));
    assert_eq!(fixture.stat("/loop_a/x"), Err(Errno::ELOOP));
    assert_eq!(fixture.open("/loop_b", O_RDONLY), Err(Errno::ELOOP));
    // Not following the last link never looks at the loop.
    assert!(
        fixture
            .stat_at(AT_FDCWD, "/loop_a", AT_SYMLINK_NOFOLLOW)
            .is_ok()
    );
}

/// An archive with a chain of `length` links, `link0 -> link1 -> ... -> target`.
fn chain_archive(length: usize) -> &'static [u8] {
    let names: Vec<String> = (0..length).map(|index| format!("link{index}")).collect();
    let mut members = vec![Member::File("target", 0o644, b"end of the chain")];
    for index in 0..length {
        let next = if index + 1 == length {
            "target"
        } else {
            names[index + 1].as_str()
        };
        members.push(Member::Link(names[index].as_str(), next));
    }
    archive(&members)
}

#[test]
fn forty_links_are_followed_and_the_forty_first_is_eloop() {
    let mut fixture = Fixture::with_archive(chain_archive(40));
    assert_eq!(fixture.contents("/link0"), b"end of the chain");
    let fixture = Fixture::with_archive(chain_archive(41));
    assert_eq!(fixture.stat("/link0"), Err(Errno::ELOOP));
    assert!(fixture.stat("/link1").is_ok());
}

#[test]
fn a_dangling_or_empty_link_is_enoent() {
    let mut fixture = Fixture::new();
    assert_eq!(fixture.stat("/dangling"), Err(Errno::ENOENT));
    assert_eq!(fixture.open("/dangling", O_RDONLY), Err(Errno::ENOENT));
    assert_eq!(fixture.stat("/empty_link"), Err(Errno::ENOENT));
    assert_eq!(fixture.stat("/empty_link/x"), Err(Errno::ENOENT));
    assert!(
        fixture
            .stat_at(AT_FDCWD, "/dangling", AT_SYMLINK_NOFOLLOW)
            .is_ok()
    );
}

#[test]
fn a_relative_path_at_a_directory_descriptor_starts_there() {
    let mut fixture = Fixture::new();
    let etc = fixture.open("/etc", O_RDONLY | O_DIRECTORY).unwrap();
    assert_eq!(
        fixture.stat_at(etc, "passwd", 0).unwrap().inode,
        fixture.inode("/etc/passwd")
    );
    assert_eq!(fixture.stat_at(etc, "..", 0).unwrap().inode, 1);
    let fd = fixture.open_at(etc, "motd", O_RDONLY).unwrap();
    assert_eq!(fixture.read(fd, 100).unwrap(), b"hello\n");
    // An O_PATH descriptor serves as well.
    let home = fixture.open("/home", O_PATH).unwrap();
    assert!(fixture.stat_at(home, "user/notes.txt", 0).is_ok());
}

#[test]
fn an_absolute_path_ignores_the_directory_descriptor_even_a_bad_one() {
    let fixture = Fixture::new();
    assert_eq!(
        fixture.stat_at(999, "/etc/passwd", 0).unwrap().inode,
        fixture.inode("/etc/passwd")
    );
    assert!(fixture.stat_at(-5, "/etc", 0).is_ok());
}

#[test]
fn a_relative_path_at_a_descriptor_that_is_not_open_is_ebadf() {
    let fixture = Fixture::new();
    assert_eq!(fixture.stat_at(7, "passwd", 0), Err(Errno::EBADF));
    assert_eq!(fixture.stat_at(-1, "passwd", 0), Err(Errno::EBADF));
}

#[test]
fn a_relative_path_at_a_descriptor_of_a_file_is_enotdir() {
    let mut fixture = Fixture::new();
    let passwd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(fixture.stat_at(passwd, "x", 0), Err(Errno::ENOTDIR));
    assert_eq!(fixture.open_at(passwd, "x", O_RDONLY), Err(Errno::ENOTDIR));
}

#[test]
fn at_fdcwd_means_the_working_directory() {
    let mut fixture = Fixture::new();
    fixture
        .vfs
        .chdir(&mut fixture.context, b"/home/user")
        .unwrap();
    assert_eq!(
        fixture.stat_at(AT_FDCWD, "notes.txt", 0).unwrap().inode,
        fixture.inode("/home/user/notes.txt")
    );
    assert_eq!(fixture.stat("notes.txt/"), Err(Errno::ENOTDIR));
}

#[test]
fn bytes_after_a_nul_are_not_part_of_the_path() {
    let fixture = Fixture::new();
    let stat = fixture
        .vfs
        .newfstatat(
            &fixture.context,
            &fixture.table,
            AT_FDCWD,
            b"/etc/passwd\0/garbage",
            0,
        )
        .unwrap();
    assert_eq!(stat.inode, fixture.inode("/etc/passwd"));
}
