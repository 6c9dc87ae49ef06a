//! Builds the tree that `mkimage initrd` archives: boot modules, busybox with its applet
//! links, the committed root filesystem and the user's `EXTRA` files, layered in order.
//!
//! Why a tool and not `cp -R`: three things that copying gets wrong.
//! - **Replacing.** A later layer must replace what an earlier one put at a path. `cp` writes
//!   *through* an existing symbolic link, so a user's `EXTRA/bin/ls` copied over the applet
//!   link `bin/ls -> /bin/busybox` would overwrite whatever `/bin/busybox` is — on the host.
//!   Here every entry is removed before its replacement is written, and symbolic links are
//!   copied as links, never followed, on either side.
//! - **Modes.** A checkout's modes depend on the umask of whoever cloned it, and the archive
//!   keeps modes, so the same commit would give different initrds on different machines.
//!   Staged files get what git itself can record — 0755 when the owner may execute, 0644
//!   otherwise — and directories 0755; the few directories that need another mode (`/tmp`
//!   is 1777) get it from a manifest ([`StagingStep::Directories`]), which is also how the
//!   root filesystem has directories that hold no committed file (git cannot record those).
//! - **Applet links.** Busybox is one binary that acts as the applet its `argv[0]` names,
//!   so it needs a symbolic link per applet; their paths come from the binary itself
//!   (`busybox --list-full`, run once by `scripts/fetch-busybox.sh`) and are checked here
//!   like any other input, as is the binary ([`crate::executable`]).
//!
//! The staging directory must be missing or empty, so that nothing from an earlier build
//! survives into the image unnoticed.

use core::fmt;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Component, Path, PathBuf};

use crate::executable::{self, ExecutableError};

/// Mode of every staged file whose owner may execute it.
pub const EXECUTABLE_FILE_MODE: u32 = 0o755;
/// Mode of every other staged file.
pub const FILE_MODE: u32 = 0o644;
/// Mode of every staged directory that no manifest gives another mode.
pub const DIRECTORY_MODE: u32 = 0o755;
/// Where busybox goes, relative to the root.
pub const BUSYBOX_PATH: &str = "bin/busybox";
/// What every applet link points to: an absolute path, so a link works wherever it is.
pub const APPLET_LINK_TARGET: &str = "/bin/busybox";

/// The owner-execute bit of a Unix mode.
const OWNER_EXECUTE: u32 = 0o100;
/// Permission, set-id and sticky bits: the most a manifest may give a directory.
const PERMISSION_BITS: u32 = 0o7777;

/// One step of building a staging tree; steps run in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagingStep {
    /// `--tree <directory>`: merge the tree under the directory into the root.
    Tree(PathBuf),
    /// `--file <file>`: copy one file to the top of the root, under its own name.
    File(PathBuf),
    /// `--directories <manifest>`: create the directories the manifest lists, each line
    /// `<octal mode> <path>` (`#` starts a comment), and give each its mode.
    Directories(PathBuf),
    /// `--busybox <binary> <applet-list>`: install the binary as [`BUSYBOX_PATH`] and a
    /// symbolic link to [`APPLET_LINK_TARGET`] at every path of the applet list (the output
    /// of `busybox --list-full`: one relative path a line).
    Busybox {
        /// The busybox executable.
        binary: PathBuf,
        /// Its applet list.
        applet_list: PathBuf,
    },
}

/// What is wrong with one line of a directory manifest or an applet list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// The line does not have the number of fields the format wants.
    WrongFieldCount {
        /// Fields the format wants.
        expected: usize,
        /// Fields the line has.
        found: usize,
    },
    /// The mode is not an octal number of at most 7777.
    BadMode {
        /// The field as written.
        given: String,
    },
    /// The path is absolute, or has an empty, `.` or `..` component.
    BadPath {
        /// The field as written.
        given: String,
    },
}

impl fmt::Display for LineError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongFieldCount { expected, found } => {
                write!(formatter, "{found} fields where {expected} belong")
            }
            Self::BadMode { given } => {
                write!(formatter, "`{given}` is not an octal mode up to 7777")
            }
            Self::BadPath { given } => write!(
                formatter,
                "`{given}` is not a relative path of plain names (no `/` at the start, no empty, `.` or `..` part)"
            ),
        }
    }
}

/// Why a staging tree could not be built. Every variant names the file involved.
#[derive(Debug)]
pub enum StagingError {
    /// The staging directory exists and is not an empty directory.
    StagingDirectoryInUse {
        /// The staging directory.
        path: PathBuf,
    },
    /// A `--tree` source is not a directory.
    NotADirectory {
        /// The source.
        path: PathBuf,
    },
    /// A `--file` or `--busybox` source is not a regular file.
    NotAFile {
        /// The source.
        path: PathBuf,
    },
    /// A source tree holds something other than a file, directory or symbolic link.
    UnsupportedFileType {
        /// The offending entry.
        path: PathBuf,
    },
    /// Reading a source failed.
    Read {
        /// The source being read.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// Writing into the staging tree failed.
    Write {
        /// The staged path being written.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A line of a directory manifest or an applet list is wrong.
    BadLine {
        /// The manifest or list.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        error: LineError,
    },
    /// The applet list names no applet.
    NoApplets {
        /// The list.
        path: PathBuf,
    },
    /// The busybox binary is not something the OS server can run.
    NotRunnable {
        /// The binary.
        path: PathBuf,
        /// Why not.
        error: ExecutableError,
    },
}

impl fmt::Display for StagingError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StagingDirectoryInUse { path } => write!(
                formatter,
                "{}: the staging directory must be missing or empty",
                path.display()
            ),
            Self::NotADirectory { path } => {
                write!(formatter, "{}: not a directory", path.display())
            }
            Self::NotAFile { path } => write!(formatter, "{}: not a regular file", path.display()),
            Self::UnsupportedFileType { path } => write!(
                formatter,
                "{}: not a regular file, directory or symbolic link",
                path.display()
            ),
            Self::Read { path, source } | Self::Write { path, source } => {
                write!(formatter, "{}: {source}", path.display())
            }
            Self::BadLine { path, line, error } => {
                write!(formatter, "{}:{line}: {error}", path.display())
            }
            Self::NoApplets { path } => write!(formatter, "{}: no applets listed", path.display()),
            Self::NotRunnable { path, error } => write!(formatter, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for StagingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } | Self::Write { source, .. } => Some(source),
            Self::NotRunnable { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Builds the staging tree at `root` (created if missing; refused unless empty) by running
/// `steps` in order.
///
/// # Errors
/// The first [`StagingError`]; the tree is then incomplete and should be discarded.
pub fn stage(root: &Path, steps: &[StagingStep]) -> Result<(), StagingError> {
    prepare_root(root)?;
    for step in steps {
        match step {
            StagingStep::Tree(source) => {
                let metadata = fs::metadata(source).map_err(read_error(source))?;
                if !metadata.is_dir() {
                    return Err(StagingError::NotADirectory {
                        path: source.clone(),
                    });
                }
                merge_tree(source, root)?;
            }
            StagingStep::File(source) => {
                let Some(name) = source.file_name() else {
                    return Err(StagingError::NotAFile {
                        path: source.clone(),
                    });
                };
                let metadata = fs::metadata(source).map_err(read_error(source))?;
                if !metadata.is_file() {
                    return Err(StagingError::NotAFile {
                        path: source.clone(),
                    });
                }
                copy_file(source, &root.join(name), metadata.permissions().mode())?;
            }
            StagingStep::Directories(manifest) => {
                for (path, mode) in read_directory_manifest(manifest)? {
                    let staged = root.join(&path);
                    create_directories(root, &path)?;
                    fs::set_permissions(&staged, fs::Permissions::from_mode(mode))
                        .map_err(write_error(&staged))?;
                }
            }
            StagingStep::Busybox {
                binary,
                applet_list,
            } => install_busybox(root, binary, applet_list)?,
        }
    }
    Ok(())
}

/// Creates `root` if it is missing; refuses it if it is anything but an empty directory.
fn prepare_root(root: &Path) -> Result<(), StagingError> {
    match fs::symlink_metadata(root) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(root).map_err(write_error(root))?;
            fs::set_permissions(root, fs::Permissions::from_mode(DIRECTORY_MODE))
                .map_err(write_error(root))
        }
        Err(source) => Err(StagingError::Read {
            path: root.to_path_buf(),
            source,
        }),
        Ok(metadata) if metadata.is_dir() => {
            let mut entries = fs::read_dir(root).map_err(read_error(root))?;
            if entries.next().is_some() {
                Err(StagingError::StagingDirectoryInUse {
                    path: root.to_path_buf(),
                })
            } else {
                Ok(())
            }
        }
        Ok(_) => Err(StagingError::StagingDirectoryInUse {
            path: root.to_path_buf(),
        }),
    }
}

/// Merges the children of the directory `source` into the staged directory `destination`,
/// in name order: directories merge into directories, anything else replaces what is there.
fn merge_tree(source: &Path, destination: &Path) -> Result<(), StagingError> {
    let mut names: Vec<OsString> = fs::read_dir(source)
        .map_err(read_error(source))?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<_, _>>()
        .map_err(read_error(source))?;
    names.sort();
    for name in names {
        let from = source.join(&name);
        let to = destination.join(&name);
        let metadata = fs::symlink_metadata(&from).map_err(read_error(&from))?;
        let file_type = metadata.file_type();
        if file_type.is_dir() {
            ensure_directory(&to)?;
            merge_tree(&from, &to)?;
        } else if file_type.is_symlink() {
            let target = fs::read_link(&from).map_err(read_error(&from))?;
            link(&target, &to)?;
        } else if file_type.is_file() {
            copy_file(&from, &to, metadata.permissions().mode())?;
        } else {
            return Err(StagingError::UnsupportedFileType { path: from });
        }
    }
    Ok(())
}

/// Copies the file `from` to `to` (replacing whatever is there) with the normalised mode
/// that `source_mode` calls for.
fn copy_file(from: &Path, to: &Path, source_mode: u32) -> Result<(), StagingError> {
    let contents = fs::read(from).map_err(read_error(from))?;
    write_file(to, &contents, normalised_file_mode(source_mode))
}

/// Writes `contents` to `path` with `mode`, replacing whatever is there.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), StagingError> {
    remove_existing(path)?;
    fs::write(path, contents).map_err(write_error(path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(write_error(path))
}

/// Makes `path` a symbolic link to `target`, replacing whatever is there.
fn link(target: &Path, path: &Path) -> Result<(), StagingError> {
    remove_existing(path)?;
    symlink(target, path).map_err(write_error(path))
}

/// The mode a staged file gets: what git records, 0755 or 0644 by the owner-execute bit.
pub fn normalised_file_mode(source_mode: u32) -> u32 {
    if source_mode & OWNER_EXECUTE != 0 {
        EXECUTABLE_FILE_MODE
    } else {
        FILE_MODE
    }
}

/// Removes `path` if anything is there (a directory with its contents); a symbolic link is
/// removed, never followed.
fn remove_existing(path: &Path) -> Result<(), StagingError> {
    match fs::symlink_metadata(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StagingError::Write {
            path: path.to_path_buf(),
            source,
        }),
        Ok(metadata) if metadata.is_dir() => fs::remove_dir_all(path).map_err(write_error(path)),
        Ok(_) => fs::remove_file(path).map_err(write_error(path)),
    }
}

/// Makes `path` a directory: an existing directory stays as it is (mode included), anything
/// else is replaced by a new directory of [`DIRECTORY_MODE`].
fn ensure_directory(path: &Path) -> Result<(), StagingError> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => return Ok(()),
        Ok(_) => remove_existing(path)?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(StagingError::Write {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    fs::create_dir(path).map_err(write_error(path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(DIRECTORY_MODE)).map_err(write_error(path))
}

/// Makes every component of `relative` below `root` a directory, as [`ensure_directory`]
/// does, parents first.
fn create_directories(root: &Path, relative: &Path) -> Result<(), StagingError> {
    let mut path = root.to_path_buf();
    for component in relative.components() {
        path.push(component);
        ensure_directory(&path)?;
    }
    Ok(())
}

/// Installs busybox and its applet links (see [`StagingStep::Busybox`]).
fn install_busybox(root: &Path, binary: &Path, applet_list: &Path) -> Result<(), StagingError> {
    let metadata = fs::metadata(binary).map_err(read_error(binary))?;
    if !metadata.is_file() {
        return Err(StagingError::NotAFile {
            path: binary.to_path_buf(),
        });
    }
    let contents = fs::read(binary).map_err(read_error(binary))?;
    executable::check_static_aarch64(&contents).map_err(|error| StagingError::NotRunnable {
        path: binary.to_path_buf(),
        error,
    })?;
    let applets = read_applet_list(applet_list)?;

    let busybox = Path::new(BUSYBOX_PATH);
    if let Some(parent) = busybox.parent() {
        create_directories(root, parent)?;
    }
    write_file(&root.join(busybox), &contents, EXECUTABLE_FILE_MODE)?;
    for applet in applets.iter().filter(|applet| applet.as_path() != busybox) {
        if let Some(parent) = applet.parent() {
            create_directories(root, parent)?;
        }
        link(Path::new(APPLET_LINK_TARGET), &root.join(applet))?;
    }
    Ok(())
}

/// Reads a directory manifest: `<octal mode> <path>` a line, `#` comments, blank lines.
fn read_directory_manifest(manifest: &Path) -> Result<Vec<(PathBuf, u32)>, StagingError> {
    let text = fs::read_to_string(manifest).map_err(read_error(manifest))?;
    parse_lines(&text, 2)
        .map(|(line, fields)| {
            let bad_line = |error| StagingError::BadLine {
                path: manifest.to_path_buf(),
                line,
                error,
            };
            let fields = fields.map_err(bad_line)?;
            let mode = parse_mode(fields[0]).map_err(bad_line)?;
            let path = parse_relative_path(fields[1]).map_err(bad_line)?;
            Ok((path, mode))
        })
        .collect()
}

/// Reads an applet list: one relative path a line, as `busybox --list-full` prints them.
fn read_applet_list(list: &Path) -> Result<Vec<PathBuf>, StagingError> {
    let text = fs::read_to_string(list).map_err(read_error(list))?;
    let applets: Vec<PathBuf> = parse_lines(&text, 1)
        .map(|(line, fields)| {
            fields
                .and_then(|fields| parse_relative_path(fields[0]))
                .map_err(|error| StagingError::BadLine {
                    path: list.to_path_buf(),
                    line,
                    error,
                })
        })
        .collect::<Result<_, _>>()?;
    if applets.is_empty() {
        return Err(StagingError::NoApplets {
            path: list.to_path_buf(),
        });
    }
    Ok(applets)
}

/// The lines of `text` that hold something after `#` comments are cut, each with its number
/// (from 1) and its whitespace-separated fields, or the error if there are not exactly
/// `expected` of them.
fn parse_lines(
    text: &str,
    expected: usize,
) -> impl Iterator<Item = (usize, Result<Vec<&str>, LineError>)> {
    text.lines().enumerate().filter_map(move |(index, line)| {
        let content = line.split('#').next().unwrap_or_default();
        let fields: Vec<&str> = content.split_whitespace().collect();
        if fields.is_empty() {
            return None;
        }
        let found = fields.len();
        let fields = if found == expected {
            Ok(fields)
        } else {
            Err(LineError::WrongFieldCount { expected, found })
        };
        Some((index + 1, fields))
    })
}

/// An octal mode of at most [`PERMISSION_BITS`].
fn parse_mode(field: &str) -> Result<u32, LineError> {
    u32::from_str_radix(field, 8)
        .ok()
        .filter(|mode| field.bytes().all(|byte| byte.is_ascii_digit()) && *mode <= PERMISSION_BITS)
        .ok_or_else(|| LineError::BadMode {
            given: field.to_string(),
        })
}

/// A path relative to the root made only of plain names: never absolute, never `..`, so a
/// manifest or applet list cannot reach outside the staging tree.
fn parse_relative_path(field: &str) -> Result<PathBuf, LineError> {
    let bad_path = || LineError::BadPath {
        given: field.to_string(),
    };
    if field.split('/').any(|part| matches!(part, "" | "." | "..")) {
        return Err(bad_path());
    }
    let path = PathBuf::from(field);
    if path
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
    {
        Ok(path)
    } else {
        Err(bad_path())
    }
}

fn read_error(path: &Path) -> impl FnOnce(io::Error) -> StagingError + use<> {
    let path = path.to_path_buf();
    move |source| StagingError::Read { path, source }
}

fn write_error(path: &Path) -> impl FnOnce(io::Error) -> StagingError + use<> {
    let path = path.to_path_buf();
    move |source| StagingError::Write { path, source }
}

#[cfg(test)]
mod tests;
