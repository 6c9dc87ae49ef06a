//! The page-fault path: population, access checks, stack growth.

use linux_abi::memory::{MAP_FIXED, MAP_GROWSDOWN, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE};

use super::{PAGE, PRIVATE, READ_WRITE, area_bounds, finish, map_anonymous, new_space};
use crate::memory::testing::VecFrames;
use crate::memory::{
    Access, DEFAULT_RESERVED, DEFAULT_STACK_GUARD_GAP, FaultError, Frames, MemoryLimits, Rights,
    SEGV_ACCERR, SEGV_MAPERR,
};

#[test]
fn a_fault_in_an_anonymous_area_maps_a_zeroed_private_frame() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 4, READ_WRITE);
    let mapping = space
        .fault(&mut frames, start + PAGE + 123, Access::Read)
        .unwrap();
    assert_eq!(mapping.page_address, start + PAGE);
    assert_eq!(
        mapping.rights,
        Rights::READ_WRITE,
        "a read fault maps writable pages writable"
    );
    assert!(frames.bytes(mapping.frame).iter().all(|&byte| byte == 0));
    assert_eq!(space.owned_frame_count(), 1);
    assert_eq!(space.mapping(start + PAGE), Some(mapping));
    assert_eq!(space.mapping(start), None, "other pages stay absent");
    finish(space, &mut frames);
}

#[test]
fn a_second_fault_on_the_same_page_maps_the_same_frame() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    let first = space.fault(&mut frames, start, Access::Write).unwrap();
    let second = space.fault(&mut frames, start + 8, Access::Read).unwrap();
    assert_eq!(first, second);
    assert_eq!(frames.live_count(), 1);
    finish(space, &mut frames);
}

#[test]
fn a_fault_where_nothing_is_mapped_is_a_map_error() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    let error = space
        .fault(&mut frames, start + PAGE, Access::Read)
        .unwrap_err();
    assert_eq!(error, FaultError::Unmapped);
    assert_eq!(error.segv_code(), Some(SEGV_MAPERR));
    assert_eq!(
        space.fault(&mut frames, 0, Access::Read),
        Err(FaultError::Unmapped)
    );
    assert_eq!(frames.live_count(), 0);
    finish(space, &mut frames);
}

#[test]
fn faults_in_reserved_ranges_and_beyond_the_user_range_are_map_errors() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    for address in [
        DEFAULT_RESERVED.start,
        DEFAULT_RESERVED.end - 1,
        1 << 48,
        u64::MAX,
    ] {
        assert_eq!(
            space.fault(&mut frames, address, Access::Read),
            Err(FaultError::Unmapped)
        );
    }
    finish(space, &mut frames);
}

#[test]
fn a_write_fault_in_a_read_only_area_is_an_access_error() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, PROT_READ);
    let error = space.fault(&mut frames, start, Access::Write).unwrap_err();
    assert_eq!(error, FaultError::AccessDenied);
    assert_eq!(error.segv_code(), Some(SEGV_ACCERR));
    assert_eq!(
        frames.live_count(),
        0,
        "nothing populated for a refused access"
    );
    let mapping = space.fault(&mut frames, start, Access::Read).unwrap();
    assert_eq!(mapping.rights, Rights::READ);
    finish(space, &mut frames);
}

#[test]
fn an_instruction_fetch_needs_prot_exec() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let data = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    let code = map_anonymous(&mut space, &mut frames, 1, PROT_READ | PROT_EXEC);
    assert_eq!(
        space.fault(&mut frames, data, Access::Execute),
        Err(FaultError::AccessDenied)
    );
    let mapping = space.fault(&mut frames, code, Access::Execute).unwrap();
    assert_eq!(mapping.rights, Rights::READ_EXECUTE);
    let none = map_anonymous(&mut space, &mut frames, 1, PROT_NONE);
    assert_eq!(
        space.fault(&mut frames, none, Access::Read),
        Err(FaultError::AccessDenied)
    );
    finish(space, &mut frames);
}

#[test]
fn a_read_of_a_write_only_area_is_allowed_and_mapped_read_write() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, PROT_WRITE);
    let mapping = space.fault(&mut frames, start, Access::Read).unwrap();
    assert_eq!(mapping.rights, Rights::READ_WRITE);
    finish(space, &mut frames);
}

#[test]
fn a_fault_without_frames_reports_out_of_memory_and_maps_nothing() {
    let mut frames = VecFrames::with_limit(0);
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    let error = space.fault(&mut frames, start, Access::Write).unwrap_err();
    assert_eq!(error, FaultError::OutOfMemory);
    assert_eq!(error.segv_code(), None);
    assert_eq!(space.resident_page_count(), 0);
    frames.set_limit(None);
    assert!(space.fault(&mut frames, start, Access::Write).is_ok());
    finish(space, &mut frames);
}

/// A stack-like area: `pages` pages ending at `top`, growing down.
fn stack_at(
    space: &mut crate::memory::AddressSpace<u64>,
    frames: &mut VecFrames,
    top: u64,
    pages: u64,
) -> u64 {
    let start = top - pages * PAGE;
    space
        .mmap(
            frames,
            start,
            pages * PAGE,
            READ_WRITE,
            PRIVATE | MAP_FIXED | MAP_GROWSDOWN,
        )
        .unwrap()
}

#[test]
fn a_fault_just_below_a_stack_grows_it_down() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let top = 0x7000_0000_0000;
    let start = stack_at(&mut space, &mut frames, top, 2);
    let deep = start - 10 * PAGE + 8;
    let mapping = space.fault(&mut frames, deep, Access::Write).unwrap();
    assert_eq!(mapping.page_address, start - 10 * PAGE);
    assert_eq!(area_bounds(&space), [(start - 10 * PAGE, top)]);
    assert!(space.areas().next().unwrap().grows_down);
    finish(space, &mut frames);
}

#[test]
fn a_stack_does_not_grow_beyond_its_limit() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    space.set_limits(MemoryLimits {
        stack: 16 * PAGE,
        ..MemoryLimits::default()
    });
    let top = 0x7000_0000_0000;
    stack_at(&mut space, &mut frames, top, 2);
    assert!(
        space
            .fault(&mut frames, top - 16 * PAGE, Access::Read)
            .is_ok()
    );
    assert_eq!(
        space.fault(&mut frames, top - 16 * PAGE - 1, Access::Read),
        Err(FaultError::Unmapped)
    );
    assert_eq!(area_bounds(&space), [(top - 16 * PAGE, top)]);
    finish(space, &mut frames);
}

#[test]
fn raising_the_stack_limit_lets_a_stack_grow_further() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    space.set_limits(MemoryLimits {
        stack: 4 * PAGE,
        ..MemoryLimits::default()
    });
    let top = 0x7000_0000_0000;
    stack_at(&mut space, &mut frames, top, 2);
    let deep = top - 8 * PAGE;
    assert_eq!(
        space.fault(&mut frames, deep, Access::Read),
        Err(FaultError::Unmapped)
    );
    space.set_limits(MemoryLimits::default());
    assert!(space.fault(&mut frames, deep, Access::Read).is_ok());
    finish(space, &mut frames);
}

#[test]
fn a_stack_keeps_a_guard_gap_above_the_next_lower_area() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let top = 0x7000_0000_0000;
    let start = stack_at(&mut space, &mut frames, top, 1);
    let below_end = start - DEFAULT_STACK_GUARD_GAP - 4 * PAGE;
    space
        .mmap(
            &mut frames,
            below_end - PAGE,
            PAGE,
            READ_WRITE,
            PRIVATE | MAP_FIXED,
        )
        .unwrap();
    // Down to the gap is fine; into it is not.
    assert!(
        space
            .fault(
                &mut frames,
                below_end + DEFAULT_STACK_GUARD_GAP,
                Access::Read
            )
            .is_ok()
    );
    assert_eq!(
        space.fault(
            &mut frames,
            below_end + DEFAULT_STACK_GUARD_GAP - 1,
            Access::Read
        ),
        Err(FaultError::Unmapped)
    );
    finish(space, &mut frames);
}

#[test]
fn an_area_that_does_not_grow_down_does_not_grow() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 2, READ_WRITE);
    assert_eq!(
        space.fault(&mut frames, start - 1, Access::Read),
        Err(FaultError::Unmapped)
    );
    finish(space, &mut frames);
}
