//! The one error type of the crate: what was wrong with the blob, or with the caller's buffer.
//!
//! Errors are typed, carry no strings built at run time, and say who is to blame: everything
//! but [`Error::IndexBufferTooSmall`] and [`Error::MisalignedBlob`] is a fault of the blob
//! itself. Names in `&'static str` payloads are the device-tree node or property concerned, so
//! the kernel can print one precise line before it stops.

use core::fmt;

use fdt_rs::error::DevTreeError;

/// Why a device tree blob could not be turned into a [`crate::Machine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The slice is shorter than the FDT header, or than the header's `totalsize`.
    Truncated,
    /// The blob does not start with the FDT magic `0xd00dfeed`.
    BadMagic,
    /// The blob does not start on a 4-byte boundary, which `fdt-rs` requires (the boot protocol
    /// guarantees 8).
    MisalignedBlob,
    /// The header's offsets and sizes do not describe blocks inside the blob, or the memory
    /// reservation block is not terminated.
    BadHeader,
    /// The header announces a format version this reader does not understand (it needs 17).
    UnsupportedVersion {
        /// The header's `version` field.
        version: u32,
        /// The header's `last_comp_version` field.
        last_compatible_version: u32,
    },
    /// The structure block is not a well-formed sequence of tokens (unbalanced nodes, a
    /// property outside a node, a name that is not UTF-8, a string offset out of range, ...).
    MalformedStructure,
    /// The index buffer passed to [`crate::parse`] cannot hold the index of this blob.
    IndexBufferTooSmall {
        /// Bytes this buffer would need to have, counting the bytes skipped to align the index.
        needed: usize,
    },
    /// A node the machine cannot be described without is absent (named by its path).
    MissingNode(&'static str),
    /// A property that must be present is absent (named by its property name).
    MissingProperty(&'static str),
    /// A property has the wrong length, an unsupported cell count, an out-of-range value or
    /// refers to something that does not exist (named by its property name).
    BadProperty(&'static str),
    /// No node with `device_type = "memory"` describes any RAM.
    NoMemory,
    /// No `/cpus/cpu@…` node with `device_type = "cpu"`.
    NoCpus,
    /// No GICv2 or GICv3 node with a compatible string this crate knows.
    NoInterruptController,
    /// No `arm,armv8-timer` (or `arm,armv7-timer`) node.
    NoTimer,
    /// A fixed-capacity list is full (named: `"memory"`, `"reserved"` or `"cpus"`).
    CapacityExceeded(&'static str),
}

impl Error {
    /// Maps an `fdt-rs` error met while opening the blob or walking its structure.
    pub(crate) fn from_structure(error: DevTreeError) -> Self {
        match error {
            DevTreeError::InvalidMagicNumber => Error::BadMagic,
            // The only parameter `fdt-rs` checks is the alignment of the blob.
            DevTreeError::InvalidParameter(_) => Error::MisalignedBlob,
            DevTreeError::InvalidOffset
            | DevTreeError::ParseError
            | DevTreeError::StrError(_)
            | DevTreeError::NotEnoughMemory => Error::MalformedStructure,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => write!(formatter, "device tree blob is truncated"),
            Error::BadMagic => write!(formatter, "device tree blob has a bad magic number"),
            Error::MisalignedBlob => write!(formatter, "device tree blob is not 4-byte aligned"),
            Error::BadHeader => write!(formatter, "device tree header is inconsistent"),
            Error::UnsupportedVersion {
                version,
                last_compatible_version,
            } => write!(
                formatter,
                "device tree version {version} (compatible with {last_compatible_version}) is not supported"
            ),
            Error::MalformedStructure => {
                write!(formatter, "device tree structure block is malformed")
            }
            Error::IndexBufferTooSmall { needed } => {
                write!(formatter, "device tree index needs a {needed}-byte buffer")
            }
            Error::MissingNode(path) => write!(formatter, "device tree has no {path} node"),
            Error::MissingProperty(name) => {
                write!(formatter, "device tree lacks the property {name}")
            }
            Error::BadProperty(name) => {
                write!(formatter, "device tree property {name} is malformed")
            }
            Error::NoMemory => write!(formatter, "device tree describes no memory"),
            Error::NoCpus => write!(formatter, "device tree describes no CPU"),
            Error::NoInterruptController => {
                write!(formatter, "device tree describes no GICv2 or GICv3")
            }
            Error::NoTimer => write!(formatter, "device tree describes no architected timer"),
            Error::CapacityExceeded(list) => {
                write!(formatter, "too many {list} entries in the device tree")
            }
        }
    }
}
