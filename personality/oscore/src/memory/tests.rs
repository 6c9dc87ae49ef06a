//! Host tests of the address spaces, on [`VecFrames`], which panics on double frees and uses
//! after free; most tests end with [`finish`], which clears the space and checks that no
//! frame leaked.

use linux_abi::memory::{MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE};

use super::testing::{TestFrame, VecFrames};
use super::{AddressSpace, Layout};

mod brk;
mod exec;
mod fault;
mod fork;
mod layout;
mod mmap;
mod protect;
mod script;
mod user;

/// `MAP_PRIVATE | MAP_ANONYMOUS`.
const PRIVATE: u32 = MAP_PRIVATE | MAP_ANONYMOUS;
/// `MAP_SHARED | MAP_ANONYMOUS`.
const SHARED: u32 = MAP_SHARED | MAP_ANONYMOUS;
/// `PROT_READ | PROT_WRITE`.
const READ_WRITE: u32 = PROT_READ | PROT_WRITE;
/// One page.
const PAGE: u64 = super::PAGE_SIZE;

/// An empty address space with the default layout.
fn new_space() -> AddressSpace<TestFrame> {
    AddressSpace::new(Layout::default())
}

/// Maps `pages` pages of private anonymous memory with `prot` at a free place.
fn map_anonymous(
    space: &mut AddressSpace<TestFrame>,
    frames: &mut VecFrames,
    pages: u64,
    prot: u32,
) -> u64 {
    space
        .mmap(frames, 0, pages * PAGE, prot, PRIVATE)
        .expect("anonymous mmap")
}

/// Clears the space and checks that every frame came back.
fn finish(mut space: AddressSpace<TestFrame>, frames: &mut VecFrames) {
    space.clear(frames);
    assert_eq!(space.owned_frame_count(), 0);
    assert_eq!(space.areas().count(), 0);
    assert_eq!(frames.live_count(), 0, "frames leaked");
}

/// The areas as (start, end) pairs.
fn area_bounds(space: &AddressSpace<TestFrame>) -> Vec<(u64, u64)> {
    space
        .areas()
        .map(|area| (area.range.start, area.range.end))
        .collect()
}
