//! Memory calls: `brk`, `mmap`, `munmap`, `mprotect`, `madvise`, and page faults that a
//! client's areas allow.

use linux_abi::errno::Errno;
use linux_abi::file::O_RDONLY;
use linux_abi::memory::{
    MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE,
};
use linux_abi::syscall::Syscall;
use protocol::layout::{SAVE_AREA, TRAMPOLINE_CODE, TRAMPOLINE_START, UTCB_AREA};

use super::{DATA_BASE, Harness, PROGRAM_BASE, deletes};
use crate::memory::{Access, PAGE_SIZE, Rights};
use crate::process::Pid;
use crate::server::{Action, Event};

const READ_WRITE: u64 = (PROT_READ | PROT_WRITE) as u64;
const PRIVATE: u64 = (MAP_PRIVATE | MAP_ANONYMOUS) as u64;

/// A page fault of `pid` at `address`.
fn fault(harness: &mut Harness, pid: Pid, address: u64, access: Access) -> Vec<Action<u64>> {
    harness.handle(Event::PageFault {
        pid,
        address,
        access,
        instruction_pointer: PROGRAM_BASE + 0xb0,
    })
}

#[test]
fn brk_grows_and_shrinks_the_heap() {
    let mut harness = Harness::booted();
    let start = harness.ok(Pid::INIT, Syscall::Brk, &[0]);
    assert_eq!(start, DATA_BASE + 2 * PAGE_SIZE, "the page after the image");
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Brk, &[start + 10_000]),
        start + 10_000
    );
    harness.poke(Pid::INIT, start + 9_999, b"x");
    assert_eq!(harness.ok(Pid::INIT, Syscall::Brk, &[start]), start);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Brk, &[1 << 47]),
        start,
        "refused: unchanged"
    );
}

#[test]
fn anonymous_mmap_gives_memory_that_munmap_takes_away() {
    let mut harness = Harness::booted();
    let address = harness.ok(
        Pid::INIT,
        Syscall::Mmap,
        &[0, 3 * PAGE_SIZE, READ_WRITE, PRIVATE, u64::MAX, 0],
    );
    assert!(address < SAVE_AREA, "below the stack");
    harness.poke(Pid::INIT, address + 2 * PAGE_SIZE, b"z");
    harness.ok(Pid::INIT, Syscall::Munmap, &[address, 3 * PAGE_SIZE]);
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[fd, address, 1]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Munmap, &[address + 1, PAGE_SIZE]),
        Errno::EINVAL
    );
}

#[test]
fn mmap_refuses_file_mappings_and_bad_arguments() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    let private = u64::from(MAP_PRIVATE);
    let read = u64::from(PROT_READ);
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Mmap,
            &[0, PAGE_SIZE, read, private, fd, 0]
        ),
        Errno::ENODEV
    );
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Mmap,
            &[0, PAGE_SIZE, read, private, 99, 0]
        ),
        Errno::EBADF
    );
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Mmap,
            &[0, PAGE_SIZE, read, PRIVATE, u64::MAX, 5]
        ),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Mmap,
            &[0, 0, read, PRIVATE, u64::MAX, 0]
        ),
        Errno::EINVAL
    );
    let fixed = PRIVATE | u64::from(MAP_FIXED);
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Mmap,
            &[UTCB_AREA, PAGE_SIZE, read, fixed, u64::MAX, 0]
        ),
        Errno::ENOMEM,
        "the reserved range"
    );
    let shared = u64::from(MAP_SHARED | MAP_ANONYMOUS);
    harness.ok(
        Pid::INIT,
        Syscall::Mmap,
        &[0, PAGE_SIZE, read, shared, u64::MAX, 0],
    );
}

#[test]
fn mprotect_takes_write_access_away() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, buffer, b"w");
    harness.ok(
        Pid::INIT,
        Syscall::Mprotect,
        &[buffer, PAGE_SIZE, u64::from(PROT_READ)],
    );
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[fd, buffer, 1]),
        Errno::EFAULT
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Mprotect, &[buffer + 1, PAGE_SIZE, 1]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Mprotect, &[0x2000_0000, PAGE_SIZE, 1]),
        Errno::ENOMEM
    );
}

#[test]
fn madvise_dontneed_drops_the_pages_and_unknown_advice_is_einval() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, buffer, b"data");
    harness.ok(
        Pid::INIT,
        Syscall::Madvise,
        &[buffer, PAGE_SIZE, u64::from(MADV_DONTNEED)],
    );
    assert_eq!(harness.peek(Pid::INIT, buffer, 4), [0; 4]);
    harness.ok(Pid::INIT, Syscall::Madvise, &[buffer, PAGE_SIZE, 3]);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Madvise, &[buffer, PAGE_SIZE, 99]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Madvise, &[buffer + 1, PAGE_SIZE, 3]),
        Errno::EINVAL
    );
}

#[test]
fn a_fault_in_an_area_is_answered_with_a_map_item() {
    let mut harness = Harness::booted();
    let actions = fault(
        &mut harness,
        Pid::INIT,
        PROGRAM_BASE + 0xb0,
        Access::Execute,
    );
    match actions.as_slice() {
        [Action::Map { pid, mapping }] => {
            assert_eq!(*pid, Pid::INIT);
            assert_eq!(mapping.page_address, PROGRAM_BASE);
            assert_eq!(mapping.rights, Rights::READ_EXECUTE);
        }
        other => panic!("unexpected actions {other:?}"),
    }
    let actions = fault(&mut harness, Pid::INIT, DATA_BASE + 8, Access::Read);
    assert!(matches!(
        actions.as_slice(),
        [Action::Map { mapping, .. }] if mapping.rights == Rights::READ_WRITE
    ));
}

#[test]
fn the_trampoline_page_is_mapped_for_reading_and_executing_only() {
    let mut harness = Harness::booted();
    let actions = fault(&mut harness, Pid::INIT, TRAMPOLINE_START, Access::Execute);
    assert_eq!(actions, [Action::MapTrampoline { pid: Pid::INIT }]);
    let actions = fault(
        &mut harness,
        Pid::INIT,
        TRAMPOLINE_CODE + 0x100,
        Access::Read,
    );
    assert_eq!(actions, [Action::MapTrampoline { pid: Pid::INIT }]);
    let child = harness.fork(Pid::INIT);
    let actions = fault(&mut harness, child, TRAMPOLINE_CODE, Access::Write);
    assert!(deletes(&actions, child));
}
