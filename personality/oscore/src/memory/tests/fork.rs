//! Fork's eager copy, `clear` and the accounting.

use linux_abi::errno::Errno;
use linux_abi::memory::PROT_READ;

use super::{PAGE, READ_WRITE, finish, map_anonymous, new_space};
use crate::memory::testing::VecFrames;
use crate::memory::{Access, MemoryLimits, Rights};

#[test]
fn fork_copies_every_present_page_into_new_frames() {
    let mut frames = VecFrames::new();
    let mut parent = new_space();
    let start = map_anonymous(&mut parent, &mut frames, 3, READ_WRITE);
    parent.write(&mut frames, start, b"first").unwrap();
    parent
        .write(&mut frames, start + 2 * PAGE, b"third")
        .unwrap();
    let mut child = parent.fork(&mut frames).unwrap();
    assert_eq!(frames.live_count(), 4);
    assert_eq!(child.owned_frame_count(), 2);
    assert_eq!(
        child.areas().collect::<Vec<_>>(),
        parent.areas().collect::<Vec<_>>()
    );
    for page in [start, start + 2 * PAGE] {
        let parent_mapping = parent.mapping(page).unwrap();
        let child_mapping = child.mapping(page).unwrap();
        assert_ne!(parent_mapping.frame, child_mapping.frame);
        assert_eq!(parent_mapping.rights, child_mapping.rights);
    }
    assert_eq!(
        child.mapping(start + PAGE),
        None,
        "absent pages stay absent"
    );
    let mut seen = [0; 5];
    child
        .read(&mut frames, start + 2 * PAGE, &mut seen)
        .unwrap();
    assert_eq!(&seen, b"third");
    child.clear(&mut frames);
    finish(parent, &mut frames);
}

#[test]
fn after_fork_the_parents_and_the_childs_stores_are_independent() {
    let mut frames = VecFrames::new();
    let mut parent = new_space();
    let start = map_anonymous(&mut parent, &mut frames, 1, READ_WRITE);
    parent.write(&mut frames, start, b"shared?").unwrap();
    let mut child = parent.fork(&mut frames).unwrap();
    child.write(&mut frames, start, b"child").unwrap();
    parent.write(&mut frames, start + 100, b"parent").unwrap();
    let mut seen = [0; 7];
    parent.read(&mut frames, start, &mut seen).unwrap();
    assert_eq!(&seen, b"shared?");
    let mut seen = [0; 6];
    child.read(&mut frames, start + 100, &mut seen).unwrap();
    assert_eq!(seen, [0; 6]);
    child.clear(&mut frames);
    finish(parent, &mut frames);
}

#[test]
fn fork_without_enough_frames_fails_with_enomem_and_frees_what_it_took() {
    let mut frames = VecFrames::with_limit(5);
    let mut parent = new_space();
    let start = map_anonymous(&mut parent, &mut frames, 3, READ_WRITE);
    parent.write(&mut frames, start, &[9; 3 * 4096]).unwrap();
    assert_eq!(frames.live_count(), 3);
    assert_eq!(parent.fork(&mut frames).unwrap_err(), Errno::ENOMEM);
    assert_eq!(frames.live_count(), 3);
    assert_eq!(
        frames.freed, 2,
        "the two copies that fitted were freed again"
    );
    let mut byte = [0];
    parent
        .read(&mut frames, start + 2 * PAGE, &mut byte)
        .unwrap();
    assert_eq!(byte, [9], "the parent is untouched");
    finish(parent, &mut frames);
}

#[test]
fn fork_keeps_the_break_the_limits_and_the_stacks_growth() {
    let mut frames = VecFrames::new();
    let mut parent = new_space();
    parent.set_break_start(0x50_0000);
    parent.brk(&mut frames, 0x50_2000);
    let limits = MemoryLimits {
        stack: 1 << 20,
        data: 1 << 30,
    };
    parent.set_limits(limits);
    let mut child = parent.fork(&mut frames).unwrap();
    assert_eq!(child.program_break(), 0x50_2000);
    assert_eq!(child.break_start(), 0x50_0000);
    assert_eq!(child.limits(), limits);
    assert_eq!(child.brk(&mut frames, 0x50_3000), 0x50_3000);
    assert_eq!(parent.program_break(), 0x50_2000);
    child.clear(&mut frames);
    finish(parent, &mut frames);
}

#[test]
fn clear_frees_every_frame_and_forgets_the_break() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    space.set_break_start(0x50_0000);
    space.brk(&mut frames, 0x50_3000);
    space.write(&mut frames, 0x50_0000, &[1; 3 * 4096]).unwrap();
    map_anonymous(&mut space, &mut frames, 2, PROT_READ);
    space.clear(&mut frames);
    assert_eq!(frames.live_count(), 0);
    assert_eq!(frames.freed, 3);
    assert_eq!(space.program_break(), 0);
    assert_eq!(space.resident_page_count(), 0);
    assert_eq!(space.mappings().count(), 0);
    finish(space, &mut frames);
}

#[test]
fn mappings_lists_every_present_page_in_address_order() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let high = map_anonymous(&mut space, &mut frames, 2, READ_WRITE);
    let low = map_anonymous(&mut space, &mut frames, 1, PROT_READ);
    space.fault(&mut frames, high + PAGE, Access::Read).unwrap();
    space.fault(&mut frames, low, Access::Read).unwrap();
    let listed: Vec<_> = space
        .mappings()
        .map(|mapping| (mapping.page_address, mapping.rights))
        .collect();
    assert_eq!(
        listed,
        [(low, Rights::READ), (high + PAGE, Rights::READ_WRITE)]
    );
    assert_eq!(space.owned_frame_count(), 2);
    assert_eq!(space.resident_page_count(), 2);
    finish(space, &mut frames);
}
