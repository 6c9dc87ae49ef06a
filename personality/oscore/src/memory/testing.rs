//! A [`Frames`] pool for host tests, with real semantics: frames are boxed zeroed pages,
//! there is an optional limit to test running out of memory, and the misuses that would
//! corrupt a real server — freeing a frame twice, touching a freed frame — panic at once.
//! Every revocation is recorded so tests can check what `mprotect` or `munmap` took away.
//!
//! Frame numbers are never reused, so a stale frame can never alias a live one.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use super::PAGE_BYTES;
use super::frames::{FrameStatistics, Frames};
use super::rights::Rights;

/// A frame of a [`VecFrames`] pool: its number, never reused.
pub type TestFrame = u64;

/// A pool of boxed pages; see the module documentation.
#[derive(Default)]
pub struct VecFrames {
    live: BTreeMap<TestFrame, Box<[u8; PAGE_BYTES]>>,
    next: TestFrame,
    limit: Option<usize>,
    /// Every [`Frames::revoke`] call, in order.
    pub revocations: Vec<(TestFrame, Rights)>,
    /// How many frames were freed in all.
    pub freed: usize,
}

impl VecFrames {
    /// A pool without a limit.
    pub fn new() -> VecFrames {
        VecFrames::default()
    }

    /// A pool that hands out at most `limit` frames at a time.
    pub fn with_limit(limit: usize) -> VecFrames {
        VecFrames {
            limit: Some(limit),
            ..VecFrames::default()
        }
    }

    /// Changes the limit (`None`: unlimited).
    pub fn set_limit(&mut self, limit: Option<usize>) {
        self.limit = limit;
    }

    /// How many frames are allocated and not freed.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// Whether `frame` is allocated.
    pub fn is_live(&self, frame: TestFrame) -> bool {
        self.live.contains_key(&frame)
    }

    fn page(&self, frame: TestFrame) -> &[u8; PAGE_BYTES] {
        match self.live.get(&frame) {
            Some(page) => page,
            None => panic!("frame {frame} used after free (or never allocated)"),
        }
    }
}

impl fmt::Debug for VecFrames {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("VecFrames")
            .field("live", &self.live.len())
            .field("limit", &self.limit)
            .field("freed", &self.freed)
            .field("revocations", &self.revocations.len())
            .finish()
    }
}

impl Frames for VecFrames {
    type Frame = TestFrame;

    fn allocate(&mut self) -> Option<TestFrame> {
        if self.limit.is_some_and(|limit| self.live.len() >= limit) {
            return None;
        }
        let frame = self.next;
        self.next += 1;
        self.live.insert(frame, Box::new([0; PAGE_BYTES]));
        Some(frame)
    }

    fn free(&mut self, frame: TestFrame) {
        if self.live.remove(&frame).is_none() {
            panic!("frame {frame} freed twice (or never allocated)");
        }
        self.freed += 1;
    }

    fn revoke(&mut self, frame: TestFrame, rights: Rights) {
        self.page(frame);
        self.revocations.push((frame, rights));
    }

    /// Known for a pool with a limit: the limit, and what it leaves.
    fn statistics(&self) -> Option<FrameStatistics> {
        let total = self.limit?;
        Some(FrameStatistics {
            total: total as u64,
            free: total.saturating_sub(self.live.len()) as u64,
        })
    }

    fn bytes(&self, frame: TestFrame) -> &[u8; PAGE_BYTES] {
        self.page(frame)
    }

    fn bytes_mut(&mut self, frame: TestFrame) -> &mut [u8; PAGE_BYTES] {
        match self.live.get_mut(&frame) {
            Some(page) => page,
            None => panic!("frame {frame} used after free (or never allocated)"),
        }
    }
}
