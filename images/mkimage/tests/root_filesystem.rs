//! The root filesystem every initrd carries — the fetched busybox, its applet links and the
//! committed `images/rootfs` — staged the way the Makefile stages it and read back with the
//! kernel's own initrd reader.
//!
//! The unit tests of `staging` use made-up inputs; this test uses the real ones, so it finds
//! what they cannot: an applet list or a busybox that does not fit what the tool expects, a
//! committed init whose interpreter is not in the image, a `passwd` naming a shell or home
//! that does not exist, a manifest line that does not parse. It needs `make images` (which
//! runs `scripts/fetch-busybox.sh`) to have filled `target/downloads`; without it the test
//! fails and says so, because a skipped test looks exactly like a passing one. It leaves the
//! user's `EXTRA` out: that tree may replace anything, init included.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use kcore::boot_modules::{Entry, Initrd};
use mkimage::executable::check_static_aarch64;
use mkimage::initrd::archive_directory;
use mkimage::staging::{APPLET_LINK_TARGET, BUSYBOX_PATH, StagingStep, stage};

/// The workspace root: this crate lives in `<root>/images/mkimage`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate is two levels below the workspace root")
        .to_path_buf()
}

/// A downloaded file, or a failure that says how to get it.
fn download(name: &str) -> PathBuf {
    let path = workspace_root().join("target/downloads").join(name);
    assert!(
        path.is_file(),
        "missing {}: run `make images` (or scripts/fetch-busybox.sh target/downloads) first",
        path.display()
    );
    path
}

/// The steps of the Makefile's `ROOT_FILESYSTEM`, without `EXTRA`.
fn root_filesystem_steps() -> Vec<StagingStep> {
    let root = workspace_root();
    vec![
        StagingStep::Busybox {
            binary: download("busybox"),
            applet_list: download("busybox.applets"),
        },
        StagingStep::Tree(root.join("images/rootfs")),
        StagingStep::Directories(root.join("images/rootfs.directories")),
    ]
}

/// Stages the root filesystem into a fresh directory named `purpose` and archives it.
fn staged_archive(purpose: &str) -> Vec<u8> {
    let directory =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("root-filesystem-{purpose}"));
    let _ = fs::remove_dir_all(&directory);
    stage(&directory, &root_filesystem_steps()).expect("the root filesystem stages");
    let archive = archive_directory(&directory).expect("the staged tree archives");
    let _ = fs::remove_dir_all(&directory);
    archive
}

/// Every entry of the archive by its name.
fn entries(archive: &[u8]) -> BTreeMap<String, Entry<'_>> {
    Initrd::new(archive)
        .expect("a newc archive")
        .entries()
        .map(|entry| {
            let entry = entry.expect("a whole entry");
            (entry.name.to_string(), entry)
        })
        .collect()
}

/// The archive name of the absolute path `path`.
fn name_of(path: &str) -> &str {
    path.trim_start_matches('/')
}

/// Whether `path` names busybox in the archive: the binary or one of its links.
fn is_busybox(entries: &BTreeMap<String, Entry<'_>>, path: &str) -> bool {
    match entries.get(name_of(path)) {
        Some(entry) if entry.is_symbolic_link() => entry.data == APPLET_LINK_TARGET.as_bytes(),
        Some(_) => name_of(path) == BUSYBOX_PATH,
        None => false,
    }
}

#[test]
fn the_fetched_busybox_is_installed_whole_and_is_a_static_aarch64_executable() {
    let archive = staged_archive("busybox");
    let entries = entries(&archive);
    let busybox = entries.get(BUSYBOX_PATH).expect("bin/busybox in the image");
    assert!(busybox.is_regular_file());
    assert_eq!(busybox.mode, 0o100_755);
    let downloaded = fs::read(download("busybox")).expect("read the download");
    assert_eq!(busybox.data, downloaded.as_slice());
    assert_eq!(check_static_aarch64(busybox.data), Ok(()));
}

#[test]
fn every_applet_has_its_link_unless_the_committed_tree_replaces_it() {
    let archive = staged_archive("applets");
    let entries = entries(&archive);
    let committed = workspace_root().join("images/rootfs");
    let list = fs::read_to_string(download("busybox.applets")).expect("read the applet list");
    let applets: Vec<&str> = list.lines().filter(|line| !line.is_empty()).collect();
    assert!(applets.len() > 100, "only {} applets listed", applets.len());
    for applet in applets {
        let entry = entries
            .get(applet)
            .unwrap_or_else(|| panic!("applet {applet} missing from the image"));
        let replacement = committed.join(applet);
        if applet == BUSYBOX_PATH {
            assert!(entry.is_regular_file());
        } else if replacement.is_file() {
            let contents = fs::read(&replacement).expect("read the committed file");
            assert_eq!(entry.data, contents.as_slice(), "{applet}");
        } else {
            assert!(entry.is_symbolic_link(), "{applet}: {entry:?}");
            assert_eq!(entry.data, APPLET_LINK_TARGET.as_bytes(), "{applet}");
        }
    }
    assert!(
        is_busybox(&entries, "/bin/sh"),
        "/bin/sh is busybox's shell"
    );
}

#[test]
fn init_is_an_executable_script_whose_interpreter_is_busybox() {
    let archive = staged_archive("init");
    let entries = entries(&archive);
    let init = entries.get("sbin/init").expect("sbin/init in the image");
    assert!(init.is_regular_file(), "{init:?}");
    assert_eq!(init.mode, 0o100_755);
    let first_line = init
        .data
        .split(|&byte| byte == b'\n')
        .next()
        .unwrap_or_default();
    let interpreter = core::str::from_utf8(first_line)
        .expect("a text first line")
        .strip_prefix("#!")
        .expect("init starts with #!")
        .split_whitespace()
        .next()
        .expect("init names its interpreter");
    assert!(
        is_busybox(&entries, interpreter),
        "init's interpreter {interpreter} is not busybox in the image"
    );
}

#[test]
fn every_account_has_its_home_and_shell_in_the_image() {
    let archive = staged_archive("accounts");
    let entries = entries(&archive);
    let passwd = entries.get("etc/passwd").expect("etc/passwd in the image");
    let passwd = core::str::from_utf8(passwd.data).expect("etc/passwd is text");
    let groups = entries.get("etc/group").expect("etc/group in the image");
    let groups = core::str::from_utf8(groups.data).expect("etc/group is text");
    let group_ids: Vec<&str> = groups
        .lines()
        .map(|line| line.split(':').nth(2).expect("a group line has a group ID"))
        .collect();
    let mut accounts = 0;
    for line in passwd.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        let [name, _, _, group, _, home, shell] = fields.as_slice() else {
            panic!("etc/passwd line {line:?} does not have seven fields");
        };
        let home_entry = entries
            .get(name_of(home))
            .unwrap_or_else(|| panic!("{name}'s home {home} missing"));
        assert!(home_entry.is_directory(), "{name}'s home {home}");
        assert!(is_busybox(&entries, shell), "{name}'s shell {shell}");
        assert!(group_ids.contains(group), "{name}'s group {group}");
        accounts += 1;
    }
    assert!(accounts > 0, "etc/passwd lists no account");
}

#[test]
fn the_manifests_directories_have_their_modes() {
    let archive = staged_archive("directories");
    let entries = entries(&archive);
    let manifest = fs::read_to_string(workspace_root().join("images/rootfs.directories"))
        .expect("read the manifest");
    for line in manifest.lines() {
        let content = line.split('#').next().unwrap_or_default();
        let fields: Vec<&str> = content.split_whitespace().collect();
        let [mode, path] = fields.as_slice() else {
            assert!(fields.is_empty(), "manifest line {line:?}");
            continue;
        };
        let mode = u32::from_str_radix(mode, 8).expect("an octal mode");
        let entry = entries
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing"));
        assert!(entry.is_directory(), "{path}");
        assert_eq!(entry.mode & 0o7777, mode, "{path}");
    }
}

#[test]
fn staging_the_root_filesystem_twice_gives_identical_archives() {
    assert_eq!(staged_archive("first"), staged_archive("second"));
}
