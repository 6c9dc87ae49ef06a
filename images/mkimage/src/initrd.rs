//! Packs a directory tree into the cpio "newc" archive that QEMU hands over as the initrd.
//!
//! The archive is reproducible: the same tree always gives the same bytes, so a changed
//! initrd always means changed contents. That is why nothing host-specific goes in: entries
//! are sorted by path (parents before their children), every mtime, uid and gid is 0, inode
//! numbers are assigned in archive order, and only the type and permission bits of each mode
//! are kept (as found: [`crate::staging`] is what makes a staged tree's modes independent of
//! the checkout's umask). Names are relative to the archived directory, without a leading
//! "./", and the directory itself is not an entry. Regular files, directories and symbolic links are
//! supported; anything else (devices, FIFOs, sockets) is refused rather than silently dropped.

use core::fmt;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Cursor};
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use cpio::newc::{Builder, ModeFileType};

/// The permission bits of a Unix mode, set-id and sticky bits included.
const PERMISSION_BITS: u32 = 0o7777;

/// Why a directory could not be archived.
#[derive(Debug)]
pub enum InitrdError {
    /// The path to archive is not a directory.
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// Reading the tree failed.
    Read {
        /// The file or directory being read.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The tree holds something other than a file, directory or symbolic link.
    UnsupportedFileType {
        /// The offending entry.
        path: PathBuf,
    },
    /// A name in the tree is not valid UTF-8, which the cpio writer needs.
    NameNotUnicode {
        /// The offending entry.
        path: PathBuf,
    },
    /// A file is too large for the 32-bit size field of the newc format.
    FileTooLarge {
        /// The offending file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// There are more entries than the 32-bit inode field can number.
    TooManyEntries,
    /// The cpio writer failed.
    Archive {
        /// What the writer said.
        source: io::Error,
    },
}

impl fmt::Display for InitrdError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotADirectory { path } => {
                write!(formatter, "{}: not a directory", path.display())
            }
            Self::Read { path, source } => write!(formatter, "{}: {source}", path.display()),
            Self::UnsupportedFileType { path } => write!(
                formatter,
                "{}: not a regular file, directory or symbolic link",
                path.display()
            ),
            Self::NameNotUnicode { path } => {
                write!(formatter, "{}: name is not valid UTF-8", path.display())
            }
            Self::FileTooLarge { path, size } => write!(
                formatter,
                "{}: {size} bytes is too large for a newc cpio archive (4 GiB limit)",
                path.display()
            ),
            Self::TooManyEntries => write!(formatter, "too many entries for a newc cpio archive"),
            Self::Archive { source } => write!(formatter, "writing the cpio archive: {source}"),
        }
    }
}

impl std::error::Error for InitrdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } | Self::Archive { source } => Some(source),
            _ => None,
        }
    }
}

/// One archive member: its header and its contents (file bytes or symbolic link target).
struct Member {
    header: Builder,
    contents: Vec<u8>,
}

/// Returns a newc archive of everything below `root`, in the reproducible form described
/// in the module documentation.
pub fn archive_directory(root: &Path) -> Result<Vec<u8>, InitrdError> {
    let metadata = fs::metadata(root).map_err(|source| InitrdError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(InitrdError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let mut members = Vec::new();
    collect_directory(root, Path::new(""), &mut members)?;
    write_archive(members)
}

/// Returns an archive with no entries: just the `TRAILER!!!` record.
pub fn empty_archive() -> Vec<u8> {
    // Writing into a Vec cannot fail, and there are no members to refuse.
    write_archive(Vec::new()).unwrap_or_default()
}

fn write_archive(members: Vec<Member>) -> Result<Vec<u8>, InitrdError> {
    if u32::try_from(members.len()).is_err() {
        return Err(InitrdError::TooManyEntries);
    }
    let inputs = members
        .into_iter()
        .map(|member| (member.header, Cursor::new(member.contents)));
    // `write_cpio` numbers the inodes in order and appends the trailer.
    cpio::write_cpio(inputs, Vec::new()).map_err(|source| InitrdError::Archive { source })
}

/// Appends the members for the children of `directory` (whose archive name is `relative`),
/// sorted by name, each directory followed by its own contents.
fn collect_directory(
    directory: &Path,
    relative: &Path,
    members: &mut Vec<Member>,
) -> Result<(), InitrdError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InitrdError::Read { path, source }
    };
    let mut names: Vec<OsString> = fs::read_dir(directory)
        .map_err(read_error(directory))?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<_, _>>()
        .map_err(read_error(directory))?;
    names.sort();

    for name in names {
        let path = directory.join(&name);
        let relative = relative.join(&name);
        let metadata = fs::symlink_metadata(&path).map_err(read_error(&path))?;
        let archive_name = relative
            .to_str()
            .ok_or_else(|| InitrdError::NameNotUnicode { path: path.clone() })?;
        let file_type = metadata.file_type();
        let (kind, contents) = if file_type.is_dir() {
            (ModeFileType::Directory, Vec::new())
        } else if file_type.is_symlink() {
            let target = fs::read_link(&path).map_err(read_error(&path))?;
            (ModeFileType::Symlink, target.into_os_string().into_vec())
        } else if file_type.is_file() {
            let contents = fs::read(&path).map_err(read_error(&path))?;
            if u32::try_from(contents.len()).is_err() {
                let size = contents.len() as u64;
                return Err(InitrdError::FileTooLarge { path, size });
            }
            (ModeFileType::Regular, contents)
        } else {
            return Err(InitrdError::UnsupportedFileType { path });
        };
        let header = Builder::new(archive_name)
            .mode(metadata.mode() & PERMISSION_BITS)
            .set_mode_file_type(kind)
            .uid(0)
            .gid(0)
            .mtime(0);
        members.push(Member { header, contents });
        if file_type.is_dir() {
            collect_directory(&path, &relative, members)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temporary_directory::TemporaryDirectory;
    use std::io::Read as _;
    use std::time::{Duration, SystemTime};

    /// Sets the modification time of the sample tree's files to `time`.
    fn touch_all(tree: &TemporaryDirectory, time: SystemTime) {
        for relative in ["init", "etc/motd"] {
            let file = fs::File::options()
                .write(true)
                .open(tree.join(relative))
                .expect("open test file");
            file.set_modified(time).expect("set modification time");
        }
    }

    /// What the archive says about one member.
    #[derive(Debug, PartialEq, Eq)]
    struct ParsedEntry {
        name: String,
        inode: u32,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: u32,
        contents: Vec<u8>,
    }

    /// Reads every member back with the cpio crate's reader; the trailer is not returned,
    /// but must be there.
    fn parse(archive: &[u8]) -> Vec<ParsedEntry> {
        let mut remaining = archive;
        let mut entries = Vec::new();
        loop {
            let mut reader = cpio::NewcReader::new(remaining).expect("valid newc header");
            if reader.entry().is_trailer() {
                let rest = reader.finish().expect("finish trailer");
                assert!(rest.is_empty(), "bytes after the trailer");
                return entries;
            }
            let mut contents = Vec::new();
            reader.read_to_end(&mut contents).expect("read member");
            let entry = reader.entry();
            assert_eq!(entry.file_size() as usize, contents.len());
            entries.push(ParsedEntry {
                name: entry.name().to_string(),
                inode: entry.ino(),
                mode: entry.mode(),
                uid: entry.uid(),
                gid: entry.gid(),
                mtime: entry.mtime(),
                contents,
            });
            remaining = reader.finish().expect("finish member");
        }
    }

    fn sample_tree(purpose: &str) -> TemporaryDirectory {
        let tree = TemporaryDirectory::new(purpose);
        tree.directory("etc");
        tree.file("etc/motd", b"hello\n", 0o644);
        tree.symbolic_link("etc/greeting", "motd");
        tree.file("init", b"\x7fELF pretend", 0o755);
        tree.file("a-b", b"", 0o600);
        tree.directory("zeta");
        tree
    }

    #[test]
    fn every_entry_is_archived_sorted_by_path_with_parents_before_children() {
        let tree = sample_tree("order");
        let names: Vec<String> = parse(&archive_directory(tree.path()).expect("archive"))
            .into_iter()
            .map(|entry| entry.name)
            .collect();
        assert_eq!(
            names,
            ["a-b", "etc", "etc/greeting", "etc/motd", "init", "zeta"]
        );
    }

    #[test]
    fn modes_sizes_and_symbolic_link_targets_come_from_the_tree() {
        let tree = sample_tree("contents");
        let entries = parse(&archive_directory(tree.path()).expect("archive"));
        let find = |name: &str| {
            entries
                .iter()
                .find(|entry| entry.name == name)
                .unwrap_or_else(|| panic!("{name} missing from {entries:?}"))
        };
        assert_eq!(find("init").mode, 0o100_755);
        assert_eq!(find("init").contents, b"\x7fELF pretend");
        assert_eq!(find("etc/motd").mode, 0o100_644);
        assert_eq!(find("etc/motd").contents, b"hello\n");
        assert_eq!(find("a-b").mode, 0o100_600);
        assert!(find("a-b").contents.is_empty());
        assert_eq!(find("etc/greeting").mode & 0o170_000, 0o120_000);
        assert_eq!(find("etc/greeting").contents, b"motd");
        assert_eq!(find("etc").mode & 0o170_000, 0o040_000);
        assert!(find("zeta").contents.is_empty());
    }

    #[test]
    fn owners_times_and_inodes_carry_nothing_from_the_host() {
        let tree = sample_tree("metadata");
        let entries = parse(&archive_directory(tree.path()).expect("archive"));
        for (index, entry) in entries.iter().enumerate() {
            assert_eq!((entry.uid, entry.gid, entry.mtime), (0, 0, 0), "{entry:?}");
            assert_eq!(entry.inode as usize, index, "{entry:?}");
        }
    }

    #[test]
    fn archiving_the_same_tree_twice_gives_identical_bytes() {
        let tree = sample_tree("twice");
        let first = archive_directory(tree.path()).expect("first archive");
        let second = archive_directory(tree.path()).expect("second archive");
        assert_eq!(first, second);
    }

    #[test]
    fn trees_that_differ_only_in_modification_times_give_identical_bytes() {
        let old = sample_tree("old");
        touch_all(
            &old,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000),
        );
        let new = sample_tree("new");
        touch_all(
            &new,
            SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
        );
        assert_eq!(
            archive_directory(old.path()).expect("archive old"),
            archive_directory(new.path()).expect("archive new")
        );
    }

    #[test]
    fn the_archive_ends_with_the_trailer_and_is_padded_to_four_bytes() {
        let tree = sample_tree("trailer");
        let archive = archive_directory(tree.path()).expect("archive");
        assert_eq!(archive.len() % 4, 0);
        let trailer_name = b"TRAILER!!!\0";
        assert!(
            archive
                .windows(trailer_name.len())
                .any(|window| window == trailer_name)
        );
    }

    #[test]
    fn an_empty_archive_holds_only_the_trailer() {
        let archive = empty_archive();
        assert!(archive.starts_with(b"070701"));
        assert!(parse(&archive).is_empty());
    }

    #[test]
    fn an_empty_directory_gives_the_empty_archive() {
        let tree = TemporaryDirectory::new("empty");
        assert_eq!(
            archive_directory(tree.path()).expect("archive"),
            empty_archive()
        );
    }

    #[test]
    fn a_path_that_is_not_a_directory_is_refused() {
        let tree = sample_tree("not-directory");
        let result = archive_directory(&tree.path().join("init"));
        assert!(
            matches!(result, Err(InitrdError::NotADirectory { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn a_missing_directory_is_refused_naming_the_path() {
        let tree = TemporaryDirectory::new("missing");
        let missing = tree.path().join("nowhere");
        let error = archive_directory(&missing).expect_err("missing directory");
        assert!(matches!(error, InitrdError::Read { .. }), "{error:?}");
        assert!(error.to_string().contains("nowhere"), "{error}");
    }

    #[test]
    fn a_socket_in_the_tree_is_refused() {
        let tree = sample_tree("socket");
        let _listener = std::os::unix::net::UnixListener::bind(tree.path().join("etc/socket"))
            .expect("bind a socket in the tree");
        let result = archive_directory(tree.path());
        assert!(
            matches!(&result, Err(InitrdError::UnsupportedFileType { path }) if path.ends_with("etc/socket")),
            "{result:?}"
        );
    }

    #[test]
    fn the_kernels_reader_sees_files_directories_and_symbolic_links_as_written() {
        let tree = sample_tree("kernel-reader");
        let archive = archive_directory(tree.path()).expect("archive");
        let initrd = kcore::boot_modules::Initrd::new(&archive).expect("a newc archive");
        let names: Vec<&str> = initrd
            .entries()
            .map(|entry| entry.expect("a whole entry").name)
            .collect();
        assert_eq!(
            names,
            ["a-b", "etc", "etc/greeting", "etc/motd", "init", "zeta"]
        );
        let find = |name: &str| {
            initrd
                .find(name)
                .expect("a whole archive")
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        let link = find("etc/greeting");
        assert!(link.is_symbolic_link(), "{link:?}");
        assert_eq!(link.data, b"motd");
        assert!(find("etc").is_directory());
        assert!(find("/init").is_regular_file());
        assert_eq!(find("init").mode, 0o100_755);
        assert_eq!(find("./etc/motd").data, b"hello\n");
    }
}
