//! Nodes (inodes) of the tree: what kind of file each is, where its bytes are, which file
//! system it belongs to, and the device numbers of the device nodes.
//!
//! The kind is an enum rather than a trait object because the set of kinds is closed and
//! small, and every operation (read, lseek, getdents64, stat) needs to branch on it anyway;
//! a writable tmpfs adds variants (owned file contents) here and a writable [`FileSystem`],
//! and the match arms that must change are then found by the compiler.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use linux_abi::file::{S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG};

/// Identifies a node of the [`Vfs`](super::Vfs); also its inode number, see
/// [`NodeId::inode_number`]. Only the `Vfs` creates these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(u32);

impl NodeId {
    /// The root directory, the first node of every tree.
    pub(crate) const ROOT: NodeId = NodeId(0);

    /// The node at arena index `index`, or `None` past the 2^32 nodes an id can name.
    pub(crate) fn from_index(index: usize) -> Option<NodeId> {
        u32::try_from(index).ok().map(NodeId)
    }

    /// The arena index (lossless: `usize` has at least 32 bits, asserted below).
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }

    /// The inode number `stat` and `getdents64` report: the arena index plus one, so the
    /// root is inode 1 and no file has inode 0 (which some readdir implementations take for
    /// a deleted entry). Unique within the tree and stable for the node's life.
    pub fn inode_number(self) -> u64 {
        u64::from(self.0) + 1
    }
}

const _: () = assert!(usize::BITS >= u32::BITS);

/// The device number encoding glibc's and musl's `makedev` use (and the kernel's
/// `new_encode_dev` for 64 bits): minor bits 0..8 in bits 0..8, major bits 0..12 in bits
/// 8..20, minor bits 8..32 in bits 20..44, major bits 12..32 in bits 44..64.
pub const fn make_device_number(major: u32, minor: u32) -> u64 {
    let major = major as u64;
    let minor = minor as u64;
    ((major & 0xffff_f000) << 32)
        | ((major & 0x0000_0fff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0x0000_00ff)
}

/// `st_dev` of the files from the initrd: an anonymous device (major 0), as Linux gives its
/// in-memory root file system.
pub const INITRD_FILE_SYSTEM_DEVICE: u64 = make_device_number(0, 1);

/// `st_dev` of `/dev` (when the VFS creates it) and of the device nodes in it, as Linux's
/// devtmpfs is a file system of its own.
pub const DEVICES_FILE_SYSTEM_DEVICE: u64 = make_device_number(0, 5);

/// The file system a node belongs to: decides `st_dev` and whether it may be changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileSystem {
    /// The initrd, unpacked in place: read-only.
    Initrd,
    /// The device nodes (and `/dev` itself when the archive lacks it): read-only too, so no
    /// files can be created in `/dev`; the devices themselves can still be written.
    Devices,
}

impl FileSystem {
    /// The `st_dev` of its files.
    pub(crate) fn device_number(self) -> u64 {
        match self {
            FileSystem::Initrd => INITRD_FILE_SYSTEM_DEVICE,
            FileSystem::Devices => DEVICES_FILE_SYSTEM_DEVICE,
        }
    }

    /// Whether creating, removing or changing its files is refused with `EROFS`.
    pub(crate) fn is_read_only(self) -> bool {
        match self {
            FileSystem::Initrd | FileSystem::Devices => true,
        }
    }
}

/// The character devices the VFS provides in `/dev`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// `/dev/null` (1, 3): reads end at once, writes succeed and vanish. Implemented here.
    Null,
    /// `/dev/zero` (1, 5): reads give zeros, writes succeed and vanish. Implemented here.
    Zero,
    /// `/dev/console` (5, 1): the system console. Its reads, writes and ioctls belong to the
    /// tty module; the VFS only routes them there.
    Console,
    /// `/dev/tty` (5, 0): the calling process's controlling terminal. Routed like
    /// [`Device::Console`]; the dispatcher decides which terminal that is (and answers
    /// `ENXIO` for a process without one, as Linux does).
    ControllingTerminal,
}

impl Device {
    /// Every device, in the order `/dev` lists them.
    pub const ALL: [Device; 4] = [
        Device::Null,
        Device::Zero,
        Device::Console,
        Device::ControllingTerminal,
    ];

    /// The name in `/dev`.
    pub fn name(self) -> &'static str {
        match self {
            Device::Null => "null",
            Device::Zero => "zero",
            Device::Console => "console",
            Device::ControllingTerminal => "tty",
        }
    }

    /// The path from the root, as build errors name it.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Device::Null => "dev/null",
            Device::Zero => "dev/zero",
            Device::Console => "dev/console",
            Device::ControllingTerminal => "dev/tty",
        }
    }

    /// The major device number (`Documentation/admin-guide/devices.txt`).
    pub fn major(self) -> u32 {
        match self {
            Device::Null | Device::Zero => 1,
            Device::Console | Device::ControllingTerminal => 5,
        }
    }

    /// The minor device number.
    pub fn minor(self) -> u32 {
        match self {
            Device::Null => 3,
            Device::Zero => 5,
            Device::Console => 1,
            Device::ControllingTerminal => 0,
        }
    }

    /// `st_rdev`: major and minor in the `makedev` encoding.
    pub fn device_number(self) -> u64 {
        make_device_number(self.major(), self.minor())
    }

    /// The permission bits devtmpfs gives it: the console is root's alone, the rest are
    /// everyone's.
    pub fn permissions(self) -> u32 {
        match self {
            Device::Console => 0o600,
            Device::Null | Device::Zero | Device::ControllingTerminal => 0o666,
        }
    }

    /// Whether it is a terminal, whose I/O and ioctls the tty module answers.
    pub fn is_terminal(self) -> bool {
        matches!(self, Device::Console | Device::ControllingTerminal)
    }
}

/// Where a regular file's bytes are.
#[derive(Debug)]
pub(crate) enum Contents {
    /// A slice of the initrd archive, never copied and never changed.
    Archive(&'static [u8]),
}

impl Contents {
    /// The bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Contents::Archive(bytes) => bytes,
        }
    }
}

/// A directory: its entries by name (sorted, which fixes the order `getdents64` lists them
/// in) and its parent (itself for the root), which `..` and `getcwd` follow.
#[derive(Debug)]
pub(crate) struct Directory {
    pub(crate) entries: BTreeMap<Vec<u8>, NodeId>,
    pub(crate) parent: NodeId,
}

/// What a node is.
#[derive(Debug)]
pub(crate) enum NodeKind {
    /// A directory.
    Directory(Directory),
    /// A regular file.
    RegularFile(Contents),
    /// A symbolic link; the target path as stored (an archive slice).
    SymbolicLink(&'static [u8]),
    /// A character device.
    CharacterDevice(Device),
}

/// One node of the tree.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) kind: NodeKind,
    /// The permission bits with set-user-ID, set-group-ID and sticky (`0o7777`); the type
    /// bits come from [`Node::kind`].
    pub(crate) permissions: u32,
    pub(crate) file_system: FileSystem,
}

impl Node {
    /// The `S_IF*` type bits.
    pub(crate) fn type_bits(&self) -> u32 {
        match self.kind {
            NodeKind::Directory(_) => S_IFDIR,
            NodeKind::RegularFile(_) => S_IFREG,
            NodeKind::SymbolicLink(_) => S_IFLNK,
            NodeKind::CharacterDevice(_) => S_IFCHR,
        }
    }

    /// `st_mode`: type and permission bits.
    pub(crate) fn mode(&self) -> u32 {
        self.type_bits() | self.permissions
    }

    /// The directory, if this is one.
    pub(crate) fn directory(&self) -> Option<&Directory> {
        match &self.kind {
            NodeKind::Directory(directory) => Some(directory),
            _ => None,
        }
    }

    /// Whether this is a directory.
    pub(crate) fn is_directory(&self) -> bool {
        self.directory().is_some()
    }

    /// The device, if this is a device node.
    pub(crate) fn device(&self) -> Option<Device> {
        match self.kind {
            NodeKind::CharacterDevice(device) => Some(device),
            _ => None,
        }
    }

    /// Whether a write permission check on it answers `EROFS`: Linux's `sb_permission`
    /// refuses writes to regular files, directories and links on a read-only file system,
    /// but not to devices, FIFOs and sockets, whose writes never reach the file system.
    pub(crate) fn write_is_read_only(&self) -> bool {
        let stored_in_file_system = matches!(
            self.kind,
            NodeKind::Directory(_) | NodeKind::RegularFile(_) | NodeKind::SymbolicLink(_)
        );
        stored_in_file_system && self.file_system.is_read_only()
    }
}
