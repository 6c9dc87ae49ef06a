//! The root task's behaviour; built only for the bare-metal target (see main.rs).

use libl4::debug_println;

/// Where the test region starts: clear of the image (from 0x40_0000, a few pages), the UTCB
/// area (from 0x7000_0000) and the stack (below 0x8000_0000), so nothing maps it until
/// sigma0 does.
const REGION: u64 = 0x2000_0000;
/// Pages touched.
const PAGES: u64 = 64;
const PAGE_SIZE: u64 = 4096;

/// The root task's heap: a buddy allocator over a region nothing maps until the allocator
/// touches it (then sigma0 pages it in like any other memory of the root task).
#[global_allocator]
static HEAP: buddy_system_allocator::LockedHeap<32> = buddy_system_allocator::LockedHeap::empty();
/// Where the heap lies, and its size.
const HEAP_BASE: u64 = 0x6000_0000_0000;
const HEAP_SIZE: u64 = 16 << 20;

/// The program: what `_start` runs on thread 0.
pub fn main() {
    // SAFETY: the region is the root task's alone (not its image, stack, UTCB area or any other
    // window it uses), and given to the allocator once, before anything allocates.
    unsafe { HEAP.lock().init(HEAP_BASE as usize, HEAP_SIZE as usize) };
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
    start_and_page_hello()
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

/// Where the root task maps the initrd (read-only, from sigma0) to read the programs in it.
const INITRD_WINDOW: u64 = 0x4000_0000_0000;
/// Where the root task takes the pages it gives its child (each first touch faults to sigma0).
const CHILD_PAGES: u64 = 0x5000_0000_0000;
/// The child: task 3, thread 0, first incarnation.
const CHILD: abi::ThreadId = match abi::ThreadId::new(3, 0, 1) {
    Ok(thread) => thread,
    Err(_) => panic!("3.0/v1 is a valid thread ID"),
};
/// The child's UTCB area, stack top and stack size (the kernel's boot-program layout).
const CHILD_UTCB_AREA: u64 = 0x7F00_0000_0000;
const CHILD_STACK_TOP: u64 = 0x7F80_0000_0000;
const CHILD_STACK_SIZE: u64 = 16 * PAGE_SIZE;

/// Start `hello` from the initrd as task 3 with the root task as its pager, then serve its
/// page faults for good: every page of its image and stack comes from memory the root task
/// got from sigma0 (pagers stacked), filled from the ELF file.
fn start_and_page_hello() -> ! {
    let Some(initrd) = map_initrd() else {
        fail("the initrd could not be mapped from sigma0")
    };
    let found =
        kcore::boot_modules::Initrd::new(initrd).map(|archive| archive.find_program("hello"));
    let Ok(Ok(program)) = found else {
        fail("no usable hello in the initrd")
    };
    let Ok(utcb_area) = abi::Fpage::new(CHILD_UTCB_AREA, 24, abi::Rights::READ_WRITE) else {
        fail("no fpage for the child's UTCB area")
    };
    let creation =
        abi::call::task_new::TaskNewArguments::Create(abi::call::task_new::TaskCreation {
            first_thread: CHILD,
            pager: libl4::my_thread_id(),
            instruction_pointer: program.entry,
            stack_pointer: CHILD_STACK_TOP,
            utcb_area,
            kernel_interface_page: abi::Fpage::NIL,
            maximum_controlled_priority: 100,
            exception_handler: abi::ThreadId::NIL,
        });
    // SAFETY: task_new creates a new task; nothing of the root task changes.
    let results = unsafe { libl4::raw::task_new(&creation.encode()) };
    if results[abi::call::ERROR_REGISTER] != 0 {
        fail("task_new refused to create the child");
    }
    debug_println!("roottask: started hello as {CHILD}, paging it with memory from sigma0");
    let mut next_page = 0u64;
    let mut received = libl4::receive(abi::call::ipc::ReceiveSpecifier::Any, abi::Timeouts::NEVER);
    loop {
        let message = match received {
            Ok(message) => message,
            Err(_) => {
                received =
                    libl4::receive(abi::call::ipc::ReceiveSpecifier::Any, abi::Timeouts::NEVER);
                continue;
            }
        };
        let fault = match abi::protocol::PageFault::decode(message.tag, &message.words) {
            Ok(fault) if message.from == CHILD => fault,
            _ => {
                received =
                    libl4::receive(abi::call::ipc::ReceiveSpecifier::Any, abi::Timeouts::NEVER);
                continue;
            }
        };
        let target = fault.address & !(PAGE_SIZE - 1);
        let page = CHILD_PAGES + next_page * PAGE_SIZE;
        next_page += 1;
        let rights = fill_child_page(&program, target, page);
        let reply = rights.and_then(|rights| {
            let fpage = abi::Fpage::page(page, rights).ok()?;
            let item = abi::message::item::MapItem::new(target, fpage).ok()?;
            let [first, second] = abi::TypedItem::Map(item).encode();
            let tag = abi::MessageTag::new(0, 0, 2).ok()?;
            Some(abi::call::ipc::IpcArguments::reply_and_wait(
                CHILD,
                tag,
                [first, second, 0, 0, 0, 0, 0],
            ))
        });
        received = match reply {
            // SAFETY: the page goes to the child, which now shares it; the root task never
            // touches it again (each fault gets a fresh page), so no Rust object can change.
            Some(reply) => unsafe { libl4::ipc(&reply) },
            None => {
                debug_println!(
                    "roottask: hello faulted at {:#x} outside its image and stack",
                    fault.address
                );
                libl4::receive(abi::call::ipc::ReceiveSpecifier::Any, abi::Timeouts::NEVER)
            }
        };
    }
}

/// Fill the root task's fresh page `page` with what the child's page `target` holds (its
/// ELF segment's bytes, zero beyond) and return the rights to map it with, or `None` if the
/// address is in no segment and not in the stack.
fn fill_child_page(
    program: &kcore::boot_modules::Program<'_>,
    target: u64,
    page: u64,
) -> Option<abi::Rights> {
    // SAFETY: `page` lies in the root task's CHILD_PAGES region, where no Rust object lives;
    // the first write faults and sigma0 maps a fresh page of RAM there, zero-filled.
    let bytes = unsafe { core::slice::from_raw_parts_mut(page as *mut u8, PAGE_SIZE as usize) };
    bytes.fill(0);
    if (CHILD_STACK_TOP - CHILD_STACK_SIZE..CHILD_STACK_TOP).contains(&target) {
        return Some(abi::Rights::READ_WRITE);
    }
    let segment = program
        .segments()
        .iter()
        .find(|segment| segment.page_range().contains(&target))?;
    let start = target.max(segment.virtual_address);
    let end = (target + PAGE_SIZE).min(segment.virtual_address + segment.file_bytes.len() as u64);
    if start < end {
        let from = (start - segment.virtual_address) as usize;
        let source = segment
            .file_bytes
            .get(from..from + (end - start) as usize)?;
        let offset = (start - target) as usize;
        bytes
            .get_mut(offset..offset + source.len())?
            .copy_from_slice(source);
    }
    let mut rights = abi::Rights::READ;
    if segment.writable {
        rights = rights.union(abi::Rights::WRITE);
    }
    if segment.executable {
        rights = rights.union(abi::Rights::EXECUTE);
    }
    Some(rights)
}

/// Map the initrd read-only at INITRD_WINDOW, page by page, by the sigma0 protocol, and return
/// it as bytes.
fn map_initrd() -> Option<&'static [u8]> {
    let address = rt::kernel_interface_page_address()?;
    // SAFETY: the kernel maps the page read-only at `address` for the task's lifetime; every
    // bit pattern is a valid KernelInterfacePage (plain integers).
    let kip = unsafe { &*(address as *const abi::kernel_interface_page::KernelInterfacePage) };
    let initrd = kip.memory_descriptors().iter().find(|descriptor| {
        descriptor.kind() == Some(abi::kernel_interface_page::MemoryKind::InitialRamDisk)
    })?;
    let mut offset = 0;
    while offset < initrd.size {
        let window = abi::Fpage::page(INITRD_WINDOW + offset, abi::Rights::READ).ok()?;
        // SAFETY: BR0 of the own UTCB: the next map item may land in this one-page window,
        // where no Rust object lives.
        unsafe {
            (*libl4::utcb()).buffer_registers[abi::utcb::ACCEPTOR_REGISTER] =
                abi::message::item::Acceptor::window(window).raw()
        };
        let reply = libl4::call(
            abi::ThreadId::SIGMA0,
            abi::protocol::SIGMA0_LABEL,
            [initrd.base + offset],
        )
        .ok()?;
        if reply.tag.typed_words() != 2 || reply.words[1] == abi::Fpage::NIL.raw() {
            return None;
        }
        offset += PAGE_SIZE;
    }
    // SAFETY: [INITRD_WINDOW, + size) is now mapped read-only to the initrd, which nobody
    // writes, for the task's lifetime.
    Some(unsafe { core::slice::from_raw_parts(INITRD_WINDOW as *const u8, initrd.size as usize) })
}

fn fail(reason: &str) -> ! {
    debug_println!("roottask: FAIL {reason}");
    libl4::halt_myself()
}
