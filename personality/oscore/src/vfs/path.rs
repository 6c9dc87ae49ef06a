//! Path resolution: from a path and where it starts (root, working directory, or a
//! directory descriptor) to a node, or to the directory and name where a node would be.
//!
//! The walk follows Linux's `link_path_walk` rules: components are separated by any number
//! of slashes; `.` stays, `..` goes to the parent (and stays at the root, so `/..` is `/`);
//! every component but the last must be a directory (`ENOTDIR`), after following it if it is
//! a symbolic link; the last component's link is followed unless the caller asks otherwise,
//! but always when a trailing slash follows it, and a trailing slash demands a directory.
//! A link's target is resolved from the directory holding the link (or from the root if it
//! is absolute); one resolution follows at most [`MAXIMUM_SYMBOLIC_LINKS`] links (`ELOOP`).
//! Each link is resolved by a nested walk, so the recursion is at most that deep.
//!
//! A missing last component is not an error of the walk: it returns where the node would be
//! created ([`Lookup::Missing`]), and the caller decides between `ENOENT`, `EROFS` and
//! (one day) creating it.

use alloc::vec::Vec;

use linux_abi::errno::Errno;
use linux_abi::file::AT_FDCWD;

use super::context::FileSystemContext;
use super::descriptors::DescriptorTable;
use super::node::{NodeId, NodeKind};
use super::pipe::PipeEnd;
use super::{MAXIMUM_SYMBOLIC_LINKS, NAME_MAX, PATH_MAX, Vfs};

/// Where a missing last component would be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MissingEntry {
    /// The directory that lacks the entry.
    pub(crate) directory: NodeId,
    /// The missing name.
    pub(crate) name: Vec<u8>,
    /// Whether the path ended in a slash (asking for a directory).
    pub(crate) trailing_slash: bool,
}

/// The result of a walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The path names this node.
    Existing(NodeId),
    /// Everything but the last component exists; the last does not.
    Missing(MissingEntry),
}

impl Lookup {
    /// The node, or `ENOENT` when it does not exist.
    pub(crate) fn existing(self) -> Result<NodeId, Errno> {
        match self {
            Lookup::Existing(node) => Ok(node),
            Lookup::Missing(_) => Err(Errno::ENOENT),
        }
    }
}

/// The last component of a path whose parent directory was resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LastComponent {
    /// An ordinary name (not yet looked up, so not yet checked against `NAME_MAX`).
    Name(Vec<u8>),
    /// `.`.
    Dot,
    /// `..`.
    DotDot,
    /// The path is only slashes: the root.
    Root,
}

/// Where the calls that create, remove or rename a name act: the directory holding the
/// last component, and that component (Linux's `filename_parentat`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Parent {
    /// The directory (for [`LastComponent::Root`], the root).
    pub(crate) directory: NodeId,
    /// The last component.
    pub(crate) last: LastComponent,
    /// Whether slashes followed the last component.
    pub(crate) trailing_slash: bool,
}

/// How a call wants its path resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// Follow a symbolic link in the last component (not `AT_SYMLINK_NOFOLLOW`,
    /// `O_NOFOLLOW`, `O_CREAT | O_EXCL`).
    pub(crate) follow_last: bool,
    /// An empty path means the directory descriptor itself (`AT_EMPTY_PATH`).
    pub(crate) empty_path_allowed: bool,
    /// The call creates the last component (`O_CREAT`): a trailing slash after a name is
    /// then `EISDIR`, whether or not the name exists.
    pub(crate) creating: bool,
}

/// Checks a path as the dispatcher copied it in (the bytes before its NUL, or `PATH_MAX`
/// bytes when no NUL was found): bytes from a NUL on are ignored, as C would.
///
/// # Errors
/// `ENAMETOOLONG` for `PATH_MAX` bytes or more (the NUL would not fit), `ENOENT` for an
/// empty path unless `empty_path_allowed`.
pub(crate) fn checked_path(path: &[u8], empty_path_allowed: bool) -> Result<&[u8], Errno> {
    let path = path.split(|&byte| byte == 0).next().unwrap_or(&[]);
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if path.is_empty() && !empty_path_allowed {
        return Err(Errno::ENOENT);
    }
    Ok(path)
}

impl Vfs {
    /// Resolves `path` for a `*at` call: absolute paths start at the root (and ignore
    /// `directory_fd` entirely), relative ones at `directory_fd`, where [`AT_FDCWD`] is the
    /// working directory of `context`.
    ///
    /// # Errors
    /// Those of [`checked_path`]; `EBADF` when a relative path's `directory_fd` is not open,
    /// `ENOTDIR` when it is not a directory; `ENOENT`, `ENOTDIR`, `ENAMETOOLONG`, `ELOOP`,
    /// `EISDIR` from the walk.
    pub(crate) fn resolve(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        how: Resolution,
    ) -> Result<Lookup, Errno> {
        let path = checked_path(path, how.empty_path_allowed)?;
        if path.is_empty() {
            return self
                .start_node(context, table, directory_fd)
                .map(Lookup::Existing);
        }
        let start = if path.first() == Some(&b'/') {
            NodeId::ROOT
        } else {
            let start = self.start_node(context, table, directory_fd)?;
            if !self.node(start).is_directory() {
                return Err(Errno::ENOTDIR);
            }
            start
        };
        let mut links_followed = 0;
        self.walk(start, path, how, &mut links_followed)
    }

    /// [`Vfs::resolve`] for a node that must exist (`ENOENT` otherwise).
    pub(crate) fn resolve_existing(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        how: Resolution,
    ) -> Result<NodeId, Errno> {
        self.resolve(context, table, directory_fd, path, how)?
            .existing()
    }

    /// Resolves everything but the last component of `path` (which must not be empty), as
    /// the calls that create, remove and rename names do; the last component is returned
    /// unlooked-at.
    ///
    /// # Errors
    /// Those of [`checked_path`]; `EBADF`/`ENOTDIR` for the directory descriptor of a
    /// relative path; `ENOENT`, `ENOTDIR`, `ENAMETOOLONG`, `ELOOP` on the way.
    pub(crate) fn resolve_parent(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
        path: &[u8],
    ) -> Result<Parent, Errno> {
        let path = checked_path(path, false)?;
        let Some(last_byte) = path.iter().rposition(|&byte| byte != b'/') else {
            return Ok(Parent {
                directory: NodeId::ROOT,
                last: LastComponent::Root,
                trailing_slash: false,
            });
        };
        let trailing_slash = last_byte + 1 < path.len();
        let without_trailing = path.get(..=last_byte).unwrap_or(path);
        let (prefix, last) = match without_trailing.iter().rposition(|&byte| byte == b'/') {
            Some(slash) => without_trailing.split_at(slash + 1),
            None => (&[][..], without_trailing),
        };
        let start = if path.first() == Some(&b'/') {
            NodeId::ROOT
        } else {
            let start = self.start_node(context, table, directory_fd)?;
            if !self.node(start).is_directory() {
                return Err(Errno::ENOTDIR);
            }
            start
        };
        let directory = if prefix.is_empty() {
            start
        } else {
            let how = Resolution {
                follow_last: true,
                ..Resolution::default()
            };
            let mut links_followed = 0;
            // The prefix ends in a slash, so the walk insists on a directory.
            self.walk(start, prefix, how, &mut links_followed)?
                .existing()?
        };
        let last = match last {
            b"." => LastComponent::Dot,
            b".." => LastComponent::DotDot,
            name => LastComponent::Name(name.to_vec()),
        };
        Ok(Parent {
            directory,
            last,
            trailing_slash,
        })
    }

    /// The entry `name` of `directory` (a directory), as a file system's lookup answers.
    ///
    /// # Errors
    /// `ENAMETOOLONG` for a name longer than [`NAME_MAX`].
    pub(crate) fn lookup_child(
        &self,
        directory: NodeId,
        name: &[u8],
    ) -> Result<Option<NodeId>, Errno> {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(self
            .node(directory)
            .directory()
            .and_then(|directory| directory.entries.get(name).copied()))
    }

    /// The node a `*at` call's directory argument names: `ENOTDIR` for a pipe, which is
    /// not in the tree (callers that take an empty path ask [`Vfs::empty_path_pipe`] first).
    fn start_node(
        &self,
        context: &FileSystemContext,
        table: &DescriptorTable,
        directory_fd: i32,
    ) -> Result<NodeId, Errno> {
        if directory_fd == AT_FDCWD {
            Ok(context.working_directory())
        } else {
            table.get(directory_fd)?.node().ok_or(Errno::ENOTDIR)
        }
    }

    /// The pipe a call names with an empty path and `AT_EMPTY_PATH` (`empty_path_allowed`):
    /// `directory_fd` itself, when it is a pipe. Pipes have no node, so [`Vfs::resolve`]
    /// cannot name them; the calls that take an empty path (`newfstatat`, `faccessat2`,
    /// `readlinkat`, `linkat`, `fchownat`, `utimensat`) ask here first.
    pub(crate) fn empty_path_pipe<'table>(
        &self,
        table: &'table DescriptorTable,
        directory_fd: i32,
        path: &[u8],
        empty_path_allowed: bool,
    ) -> Option<&'table PipeEnd> {
        if !empty_path_allowed || directory_fd == AT_FDCWD {
            return None;
        }
        if !checked_path(path, true).ok()?.is_empty() {
            return None;
        }
        table.get(directory_fd).ok()?.pipe()
    }

    /// Walks `path` (not empty) from `start` (a directory; absolute paths restart at the
    /// root), counting followed links in `links_followed`.
    fn walk(
        &self,
        start: NodeId,
        path: &[u8],
        how: Resolution,
        links_followed: &mut u32,
    ) -> Result<Lookup, Errno> {
        let mut current = if path.first() == Some(&b'/') {
            NodeId::ROOT
        } else {
            start
        };
        let trailing_slash = path.last() == Some(&b'/');
        let mut components = path
            .split(|&byte| byte == b'/')
            .filter(|component| !component.is_empty())
            .peekable();
        while let Some(component) = components.next() {
            let is_last = components.peek().is_none();
            let directory = self.node(current).directory().ok_or(Errno::ENOTDIR)?;
            let next = match component {
                b"." => current,
                b".." => directory.parent,
                name => {
                    if name.len() > NAME_MAX {
                        return Err(Errno::ENAMETOOLONG);
                    }
                    if is_last && how.creating && trailing_slash {
                        return Err(Errno::EISDIR);
                    }
                    match directory.entries.get(name) {
                        Some(&child) => child,
                        None if is_last => {
                            return Ok(Lookup::Missing(MissingEntry {
                                directory: current,
                                name: name.to_vec(),
                                trailing_slash,
                            }));
                        }
                        None => return Err(Errno::ENOENT),
                    }
                }
            };
            current = match self.node(next).kind {
                NodeKind::SymbolicLink(target) if !is_last || how.follow_last || trailing_slash => {
                    if *links_followed >= MAXIMUM_SYMBOLIC_LINKS {
                        return Err(Errno::ELOOP);
                    }
                    *links_followed += 1;
                    if target.is_empty() {
                        return Err(Errno::ENOENT);
                    }
                    if target.len() >= PATH_MAX {
                        return Err(Errno::ENAMETOOLONG);
                    }
                    let inner = Resolution {
                        follow_last: true,
                        empty_path_allowed: false,
                        creating: is_last && how.creating,
                    };
                    match self.walk(current, target, inner, links_followed)? {
                        Lookup::Existing(node) => node,
                        Lookup::Missing(mut missing) if is_last => {
                            missing.trailing_slash |= trailing_slash;
                            return Ok(Lookup::Missing(missing));
                        }
                        Lookup::Missing(_) => return Err(Errno::ENOENT),
                    }
                }
                _ => next,
            };
        }
        if trailing_slash && !self.node(current).is_directory() {
            return Err(Errno::ENOTDIR);
        }
        Ok(Lookup::Existing(current))
    }

    /// The absolute path of `directory`, found by following `..` up to the root and looking
    /// each directory up in its parent (directories have exactly one name, so the path is
    /// canonical: no links, no `.` or `..`).
    pub(crate) fn path_of(&self, directory: NodeId) -> Vec<u8> {
        let mut names: Vec<&[u8]> = Vec::new();
        let mut current = directory;
        while current != NodeId::ROOT {
            let Some(parent) = self.node(current).directory().map(|entry| entry.parent) else {
                break;
            };
            let name = self.node(parent).directory().and_then(|parent_directory| {
                parent_directory
                    .entries
                    .iter()
                    .find(|&(_, &child)| child == current)
                    .map(|(name, _)| name.as_slice())
            });
            match name {
                Some(name) => names.push(name),
                // Not linked into its parent: cannot happen in a tree that never unlinks.
                None => break,
            }
            current = parent;
        }
        let mut path = Vec::new();
        for name in names.iter().rev() {
            path.push(b'/');
            path.extend_from_slice(name);
        }
        if path.is_empty() {
            path.push(b'/');
        }
        path
    }
}
