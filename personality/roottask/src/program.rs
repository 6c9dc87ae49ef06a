//! The root task's behaviour; built only for the bare-metal target (see main.rs).

use libl4::debug_println;

/// Where the test region starts: clear of the image (from 0x40_0000, a few pages), the UTCB
/// area (from 0x7000_0000) and the stack (below 0x8000_0000), so nothing maps it until
/// sigma0 does.
const REGION: u64 = 0x2000_0000;
/// Pages touched.
const PAGES: u64 = 64;
const PAGE_SIZE: u64 = 4096;

/// The program: what `_start` runs on thread 0.
pub fn main() {
    debug_println!("roottask: started");
    for index in 0..PAGES {
        // SAFETY: the region [REGION, REGION + PAGES pages) is not part of the image, stack or
        // UTCB area, so no Rust object lives there; each first write faults and sigma0 maps a
        // fresh read-write page of RAM, which only this thread uses. The address is 8-aligned.
        unsafe { word(index).write_volatile(pattern(index)) };
    }
    for index in 0..PAGES {
        // SAFETY: as above; the page was mapped by the write loop.
        let value = unsafe { word(index).read_volatile() };
        if value != pattern(index) {
            debug_println!(
                "roottask: FAIL page {index} at {:#x} reads {value:#x}, not {:#x}",
                word(index) as u64,
                pattern(index)
            );
            libl4::halt_myself();
        }
    }
    debug_println!("roottask: {PAGES} pages from sigma0, all read back");
    libl4::halt_myself()
}

/// A word in the middle of page `index` of the region (not at its start, so that a page
/// mapped at the wrong offset shows).
fn word(index: u64) -> *mut u64 {
    (REGION + index * PAGE_SIZE + 0x808) as *mut u64
}

/// What page `index` holds: distinct per page and unlike zero-filled memory.
fn pattern(index: u64) -> u64 {
    0x5157_0000_0000_0000 | (index << 16) | 0xACE
}
