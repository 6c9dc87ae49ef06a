//! The root task's behaviour; built only for the bare-metal target (see main.rs).

use abi::call::ipc::{IpcArguments, ReceiveSpecifier};
use abi::call::task_new::{TaskDeletion, TaskNewArguments};
use abi::{Fpage, MessageTag, Rights, ThreadId, Timeouts};
use libl4::debug_println;
use protocol::SystemCallPath;
use protocol::boot::{
    POWER_OFF_LABEL, PROCESS_TASKS, SERVER_CONFIGURATION_LABEL, SERVER_INITRD, SERVER_MEMORY,
    SERVER_MEMORY_SIZE, TASK_NUMBER_ANSWER_LABEL, TASK_NUMBER_REQUEST_LABEL,
};

use crate::children::{Children, Region};

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
    start_everything()
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

/// Where the root task maps the initrd (read-only, from sigma0) to read the programs in it.
const INITRD_WINDOW: u64 = 0x4000_0000_0000;
/// Where the root task maps the device tree (read-only, from sigma0).
const DEVICE_TREE_WINDOW: u64 = 0x4800_0000_0000;
/// Where the root task receives device register pages from sigma0.
const DEVICE_WINDOW: u64 = 0x3000_0000;
/// Where it receives the first page of the PCIe configuration space.
const PCI_WINDOW: u64 = 0x3000_1000;

/// Task numbers of the children.
const CONSOLE_TASK: u16 = 3;
const SERVER_TASK: u16 = 4;
const HELLO_TASK: u16 = 5;

use protocol::boot::CONFIGURATION_REQUEST_LABEL;

/// The OS server's regions: its anonymous memory and its view of the initrd.
static SERVER_REGIONS: [Region; 2] = [
    Region::Anonymous(SERVER_MEMORY..SERVER_MEMORY + SERVER_MEMORY_SIZE),
    Region::Initrd {
        base: SERVER_INITRD,
    },
];

/// What the console driver is told.
#[derive(Clone, Copy, Debug)]
struct ConsoleConfiguration {
    /// The UART's registers (physical).
    base: u64,
    /// Its interrupt.
    intid: u32,
}

/// Map the initrd and the device tree, start the console driver and the OS server (and
/// `hello`, if the initrd has it: the test image), then page them and answer their
/// configuration requests for good.
fn start_everything() -> ! {
    let Some(initrd) = map_from_sigma0(
        abi::kernel_interface_page::MemoryKind::InitialRamDisk,
        INITRD_WINDOW,
    ) else {
        fail("the initrd could not be mapped from sigma0")
    };
    let console = console_from_device_tree();
    show_pci_host_bridge();
    let mut children = Children::new(initrd, INITRD_WINDOW);
    if has_program(initrd, "hello") {
        match children.start("hello", HELLO_TASK, 16, &[], ThreadId::NIL) {
            Ok(id) => {
                debug_println!("roottask: started hello as {id}, paging it with memory from sigma0")
            }
            Err(why) => fail(why),
        }
    }
    let driver = match (console, has_program(initrd, "console")) {
        (Some(configuration), true) => {
            match children.start("console", CONSOLE_TASK, 16, &[], ThreadId::NIL) {
                Ok(id) => {
                    attach_interrupt(configuration.intid, id);
                    debug_println!(
                        "roottask: started the console driver as {id} (UART at {:#x}, interrupt {})",
                        configuration.base,
                        configuration.intid
                    );
                    Some(id)
                }
                Err(why) => fail(why),
            }
        }
        _ => None,
    };
    let server = if has_program(initrd, "server") {
        match children.start("server", SERVER_TASK, 256, &SERVER_REGIONS, ThreadId::NIL) {
            Ok(id) => {
                debug_println!("roottask: started the OS server as {id}");
                Some(id)
            }
            Err(why) => fail(why),
        }
    } else {
        None
    };
    serve(
        &mut children,
        Plan {
            initrd_size: initrd.len() as u64,
            console,
            driver,
            server,
        },
    )
}

/// Who is who, for the message loop.
#[derive(Clone, Copy, Debug)]
struct Plan {
    initrd_size: u64,
    console: Option<ConsoleConfiguration>,
    driver: Option<ThreadId>,
    server: Option<ThreadId>,
}

/// The root task's loop: page faults of the children, their configuration requests, and
/// the server's request to power off.
fn serve(children: &mut Children, plan: Plan) -> ! {
    let mut received = libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER);
    loop {
        let Ok(message) = received else {
            received = libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER);
            continue;
        };
        let reply = if let Ok(fault) = abi::protocol::PageFault::decode(message.tag, &message.words)
        {
            match children.resolve(message.from, fault.address) {
                Some((tag, item)) => Some(IpcArguments::reply_and_wait(
                    message.from,
                    tag,
                    [item[0], item[1], 0, 0, 0, 0, 0],
                )),
                None => {
                    let name = children.find(message.from).map_or("?", |child| child.name);
                    debug_println!(
                        "roottask: {name} ({}) faulted at {:#x} (pc {:#x}) outside its memory: left halted",
                        message.from,
                        fault.address,
                        fault.instruction_pointer
                    );
                    None
                }
            }
        } else {
            match message.tag.label() {
                console_api::CONFIGURATION_REQUEST_LABEL if Some(message.from) == plan.driver => {
                    console_configuration(plan)
                }
                CONFIGURATION_REQUEST_LABEL if Some(message.from) == plan.server => {
                    server_configuration(plan)
                }
                TASK_NUMBER_REQUEST_LABEL if Some(message.from) == plan.server => {
                    hand_over_task_number(message.from, message.words[0])
                }
                POWER_OFF_LABEL if Some(message.from) == plan.server => {
                    debug_println!("roottask: the OS server asks to power off");
                    // SAFETY: system_power_off changes no memory; it does not return.
                    let results = unsafe { libl4::raw::system_power_off(&[0; 11]) };
                    debug_println!(
                        "roottask: FAIL system_power_off returned error {}",
                        results[abi::call::ERROR_REGISTER]
                    );
                    None
                }
                label => {
                    debug_println!(
                        "roottask: ignored a message with label {label:#x} from {}",
                        message.from
                    );
                    None
                }
            }
        };
        received = match reply {
            // SAFETY: the only items the root task sends are map items of pages it handed
            // out for good (children's pages), of its read-only initrd view, or of device
            // registers; none holds a Rust object of the root task's that could change.
            Some(reply) => unsafe { libl4::ipc(&reply) },
            None => libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER),
        };
    }
}

/// The console driver's configuration: the UART's address, interrupt and register page
/// (mapped from sigma0, passed on as a map item into the driver's window).
fn console_configuration(plan: Plan) -> Option<IpcArguments> {
    let driver = plan.driver?;
    let console = plan.console?;
    let page = console.base & !(crate::children::PAGE_SIZE - 1);
    if !device_page_from_sigma0(page, DEVICE_WINDOW) {
        debug_println!("roottask: FAIL sigma0 did not map the console UART at {page:#x}");
        return None;
    }
    debug_println!("roottask: sigma0 mapped the console UART at {page:#x} to {DEVICE_WINDOW:#x}");
    let fpage = Fpage::page(DEVICE_WINDOW, Rights::READ_WRITE).ok()?;
    let intid = u16::try_from(console.intid).ok()?;
    let configuration = console_api::Configuration::new(console.base, intid).ok()?;
    let words = configuration.words(fpage).ok()?;
    Some(IpcArguments::reply_and_wait(
        driver,
        console_api::Configuration::TAG,
        words,
    ))
}

/// The server asks for task number `number` for a process (`protocol::boot`): if it is one
/// of the processes' numbers, hand it over with task_new (which fails unless the root task
/// still owns it), and answer with task_new's error code.
fn hand_over_task_number(server: ThreadId, number: u64) -> Option<IpcArguments> {
    let task = u16::try_from(number)
        .ok()
        .filter(|task| PROCESS_TASKS.contains(task))
        .and_then(|task| ThreadId::new(task, 0, 1).ok());
    let code = match task {
        Some(task) => {
            let arguments = TaskNewArguments::Delete(TaskDeletion {
                task,
                new_owner: server,
            });
            // SAFETY: handing over an inactive task number changes nothing of the root task.
            let results = unsafe { libl4::raw::task_new(&arguments.encode()) };
            results[abi::call::ERROR_REGISTER]
        }
        None => {
            debug_println!("roottask: the OS server asked for task number {number}: refused");
            abi::error::CallError::InvalidArgument.code()
        }
    };
    let tag = MessageTag::new(TASK_NUMBER_ANSWER_LABEL, 1, 0).ok()?;
    Some(IpcArguments::reply_and_wait(
        server,
        tag,
        [code, 0, 0, 0, 0, 0, 0],
    ))
}

/// The OS server's configuration (`protocol::boot`).
fn server_configuration(plan: Plan) -> Option<IpcArguments> {
    let server = plan.server?;
    let path = default_system_call_path();
    let tag = MessageTag::new(
        SERVER_CONFIGURATION_LABEL,
        protocol::boot::SERVER_CONFIGURATION_WORDS,
        0,
    )
    .ok()?;
    Some(IpcArguments::reply_and_wait(
        server,
        tag,
        [
            SERVER_INITRD,
            plan.initrd_size,
            plan.driver.unwrap_or(ThreadId::NIL).raw(),
            path.auxiliary_value(),
            random_seed(),
            conventional_memory(),
            0,
        ],
    ))
}

/// The boot option `personality.syscall_path=trampoline|exception`, or the trampoline.
fn default_system_call_path() -> SystemCallPath {
    device_tree_machine(|machine| {
        machine
            .bootargs
            .split_ascii_whitespace()
            .find_map(|argument| argument.strip_prefix("personality.syscall_path="))
            .and_then(|name| SystemCallPath::from_name(name.as_bytes()))
    })
    .flatten()
    .unwrap_or(SystemCallPath::Trampoline)
}

/// The bytes of RAM sigma0 hands out (the kernel interface page's conventional memory).
fn conventional_memory() -> u64 {
    let Some(address) = rt::kernel_interface_page_address() else {
        return 0;
    };
    // SAFETY: the kernel maps the page read-only at `address` for the task's lifetime; every
    // bit pattern is a valid KernelInterfacePage (plain integers).
    let kip = unsafe { &*(address as *const abi::kernel_interface_page::KernelInterfacePage) };
    kip.memory_descriptors()
        .iter()
        .filter(|descriptor| {
            descriptor.kind() == Some(abi::kernel_interface_page::MemoryKind::Conventional)
        })
        .map(|descriptor| descriptor.size)
        .sum()
}

/// A seed for the server's `getrandom`: the virtual counter at this moment. Not a secret.
fn random_seed() -> u64 {
    let ticks: u64;
    // SAFETY: reads the virtual counter, which EL0 may read; no memory is touched.
    unsafe {
        core::arch::asm!("mrs {0}, cntvct_el0", out(reg) ticks, options(nomem, nostack, preserves_flags))
    };
    ticks ^ 0x9E37_79B9_7F4A_7C15
}

/// The console UART the device tree names (`/chosen/stdout-path`), with its interrupt.
fn console_from_device_tree() -> Option<ConsoleConfiguration> {
    let console = device_tree_machine(|machine| {
        let uart = machine.console?;
        Some(ConsoleConfiguration {
            base: uart.registers.base,
            intid: uart.interrupt?.intid(),
        })
    })
    .flatten();
    if console.is_none() {
        debug_println!("roottask: the device tree names no console UART with an interrupt");
    }
    console
}

/// Run `body` on the machine the device tree (mapped from sigma0 on first use) describes.
fn device_tree_machine<T>(body: impl FnOnce(&devicetree::Machine<'_>) -> T) -> Option<T> {
    static DEVICE_TREE: spin::Once<Option<&'static [u8]>> = spin::Once::new();
    let dtb = (*DEVICE_TREE.call_once(|| {
        map_from_sigma0(
            abi::kernel_interface_page::MemoryKind::DeviceTree,
            DEVICE_TREE_WINDOW,
        )
    }))?;
    let mut index = alloc::vec![0u8; 64 * 1024];
    match devicetree::parse(dtb, &mut index) {
        Ok(machine) => Some(body(&machine)),
        Err(error) => {
            debug_println!("roottask: the device tree does not parse: {error:?}");
            None
        }
    }
}

/// Read the vendor and device ID of PCI function 00:00.0 from the ECAM configuration space
/// the device tree names: the first page of a device region far larger than a page, which
/// sigma0 hands out like any other device page (the kernel makes its root mapping when sigma0
/// first maps it on).
fn show_pci_host_bridge() {
    let Some(space) = device_tree_machine(|machine| machine.pci_configuration_space).flatten()
    else {
        return;
    };
    if !device_page_from_sigma0(space.base, PCI_WINDOW) {
        debug_println!(
            "roottask: FAIL sigma0 did not map the PCIe configuration space at {:#x}",
            space.base
        );
        return;
    }
    // SAFETY: PCI_WINDOW now maps the configuration space of bus 0, device 0, function 0
    // (device memory); offset 0 is its 32-bit vendor/device ID register, which has no read
    // side effects. No Rust object lives in the window.
    let identity = unsafe { (PCI_WINDOW as *const u32).read_volatile() };
    debug_println!(
        "roottask: PCI 00:00.0 is {:04x}:{:04x} (configuration space at {:#x}, {} MiB)",
        identity & 0xFFFF,
        identity >> 16,
        space.base,
        space.size >> 20
    );
}

/// Whether the initrd holds a program called `name`.
fn has_program(initrd: &'static [u8], name: &str) -> bool {
    kcore::boot_modules::Initrd::new(initrd)
        .ok()
        .and_then(|archive| archive.find(name).ok().flatten())
        .is_some()
}

/// Attach interrupt `intid` to `handler` (only tasks the kernel is chief of may).
fn attach_interrupt(intid: u32, handler: ThreadId) {
    let line = u16::try_from(intid)
        .ok()
        .and_then(|line| ThreadId::interrupt(line).ok());
    let Some(line) = line else {
        fail("the console's interrupt has no thread ID")
    };
    let attach =
        abi::call::lthread_ex_regs::LthreadExRegsArguments::attach_interrupt(line, handler);
    // SAFETY: attaching an interrupt changes no memory or thread of the root task's.
    let results = unsafe { libl4::raw::lthread_ex_regs(&attach.encode()) };
    if results[abi::call::ERROR_REGISTER] != 0 {
        fail("the kernel refused to attach the console's interrupt");
    }
}

/// Ask sigma0 for the device page at physical `page` into the root task's page `window`.
fn device_page_from_sigma0(page: u64, window: u64) -> bool {
    let Ok(window) = Fpage::page(window, Rights::READ_WRITE) else {
        return false;
    };
    // SAFETY: BR0 of the own UTCB: the next map item may land in the window, which no Rust
    // object occupies.
    unsafe {
        (*libl4::utcb()).buffer_registers[abi::utcb::ACCEPTOR_REGISTER] =
            abi::message::item::Acceptor::window(window).raw()
    };
    match libl4::call(ThreadId::SIGMA0, abi::protocol::SIGMA0_LABEL, [page]) {
        // The kernel rewrites the received map item to what was mapped: nil if nothing.
        Ok(reply) => reply.tag.typed_words() == 2 && reply.words[1] != Fpage::NIL.raw(),
        Err(_) => false,
    }
}

/// Map the memory-map region of `kind` (the initrd, the device tree) read-only at `window`,
/// page by page, by the sigma0 protocol, and return it as bytes.
fn map_from_sigma0(
    kind: abi::kernel_interface_page::MemoryKind,
    window_base: u64,
) -> Option<&'static [u8]> {
    let address = rt::kernel_interface_page_address()?;
    // SAFETY: the kernel maps the page read-only at `address` for the task's lifetime; every
    // bit pattern is a valid KernelInterfacePage (plain integers).
    let kip = unsafe { &*(address as *const abi::kernel_interface_page::KernelInterfacePage) };
    let region = kip
        .memory_descriptors()
        .iter()
        .find(|descriptor| descriptor.kind() == Some(kind))?;
    let mut offset = 0;
    while offset < region.size {
        let window = abi::Fpage::page(window_base + offset, abi::Rights::READ).ok()?;
        // SAFETY: BR0 of the own UTCB: the next map item may land in this one-page window,
        // where no Rust object lives.
        unsafe {
            (*libl4::utcb()).buffer_registers[abi::utcb::ACCEPTOR_REGISTER] =
                abi::message::item::Acceptor::window(window).raw()
        };
        let reply = libl4::call(
            abi::ThreadId::SIGMA0,
            abi::protocol::SIGMA0_LABEL,
            [region.base + offset],
        )
        .ok()?;
        if reply.tag.typed_words() != 2 || reply.words[1] == abi::Fpage::NIL.raw() {
            return None;
        }
        offset += PAGE_SIZE;
    }
    // SAFETY: [window_base, + size) is now mapped read-only to the region, which nobody
    // writes, for the task's lifetime.
    Some(unsafe { core::slice::from_raw_parts(window_base as *const u8, region.size as usize) })
}

fn fail(reason: &str) -> ! {
    debug_println!("roottask: FAIL {reason}");
    libl4::halt_myself()
}
