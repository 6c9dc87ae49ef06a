//! `munmap`, `mprotect` and `MADV_DONTNEED`: splitting, freeing, revoking.

use linux_abi::errno::Errno;
use linux_abi::memory::{PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE};

use super::{PAGE, READ_WRITE, area_bounds, finish, map_anonymous, new_space};
use crate::memory::testing::VecFrames;
use crate::memory::{Access, DEFAULT_USER_END, FaultError, Protection, Rights};

/// Maps `pages` read-write pages and writes each page's number into it.
fn populated(
    space: &mut crate::memory::AddressSpace<u64>,
    frames: &mut VecFrames,
    pages: u64,
) -> u64 {
    let start = map_anonymous(space, frames, pages, READ_WRITE);
    for page in 0..pages {
        space
            .write(frames, start + page * PAGE, &[page as u8 + 1])
            .unwrap();
    }
    start
}

#[test]
fn munmap_splits_an_area_and_frees_only_the_pages_in_the_range() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = populated(&mut space, &mut frames, 4);
    space.munmap(&mut frames, start + PAGE, 2 * PAGE).unwrap();
    assert_eq!(
        area_bounds(&space),
        [(start, start + PAGE), (start + 3 * PAGE, start + 4 * PAGE)]
    );
    assert_eq!(frames.live_count(), 2);
    assert_eq!(space.owned_frame_count(), 2);
    let mut byte = [0];
    space
        .read(&mut frames, start + 3 * PAGE, &mut byte)
        .unwrap();
    assert_eq!(byte, [4], "the page after the hole kept its contents");
    assert_eq!(
        space.fault(&mut frames, start + PAGE, Access::Read),
        Err(FaultError::Unmapped)
    );
    finish(space, &mut frames);
}

#[test]
fn munmap_rounds_the_length_up_to_whole_pages() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = populated(&mut space, &mut frames, 3);
    space.munmap(&mut frames, start, PAGE + 1).unwrap();
    assert_eq!(area_bounds(&space), [(start + 2 * PAGE, start + 3 * PAGE)]);
    finish(space, &mut frames);
}

#[test]
fn munmap_across_several_areas_removes_them_all() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let high = populated(&mut space, &mut frames, 2);
    let middle = map_anonymous(&mut space, &mut frames, 1, PROT_READ);
    let low = populated(&mut space, &mut frames, 2);
    assert_eq!(space.areas().count(), 3);
    space
        .munmap(&mut frames, low + PAGE, high + PAGE - (low + PAGE))
        .unwrap();
    assert_eq!(
        area_bounds(&space),
        [(low, low + PAGE), (high + PAGE, high + 2 * PAGE)]
    );
    assert!(middle > low && middle < high);
    assert_eq!(frames.live_count(), 2);
    finish(space, &mut frames);
}

#[test]
fn munmap_of_nothing_succeeds() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(space.munmap(&mut frames, 0x1000_0000, 16 * PAGE), Ok(()));
    assert_eq!(space.munmap(&mut frames, 0, PAGE), Ok(()));
    finish(space, &mut frames);
}

#[test]
fn munmap_refuses_unaligned_addresses_zero_lengths_and_wrapping_ranges() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = populated(&mut space, &mut frames, 1);
    assert_eq!(
        space.munmap(&mut frames, start + 1, PAGE),
        Err(Errno::EINVAL)
    );
    assert_eq!(space.munmap(&mut frames, start, 0), Err(Errno::EINVAL));
    assert_eq!(
        space.munmap(&mut frames, start, u64::MAX),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        space.munmap(&mut frames, DEFAULT_USER_END - PAGE, 2 * PAGE),
        Err(Errno::EINVAL)
    );
    assert_eq!(frames.live_count(), 1, "nothing was unmapped");
    finish(space, &mut frames);
}

#[test]
fn mprotect_splits_an_area_into_three() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 3, READ_WRITE);
    space
        .mprotect(&mut frames, start + PAGE, PAGE, PROT_READ)
        .unwrap();
    let areas: Vec<_> = space
        .areas()
        .map(|area| (area.range.start, area.protection))
        .collect();
    assert_eq!(
        areas,
        [
            (start, Protection::READ_WRITE),
            (start + PAGE, Protection::READ),
            (start + 2 * PAGE, Protection::READ_WRITE)
        ]
    );
    assert_eq!(
        space.fault(&mut frames, start + PAGE, Access::Write),
        Err(FaultError::AccessDenied)
    );
    assert!(
        space
            .fault(&mut frames, start + 2 * PAGE, Access::Write)
            .is_ok()
    );
    finish(space, &mut frames);
}

#[test]
fn mprotect_reduces_the_rights_of_present_pages_and_revokes_them() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = populated(&mut space, &mut frames, 2);
    let frame = space.mapping(start).unwrap().frame;
    space.mprotect(&mut frames, start, PAGE, PROT_READ).unwrap();
    assert_eq!(frames.revocations, [(frame, Rights::WRITE)]);
    assert_eq!(space.mapping(start).unwrap().rights, Rights::READ);
    assert_eq!(
        space.mapping(start + PAGE).unwrap().rights,
        Rights::READ_WRITE,
        "the page outside the range keeps its rights"
    );
    let mut byte = [0];
    space.read(&mut frames, start, &mut byte).unwrap();
    assert_eq!(byte, [1], "contents stay");
    finish(space, &mut frames);
}

#[test]
fn mprotect_to_prot_none_revokes_everything_and_later_faults_are_access_errors() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = populated(&mut space, &mut frames, 1);
    let frame = space.mapping(start).unwrap().frame;
    space.mprotect(&mut frames, start, PAGE, PROT_NONE).unwrap();
    assert_eq!(frames.revocations, [(frame, Rights::READ_WRITE)]);
    assert_eq!(
        space.fault(&mut frames, start, Access::Read),
        Err(FaultError::AccessDenied)
    );
    assert_eq!(space.read(&mut frames, start, &mut [0]), Err(Errno::EFAULT));
    finish(space, &mut frames);
}

#[test]
fn mprotect_adding_rights_gives_them_on_the_next_fault_without_revoking() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, PROT_READ);
    space.fault(&mut frames, start, Access::Read).unwrap();
    space
        .mprotect(&mut frames, start, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC)
        .unwrap();
    assert!(frames.revocations.is_empty());
    let mapping = space.fault(&mut frames, start, Access::Write).unwrap();
    assert_eq!(mapping.rights, Rights::ALL);
    finish(space, &mut frames);
}

#[test]
fn mprotect_of_a_range_with_a_hole_is_enomem_and_changes_nothing() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let high = populated(&mut space, &mut frames, 1);
    space.munmap(&mut frames, high - PAGE, PAGE).unwrap();
    let low = space
        .mmap(
            &mut frames,
            high - 2 * PAGE,
            PAGE,
            READ_WRITE,
            super::PRIVATE | linux_abi::memory::MAP_FIXED,
        )
        .unwrap();
    let before = area_bounds(&space);
    assert_eq!(
        space.mprotect(&mut frames, low, 3 * PAGE, PROT_READ),
        Err(Errno::ENOMEM)
    );
    assert_eq!(area_bounds(&space), before);
    assert!(
        space
            .areas()
            .all(|area| area.protection == Protection::READ_WRITE)
    );
    assert!(frames.revocations.is_empty());
    assert_eq!(
        space.mprotect(&mut frames, 0x1000_0000, PAGE, PROT_READ),
        Err(Errno::ENOMEM),
        "nothing mapped at all"
    );
    finish(space, &mut frames);
}

#[test]
fn mprotect_refuses_unaligned_addresses_and_unknown_bits_and_accepts_zero_length() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    assert_eq!(
        space.mprotect(&mut frames, start + 8, PAGE, PROT_READ),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        space.mprotect(&mut frames, start, PAGE, 0x0100_0000),
        Err(Errno::EINVAL)
    );
    assert_eq!(space.mprotect(&mut frames, start, 0, PROT_READ), Ok(()));
    assert_eq!(
        space.mprotect(&mut frames, start, u64::MAX, PROT_READ),
        Err(Errno::ENOMEM)
    );
    finish(space, &mut frames);
}

#[test]
fn mprotect_back_to_the_original_protection_merges_the_areas_again() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 4, READ_WRITE);
    space
        .mprotect(&mut frames, start + PAGE, 2 * PAGE, PROT_READ)
        .unwrap();
    assert_eq!(space.areas().count(), 3);
    space
        .mprotect(&mut frames, start + PAGE, 2 * PAGE, READ_WRITE)
        .unwrap();
    assert_eq!(area_bounds(&space), [(start, start + 4 * PAGE)]);
    finish(space, &mut frames);
}

#[test]
fn discard_makes_anonymous_pages_read_back_as_zero() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = populated(&mut space, &mut frames, 2);
    space.discard(&mut frames, start, PAGE).unwrap();
    assert_eq!(frames.live_count(), 1);
    assert_eq!(space.areas().count(), 1, "the area stays");
    let mut byte = [0xff];
    space.read(&mut frames, start, &mut byte).unwrap();
    assert_eq!(byte, [0]);
    assert_eq!(
        space.discard(&mut frames, start + 1, PAGE),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        space.discard(&mut frames, start, 3 * PAGE),
        Err(Errno::ENOMEM),
        "the range runs past the mapping"
    );
    assert_eq!(frames.live_count(), 0, "the mapped part was still dropped");
    finish(space, &mut frames);
}
