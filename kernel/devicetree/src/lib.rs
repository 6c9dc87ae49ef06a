//! Turns the flattened device tree (DTB) handed over in `x0` into a plain description of the
//! machine, before the kernel has a heap.
//!
//! Why this crate exists: every hardware fact the kernel relies on — where RAM is, how many
//! CPUs there are and how to start them, where the interrupt controller, the console UART and
//! the timer interrupts are, how to call PSCI, the command line and the initrd — comes from the
//! DTB that the boot loader (here QEMU) passes in. None of it is hard-coded anywhere, so the same
//! kernel runs on GICv2 and GICv3 machines, with any amount of memory and any number of CPUs.
//! This crate is the *only* place that reads the DTB: [`parse`] decodes everything the kernel
//! needs, fully, into a [`Machine`] made of plain values, and after that the DTB is never looked
//! at again.
//!
//! Design:
//! - Pure logic, `no_std`, no allocation, no assembly, no system registers, so it is tested on
//!   the host against real blobs dumped from our QEMU (see `testdata/README.md`).
//! - The FDT format itself is read by the `fdt-rs` crate. Its index
//!   ([`fdt_rs::index::DevTreeIndex`]) is built in a caller-provided byte buffer (the kernel
//!   passes a static one), which lets us follow parents (`#address-cells`), phandles
//!   (`interrupt-parent`, `clocks`) and paths (`/chosen/stdout-path`, `/aliases`).
//! - The DTB is input from outside the kernel, so it is treated as an allegation: every offset,
//!   length and cell count is checked, every failure is a typed [`Error`], and nothing panics on
//!   a bad blob (see `blob.rs` for the guards we put in front of `fdt-rs`).
//! - Lists have a fixed capacity ([`RangeList`], [`CpuList`]); overflowing one is an error, not a
//!   silent truncation.
//!
//! The small [`boot_argument`] helper for the kernel command line lives here too, because the
//! command line is one of the things that comes out of the DTB.

#![cfg_attr(not(test), no_std)]

mod blob;
mod bootargs;
mod chosen;
mod cpus;
mod devices;
mod error;
mod interrupt;
mod machine;
mod memory;
mod range;
mod tree;

pub use bootargs::boot_argument;
pub use error::Error;
pub use interrupt::{Interrupt, InterruptKind, Trigger};
pub use machine::{
    Cpu, CpuList, EnableMethod, InterruptController, Machine, Psci, PsciMethod, PsciVersion, Timer,
    Uart, UartKind,
};
pub use range::{ListFull, MmioRange, PhysRange, RangeList};

/// The size of the blob (its header's `totalsize`) from its first bytes, so that a caller
/// holding only a physical address knows how much memory to hand to [`parse`].
///
/// Arguments: `header`, at least the 40-byte FDT header, 4-byte aligned.
///
/// Errors: [`Error::Truncated`], [`Error::MisalignedBlob`], [`Error::BadMagic`],
/// [`Error::BadHeader`].
pub fn total_size(header: &[u8]) -> Result<usize, Error> {
    blob::total_size(header)
}

/// Decodes the device tree blob `dtb` into a [`Machine`].
///
/// Arguments:
/// - `dtb`: the whole blob, 4-byte aligned, at least as long as the header's `totalsize` (it may
///   be longer; the rest is ignored).
/// - `index_buffer`: scratch memory for the `fdt-rs` index, used only during this call. Any
///   alignment will do: the index is aligned within the buffer. The kernel passes a static
///   64 KiB buffer; QEMU's `virt` blobs need about 8 KiB.
///
/// Return values: the [`Machine`], which borrows only strings (the command line) from `dtb`.
///
/// Errors: [`Error`] says what was wrong with the blob (header, structure, a missing node, a
/// malformed property) or that `index_buffer` is too small, with the size it would need.
pub fn parse<'dt>(dtb: &'dt [u8], index_buffer: &mut [u8]) -> Result<Machine<'dt>, Error> {
    let devtree = blob::open(dtb)?;
    let dtb_size = devtree.totalsize() as u64;
    let boot_cpu_id = devtree.boot_cpuid_phys();
    let mut reserved = RangeList::new();
    blob::read_reservation_block(&devtree, &mut reserved)?;

    let index = blob::build_index(devtree, index_buffer)?;
    let tree = tree::Tree::new(&index)?;

    let memory = memory::memory(&tree)?;
    memory::add_reserved_memory(&tree, &mut reserved)?;
    let cpus = cpus::cpus(&tree)?;
    let gic = devices::interrupt_controller(&tree)?;
    let timer = devices::timer(&tree, &gic)?;
    let psci = devices::psci(&tree)?;
    let chosen = chosen::chosen(&tree, &gic)?;
    let mut kernel_owned = [MmioRange::new(0, 0); 4];
    match &gic.controller {
        InterruptController::GicV2 {
            distributor,
            cpu_interface,
        } => {
            kernel_owned[0] = *distributor;
            kernel_owned[1] = *cpu_interface;
        }
        InterruptController::GicV3 {
            distributor,
            redistributors,
            ..
        } => {
            kernel_owned[0] = *distributor;
            kernel_owned[1] = *redistributors;
        }
    }
    // The console UART is offered too: its user-level driver owns receive and the interrupt,
    // while the kernel keeps writing its own log lines by polling (docs/design/os-server.md).
    let devices = devices::user_devices(&tree, &kernel_owned);
    let pci_configuration_space = devices::pci_configuration_space(&tree)?;

    Ok(Machine {
        memory,
        reserved,
        cpus,
        boot_cpu_id,
        console: chosen.console,
        interrupt_controller: gic.controller,
        timer,
        psci,
        bootargs: chosen.bootargs,
        initrd: chosen.initrd,
        devices,
        pci_configuration_space,
        dtb_size,
    })
}
