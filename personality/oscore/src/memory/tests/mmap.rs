//! `mmap` of anonymous memory: placement, flags, errors, shared memory.

use linux_abi::errno::Errno;
use linux_abi::memory::{
    MAP_ANONYMOUS, MAP_DENYWRITE, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_NORESERVE,
    MAP_POPULATE, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_STACK, PROT_BTI, PROT_READ,
};

/// `MAP_LOCKED` (not in linux-abi).
const MAP_LOCKED: u32 = 0x2000;

use super::{PAGE, PRIVATE, READ_WRITE, SHARED, area_bounds, finish, map_anonymous, new_space};
use crate::memory::testing::VecFrames;
use crate::memory::{
    Access, AddressSpace, BackingKind, DEFAULT_MINIMUM_ADDRESS, DEFAULT_MMAP_BASE,
    DEFAULT_RESERVED, DEFAULT_USER_END, Layout, Rights,
};

#[test]
fn mmap_places_mappings_top_down_below_the_mmap_base() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let first = map_anonymous(&mut space, &mut frames, 2, READ_WRITE);
    let second = map_anonymous(&mut space, &mut frames, 3, PROT_READ);
    assert_eq!(first, DEFAULT_MMAP_BASE - 2 * PAGE);
    assert_eq!(second, first - 3 * PAGE);
    finish(space, &mut frames);
}

#[test]
fn mmap_fills_a_hole_left_by_munmap_when_it_is_the_highest_fit() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let first = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    let second = map_anonymous(&mut space, &mut frames, 1, PROT_READ);
    map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    space.munmap(&mut frames, second, PAGE).unwrap();
    assert_eq!(map_anonymous(&mut space, &mut frames, 1, PROT_READ), second);
    assert_eq!(
        map_anonymous(&mut space, &mut frames, 2, PROT_READ),
        first - 4 * PAGE,
        "two pages do not fit the hole"
    );
    finish(space, &mut frames);
}

#[test]
fn mmap_uses_a_free_hint_and_ignores_an_occupied_one() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let hint = 0x1000_0000;
    assert_eq!(
        space.mmap(&mut frames, hint, PAGE, READ_WRITE, PRIVATE),
        Ok(hint)
    );
    let elsewhere = space
        .mmap(&mut frames, hint, PAGE, READ_WRITE, PRIVATE)
        .unwrap();
    assert_ne!(elsewhere, hint);
    assert_eq!(elsewhere, DEFAULT_MMAP_BASE - PAGE);
    finish(space, &mut frames);
}

#[test]
fn mmap_rounds_an_unaligned_hint_up_and_a_low_hint_to_the_minimum() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(
        space.mmap(&mut frames, 0x1000_0001, PAGE, READ_WRITE, PRIVATE),
        Ok(0x1000_1000)
    );
    assert_eq!(
        space.mmap(&mut frames, 0x10, 1, READ_WRITE, PRIVATE),
        Ok(DEFAULT_MINIMUM_ADDRESS)
    );
    finish(space, &mut frames);
}

#[test]
fn mmap_rounds_lengths_up_to_whole_pages() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = space
        .mmap(&mut frames, 0, PAGE + 1, READ_WRITE, PRIVATE)
        .unwrap();
    assert_eq!(area_bounds(&space), [(start, start + 2 * PAGE)]);
    finish(space, &mut frames);
}

#[test]
fn mmap_refuses_a_zero_length_and_bad_mapping_types_with_einval() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(
        space.mmap(&mut frames, 0, 0, READ_WRITE, PRIVATE),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        space.mmap(&mut frames, 0, PAGE, READ_WRITE, MAP_ANONYMOUS),
        Err(Errno::EINVAL),
        "neither private nor shared"
    );
    assert_eq!(
        space.mmap(&mut frames, 0, PAGE, READ_WRITE, MAP_ANONYMOUS | 0x04),
        Err(Errno::EINVAL),
        "an unknown mapping type"
    );
    assert_eq!(
        space.mmap(&mut frames, 0, PAGE, READ_WRITE, PRIVATE | 0x4_0000),
        Err(Errno::EINVAL),
        "MAP_HUGETLB"
    );
    assert_eq!(area_bounds(&space), []);
    finish(space, &mut frames);
}

#[test]
fn mmap_refuses_unknown_protection_bits_with_einval() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(
        space.mmap(&mut frames, 0, PAGE, PROT_READ | PROT_BTI, PRIVATE),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        space.mmap(&mut frames, 0, PAGE, 0x40, PRIVATE),
        Err(Errno::EINVAL)
    );
    finish(space, &mut frames);
}

#[test]
fn mmap_without_map_anonymous_is_left_to_the_dispatcher_with_enodev() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(
        space.mmap(&mut frames, 0, PAGE, PROT_READ, MAP_PRIVATE),
        Err(Errno::ENODEV)
    );
    finish(space, &mut frames);
}

#[test]
fn map_shared_validate_of_anonymous_memory_is_einval_as_on_linux() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(
        space.mmap(
            &mut frames,
            0,
            PAGE,
            READ_WRITE,
            MAP_SHARED_VALIDATE | MAP_ANONYMOUS
        ),
        Err(Errno::EINVAL)
    );
    // The legacy types ignore unknown flags.
    assert!(
        space
            .mmap(&mut frames, 0, PAGE, READ_WRITE, PRIVATE | 0x800_0000)
            .is_ok()
    );
    let shared = space
        .mmap(&mut frames, 0, PAGE, READ_WRITE, SHARED | 0x800_0000)
        .unwrap();
    assert_eq!(
        space
            .areas()
            .find(|area| area.range.start == shared)
            .unwrap()
            .backing,
        BackingKind::Shared
    );
    finish(space, &mut frames);
}

#[test]
fn harmless_flags_are_accepted() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let flags = PRIVATE | MAP_STACK | MAP_NORESERVE | MAP_DENYWRITE | 0x1000;
    assert!(space.mmap(&mut frames, 0, PAGE, READ_WRITE, flags).is_ok());
    assert_eq!(
        frames.live_count(),
        0,
        "nothing populated without MAP_POPULATE"
    );
    finish(space, &mut frames);
}

#[test]
fn map_fixed_needs_an_aligned_address() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(
        space.mmap(
            &mut frames,
            0x1000_0010,
            PAGE,
            READ_WRITE,
            PRIVATE | MAP_FIXED
        ),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        space.mmap(
            &mut frames,
            0x1000_0010,
            PAGE,
            READ_WRITE,
            PRIVATE | MAP_FIXED_NOREPLACE
        ),
        Err(Errno::EINVAL)
    );
    finish(space, &mut frames);
}

#[test]
fn map_fixed_replaces_what_was_there_and_frees_its_pages() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 3, READ_WRITE);
    for page in 0..3 {
        space
            .write(&mut frames, start + page * PAGE, &[0xaa; 16])
            .unwrap();
    }
    assert_eq!(frames.live_count(), 3);
    let middle = start + PAGE;
    assert_eq!(
        space.mmap(&mut frames, middle, PAGE, PROT_READ, PRIVATE | MAP_FIXED),
        Ok(middle)
    );
    assert_eq!(frames.live_count(), 2, "the replaced page was freed");
    assert_eq!(
        area_bounds(&space),
        [
            (start, middle),
            (middle, middle + PAGE),
            (middle + PAGE, start + 3 * PAGE)
        ]
    );
    let mut byte = [0xff];
    space.read(&mut frames, middle, &mut byte).unwrap();
    assert_eq!(byte, [0], "the new mapping is zero-filled");
    finish(space, &mut frames);
}

#[test]
fn map_fixed_noreplace_refuses_to_replace_with_eexist() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 2, READ_WRITE);
    space.write(&mut frames, start, b"kept").unwrap();
    assert_eq!(
        space.mmap(
            &mut frames,
            start - PAGE,
            2 * PAGE,
            READ_WRITE,
            PRIVATE | MAP_FIXED_NOREPLACE
        ),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        space.mmap(
            &mut frames,
            start - PAGE,
            2 * PAGE,
            READ_WRITE,
            PRIVATE | MAP_FIXED | MAP_FIXED_NOREPLACE
        ),
        Err(Errno::EEXIST),
        "NOREPLACE wins over FIXED"
    );
    let mut kept = [0; 4];
    space.read(&mut frames, start, &mut kept).unwrap();
    assert_eq!(&kept, b"kept");
    assert_eq!(
        space.mmap(
            &mut frames,
            start - PAGE,
            PAGE,
            READ_WRITE,
            PRIVATE | MAP_FIXED_NOREPLACE
        ),
        Ok(start - PAGE)
    );
    finish(space, &mut frames);
}

#[test]
fn map_fixed_into_a_reserved_range_or_beyond_the_user_range_is_enomem() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let fixed = PRIVATE | MAP_FIXED;
    assert_eq!(
        space.mmap(&mut frames, DEFAULT_RESERVED.start, PAGE, READ_WRITE, fixed),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        space.mmap(
            &mut frames,
            DEFAULT_RESERVED.start - PAGE,
            2 * PAGE,
            READ_WRITE,
            fixed
        ),
        Err(Errno::ENOMEM),
        "overlapping the reserved range's start"
    );
    assert_eq!(
        space.mmap(&mut frames, DEFAULT_USER_END, PAGE, READ_WRITE, fixed),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        space.mmap(&mut frames, !(PAGE - 1), PAGE, READ_WRITE, fixed),
        Err(Errno::ENOMEM),
        "wrapping around"
    );
    assert_eq!(area_bounds(&space), []);
    finish(space, &mut frames);
}

#[test]
fn map_fixed_below_the_minimum_address_is_eperm() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(
        space.mmap(&mut frames, 0, PAGE, READ_WRITE, PRIVATE | MAP_FIXED),
        Err(Errno::EPERM)
    );
    assert_eq!(
        space.mmap(
            &mut frames,
            DEFAULT_MINIMUM_ADDRESS - PAGE,
            PAGE,
            READ_WRITE,
            PRIVATE | MAP_FIXED
        ),
        Err(Errno::EPERM)
    );
    finish(space, &mut frames);
}

#[test]
fn mmap_is_enomem_when_no_range_is_large_enough() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(
        space.mmap(&mut frames, 0, DEFAULT_MMAP_BASE, READ_WRITE, PRIVATE),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        space.mmap(&mut frames, 0, u64::MAX, READ_WRITE, PRIVATE),
        Err(Errno::ENOMEM),
        "the rounded length overflows"
    );
    assert_eq!(
        space.mmap(&mut frames, 0, DEFAULT_USER_END + PAGE, READ_WRITE, PRIVATE),
        Err(Errno::ENOMEM)
    );
    finish(space, &mut frames);
}

#[test]
fn mmap_skips_reserved_ranges_when_placing() {
    let mut frames = VecFrames::new();
    let reserved = DEFAULT_MMAP_BASE - 4 * PAGE..DEFAULT_MMAP_BASE - PAGE;
    let mut space: AddressSpace<u64> =
        AddressSpace::new(Layout::with_reserved(vec![reserved.clone()]).unwrap());
    assert_eq!(
        map_anonymous(&mut space, &mut frames, 1, READ_WRITE),
        reserved.end
    );
    assert_eq!(
        map_anonymous(&mut space, &mut frames, 1, READ_WRITE),
        reserved.start - PAGE
    );
    assert_eq!(
        space.mmap(&mut frames, reserved.start, PAGE, READ_WRITE, PRIVATE),
        Ok(reserved.start - 2 * PAGE),
        "a hint inside a reserved range is not taken"
    );
    finish(space, &mut frames);
}

#[test]
fn map_populate_populates_every_page_as_far_as_frames_last() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = space
        .mmap(&mut frames, 0, 4 * PAGE, READ_WRITE, PRIVATE | MAP_POPULATE)
        .unwrap();
    assert_eq!(space.resident_page_count(), 4);
    assert_eq!(
        space.mapping(start + 3 * PAGE).unwrap().rights,
        Rights::READ_WRITE
    );
    frames.set_limit(Some(6));
    space
        .mmap(&mut frames, 0, 4 * PAGE, READ_WRITE, PRIVATE | MAP_LOCKED)
        .expect("populating is best effort");
    assert_eq!(space.resident_page_count(), 6);
    finish(space, &mut frames);
}

#[test]
fn map_growsdown_makes_a_private_area_grow_and_is_einval_with_map_shared() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(
        space.mmap(&mut frames, 0, PAGE, READ_WRITE, SHARED | MAP_GROWSDOWN),
        Err(Errno::EINVAL)
    );
    let start = space
        .mmap(&mut frames, 0, PAGE, READ_WRITE, PRIVATE | MAP_GROWSDOWN)
        .unwrap();
    assert!(
        space
            .fault(&mut frames, start - 3 * PAGE, Access::Write)
            .is_ok()
    );
    assert_eq!(area_bounds(&space), [(start - 3 * PAGE, start + PAGE)]);
    finish(space, &mut frames);
}

#[test]
fn mmap_keeps_the_guard_gap_below_a_growing_down_area() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let stack = space
        .mmap(&mut frames, 0, PAGE, READ_WRITE, PRIVATE | MAP_GROWSDOWN)
        .unwrap();
    let next = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    assert_eq!(next, stack - crate::memory::DEFAULT_STACK_GUARD_GAP - PAGE);
    finish(space, &mut frames);
}

#[test]
fn adjacent_compatible_mappings_merge_into_one_area() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let first = map_anonymous(&mut space, &mut frames, 2, READ_WRITE);
    let second = map_anonymous(&mut space, &mut frames, 2, READ_WRITE);
    assert_eq!(second, first - 2 * PAGE);
    assert_eq!(area_bounds(&space), [(second, first + 2 * PAGE)]);
    map_anonymous(&mut space, &mut frames, 1, PROT_READ);
    assert_eq!(
        space.areas().count(),
        2,
        "another protection does not merge"
    );
    finish(space, &mut frames);
}

#[test]
fn shared_anonymous_memory_stays_shared_across_fork() {
    let mut frames = VecFrames::new();
    let mut parent = new_space();
    let start = parent
        .mmap(&mut frames, 0, 2 * PAGE, READ_WRITE, SHARED)
        .unwrap();
    parent.write(&mut frames, start, b"before").unwrap();
    let mut child = parent.fork(&mut frames).unwrap();
    let mut seen = [0; 6];
    child.read(&mut frames, start, &mut seen).unwrap();
    assert_eq!(&seen, b"before");
    // A page neither has touched yet is shared too, whoever touches it first.
    child.write(&mut frames, start + PAGE, b"child").unwrap();
    let mut seen = [0; 5];
    parent.read(&mut frames, start + PAGE, &mut seen).unwrap();
    assert_eq!(&seen, b"child");
    parent.write(&mut frames, start, b"parent").unwrap();
    let mut seen = [0; 6];
    child.read(&mut frames, start, &mut seen).unwrap();
    assert_eq!(&seen, b"parent");
    assert_eq!(frames.live_count(), 2, "two shared pages, no copies");
    assert_eq!(child.owned_frame_count(), 0);
    assert_eq!(
        parent.mapping(start).unwrap().frame,
        child.mapping(start).unwrap().frame
    );
    child.clear(&mut frames);
    assert_eq!(frames.live_count(), 2, "the parent still maps the object");
    finish(parent, &mut frames);
}

#[test]
fn a_shared_object_is_freed_when_its_last_mapping_goes() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = space
        .mmap(&mut frames, 0, 3 * PAGE, READ_WRITE, SHARED)
        .unwrap();
    space.write(&mut frames, start, &[1; 3 * 4096]).unwrap();
    assert_eq!(frames.live_count(), 3);
    space.munmap(&mut frames, start + PAGE, PAGE).unwrap();
    assert_eq!(
        frames.live_count(),
        3,
        "the object outlives a partial unmap"
    );
    let revoked = frames.revocations.len();
    assert_eq!(
        revoked, 1,
        "the unmapped shared page lost its client mapping"
    );
    // The split areas address the object at the right offsets.
    let mut byte = [0];
    space
        .read(&mut frames, start + 2 * PAGE, &mut byte)
        .unwrap();
    assert_eq!(byte, [1]);
    space.munmap(&mut frames, start, 3 * PAGE).unwrap();
    assert_eq!(frames.live_count(), 0);
    finish(space, &mut frames);
}

#[test]
fn a_fault_in_a_shared_area_maps_the_objects_frame_without_owning_it() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = space
        .mmap(&mut frames, 0, PAGE, READ_WRITE, SHARED)
        .unwrap();
    let mapping = space.fault(&mut frames, start, Access::Write).unwrap();
    assert_eq!(mapping.rights, Rights::READ_WRITE);
    assert_eq!(space.owned_frame_count(), 0);
    assert_eq!(space.resident_page_count(), 1);
    assert!(frames.is_live(mapping.frame));
    finish(space, &mut frames);
}
