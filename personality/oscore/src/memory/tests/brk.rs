//! `brk` with Linux's semantics.

use linux_abi::memory::{MAP_FIXED, PROT_READ};

use super::{PAGE, PRIVATE, area_bounds, finish, new_space};
use crate::memory::testing::VecFrames;
use crate::memory::{AddressSpace, MemoryLimits, Protection};

/// A space whose heap starts at `start`, as exec leaves it.
fn with_heap_at(start: u64) -> AddressSpace<u64> {
    let mut space = new_space();
    space.set_break_start(start);
    space
}

const HEAP: u64 = 0x50_0000;

#[test]
fn brk_before_a_program_is_loaded_returns_zero() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(space.brk(&mut frames, 0), 0);
    assert_eq!(space.brk(&mut frames, 0x50_0000), 0);
    finish(space, &mut frames);
}

#[test]
fn brk_zero_and_values_below_the_start_return_the_current_break() {
    let mut frames = VecFrames::new();
    let mut space = with_heap_at(HEAP);
    assert_eq!(space.brk(&mut frames, 0), HEAP);
    assert_eq!(space.brk(&mut frames, HEAP + 100), HEAP + 100);
    assert_eq!(space.brk(&mut frames, HEAP - 1), HEAP + 100);
    assert_eq!(space.brk(&mut frames, 0), HEAP + 100);
    finish(space, &mut frames);
}

#[test]
fn brk_grows_the_heap_with_read_write_memory() {
    let mut frames = VecFrames::new();
    let mut space = with_heap_at(HEAP);
    assert_eq!(space.brk(&mut frames, HEAP + 3 * PAGE), HEAP + 3 * PAGE);
    assert_eq!(area_bounds(&space), [(HEAP, HEAP + 3 * PAGE)]);
    assert_eq!(
        space.areas().next().unwrap().protection,
        Protection::READ_WRITE
    );
    space.write(&mut frames, HEAP + 2 * PAGE, b"heap").unwrap();
    assert!(space.write(&mut frames, HEAP + 3 * PAGE, b"x").is_err());
    // Growing again extends the same area.
    space.brk(&mut frames, HEAP + 5 * PAGE);
    assert_eq!(area_bounds(&space), [(HEAP, HEAP + 5 * PAGE)]);
    finish(space, &mut frames);
}

#[test]
fn an_unaligned_break_is_kept_exactly_and_its_page_is_mapped() {
    let mut frames = VecFrames::new();
    let mut space = with_heap_at(HEAP);
    assert_eq!(space.brk(&mut frames, HEAP + 10), HEAP + 10);
    assert_eq!(space.program_break(), HEAP + 10);
    assert_eq!(area_bounds(&space), [(HEAP, HEAP + PAGE)]);
    assert_eq!(space.brk(&mut frames, HEAP + PAGE), HEAP + PAGE);
    assert_eq!(area_bounds(&space), [(HEAP, HEAP + PAGE)]);
    finish(space, &mut frames);
}

#[test]
fn brk_shrinking_frees_the_pages_beyond_the_new_break() {
    let mut frames = VecFrames::new();
    let mut space = with_heap_at(HEAP);
    space.brk(&mut frames, HEAP + 4 * PAGE);
    space.write(&mut frames, HEAP, &[7; 4 * 4096]).unwrap();
    assert_eq!(frames.live_count(), 4);
    assert_eq!(space.brk(&mut frames, HEAP + PAGE + 1), HEAP + PAGE + 1);
    assert_eq!(frames.live_count(), 2);
    assert_eq!(area_bounds(&space), [(HEAP, HEAP + 2 * PAGE)]);
    // Growing again brings fresh zeroed pages.
    space.brk(&mut frames, HEAP + 4 * PAGE);
    let mut byte = [0xff];
    space.read(&mut frames, HEAP + 3 * PAGE, &mut byte).unwrap();
    assert_eq!(byte, [0]);
    assert_eq!(space.brk(&mut frames, HEAP), HEAP);
    assert_eq!(area_bounds(&space), []);
    finish(space, &mut frames);
}

#[test]
fn brk_cannot_grow_into_another_mapping_or_its_last_free_page() {
    let mut frames = VecFrames::new();
    let mut space = with_heap_at(HEAP);
    let blocker = HEAP + 8 * PAGE;
    space
        .mmap(&mut frames, blocker, PAGE, PROT_READ, PRIVATE | MAP_FIXED)
        .unwrap();
    assert_eq!(space.brk(&mut frames, blocker + PAGE), HEAP);
    assert_eq!(
        space.brk(&mut frames, blocker),
        HEAP,
        "one page must stay free"
    );
    assert_eq!(space.brk(&mut frames, blocker - PAGE), blocker - PAGE);
    assert_eq!(space.brk(&mut frames, u64::MAX), blocker - PAGE);
    finish(space, &mut frames);
}

#[test]
fn brk_respects_the_data_limit() {
    let mut frames = VecFrames::new();
    let mut space = with_heap_at(HEAP);
    space.set_limits(MemoryLimits {
        data: 2 * PAGE,
        ..MemoryLimits::default()
    });
    assert_eq!(space.brk(&mut frames, HEAP + 2 * PAGE), HEAP + 2 * PAGE);
    assert_eq!(space.brk(&mut frames, HEAP + 2 * PAGE + 1), HEAP + 2 * PAGE);
    finish(space, &mut frames);
}
