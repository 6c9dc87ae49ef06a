//! Areas: the page-aligned ranges of a client's address space that may hold memory (Linux's
//! virtual memory areas), each with one protection and one way to fill an absent page.
//!
//! Backings are described by *client address*, not by offset: an image area holds the file
//! bytes of every segment of its program with the address each starts at, and a page is
//! filled with whatever bytes fall into it (zero elsewhere). That makes splitting an area
//! (`munmap`, `mprotect`) a matter of changing its bounds, and it fills a page shared by two
//! segments (the end of one and the start of the next) with both parts without special cases.
//! Shared anonymous memory is the exception: its pages belong to a [`SharedMemory`] object
//! that is addressed by offset, since the areas of several processes refer to it.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use core::cell::RefCell;
use core::fmt;
use core::ops::Range;

use super::rights::Protection;
use super::{PAGE_BYTES, PAGE_SIZE};

/// File bytes of one program segment and the client address the first of them goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ImagePiece {
    /// The client address of `bytes[0]`.
    pub(crate) address: u64,
    /// The segment's file bytes (`p_filesz` of them); the rest of its memory is zero.
    pub(crate) bytes: &'static [u8],
}

impl fmt::Debug for ImagePiece {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "ImagePiece({:#x}, {} bytes)",
            self.address,
            self.bytes.len()
        )
    }
}

/// Pages of a `MAP_SHARED | MAP_ANONYMOUS` mapping, by offset from its start. The frames
/// belong to this object, not to any page table, and are freed when the last area referring
/// to it goes away.
#[derive(Debug)]
pub(crate) struct SharedMemory<Frame> {
    /// Present pages: page offset (a multiple of the page size) -> frame.
    pub(crate) pages: BTreeMap<u64, Frame>,
}

/// A handle on a shared object, as areas hold it.
pub(crate) type SharedHandle<Frame> = Rc<RefCell<SharedMemory<Frame>>>;

/// How an absent page of an area is filled.
#[derive(Debug)]
pub(crate) enum Backing<Frame> {
    /// Private zero-filled memory.
    Anonymous,
    /// Private memory starting with the bytes of a program image: every piece that overlaps
    /// the page is copied in, the rest is zero. All areas of one image share the pieces.
    Image(Rc<[ImagePiece]>),
    /// Shared memory: the page at `offset` plus the page's offset within the area.
    Shared {
        /// The object holding the pages.
        memory: SharedHandle<Frame>,
        /// The offset in the object of the area's first page.
        offset: u64,
    },
}

impl<Frame> Clone for Backing<Frame> {
    fn clone(&self) -> Self {
        match self {
            Backing::Anonymous => Backing::Anonymous,
            Backing::Image(pieces) => Backing::Image(Rc::clone(pieces)),
            Backing::Shared { memory, offset } => Backing::Shared {
                memory: Rc::clone(memory),
                offset: *offset,
            },
        }
    }
}

/// An area, as an address space's map from start address to area keeps it.
#[derive(Debug)]
pub(crate) struct Area<Frame> {
    /// One past the last byte (page aligned).
    pub(crate) end: u64,
    /// What the client asked for.
    pub(crate) protection: Protection,
    /// How absent pages are filled.
    pub(crate) backing: Backing<Frame>,
    /// Whether a fault just below the area extends it downward (the stack, `MAP_GROWSDOWN`).
    pub(crate) grows_down: bool,
}

impl<Frame> Area<Frame> {
    /// The part of this area (which starts at `start`) from `split` on, leaving `self` ending
    /// at `split`. `start < split < self.end`.
    pub(crate) fn split_off(&mut self, start: u64, split: u64) -> Area<Frame> {
        let backing = match &self.backing {
            Backing::Shared { memory, offset } => Backing::Shared {
                memory: Rc::clone(memory),
                offset: offset + (split - start),
            },
            other => other.clone(),
        };
        let upper = Area {
            end: self.end,
            protection: self.protection,
            backing,
            grows_down: self.grows_down,
        };
        self.end = split;
        upper
    }

    /// Whether `upper`, starting where this area (starting at `start`) ends, could be the same
    /// area: same protection, same growth and the same backing continuing.
    pub(crate) fn continues_into(&self, start: u64, upper: &Area<Frame>) -> bool {
        if self.protection != upper.protection || self.grows_down != upper.grows_down {
            return false;
        }
        match (&self.backing, &upper.backing) {
            (Backing::Anonymous, Backing::Anonymous) => true,
            (Backing::Image(lower), Backing::Image(higher)) => Rc::ptr_eq(lower, higher),
            (
                Backing::Shared {
                    memory: lower,
                    offset: lower_offset,
                },
                Backing::Shared {
                    memory: higher,
                    offset: higher_offset,
                },
            ) => Rc::ptr_eq(lower, higher) && lower_offset + (self.end - start) == *higher_offset,
            _ => false,
        }
    }
}

/// Copies the image bytes that fall into the page at `page` into `contents` (a zeroed page).
pub(crate) fn fill_from_image(pieces: &[ImagePiece], page: u64, contents: &mut [u8; PAGE_BYTES]) {
    let page_end = page + PAGE_SIZE;
    for piece in pieces {
        // Pieces were checked at load time: address + length fits in the user range.
        let piece_end = piece.address + piece.bytes.len() as u64;
        let start = piece.address.max(page);
        let end = piece_end.min(page_end);
        if start >= end {
            continue;
        }
        let source = (start - piece.address) as usize..(end - piece.address) as usize;
        let destination = (start - page) as usize..(end - page) as usize;
        if let (Some(source), Some(destination)) =
            (piece.bytes.get(source), contents.get_mut(destination))
        {
            destination.copy_from_slice(source);
        }
    }
}

/// What an area is filled from, as [`AreaInfo`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackingKind {
    /// Private zero-filled memory (the heap, anonymous `mmap`, the stack).
    Anonymous,
    /// Private copies of a program image's pages.
    Image,
    /// Shared anonymous memory.
    Shared,
}

/// A description of one area, for the glue and for `/proc/self/maps`-like reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AreaInfo {
    /// The page-aligned range.
    pub range: Range<u64>,
    /// The protection the client asked for.
    pub protection: Protection,
    /// What absent pages are filled from.
    pub backing: BackingKind,
    /// Whether the area grows down on faults below it.
    pub grows_down: bool,
}

impl<Frame> Area<Frame> {
    /// The description of this area, which starts at `start`.
    pub(crate) fn info(&self, start: u64) -> AreaInfo {
        AreaInfo {
            range: start..self.end,
            protection: self.protection,
            backing: match self.backing {
                Backing::Anonymous => BackingKind::Anonymous,
                Backing::Image(_) => BackingKind::Image,
                Backing::Shared { .. } => BackingKind::Shared,
            },
            grows_down: self.grows_down,
        }
    }
}
