//! Tests of the staging tree: layering, modes, manifests, busybox and its links, and the
//! archive that a staged tree becomes (read back with the kernel's own initrd reader).

use super::*;
use crate::executable::test_files::{elf, static_aarch64_executable};
use crate::initrd::archive_directory;
use crate::temporary_directory::TemporaryDirectory;
use std::os::unix::fs::MetadataExt as _;

/// The mode bits of `path` itself (a link is not followed).
fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).expect("staged entry").mode() & PERMISSION_BITS
}

fn link_target(path: &Path) -> PathBuf {
    fs::read_link(path).expect("a symbolic link")
}

/// A scratch directory with a `stage` subdirectory to build into and sources beside it.
struct Workspace {
    directory: TemporaryDirectory,
}

impl Workspace {
    fn new(purpose: &str) -> Self {
        Self {
            directory: TemporaryDirectory::new(purpose),
        }
    }

    fn root(&self) -> PathBuf {
        self.directory.join("stage")
    }

    fn source(&self, relative: &str) -> PathBuf {
        self.directory.join(relative)
    }

    /// Stages `steps` into `stage/`; returns the staged root.
    fn stage(&self, steps: &[StagingStep]) -> PathBuf {
        stage(&self.root(), steps).expect("staging succeeds");
        self.root()
    }

    /// Writes a busybox binary and an applet list with `applets`; returns the step.
    fn busybox(&self, binary: &[u8], applets: &str) -> StagingStep {
        fs::write(self.source("busybox"), binary).expect("write busybox");
        fs::write(self.source("busybox.applets"), applets).expect("write applet list");
        StagingStep::Busybox {
            binary: self.source("busybox"),
            applet_list: self.source("busybox.applets"),
        }
    }
}

const APPLETS: &str = "\
usr/bin/[
bin/ash
bin/busybox
linuxrc
bin/ls
sbin/init
bin/sh
usr/sbin/chroot
";

#[test]
fn busybox_goes_to_bin_with_a_link_to_it_at_every_path_of_the_applet_list() {
    let workspace = Workspace::new("busybox");
    let binary = static_aarch64_executable();
    let step = workspace.busybox(&binary, APPLETS);
    let root = workspace.stage(&[step]);

    assert_eq!(fs::read(root.join("bin/busybox")).expect("busybox"), binary);
    assert_eq!(mode_of(&root.join("bin/busybox")), 0o755);
    for applet in [
        "usr/bin/[",
        "bin/ash",
        "linuxrc",
        "bin/ls",
        "sbin/init",
        "bin/sh",
        "usr/sbin/chroot",
    ] {
        assert_eq!(
            link_target(&root.join(applet)),
            Path::new("/bin/busybox"),
            "{applet}"
        );
    }
    for directory in ["bin", "sbin", "usr", "usr/bin", "usr/sbin"] {
        assert_eq!(mode_of(&root.join(directory)), 0o755, "{directory}");
    }
}

#[test]
fn a_busybox_that_is_not_a_static_aarch64_executable_is_refused() {
    let workspace = Workspace::new("busybox-x86");
    let x86 = elf(object::elf::EM_X86_64, object::elf::ET_EXEC, None);
    let step = workspace.busybox(&x86, APPLETS);
    let error = stage(&workspace.root(), &[step]).expect_err("x86-64 busybox");
    assert!(
        matches!(
            &error,
            StagingError::NotRunnable {
                error: ExecutableError::NotAarch64 { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("busybox"), "{error}");

    let workspace = Workspace::new("busybox-dynamic");
    let dynamic = elf(
        object::elf::EM_AARCH64,
        object::elf::ET_EXEC,
        Some("/lib/ld-linux-aarch64.so.1"),
    );
    let step = workspace.busybox(&dynamic, APPLETS);
    assert!(matches!(
        stage(&workspace.root(), &[step]),
        Err(StagingError::NotRunnable {
            error: ExecutableError::DynamicallyLinked,
            ..
        })
    ));
}

#[test]
fn an_applet_list_without_applets_is_refused() {
    let workspace = Workspace::new("no-applets");
    let step = workspace.busybox(&static_aarch64_executable(), "\n\n");
    assert!(matches!(
        stage(&workspace.root(), &[step]),
        Err(StagingError::NoApplets { .. })
    ));
}

#[test]
fn an_applet_path_that_leaves_the_tree_is_refused_with_its_line_number() {
    for (list, bad) in [
        ("bin/sh\n../etc/passwd\n", "../etc/passwd"),
        ("bin/sh\n/bin/ls\n", "/bin/ls"),
        ("bin/sh\nbin//ls\n", "bin//ls"),
        ("bin/sh\nbin/./ls\n", "bin/./ls"),
    ] {
        let workspace = Workspace::new("bad-applet");
        let step = workspace.busybox(&static_aarch64_executable(), list);
        let error = stage(&workspace.root(), &[step]).expect_err(bad);
        match &error {
            StagingError::BadLine {
                line: 2,
                error: LineError::BadPath { given },
                ..
            } => assert_eq!(given, bad),
            other => panic!("{bad}: {other:?}"),
        }
        assert!(error.to_string().contains("busybox.applets:2"), "{error}");
    }
}

#[test]
fn a_later_tree_replaces_files_and_links_and_merges_into_directories() {
    let workspace = Workspace::new("layers");
    let first = TemporaryDirectory::new("first-layer");
    first.directory("etc");
    first.file("etc/motd", b"first\n", 0o644);
    first.file("etc/issue", b"kept\n", 0o644);
    first.symbolic_link("etc/link", "motd");
    first.directory("data");
    first.file("data/old", b"old\n", 0o644);
    let second = TemporaryDirectory::new("second-layer");
    second.directory("etc");
    second.file("etc/motd", b"second\n", 0o644);
    second.file("etc/link", b"now a file\n", 0o644);
    second.file("data", b"a file where a directory was\n", 0o644);

    let root = workspace.stage(&[
        StagingStep::Tree(first.path().to_path_buf()),
        StagingStep::Tree(second.path().to_path_buf()),
    ]);
    let read = |relative: &str| fs::read(root.join(relative)).expect(relative);
    assert_eq!(read("etc/motd"), b"second\n");
    assert_eq!(read("etc/issue"), b"kept\n");
    assert_eq!(read("etc/link"), b"now a file\n");
    assert!(
        fs::symlink_metadata(root.join("etc/link"))
            .expect("etc/link")
            .is_file()
    );
    assert_eq!(read("data"), b"a file where a directory was\n");
}

#[test]
fn a_file_staged_over_an_applet_link_replaces_the_link_and_leaves_busybox_alone() {
    let workspace = Workspace::new("override-applet");
    let extra = TemporaryDirectory::new("extra");
    extra.directory("bin");
    extra.file("bin/ls", b"my own ls\n", 0o755);
    let binary = static_aarch64_executable();
    let step = workspace.busybox(&binary, APPLETS);
    let root = workspace.stage(&[step, StagingStep::Tree(extra.path().to_path_buf())]);

    assert_eq!(fs::read(root.join("bin/ls")).expect("ls"), b"my own ls\n");
    assert!(
        fs::symlink_metadata(root.join("bin/ls"))
            .expect("ls")
            .is_file()
    );
    assert_eq!(fs::read(root.join("bin/busybox")).expect("busybox"), binary);
    assert_eq!(link_target(&root.join("bin/sh")), Path::new("/bin/busybox"));
}

#[test]
fn symbolic_links_are_copied_as_links_even_when_they_dangle() {
    let workspace = Workspace::new("links");
    let tree = TemporaryDirectory::new("link-tree");
    tree.symbolic_link("absolute", "/nowhere/at/all");
    tree.symbolic_link("relative", "../up");
    let root = workspace.stage(&[StagingStep::Tree(tree.path().to_path_buf())]);
    assert_eq!(
        link_target(&root.join("absolute")),
        Path::new("/nowhere/at/all")
    );
    assert_eq!(link_target(&root.join("relative")), Path::new("../up"));
}

#[test]
fn staged_modes_are_what_git_records_whatever_the_sources_had() {
    let workspace = Workspace::new("modes");
    let tree = TemporaryDirectory::new("mode-tree");
    tree.file("private", b"", 0o600);
    tree.file("group-writable", b"", 0o664);
    tree.file("owner-only-program", b"", 0o700);
    tree.file("setuid-program", b"", 0o4775);
    tree.directory_with_mode("group-directory", 0o775);
    tree.directory_with_mode("closed-directory", 0o700);
    let root = workspace.stage(&[StagingStep::Tree(tree.path().to_path_buf())]);
    assert_eq!(mode_of(&root.join("private")), 0o644);
    assert_eq!(mode_of(&root.join("group-writable")), 0o644);
    assert_eq!(mode_of(&root.join("owner-only-program")), 0o755);
    assert_eq!(mode_of(&root.join("setuid-program")), 0o755);
    assert_eq!(mode_of(&root.join("group-directory")), 0o755);
    assert_eq!(mode_of(&root.join("closed-directory")), 0o755);
}

#[test]
fn trees_checked_out_under_different_umasks_give_identical_archives() {
    let build = |purpose: &str, file_mode: u32, directory_mode: u32| {
        let workspace = Workspace::new(purpose);
        let tree = TemporaryDirectory::new(purpose);
        tree.directory_with_mode("etc", directory_mode);
        tree.file("etc/profile", b"PS1='# '\n", file_mode);
        tree.file("init", b"#!/bin/sh\n", file_mode | 0o111);
        let root = workspace.stage(&[StagingStep::Tree(tree.path().to_path_buf())]);
        archive_directory(&root).expect("archive")
    };
    assert_eq!(
        build("umask-022", 0o644, 0o755),
        build("umask-002", 0o664, 0o775)
    );
    assert_eq!(
        build("umask-022-again", 0o644, 0o755),
        build("umask-077", 0o600, 0o700)
    );
}

#[test]
fn a_file_step_copies_the_file_to_the_top_under_its_own_name() {
    let workspace = Workspace::new("file-step");
    fs::create_dir(workspace.source("build")).expect("build directory");
    fs::write(workspace.source("build/sigma0"), b"\x7fELF sigma0").expect("sigma0");
    let root = workspace.stage(&[StagingStep::File(workspace.source("build/sigma0"))]);
    assert_eq!(
        fs::read(root.join("sigma0")).expect("sigma0"),
        b"\x7fELF sigma0"
    );
}

#[test]
fn the_directory_manifest_creates_directories_with_exactly_their_modes() {
    let workspace = Workspace::new("manifest");
    fs::write(
        workspace.source("directories"),
        "# mode path\n\n1777 tmp   # sticky, for everyone\n0700 root\n755 var/empty\n0555 proc\n",
    )
    .expect("manifest");
    let later = TemporaryDirectory::new("later");
    later.directory("tmp");
    later.file("tmp/left-over", b"", 0o644);
    let root = workspace.stage(&[
        StagingStep::Directories(workspace.source("directories")),
        StagingStep::Tree(later.path().to_path_buf()),
    ]);
    assert_eq!(
        mode_of(&root.join("tmp")),
        0o1777,
        "a later tree keeps the mode"
    );
    assert_eq!(mode_of(&root.join("root")), 0o700);
    assert_eq!(mode_of(&root.join("var")), 0o755);
    assert_eq!(mode_of(&root.join("var/empty")), 0o755);
    assert_eq!(mode_of(&root.join("proc")), 0o555);
    assert!(root.join("tmp/left-over").is_file());
}

#[test]
fn a_manifest_gives_its_mode_to_a_directory_an_earlier_step_made() {
    let workspace = Workspace::new("manifest-after");
    let tree = TemporaryDirectory::new("tree-with-tmp");
    tree.directory("tmp");
    fs::write(workspace.source("directories"), "1777 tmp\n").expect("manifest");
    let root = workspace.stage(&[
        StagingStep::Tree(tree.path().to_path_buf()),
        StagingStep::Directories(workspace.source("directories")),
    ]);
    assert_eq!(mode_of(&root.join("tmp")), 0o1777);
}

#[test]
fn bad_manifest_lines_are_refused_with_their_line_numbers() {
    let cases = [
        (
            "0755 ok\n1777\n",
            LineError::WrongFieldCount {
                expected: 2,
                found: 1,
            },
        ),
        (
            "0755 ok\n0755 a b\n",
            LineError::WrongFieldCount {
                expected: 2,
                found: 3,
            },
        ),
        (
            "0755 ok\n0789 tmp\n",
            LineError::BadMode {
                given: "0789".into(),
            },
        ),
        (
            "0755 ok\n17777 tmp\n",
            LineError::BadMode {
                given: "17777".into(),
            },
        ),
        (
            "0755 ok\n+755 tmp\n",
            LineError::BadMode {
                given: "+755".into(),
            },
        ),
        (
            "0755 ok\n0755 /tmp\n",
            LineError::BadPath {
                given: "/tmp".into(),
            },
        ),
        (
            "0755 ok\n0755 ../tmp\n",
            LineError::BadPath {
                given: "../tmp".into(),
            },
        ),
    ];
    for (text, expected) in cases {
        let workspace = Workspace::new("bad-manifest");
        fs::write(workspace.source("directories"), text).expect("manifest");
        let result = stage(
            &workspace.root(),
            &[StagingStep::Directories(workspace.source("directories"))],
        );
        match result {
            Err(StagingError::BadLine { line: 2, error, .. }) => assert_eq!(error, expected),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn a_staging_directory_that_holds_anything_is_refused() {
    let workspace = Workspace::new("in-use");
    fs::create_dir(workspace.root()).expect("stage directory");
    fs::write(workspace.root().join("stale"), b"from an earlier build").expect("stale file");
    let tree = TemporaryDirectory::new("in-use-tree");
    let result = stage(
        &workspace.root(),
        &[StagingStep::Tree(tree.path().to_path_buf())],
    );
    assert!(
        matches!(result, Err(StagingError::StagingDirectoryInUse { .. })),
        "{result:?}"
    );

    let workspace = Workspace::new("in-use-file");
    fs::write(workspace.root(), b"a file").expect("file where the stage goes");
    let result = stage(
        &workspace.root(),
        &[StagingStep::Tree(tree.path().to_path_buf())],
    );
    assert!(
        matches!(result, Err(StagingError::StagingDirectoryInUse { .. })),
        "{result:?}"
    );
}

#[test]
fn an_empty_staging_directory_is_used() {
    let workspace = Workspace::new("empty-stage");
    fs::create_dir(workspace.root()).expect("stage directory");
    let tree = TemporaryDirectory::new("empty-stage-tree");
    tree.file("hello", b"hi\n", 0o644);
    let root = workspace.stage(&[StagingStep::Tree(tree.path().to_path_buf())]);
    assert!(root.join("hello").is_file());
}

#[test]
fn sources_of_the_wrong_kind_or_missing_are_refused_naming_them() {
    let workspace = Workspace::new("wrong-kind");
    fs::write(workspace.source("a-file"), b"").expect("a file");
    fs::create_dir(workspace.source("a-directory")).expect("a directory");

    let result = stage(
        &workspace.root(),
        &[StagingStep::Tree(workspace.source("a-file"))],
    );
    assert!(
        matches!(result, Err(StagingError::NotADirectory { .. })),
        "{result:?}"
    );

    let workspace_two = Workspace::new("wrong-kind-two");
    let result = stage(
        &workspace_two.root(),
        &[StagingStep::File(workspace.source("a-directory"))],
    );
    assert!(
        matches!(result, Err(StagingError::NotAFile { .. })),
        "{result:?}"
    );

    let workspace_three = Workspace::new("missing");
    let error = stage(
        &workspace_three.root(),
        &[StagingStep::Tree(workspace.source("no-such-extra"))],
    )
    .expect_err("missing tree");
    assert!(matches!(error, StagingError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("no-such-extra"), "{error}");
}

#[test]
fn a_socket_in_a_source_tree_is_refused() {
    let workspace = Workspace::new("socket");
    let tree = TemporaryDirectory::new("socket-tree");
    let _listener = std::os::unix::net::UnixListener::bind(tree.join("socket"))
        .expect("bind a socket in the tree");
    let result = stage(
        &workspace.root(),
        &[StagingStep::Tree(tree.path().to_path_buf())],
    );
    assert!(
        matches!(&result, Err(StagingError::UnsupportedFileType { path }) if path.ends_with("socket")),
        "{result:?}"
    );
}

/// The staging steps of a small root filesystem: a boot module, busybox, a committed tree
/// that replaces the `sbin/init` link with a script, the directory manifest and an extra tree.
fn root_filesystem(workspace: &Workspace, trees: &[&TemporaryDirectory]) -> Vec<StagingStep> {
    fs::write(workspace.source("sigma0"), b"\x7fELF sigma0").expect("sigma0");
    fs::write(workspace.source("directories"), "1777 tmp\n0700 root\n").expect("manifest");
    let mut steps = vec![
        StagingStep::File(workspace.source("sigma0")),
        workspace.busybox(&static_aarch64_executable(), APPLETS),
    ];
    steps.extend(
        trees
            .iter()
            .map(|tree| StagingStep::Tree(tree.path().to_path_buf())),
    );
    steps.push(StagingStep::Directories(workspace.source("directories")));
    steps
}

fn committed_tree() -> TemporaryDirectory {
    let tree = TemporaryDirectory::new("committed");
    tree.directory("etc");
    tree.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644);
    tree.directory("sbin");
    tree.file("sbin/init", b"#!/bin/sh\nexec /bin/sh -l\n", 0o755);
    tree
}

#[test]
fn staging_and_archiving_the_same_sources_twice_gives_identical_bytes() {
    let committed = committed_tree();
    let archive = |purpose: &str| {
        let workspace = Workspace::new(purpose);
        let root = workspace.stage(&root_filesystem(&workspace, &[&committed]));
        archive_directory(&root).expect("archive")
    };
    assert_eq!(archive("first"), archive("second"));
}

#[test]
fn the_kernels_initrd_reader_sees_the_staged_root_filesystem() {
    let committed = committed_tree();
    let workspace = Workspace::new("kernel-reader");
    let root = workspace.stage(&root_filesystem(&workspace, &[&committed]));
    let archive = archive_directory(&root).expect("archive");
    let initrd = kcore::boot_modules::Initrd::new(&archive).expect("a newc archive");
    let find = |name: &str| {
        initrd
            .find(name)
            .expect("a whole archive")
            .unwrap_or_else(|| panic!("{name} missing"))
    };

    let shell = find("/bin/sh");
    assert!(shell.is_symbolic_link(), "{shell:?}");
    assert_eq!(shell.data, APPLET_LINK_TARGET.as_bytes());
    assert_eq!(shell.mode & 0o170_000, 0o120_000);
    let busybox = find("/bin/busybox");
    assert!(busybox.is_regular_file());
    assert_eq!(busybox.mode, 0o100_755);
    assert_eq!(busybox.data, static_aarch64_executable());
    let init = find("/sbin/init");
    assert!(
        init.is_regular_file(),
        "the committed script replaced the link"
    );
    assert!(init.data.starts_with(b"#!/bin/sh\n"));
    assert_eq!(find("/tmp").mode, 0o041_777);
    assert_eq!(find("/root").mode, 0o040_700);
    assert_eq!(find("/usr/bin/[").data, b"/bin/busybox");
    assert!(find("/sigma0").is_regular_file());
}
