//! `kernel_main`: from boot.s's temporary map to a running kernel taking timer ticks.
//!
//! The device tree is read twice: first through boot.s's identity map, only to learn where RAM
//! and the kernel's devices are so that the real page tables can be built; then, once the
//! linear map exists, for good (the description is kept for the kernel's lifetime). Before the
//! console is attached nothing can be reported, so that first stretch is kept short: if it
//! fails the CPU halts silently (`make debug` shows where).

use core::fmt::Write;

use aarch64_cpu::registers::{CurrentEL, MIDR_EL1};
use devicetree::{InterruptController, Machine, UartKind, boot_argument};
use kcore::frame_allocator::PhysicalRange;
use spin::{Mutex, Once};
use tock_registers::interfaces::Readable;

use crate::layout::linear;
use crate::memory::DeviceWindow;
use crate::{arch, console, interrupts, memory, psci, timer};

/// Scratch space for the device-tree index (fdt-rs builds it in caller memory: no heap yet).
#[repr(C, align(16))]
struct IndexBuffer([u8; 64 * 1024]);
static INDEX_BUFFER: Mutex<IndexBuffer> = Mutex::new(IndexBuffer([0; 64 * 1024]));

/// The machine as the device tree describes it, for the kernel's lifetime.
static MACHINE: Once<Machine<'static>> = Once::new();

/// Where the boot CPU came from.
#[derive(Clone, Copy, Debug)]
pub struct BootFacts {
    /// Physical address of the DTB (x0 at entry).
    pub dtb_physical: u64,
    /// Size of the DTB (its header's totalsize).
    pub dtb_size: u64,
    /// Where QEMU loaded the image.
    pub image_physical_base: u64,
    /// Exception level the kernel was entered at (1 or 2).
    pub entry_level: u64,
}

const MAX_RAM_BANKS: usize = 16;
const MAX_RESERVED: usize = 24;

/// The kernel's Rust entry, called once by boot.s on the boot CPU with the MMU on, at the link
/// address, on the boot stack, with interrupts masked.
///
/// # Safety
/// Only boot.s calls this, with the arguments its register contract describes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kernel_main(
    dtb_physical: u64,
    image_physical_base: u64,
    entry_level: u64,
) -> ! {
    // SAFETY: boot.s identity-maps the gigabyte holding the DTB; a DTB header is 40 bytes.
    let header = unsafe { core::slice::from_raw_parts(dtb_physical as *const u8, 40) };
    let Ok(dtb_size) = devicetree::total_size(header) else {
        arch::halt()
    };
    // The EL0 entry finds the kernel stack through TPIDR_EL1; EL0 FP/SIMD traps until a
    // thread owns the FP unit (lazy switching, system.rs).
    arch::user::set_kernel_stack_top();
    arch::user::set_fp_access(false);
    let facts = BootFacts {
        dtb_physical,
        dtb_size: dtb_size as u64,
        image_physical_base,
        entry_level,
    };

    // First reading, through the identity map: RAM and the kernel's own devices.
    let mut ram = [PhysicalRange { base: 0, size: 0 }; MAX_RAM_BANKS];
    let mut devices = [DeviceWindow { base: 0, size: 0 }; 4];
    let (ram_banks, device_count) = {
        // SAFETY: as above; the identity map covers the DTB's gigabyte and the DTB lies in
        // memory nothing writes to.
        let dtb = unsafe { core::slice::from_raw_parts(dtb_physical as *const u8, dtb_size) };
        let mut index = INDEX_BUFFER.lock();
        let Ok(machine) = devicetree::parse(dtb, &mut index.0) else {
            arch::halt()
        };
        (
            collect_ram(&machine, &mut ram),
            collect_devices(&machine, &mut devices),
        )
    };
    // SAFETY: once, at boot, interrupts masked, identity map live; `ram` and `devices` come
    // from the device tree.
    let tables = unsafe {
        memory::build_kernel_tables(
            image_physical_base,
            &ram[..ram_banks],
            &devices[..device_count],
        )
    };
    if tables.is_err() {
        arch::halt();
    }

    // Second reading, through the linear map, kept for good.
    // SAFETY: the DTB's frames are reserved below and never written; the linear map is
    // permanent, so the slice lives as long as the kernel.
    let dtb: &'static [u8] =
        unsafe { core::slice::from_raw_parts(linear(dtb_physical) as *const u8, dtb_size) };
    let machine = {
        // The index is only needed while parsing; the description borrows the DTB alone.
        let mut index = INDEX_BUFFER.lock();
        match devicetree::parse(dtb, &mut index.0) {
            Ok(machine) => MACHINE.call_once(|| machine),
            Err(_) => arch::halt(),
        }
    };
    start_console(machine);
    let level = boot_argument(machine.bootargs, "log")
        .and_then(console::parse_level)
        .unwrap_or(log::LevelFilter::Info);
    console::start_logging(level);
    if let Err(error) = tables {
        log::error!("kernel map: {error:?}");
    }

    let summary = start_memory(machine, &facts, &ram[..ram_banks]);
    psci::start(machine.psci.as_ref());
    // SAFETY: build_kernel_tables mapped the GIC blocks as device memory in the linear map.
    unsafe { interrupts::start(&machine.interrupt_controller, linear) };
    let hz = tick_rate(machine.bootargs);
    let timer_interrupt = machine.timer.virtual_timer;
    interrupts::attach(
        timer_interrupt.intid(),
        timer_interrupt.trigger == devicetree::Trigger::Edge,
        timer::on_interrupt,
    );
    timer::start(hz);
    print_banner(machine, &facts, &summary, hz);
    arch::enable_interrupts();
    run_test_scenario(machine, &facts);
    let initrd = machine.initrd.map(|range| PhysicalRange {
        base: range.base,
        size: range.size,
    });
    let dtb = PhysicalRange {
        base: facts.dtb_physical,
        size: facts.dtb_size,
    };
    let mut devices = [PhysicalRange { base: 0, size: 0 }; 16];
    let mut device_count = 0;
    for (slot, device) in devices.iter_mut().zip(machine.devices.iter()) {
        *slot = PhysicalRange {
            base: device.base,
            size: device.size,
        };
        device_count += 1;
    }
    crate::user_level::start(initrd, dtb, summary.ram_bytes, &devices[..device_count]);
    idle()
}

fn collect_ram(machine: &Machine<'_>, ram: &mut [PhysicalRange; MAX_RAM_BANKS]) -> usize {
    let mut count = 0;
    for (slot, bank) in ram.iter_mut().zip(machine.memory.iter()) {
        *slot = PhysicalRange {
            base: bank.base,
            size: bank.size,
        };
        count += 1;
    }
    count
}

fn collect_devices(machine: &Machine<'_>, devices: &mut [DeviceWindow; 4]) -> usize {
    let uart = machine
        .console
        .as_ref()
        .map(|uart| (uart.registers.base, uart.registers.size));
    let gic = match &machine.interrupt_controller {
        InterruptController::GicV2 {
            distributor,
            cpu_interface,
        } => [distributor, cpu_interface],
        InterruptController::GicV3 {
            distributor,
            redistributors,
            ..
        } => [distributor, redistributors],
    };
    let windows = uart
        .into_iter()
        .chain(gic.iter().map(|range| (range.base, range.size)));
    let mut count = 0;
    for (slot, (base, size)) in devices.iter_mut().zip(windows) {
        *slot = DeviceWindow { base, size };
        count += 1;
    }
    count
}

fn start_console(machine: &Machine<'_>) {
    if let Some(uart) = machine
        .console
        .as_ref()
        .filter(|uart| uart.kind == UartKind::Pl011)
    {
        // SAFETY: build_kernel_tables mapped this PL011's registers as device memory in the
        // linear map for good, and the kernel is the only user of its transmitter.
        unsafe { console::attach_pl011(linear(uart.registers.base)) };
    }
}

fn start_memory(
    machine: &Machine<'_>,
    facts: &BootFacts,
    ram: &[PhysicalRange],
) -> memory::MemorySummary {
    let sections = crate::layout::image_sections();
    let image_size = sections.image.end - sections.image.start;
    let mut reserved = [PhysicalRange { base: 0, size: 0 }; MAX_RESERVED];
    let mut count = 0;
    let mut reserve = |range: PhysicalRange| {
        if let Some(slot) = reserved.get_mut(count) {
            *slot = range;
            count += 1;
        } else {
            log::error!("too many reserved ranges; {range:x?} is not protected");
        }
    };
    reserve(PhysicalRange {
        base: facts.image_physical_base,
        size: image_size,
    });
    reserve(PhysicalRange {
        base: facts.dtb_physical,
        size: facts.dtb_size,
    });
    if let Some(initrd) = &machine.initrd {
        reserve(PhysicalRange {
            base: initrd.base,
            size: initrd.size,
        });
    }
    for range in machine.reserved.iter() {
        reserve(PhysicalRange {
            base: range.base,
            size: range.size,
        });
    }
    match memory::start_frame_allocator(ram, &reserved[..count]) {
        Ok(summary) => summary,
        Err(error) => {
            log::error!("frame allocator: {error:?}");
            crate::stop("kernel stopped: no usable memory")
        }
    }
}

fn tick_rate(bootargs: &str) -> u64 {
    match boot_argument(bootargs, "hz").map(str::parse::<u64>) {
        None => timer::DEFAULT_HZ,
        Some(Ok(hz)) if timer::HZ_RANGE.contains(&hz) => hz,
        Some(_) => {
            log::warn!(
                "hz= must be a number in {:?}; using {}",
                timer::HZ_RANGE,
                timer::DEFAULT_HZ
            );
            timer::DEFAULT_HZ
        }
    }
}

/// "Arm Cortex-A72 r0p3" from MIDR_EL1.
struct CpuName(u64);

impl core::fmt::Display for CpuName {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let implementer = (self.0 >> 24) & 0xff;
        let variant = (self.0 >> 20) & 0xf;
        let part = (self.0 >> 4) & 0xfff;
        let revision = self.0 & 0xf;
        let name = match (implementer, part) {
            (0x41, 0xd03) => "Arm Cortex-A53",
            (0x41, 0xd04) => "Arm Cortex-A35",
            (0x41, 0xd05) => "Arm Cortex-A55",
            (0x41, 0xd07) => "Arm Cortex-A57",
            (0x41, 0xd08) => "Arm Cortex-A72",
            (0x41, 0xd09) => "Arm Cortex-A73",
            (0x41, 0xd0b) => "Arm Cortex-A76",
            (0x41, 0xd0c) => "Arm Neoverse-N1",
            (0x41, 0xd40) => "Arm Neoverse-V1",
            (0x41, 0xd41) => "Arm Cortex-A78",
            (0x41, 0xd49) => "Arm Neoverse-N2",
            (0x41, 0xd4f) => "Arm Neoverse-V2",
            (0x41, 0xd06) => "Arm Cortex-A65",
            (0x00, _) => "QEMU 'max' CPU",
            (0x41, _) => "Arm (unknown part)",
            _ => "unknown CPU",
        };
        write!(
            formatter,
            "{name} r{variant}p{revision} (MIDR_EL1 {:#010x})",
            self.0
        )
    }
}

fn print_banner(
    machine: &Machine<'_>,
    facts: &BootFacts,
    summary: &memory::MemorySummary,
    hz: u64,
) {
    let mebibytes = |bytes: u64| bytes / (1024 * 1024);
    kprintln!();
    kprintln!(
        "L4/aarch64 microkernel {} ({})",
        env!("CARGO_PKG_VERSION"),
        env!("KERNEL_SOURCE_VERSION")
    );
    kprintln!("  CPU:        {}", CpuName(MIDR_EL1.get()));
    kprintln!(
        "  EL:         entered at EL{}, running at EL{}",
        facts.entry_level,
        CurrentEL.read(CurrentEL::EL)
    );
    kprintln!(
        "  CPUs:       {} in the device tree, 1 online (secondaries stay parked in PSCI)",
        machine.cpus.len()
    );
    let mut banks = BankList::default();
    for bank in machine.memory.iter() {
        let _ = write!(banks, " [{:#x}..{:#x})", bank.base, bank.base + bank.size);
    }
    kprintln!(
        "  RAM:        {} MiB{}",
        mebibytes(summary.ram_bytes),
        banks.as_str()
    );
    kprintln!(
        "  memory:     {} frames free ({} MiB); bitmap {} KiB at {:#x}",
        summary.free_frames,
        mebibytes(summary.free_frames as u64 * 4096),
        summary.bitmap.size / 1024,
        summary.bitmap.base
    );
    match &machine.interrupt_controller {
        InterruptController::GicV2 {
            distributor,
            cpu_interface,
        } => kprintln!(
            "  GIC:        {} distributor {:#x}, CPU interface {:#x}",
            interrupts::describe(&machine.interrupt_controller),
            distributor.base,
            cpu_interface.base
        ),
        InterruptController::GicV3 {
            distributor,
            redistributors,
            ..
        } => kprintln!(
            "  GIC:        {} distributor {:#x}, redistributors {:#x}",
            interrupts::describe(&machine.interrupt_controller),
            distributor.base,
            redistributors.base
        ),
    }
    kprintln!(
        "  timer:      counter {} Hz, tick {} Hz on INTID {}",
        timer::frequency(),
        hz,
        machine.timer.virtual_timer.intid()
    );
    match (&machine.psci, psci::version()) {
        (Some(psci), Some((major, minor))) => kprintln!(
            "  PSCI:       {major}.{minor} via {}",
            match psci.method {
                devicetree::PsciMethod::Hvc => "hvc",
                devicetree::PsciMethod::Smc => "smc",
            }
        ),
        _ => kprintln!("  PSCI:       none (power off halts instead)"),
    }
    if let Some(uart) = &machine.console {
        kprintln!(
            "  console:    {:?} at {:#x}",
            uart.kind,
            uart.registers.base
        );
    }
    match &machine.initrd {
        Some(initrd) => kprintln!("  initrd:     {} bytes at {:#x}", initrd.size, initrd.base),
        None => kprintln!("  initrd:     none"),
    }
    kprintln!("  bootargs:   \"{}\"", machine.bootargs);
    kprintln!(
        "  heap:       {} KiB taken so far",
        memory::heap_bytes() / 1024
    );
    log::info!("boot complete; timer ticking");
}

/// A line of text in a fixed buffer (no heap needed for the banner).
struct BankList {
    bytes: [u8; 256],
    len: usize,
}

impl Default for BankList {
    fn default() -> Self {
        Self {
            bytes: [0; 256],
            len: 0,
        }
    }
}

impl BankList {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl Write for BankList {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let end = self.len + text.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        slot.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Test images: run the scenario named by `ktest=`, which ends the run itself.
#[cfg(feature = "ktest")]
fn run_test_scenario(machine: &'static Machine<'static>, facts: &BootFacts) {
    if let Some(limit) = boot_argument(machine.bootargs, "ktest.asids") {
        match limit.parse() {
            Ok(limit) => crate::user_space::limit_asids(limit),
            Err(_) => kprintln!("ktest: ignoring ktest.asids={limit}: not a number"),
        }
    }
    if let Some(scenario) = boot_argument(machine.bootargs, "ktest") {
        crate::ktest::run(scenario, machine, facts);
    }
}

/// The normal kernel has no test scenarios.
#[cfg(not(feature = "ktest"))]
fn run_test_scenario(_machine: &'static Machine<'static>, _facts: &BootFacts) {}

fn idle() -> ! {
    loop {
        arch::wait_for_interrupt();
    }
}
