//! Starting user level at boot: sigma0 and the root task from the initrd (docs/kernel-api.md,
//! "Boot: the first two tasks").
//!
//! The kernel keeps a pool of frames for itself (an eighth of RAM, at least 16 MiB: page
//! tables, thread control blocks, UTCBs, its heap) and hands the rest of RAM to sigma0, which
//! owns it and gives it out. sigma0's address space maps physical memory 1:1; the kernel
//! installs those pages lazily, on sigma0's own faults or when sigma0 first maps them on
//! (`kcore` asks [`sigma0_memory`]): RAM, the initrd, the device tree and every device region
//! the device tree lists, of any size. Both tasks get the kernel interface page, read-only at
//! [`KIP_ADDRESS`], with its address in x0: the memory map sigma0 hands out from.

use abi::ThreadId;
use abi::kernel_interface_page::{KernelInterfacePage, MemoryDescriptor, MemoryKind};
use kcore::boot_modules::Initrd;
use kcore::frame_allocator::{FRAME_SIZE, PhysicalRange};
use kcore::kernel::Kernel;
use kcore::mapdb::{Frame, Rights};
use spin::Once;

use crate::layout::linear;
use crate::machine::HardwareMachine;
use crate::{boot_programs, memory, system, timer};

/// Where the kernel interface page appears in sigma0 and the root task: just below the UTCB
/// area, out of the way of sigma0's 1:1 view of physical memory.
pub const KIP_ADDRESS: u64 = crate::boot_programs::UTCB_AREA - 0x1000;

/// The most runs of conventional memory sigma0 gets (QEMU's RAM yields one or two).
const MAX_RUNS: usize = 32;

/// The most device regions offered to user level.
const MAX_DEVICES: usize = 16;

/// The physical memory sigma0 may map 1:1, fixed at boot.
struct Sigma0Memory {
    conventional: [PhysicalRange; MAX_RUNS],
    runs: usize,
    read_only: [PhysicalRange; 2],
    devices: [PhysicalRange; MAX_DEVICES],
    device_count: usize,
}

/// Whether physical address `address` is device MMIO offered to user level (mapped as device
/// memory, never cached).
pub fn is_device(address: u64) -> bool {
    SIGMA0_MEMORY.get().is_some_and(|memory| {
        memory.devices[..memory.device_count]
            .iter()
            .any(|range| range.base <= address && address < range.end())
    })
}

static SIGMA0_MEMORY: Once<Sigma0Memory> = Once::new();

/// What sigma0 may have at physical address `address`: conventional memory read-write-execute
/// (the hardware mapping drops execute, W^X; its children get what they are mapped), the
/// initrd and the device tree read-only, device registers read-write (mapped as device
/// memory). The kernel core makes the root mapping when sigma0 first faults on the page or
/// first maps it on, so even a 256 MiB configuration space costs nothing until it is used.
pub fn sigma0_memory(address: u64) -> Option<(Frame, Rights)> {
    let memory = SIGMA0_MEMORY.get()?;
    let inside = |range: &PhysicalRange| range.base <= address && address < range.end();
    let frame = Frame(address / FRAME_SIZE);
    if memory.conventional[..memory.runs].iter().any(inside) {
        return Some((frame, Rights::ALL));
    }
    if memory.devices[..memory.device_count].iter().any(inside) {
        return Some((frame, Rights::READ | Rights::WRITE));
    }
    memory
        .read_only
        .iter()
        .any(inside)
        .then_some((frame, Rights::READ))
}

/// If the initrd holds `sigma0` and `roottask`, start them and hand the CPU to the kernel
/// core for good; otherwise return (the kernel then only takes timer ticks).
pub fn start(
    initrd: Option<PhysicalRange>,
    dtb: PhysicalRange,
    ram_bytes: u64,
    device_list: &[PhysicalRange],
) {
    let Some(initrd_range) = initrd else { return };
    // SAFETY: the initrd's frames are reserved and never written; the linear map is permanent.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            linear(initrd_range.base) as *const u8,
            initrd_range.size as usize,
        )
    };
    let Ok(initrd) = Initrd::new(bytes) else {
        log::warn!("the initrd is not a cpio newc archive; no user level");
        return;
    };
    let (Ok(sigma0), Ok(roottask)) = (
        initrd.find_program("sigma0"),
        initrd.find_program("roottask"),
    ) else {
        log::info!("no sigma0 and roottask in the initrd; no user level");
        return;
    };

    let keep = (ram_bytes / 8).max(16 << 20) / FRAME_SIZE;
    let mut conventional = [PhysicalRange { base: 0, size: 0 }; MAX_RUNS];
    let runs = memory::carve_for_sigma0(keep as usize, &mut conventional);
    let page_align = |range: PhysicalRange| {
        let base = range.base & !(FRAME_SIZE - 1);
        PhysicalRange {
            base,
            size: (range.end() - base).next_multiple_of(FRAME_SIZE),
        }
    };
    let read_only = [page_align(initrd_range), page_align(dtb)];
    let mut devices = [PhysicalRange { base: 0, size: 0 }; MAX_DEVICES];
    let mut device_count = 0;
    for (slot, device) in devices.iter_mut().zip(device_list) {
        *slot = page_align(*device);
        device_count += 1;
    }
    let memory = SIGMA0_MEMORY.call_once(|| Sigma0Memory {
        conventional,
        runs,
        read_only,
        devices,
        device_count,
    });

    let Some(kip_frame) = build_kernel_interface_page(memory) else {
        log::error!("no frame for the kernel interface page; no user level");
        return;
    };
    crate::machine::set_kernel_interface_page(kip_frame);
    let mut kernel = Kernel::new(HardwareMachine, timer::hz());
    let started =
        boot_programs::start(&mut kernel, ThreadId::SIGMA0.task(), ThreadId::NIL, &sigma0)
            .and_then(|sigma0| {
                boot_programs::give_kernel_interface_page(&mut kernel, sigma0, KIP_ADDRESS)?;
                let root = boot_programs::start(
                    &mut kernel,
                    ThreadId::ROOT_TASK.task(),
                    sigma0,
                    &roottask,
                )?;
                boot_programs::give_kernel_interface_page(&mut kernel, root, KIP_ADDRESS)?;
                Ok((sigma0, root))
            });
    match started {
        Ok((sigma0, root)) => {
            let given: u64 = memory.conventional[..memory.runs]
                .iter()
                .map(|run| run.size)
                .sum();
            log::info!(
                "starting sigma0 ({sigma0}, {} MiB) and the root task ({root})",
                given >> 20
            );
            // V2: the root task owns every task number nobody has used yet.
            kernel.give_unused_task_numbers_to(ThreadId::ROOT_TASK.task());
            kernel.schedule();
            system::start(kernel)
        }
        Err(error) => log::error!("user level did not start: {error:?}"),
    }
}

/// The kernel interface page in a frame of its own: ABI version, timer frequency, and the
/// memory map sigma0 hands out from.
fn build_kernel_interface_page(memory: &Sigma0Memory) -> Option<u64> {
    let frame = memory::with_frames(|frames| frames.allocate()).flatten()?;
    let mut page = KernelInterfacePage::new(timer::frequency());
    for run in &memory.conventional[..memory.runs] {
        let _ = page.push_memory_descriptor(MemoryDescriptor::new(
            run.base,
            run.size,
            MemoryKind::Conventional,
        ));
    }
    let [initrd, dtb] = memory.read_only;
    let _ = page.push_memory_descriptor(MemoryDescriptor::new(
        initrd.base,
        initrd.size,
        MemoryKind::InitialRamDisk,
    ));
    let _ = page.push_memory_descriptor(MemoryDescriptor::new(
        dtb.base,
        dtb.size,
        MemoryKind::DeviceTree,
    ));
    for device in &memory.devices[..memory.device_count] {
        let _ = page.push_memory_descriptor(MemoryDescriptor::new(
            device.base,
            device.size,
            MemoryKind::Device,
        ));
    }
    // SAFETY: the frame was just allocated and the linear map covers it read-write; the KIP is
    // a 4 KiB repr(C) value, exactly one frame.
    unsafe { (linear(frame) as *mut KernelInterfacePage).write(page) };
    Some(frame)
}
