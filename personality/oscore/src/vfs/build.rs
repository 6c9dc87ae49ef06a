//! Building the tree from the initrd: every archive entry becomes a node, missing parent
//! directories appear implicitly, and `/dev` gets its device nodes.
//!
//! The archive is trusted no more than any other input (it is whatever the image builder
//! packed), so names are checked component by component: a `..` component or an over-long
//! name is refused rather than resolved, and nothing an entry says can place a node outside
//! the tree or make a file the parent of another.
//!
//! Duplicate names: a later entry wins, as when Linux unpacks an initramfs. A directory entry
//! over an existing directory keeps the children and takes the later permissions (so an
//! archive may list `bin/ls` before `bin`, or `.` first); a non-directory replaces an earlier
//! non-directory in place (same inode number); a directory replaces an earlier non-directory.
//! The one refusal is a non-directory over a directory, which would silently drop everything
//! beneath it: [`BuildError::ReplacesDirectory`].
//!
//! The device nodes are added after the archive, as if they were its last entries, so they
//! win over whatever the archive put at their paths. Character devices in the archive are
//! accepted only at those four paths (where the VFS's own node replaces them): the archive
//! reader does not expose `rdevmajor`/`rdevminor`, so any other device node would be a
//! device without a number.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use kcore::boot_modules::{Entry, Initrd, InitrdError};
use linux_abi::file::{S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

use super::node::{Contents, Device, Directory, FileSystem, Node, NodeId, NodeKind};
use super::{NAME_MAX, Vfs};

/// The permissions of directories the archive implies but does not list, and of the root
/// unless the archive lists `.`.
const IMPLICIT_DIRECTORY_PERMISSIONS: u32 = 0o755;

/// The bits of a mode that are kept as permissions.
const PERMISSION_AND_SPECIAL_BITS: u32 = 0o7777;

/// Why the initrd could not become the root file system. Names are the entry names as the
/// archive spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The archive itself is damaged.
    Archive(InitrdError),
    /// The name has a `..` component or a component longer than [`NAME_MAX`] bytes.
    InvalidName {
        /// The entry's name.
        name: &'static str,
    },
    /// A directory on the entry's path is a file or a symbolic link in the archive.
    ParentNotDirectory {
        /// The entry's name.
        name: &'static str,
    },
    /// A non-directory would replace a directory (and drop its contents).
    ReplacesDirectory {
        /// The entry's name.
        name: &'static str,
    },
    /// The entry is a FIFO, a socket, a block device or a character device other than the
    /// four the VFS provides; none of them can be represented (the archive reader gives no
    /// device numbers, and pipes and sockets are not files here).
    UnsupportedFileType {
        /// The entry's name.
        name: &'static str,
        /// Its mode.
        mode: u32,
    },
    /// There are more nodes than a [`NodeId`] can count.
    TooManyNodes,
}

impl fmt::Display for BuildError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Archive(error) => write!(formatter, "{error}"),
            BuildError::InvalidName { name } => {
                write!(formatter, "initrd: entry {name:?} has an invalid name")
            }
            BuildError::ParentNotDirectory { name } => write!(
                formatter,
                "initrd: a parent of entry {name:?} is not a directory"
            ),
            BuildError::ReplacesDirectory { name } => write!(
                formatter,
                "initrd: entry {name:?} would replace a directory by a non-directory"
            ),
            BuildError::UnsupportedFileType { name, mode } => write!(
                formatter,
                "initrd: entry {name:?} has a file type the VFS cannot hold (mode {mode:#o})"
            ),
            BuildError::TooManyNodes => write!(formatter, "initrd: too many entries"),
        }
    }
}

impl From<InitrdError> for BuildError {
    fn from(error: InitrdError) -> Self {
        BuildError::Archive(error)
    }
}

impl Vfs {
    /// Builds the tree from a cpio newc archive (names like `bin/busybox`, `./bin/busybox`
    /// or `/bin/busybox` all mean `/bin/busybox`), then adds `/dev` with `null`, `zero`,
    /// `console` and `tty`. File contents and link targets stay in `archive`.
    ///
    /// # Errors
    /// [`BuildError`] says which entry could not be placed and why; see the module
    /// documentation for the rules on duplicate names.
    pub fn from_initrd(archive: &'static [u8]) -> Result<Vfs, BuildError> {
        let initrd = Initrd::new(archive)?;
        let mut vfs = Vfs::with_nodes(Vec::new());
        vfs.nodes.push(Node {
            kind: NodeKind::Directory(Directory {
                entries: BTreeMap::new(),
                parent: NodeId::ROOT,
            }),
            permissions: IMPLICIT_DIRECTORY_PERMISSIONS,
            file_system: FileSystem::Initrd,
        });
        for entry in initrd.entries() {
            vfs.add_archive_entry(entry?)?;
        }
        vfs.add_devices()?;
        Ok(vfs)
    }

    /// Places one archive entry.
    fn add_archive_entry(&mut self, entry: Entry<'static>) -> Result<(), BuildError> {
        let name = entry.name;
        let permissions = entry.mode & PERMISSION_AND_SPECIAL_BITS;
        let unsupported = BuildError::UnsupportedFileType {
            name,
            mode: entry.mode,
        };
        let components = archive_components(name)?;
        let kind = match entry.mode & S_IFMT {
            S_IFDIR => NodeKind::Directory(Directory {
                entries: BTreeMap::new(),
                // Set when the directory is linked into its parent.
                parent: NodeId::ROOT,
            }),
            S_IFREG => NodeKind::RegularFile(Contents::Archive(entry.data)),
            S_IFLNK => NodeKind::SymbolicLink(entry.data),
            S_IFCHR if is_device_path(&components) => return Ok(()),
            _ => return Err(unsupported),
        };
        let Some((last, parents)) = components.split_last() else {
            // The entry is the root itself (".").
            return match kind {
                NodeKind::Directory(_) => {
                    self.nodes[NodeId::ROOT.index()].permissions = permissions;
                    Ok(())
                }
                _ => Err(BuildError::ReplacesDirectory { name }),
            };
        };
        let mut parent = NodeId::ROOT;
        for component in parents {
            parent = self.directory_child(parent, component, name)?;
        }
        self.link(
            parent,
            last,
            Node {
                kind,
                permissions,
                file_system: FileSystem::Initrd,
            },
            name,
        )
    }

    /// Creates `/dev` if the archive has none and links the four device nodes into it.
    fn add_devices(&mut self) -> Result<(), BuildError> {
        let devices = match self.child(NodeId::ROOT, b"dev") {
            Some(existing) if self.node(existing).is_directory() => existing,
            Some(_) => return Err(BuildError::ParentNotDirectory { name: "dev" }),
            None => self.link_new(
                NodeId::ROOT,
                b"dev",
                Node {
                    kind: NodeKind::Directory(Directory {
                        entries: BTreeMap::new(),
                        parent: NodeId::ROOT,
                    }),
                    permissions: IMPLICIT_DIRECTORY_PERMISSIONS,
                    file_system: FileSystem::Devices,
                },
            )?,
        };
        for device in Device::ALL {
            self.link(
                devices,
                device.name().as_bytes(),
                Node {
                    kind: NodeKind::CharacterDevice(device),
                    permissions: device.permissions(),
                    file_system: FileSystem::Devices,
                },
                device.path(),
            )?;
        }
        Ok(())
    }

    /// The entry `name` of directory `directory`, if there is one.
    fn child(&self, directory: NodeId, name: &[u8]) -> Option<NodeId> {
        self.node(directory)
            .directory()
            .and_then(|directory| directory.entries.get(name).copied())
    }

    /// The subdirectory `component` of `parent`, created with the implicit permissions if
    /// missing; `entry_name` is what errors name.
    fn directory_child(
        &mut self,
        parent: NodeId,
        component: &[u8],
        entry_name: &'static str,
    ) -> Result<NodeId, BuildError> {
        match self.child(parent, component) {
            Some(existing) if self.node(existing).is_directory() => Ok(existing),
            Some(_) => Err(BuildError::ParentNotDirectory { name: entry_name }),
            None => self.link_new(
                parent,
                component,
                Node {
                    kind: NodeKind::Directory(Directory {
                        entries: BTreeMap::new(),
                        parent,
                    }),
                    permissions: IMPLICIT_DIRECTORY_PERMISSIONS,
                    file_system: FileSystem::Initrd,
                },
            ),
        }
    }

    /// Puts `node` at `name` in `parent` under the duplicate-name rules of the module
    /// documentation.
    fn link(
        &mut self,
        parent: NodeId,
        name: &[u8],
        node: Node,
        entry_name: &'static str,
    ) -> Result<(), BuildError> {
        let Some(existing) = self.child(parent, name) else {
            return self.link_new(parent, name, node).map(|_| ());
        };
        let existing_node = &mut self.nodes[existing.index()];
        match (&existing_node.kind, &node.kind) {
            (NodeKind::Directory(_), NodeKind::Directory(_)) => {
                existing_node.permissions = node.permissions;
            }
            (NodeKind::Directory(_), _) => {
                return Err(BuildError::ReplacesDirectory { name: entry_name });
            }
            (_, _) => {
                *existing_node = node;
                if let NodeKind::Directory(directory) = &mut existing_node.kind {
                    directory.parent = parent;
                }
            }
        }
        Ok(())
    }

    /// Adds `node` to the arena and links it as `name` in `parent` (which must be a
    /// directory without that entry).
    fn link_new(
        &mut self,
        parent: NodeId,
        name: &[u8],
        mut node: Node,
    ) -> Result<NodeId, BuildError> {
        let id = NodeId::from_index(self.nodes.len()).ok_or(BuildError::TooManyNodes)?;
        if let NodeKind::Directory(directory) = &mut node.kind {
            directory.parent = parent;
        }
        self.nodes.push(node);
        if let NodeKind::Directory(directory) = &mut self.nodes[parent.index()].kind {
            directory.entries.insert(name.to_vec(), id);
        }
        Ok(id)
    }
}

/// The components of an archive name: empty components and `.` are dropped (so leading
/// `./` and `/`, doubled and trailing slashes mean nothing), `..` and names longer than
/// [`NAME_MAX`] are refused. No components means the root.
fn archive_components(name: &'static str) -> Result<Vec<&'static [u8]>, BuildError> {
    let mut components = Vec::new();
    for component in name.as_bytes().split(|&byte| byte == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err(BuildError::InvalidName { name }),
            _ if component.len() > NAME_MAX => return Err(BuildError::InvalidName { name }),
            _ => components.push(component),
        }
    }
    Ok(components)
}

/// Whether `components` name one of the device nodes the VFS provides.
fn is_device_path(components: &[&[u8]]) -> bool {
    match components {
        [b"dev", name] => Device::ALL
            .iter()
            .any(|device| device.name().as_bytes() == *name),
        _ => false,
    }
}
