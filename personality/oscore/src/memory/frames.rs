//! The server's own memory, as the address spaces see it.
//!
//! An address space never touches memory directly: it asks a [`Frames`] implementation for a
//! zeroed frame, reads and writes a frame's bytes through it, gives frames back and tells it
//! when a client must lose rights to a frame. In the server the glue implements it with pages
//! of the server's own address space (got from sigma0), and revocation is `fpage_unmap` on
//! the server's page, which takes the rights away from every mapping derived from it; in host
//! tests [`super::testing::VecFrames`] implements it with boxed pages and checks that frames
//! are not freed twice or used after being freed.

use core::fmt;

use super::PAGE_BYTES;
use super::rights::Rights;

/// How big a pool of frames is and how much of it is free (for `sysinfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameStatistics {
    /// Frames the pool can hand out in all (free or not).
    pub total: u64,
    /// Frames it can still hand out.
    pub free: u64,
}

/// A pool of page frames the server owns and maps into its clients.
pub trait Frames {
    /// Names a frame: in the server, the address of the page in its own address space.
    type Frame: Copy + Eq + Ord + fmt::Debug;

    /// A zeroed frame, or `None` when the server is out of memory.
    fn allocate(&mut self) -> Option<Self::Frame>;

    /// Gives a frame back.
    ///
    /// Contract for the implementation: before the frame is handed out again, every client
    /// mapping of it is revoked (in the server: `fpage_unmap` of the server's page with all
    /// rights, recipients only). The address spaces call this exactly once per frame they
    /// own and never use the frame afterwards.
    fn free(&mut self, frame: Self::Frame);

    /// Takes `rights` away from every client mapping of `frame`, at once (in the server:
    /// `fpage_unmap` of the server's page with these rights, recipients only). Removing
    /// [`Rights::READ`] removes the mappings entirely. The frame stays allocated and its
    /// contents stay; a client that needs the rights again faults and is mapped anew.
    ///
    /// Called by `mprotect` when it reduces the rights of present pages, and for shared
    /// frames that one process unmaps while others keep them.
    fn revoke(&mut self, frame: Self::Frame, rights: Rights);

    /// The pool's size and free frames, when it knows them: what `sysinfo` reports as
    /// `totalram` and `freeram`. The provided version knows nothing (`sysinfo` then reports
    /// no memory), for pools without a fixed size.
    fn statistics(&self) -> Option<FrameStatistics> {
        None
    }

    /// The frame's contents.
    fn bytes(&self, frame: Self::Frame) -> &[u8; PAGE_BYTES];

    /// The frame's contents, to write. Writing to a frame that a client has mapped with
    /// execute rights needs instruction-cache maintenance before the client runs it; the
    /// address spaces only write to frames through [`super::AddressSpace::write`] and while
    /// populating a page before it is mapped, and the glue does that maintenance when it maps
    /// a page with execute rights (see [`super::Mapping`]).
    fn bytes_mut(&mut self, frame: Self::Frame) -> &mut [u8; PAGE_BYTES];

    /// Copies one frame's contents into another (fork). The provided version goes through a
    /// page-sized buffer on the stack; the server may copy directly instead.
    fn copy(&mut self, source: Self::Frame, destination: Self::Frame) {
        let contents = *self.bytes(source);
        self.bytes_mut(destination).copy_from_slice(&contents);
    }
}
