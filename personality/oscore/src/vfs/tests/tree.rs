//! Building the tree from the archive: names, implicit directories, duplicates, refusals,
//! inode numbers and `/dev`.

use std::collections::BTreeSet;

use kcore::boot_modules::InitrdError;
use linux_abi::file::{O_RDONLY, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

use super::super::node::{DEVICES_FILE_SYSTEM_DEVICE, INITRD_FILE_SYSTEM_DEVICE};
use super::super::{BuildError, Device, Vfs};
use super::{Fixture, Member, archive};

#[test]
fn the_root_is_inode_one_and_a_directory_with_the_archive_s_dot_permissions() {
    let fixture = Fixture::with_archive(archive(&[
        Member::Directory(".", 0o700),
        Member::File("a", 0o644, b"a"),
    ]));
    let root = fixture.stat("/").unwrap();
    assert_eq!(root.inode, 1);
    assert_eq!(root.mode, S_IFDIR | 0o700);
    assert_eq!(fixture.vfs.root().inode_number(), 1);
}

#[test]
fn the_root_of_an_archive_without_a_dot_entry_has_mode_0755() {
    let fixture = Fixture::with_archive(archive(&[Member::File("a", 0o644, b"a")]));
    assert_eq!(fixture.stat("/").unwrap().mode, S_IFDIR | 0o755);
}

#[test]
fn file_contents_are_borrowed_from_the_archive_not_copied() {
    let bytes = archive(&[Member::File("bin/tool", 0o755, b"the tool's image")]);
    let vfs = Vfs::from_initrd(bytes).unwrap();
    let image = vfs
        .executable(&vfs.initial_context(), b"/bin/tool")
        .unwrap();
    assert_eq!(image, b"the tool's image");
    let archive_range = bytes.as_ptr_range();
    assert!(archive_range.contains(&image.as_ptr()));
}

#[test]
fn names_with_dot_slash_or_slash_prefixes_mean_the_same_path() {
    let mut fixture = Fixture::with_archive(archive(&[
        Member::File("./a", 0o644, b"first"),
        Member::File("/b", 0o644, b"second"),
        Member::File("c//d/./e", 0o644, b"third"),
    ]));
    assert_eq!(fixture.contents("/a"), b"first");
    assert_eq!(fixture.contents("/b"), b"second");
    assert_eq!(fixture.contents("/c/d/e"), b"third");
}

#[test]
fn missing_parent_directories_are_created_with_mode_0755() {
    let fixture = Fixture::with_archive(archive(&[Member::File("x/y/z", 0o600, b"deep")]));
    for path in ["/x", "/x/y"] {
        assert_eq!(fixture.stat(path).unwrap().mode, S_IFDIR | 0o755, "{path}");
    }
    assert_eq!(fixture.stat("/x/y/z").unwrap().mode, S_IFREG | 0o600);
}

#[test]
fn a_later_directory_entry_sets_the_permissions_and_keeps_the_children() {
    let mut fixture = Fixture::with_archive(archive(&[
        Member::File("bin/tool", 0o755, b"tool"),
        Member::Directory("bin", 0o711),
    ]));
    assert_eq!(fixture.stat("/bin").unwrap().mode, S_IFDIR | 0o711);
    assert_eq!(fixture.contents("/bin/tool"), b"tool");
}

#[test]
fn a_later_file_replaces_an_earlier_one_and_keeps_its_inode_number() {
    let mut first_only = Fixture::with_archive(archive(&[Member::File("f", 0o644, b"old")]));
    let mut fixture = Fixture::with_archive(archive(&[
        Member::File("f", 0o644, b"old"),
        Member::Link("f", "somewhere"),
        Member::File("f", 0o600, b"new"),
    ]));
    assert_eq!(fixture.contents("/f"), b"new");
    assert_eq!(fixture.stat("/f").unwrap().mode, S_IFREG | 0o600);
    assert_eq!(fixture.inode("/f"), first_only.inode("/f"));
    assert_eq!(first_only.contents("/f"), b"old");
}

#[test]
fn a_directory_replaces_an_earlier_file_of_the_same_name() {
    let fixture = Fixture::with_archive(archive(&[
        Member::File("d", 0o644, b"file"),
        Member::Directory("d", 0o755),
        Member::File("d/inner", 0o644, b"x"),
    ]));
    assert_eq!(fixture.stat("/d").unwrap().mode & S_IFMT, S_IFDIR);
    assert_eq!(fixture.stat("/d/..").unwrap().inode, 1);
    assert!(fixture.stat("/d/inner").is_ok());
}

#[test]
fn a_non_directory_over_a_directory_is_refused() {
    let bytes = archive(&[
        Member::File("d/inner", 0o644, b"x"),
        Member::File("d", 0o644, b"would hide d/inner"),
    ]);
    assert_eq!(
        Vfs::from_initrd(bytes).unwrap_err(),
        BuildError::ReplacesDirectory { name: "d" }
    );
    let root_as_file = archive(&[Member::File(".", 0o644, b"")]);
    assert_eq!(
        Vfs::from_initrd(root_as_file).unwrap_err(),
        BuildError::ReplacesDirectory { name: "." }
    );
}

#[test]
fn archive_names_with_dot_dot_or_over_long_components_are_refused() {
    let escaping = archive(&[Member::File("a/../../etc/shadow", 0o644, b"x")]);
    assert_eq!(
        Vfs::from_initrd(escaping).unwrap_err(),
        BuildError::InvalidName {
            name: "a/../../etc/shadow"
        }
    );
    let long_name: &'static str = "n".repeat(256).leak();
    let too_long = archive(&[Member::File(long_name, 0o644, b"x")]);
    assert_eq!(
        Vfs::from_initrd(too_long).unwrap_err(),
        BuildError::InvalidName { name: long_name }
    );
    let longest: &'static str = "n".repeat(255).leak();
    assert!(Vfs::from_initrd(archive(&[Member::File(longest, 0o644, b"x")])).is_ok());
}

#[test]
fn an_entry_below_a_file_or_a_link_is_refused() {
    let below_file = archive(&[
        Member::File("f", 0o644, b"x"),
        Member::File("f/g", 0o644, b"y"),
    ]);
    assert_eq!(
        Vfs::from_initrd(below_file).unwrap_err(),
        BuildError::ParentNotDirectory { name: "f/g" }
    );
    let below_link = archive(&[
        Member::Directory("real", 0o755),
        Member::Link("alias", "real"),
        Member::File("alias/g", 0o644, b"y"),
    ]);
    assert_eq!(
        Vfs::from_initrd(below_link).unwrap_err(),
        BuildError::ParentNotDirectory { name: "alias/g" }
    );
}

#[test]
fn fifos_and_device_nodes_the_vfs_does_not_provide_are_refused() {
    let fifo = archive(&[Member::Fifo("run/pipe")]);
    assert!(matches!(
        Vfs::from_initrd(fifo).unwrap_err(),
        BuildError::UnsupportedFileType {
            name: "run/pipe",
            ..
        }
    ));
    let device = archive(&[Member::CharacterDevice("dev/ttyS0")]);
    assert!(matches!(
        Vfs::from_initrd(device).unwrap_err(),
        BuildError::UnsupportedFileType {
            name: "dev/ttyS0",
            ..
        }
    ));
}

#[test]
fn an_archive_console_node_gives_way_to_the_vfs_s_own() {
    let fixture = Fixture::with_archive(archive(&[
        Member::Directory("dev", 0o755),
        Member::CharacterDevice("dev/console"),
        Member::File("dev/null", 0o644, b"not a device"),
    ]));
    let console = fixture.stat("/dev/console").unwrap();
    assert_eq!(console.mode, S_IFCHR | 0o600);
    assert_eq!(console.special_device, Device::Console.device_number());
    let null = fixture.stat("/dev/null").unwrap();
    assert_eq!(null.mode, S_IFCHR | 0o666);
    assert_eq!(null.special_device, Device::Null.device_number());
}

#[test]
fn a_damaged_archive_is_reported_as_an_archive_error() {
    let bytes = archive(&[Member::File("a", 0o644, b"contents")]);
    let cut: &'static [u8] = &bytes[..115];
    assert!(matches!(
        Vfs::from_initrd(cut),
        Err(BuildError::Archive(InitrdError::Truncated { .. }))
    ));
    assert!(matches!(
        Vfs::from_initrd(b"not an archive at all"),
        Err(BuildError::Archive(InitrdError::BadMagic { offset: 0 }))
    ));
}

#[test]
fn inode_numbers_are_unique_and_stable() {
    let fixture = Fixture::new();
    let paths = [
        "/",
        "/bin",
        "/bin/busybox",
        "/etc",
        "/etc/passwd",
        "/etc/motd",
        "/etc/empty",
        "/home",
        "/home/user",
        "/data.bin",
        "/sbin/init",
        "/dev",
        "/dev/null",
        "/dev/zero",
        "/dev/console",
        "/dev/tty",
    ];
    let inodes: BTreeSet<u64> = paths.iter().map(|path| fixture.inode(path)).collect();
    assert_eq!(inodes.len(), paths.len());
    assert!(!inodes.contains(&0));
    assert_eq!(fixture.inode("/etc/passwd"), fixture.inode("/etc/passwd"));
    let link = fixture
        .stat_at(
            linux_abi::file::AT_FDCWD,
            "/bin/sh",
            linux_abi::file::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
    assert_eq!(link.mode & S_IFMT, S_IFLNK);
    assert!(!inodes.contains(&link.inode));
}

#[test]
fn a_directory_s_link_count_is_two_plus_its_subdirectories() {
    let fixture = Fixture::new();
    // bin, etc, home, sbin, dev.
    assert_eq!(fixture.stat("/").unwrap().link_count, 2 + 5);
    assert_eq!(fixture.stat("/home").unwrap().link_count, 3);
    assert_eq!(fixture.stat("/home/user").unwrap().link_count, 2);
    assert_eq!(fixture.stat("/etc").unwrap().link_count, 2);
    assert_eq!(fixture.stat("/etc/passwd").unwrap().link_count, 1);
}

#[test]
fn dev_is_created_with_the_four_devices_when_the_archive_lacks_it() {
    let mut fixture = Fixture::with_archive(archive(&[Member::File("a", 0o644, b"a")]));
    let dev = fixture.stat("/dev").unwrap();
    assert_eq!(dev.mode, S_IFDIR | 0o755);
    assert_eq!(dev.device, DEVICES_FILE_SYSTEM_DEVICE);
    for (name, device, permissions) in [
        ("null", Device::Null, 0o666),
        ("zero", Device::Zero, 0o666),
        ("console", Device::Console, 0o600),
        ("tty", Device::ControllingTerminal, 0o666),
    ] {
        let path = format!("/dev/{name}");
        let stat = fixture.stat(&path).unwrap();
        assert_eq!(stat.mode, S_IFCHR | permissions, "{path}");
        assert_eq!(stat.special_device, device.device_number(), "{path}");
        assert_eq!(stat.device, DEVICES_FILE_SYSTEM_DEVICE, "{path}");
        let fd = fixture.open(&path, O_RDONLY).unwrap();
        assert_eq!(fixture.table.get(fd).unwrap().device(), Some(device));
    }
    assert_eq!(
        fixture.stat("/a").unwrap().device,
        INITRD_FILE_SYSTEM_DEVICE
    );
}

#[test]
fn an_archive_dev_directory_keeps_its_files_and_gains_the_devices() {
    let mut fixture = Fixture::with_archive(archive(&[
        Member::Directory("dev", 0o700),
        Member::File("dev/README", 0o644, b"devices live here"),
    ]));
    assert_eq!(fixture.stat("/dev").unwrap().mode, S_IFDIR | 0o700);
    assert_eq!(fixture.contents("/dev/README"), b"devices live here");
    assert!(fixture.stat("/dev/zero").is_ok());
}

#[test]
fn a_dev_that_is_not_a_directory_is_refused() {
    let bytes = archive(&[Member::File("dev", 0o644, b"oops")]);
    assert_eq!(
        Vfs::from_initrd(bytes).unwrap_err(),
        BuildError::ParentNotDirectory { name: "dev" }
    );
    let directory_at_device = archive(&[Member::Directory("dev/null", 0o755)]);
    assert_eq!(
        Vfs::from_initrd(directory_at_device).unwrap_err(),
        BuildError::ReplacesDirectory { name: "dev/null" }
    );
}

#[test]
fn build_errors_say_which_entry_is_wrong() {
    let message = BuildError::ParentNotDirectory { name: "f/g" }.to_string();
    assert!(message.contains("\"f/g\""), "{message}");
    let message = BuildError::UnsupportedFileType {
        name: "p",
        mode: 0o10644,
    }
    .to_string();
    assert!(message.contains("0o10644"), "{message}");
}
