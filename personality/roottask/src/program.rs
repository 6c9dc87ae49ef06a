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
    device_from_sigma0();
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

/// Where the root task receives a device register page.
const DEVICE_WINDOW: u64 = 0x3000_0000;

/// Ask sigma0 for device registers: the first page of each Device region of the memory map in
/// turn, until sigma0 maps one into the receive window at [`DEVICE_WINDOW`]. (Drivers will
/// ask for their own devices' pages the same way; the root task only shows the path.)
fn device_from_sigma0() {
    let Some(address) = rt::kernel_interface_page_address() else {
        debug_println!("roottask: FAIL no kernel interface page");
        libl4::halt_myself()
    };
    // SAFETY: the kernel maps the page read-only at `address` for the task's lifetime; every
    // bit pattern is a valid KernelInterfacePage (plain integers).
    let page = unsafe { &*(address as *const abi::kernel_interface_page::KernelInterfacePage) };
    let Ok(window) = abi::Fpage::page(DEVICE_WINDOW, abi::Rights::READ_WRITE) else {
        debug_println!("roottask: FAIL no fpage for the device window");
        libl4::halt_myself()
    };
    // SAFETY: BR0 of the own UTCB: from now on a received map item may land in the window,
    // which no Rust object occupies.
    unsafe {
        (*libl4::utcb()).buffer_registers[abi::utcb::ACCEPTOR_REGISTER] =
            abi::message::item::Acceptor::window(window).raw()
    };
    let devices = page.memory_descriptors().iter().filter(|descriptor| {
        descriptor.kind() == Some(abi::kernel_interface_page::MemoryKind::Device)
    });
    for device in devices {
        match libl4::call(
            abi::ThreadId::SIGMA0,
            abi::protocol::SIGMA0_LABEL,
            [device.base],
        ) {
            // The kernel rewrites the received map item to what was mapped: nil if nothing.
            Ok(reply)
                if reply.tag.typed_words() == 2 && reply.words[1] != abi::Fpage::NIL.raw() =>
            {
                debug_println!(
                    "roottask: sigma0 mapped the device registers at {:#x} to {DEVICE_WINDOW:#x}",
                    device.base
                );
                return;
            }
            Ok(_) => continue,
            Err(error) => {
                debug_println!("roottask: FAIL asking sigma0 for a device: {error}");
                libl4::halt_myself()
            }
        }
    }
    debug_println!("roottask: FAIL sigma0 mapped no device");
}
