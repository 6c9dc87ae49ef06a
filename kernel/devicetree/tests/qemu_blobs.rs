//! Every field of [`devicetree::Machine`] checked against real blobs dumped from our QEMU.
//!
//! The expected values are QEMU 7.2 `virt` facts (hw/arm/virt.c memory map), read off the
//! blobs with `dtc -I dtb -O dts`; `testdata/README.md` lists how each blob was made. If QEMU
//! changes its machine, these tests are where we find out.

mod common;

use common::{AlignedBytes, INDEX_BUFFER_SIZE, QEMU_BLOBS, load, machine, parse};
use devicetree::{
    EnableMethod, Interrupt, InterruptController, InterruptKind, MmioRange, PhysRange, Psci,
    PsciMethod, PsciVersion, Trigger, Uart, UartKind, boot_argument,
};

/// Where QEMU's virt machine starts RAM.
const RAM_BASE: u64 = 0x4000_0000;
/// QEMU pads every dumped blob to this `totalsize`.
const QEMU_DTB_SIZE: u64 = 0x10_0000;

fn level(kind: InterruptKind, number: u32) -> Interrupt {
    Interrupt {
        kind,
        number,
        trigger: Trigger::Level,
    }
}

#[test]
fn every_qemu_blob_parses_with_the_kernels_64_kib_index_buffer() {
    for name in QEMU_BLOBS {
        if let Err(error) = parse(load(name)) {
            panic!("{name}: {error:?}");
        }
    }
}

#[test]
fn every_qemu_blob_index_needs_less_than_a_quarter_of_the_kernels_buffer() {
    for name in QEMU_BLOBS {
        let mut tiny = AlignedBytes::new(&[0u8; 8]);
        let Err(devicetree::Error::IndexBufferTooSmall { needed }) =
            devicetree::parse(load(name), tiny.bytes_mut())
        else {
            panic!("{name}: 8 bytes cannot hold an index");
        };
        assert!(needed < INDEX_BUFFER_SIZE / 4, "{name}: {needed}");
    }
}

#[test]
fn every_qemu_blob_has_a_pl011_console_at_0x09000000_on_spi_1() {
    for name in QEMU_BLOBS {
        let console = machine(name).console;
        assert_eq!(
            console,
            Some(Uart {
                kind: UartKind::Pl011,
                registers: MmioRange::new(0x0900_0000, 0x1000),
                interrupt: Some(level(InterruptKind::Spi, 1)),
                clock_frequency: Some(24_000_000),
            }),
            "{name}"
        );
        assert_eq!(console.unwrap().interrupt.unwrap().intid(), 33, "{name}");
    }
}

#[test]
fn every_qemu_blob_routes_the_timer_to_ppis_29_30_27_and_26() {
    for name in QEMU_BLOBS {
        let timer = machine(name).timer;
        assert_eq!(
            timer.secure_physical,
            level(InterruptKind::Ppi, 13),
            "{name}"
        );
        assert_eq!(
            timer.nonsecure_physical,
            level(InterruptKind::Ppi, 14),
            "{name}"
        );
        assert_eq!(timer.virtual_timer, level(InterruptKind::Ppi, 11), "{name}");
        assert_eq!(
            timer.hypervisor_physical,
            level(InterruptKind::Ppi, 10),
            "{name}"
        );
        assert_eq!(timer.secure_physical.intid(), 29);
        assert_eq!(timer.nonsecure_physical.intid(), 30);
        assert_eq!(timer.virtual_timer.intid(), 27);
        assert_eq!(timer.hypervisor_physical.intid(), 26);
        assert_eq!(timer.hypervisor_virtual, None, "{name}");
        assert_eq!(timer.clock_frequency, None, "{name}");
    }
}

#[test]
fn every_qemu_blob_reports_its_padded_size_and_no_reserved_memory() {
    for name in QEMU_BLOBS {
        let machine = machine(name);
        assert_eq!(machine.dtb_size, QEMU_DTB_SIZE, "{name}");
        assert_eq!(
            machine.dtb_range(0x4800_0000),
            PhysRange::new(0x4800_0000, QEMU_DTB_SIZE)
        );
        assert!(
            machine.reserved.is_empty(),
            "{name}: {:?}",
            machine.reserved
        );
    }
}

#[test]
fn every_qemu_blob_boots_on_cpu_0() {
    for name in QEMU_BLOBS {
        let machine = machine(name);
        assert_eq!(machine.boot_cpu_id, 0, "{name}");
        assert_eq!(machine.cpus.as_slice()[0].mpidr, 0, "{name}");
    }
}

#[test]
fn gicv2_blob_yields_distributor_and_cpu_interface() {
    assert_eq!(
        machine("gicv2-512m-smp1.dtb").interrupt_controller,
        InterruptController::GicV2 {
            distributor: MmioRange::new(0x0800_0000, 0x1_0000),
            cpu_interface: MmioRange::new(0x0801_0000, 0x1_0000),
        }
    );
}

#[test]
fn gicv3_blobs_yield_distributor_and_one_redistributor_region() {
    for name in QEMU_BLOBS.iter().filter(|name| name.starts_with("gicv3")) {
        assert_eq!(
            machine(name).interrupt_controller,
            InterruptController::GicV3 {
                distributor: MmioRange::new(0x0800_0000, 0x1_0000),
                redistributors: MmioRange::new(0x080a_0000, 0xf6_0000),
                redistributor_regions: 1,
            },
            "{name}"
        );
    }
}

#[test]
fn memory_is_one_bank_at_1_gib_of_the_size_given_with_dash_m() {
    for (name, size) in [
        ("gicv2-512m-smp1.dtb", 512 << 20),
        ("gicv3-512m-smp4.dtb", 512 << 20),
        ("gicv3-128m-initrd.dtb", 128 << 20),
        ("gicv3-2g.dtb", 2 << 30),
        ("gicv3-el2.dtb", 512 << 20),
    ] {
        let memory = machine(name).memory;
        assert_eq!(
            memory.as_slice(),
            &[PhysRange::new(RAM_BASE, size)],
            "{name}"
        );
        assert_eq!(memory.total_size(), size, "{name}");
    }
}

#[test]
fn single_cpu_blob_has_one_cpu_without_enable_method() {
    let cpus = machine("gicv2-512m-smp1.dtb").cpus;
    assert_eq!(cpus.len(), 1);
    assert_eq!(cpus.as_slice()[0].enable_method, EnableMethod::Absent);
}

#[test]
fn four_cpu_blob_lists_mpidrs_0_to_3_started_by_psci() {
    let cpus = machine("gicv3-512m-smp4.dtb").cpus;
    let mpidrs: Vec<u64> = cpus.iter().map(|cpu| cpu.mpidr).collect();
    assert_eq!(mpidrs, vec![0, 1, 2, 3]);
    assert!(
        cpus.iter()
            .all(|cpu| cpu.enable_method == EnableMethod::Psci)
    );
}

#[test]
fn el2_blob_lists_two_cpus_started_by_psci() {
    let cpus = machine("gicv3-el2.dtb").cpus;
    assert_eq!(cpus.len(), 2);
    assert_eq!(
        cpus.find(1).map(|cpu| cpu.enable_method),
        Some(EnableMethod::Psci)
    );
}

#[test]
fn psci_is_version_1_0_over_hvc_without_virtualization() {
    for name in QEMU_BLOBS.iter().filter(|name| !name.contains("el2")) {
        assert_eq!(
            machine(name).psci,
            Some(Psci {
                method: PsciMethod::Hvc,
                version: PsciVersion::V1_0,
            }),
            "{name}"
        );
    }
}

#[test]
fn el2_blob_calls_psci_over_smc_because_el2_belongs_to_the_guest() {
    assert_eq!(
        machine("gicv3-el2.dtb").psci,
        Some(Psci {
            method: PsciMethod::Smc,
            version: PsciVersion::V1_0,
        })
    );
}

#[test]
fn initrd_blob_gives_the_initrd_as_one_cell_bounds_around_4000_bytes() {
    assert_eq!(
        machine("gicv3-128m-initrd.dtb").initrd,
        Some(PhysRange::new(0x4400_0000, 4000))
    );
}

#[test]
fn initrd_blob_carries_the_appended_command_line() {
    let bootargs = machine("gicv3-128m-initrd.dtb").bootargs;
    assert_eq!(bootargs, "log=debug hz=250");
    assert_eq!(boot_argument(bootargs, "log"), Some("debug"));
    assert_eq!(boot_argument(bootargs, "hz"), Some("250"));
}

#[test]
fn blobs_made_without_a_kernel_have_no_command_line_and_no_initrd() {
    for name in QEMU_BLOBS.iter().filter(|name| !name.contains("initrd")) {
        let machine = machine(name);
        assert_eq!(machine.bootargs, "", "{name}");
        assert_eq!(machine.initrd, None, "{name}");
    }
}

#[test]
fn machine_debug_output_shows_every_field_with_hexadecimal_addresses() {
    let text = format!("{:?}", machine("gicv3-128m-initrd.dtb"));
    for expected in [
        "memory: [PhysRange(0x40000000..0x48000000)]",
        "reserved: []",
        "cpus: [Cpu { mpidr: 0, enable_method: Absent }]",
        "boot_cpu_id: 0",
        "console: Some(Uart { kind: Pl011, registers: MmioRange(0x9000000..0x9001000)",
        "GicV3 { distributor: MmioRange(0x8000000..0x8010000)",
        "timer: Timer {",
        "psci: Some(Psci { method: Hvc, version: V1_0 })",
        "bootargs: \"log=debug hz=250\"",
        "initrd: Some(PhysRange(0x44000000..0x44000fa0))",
        "dtb_size: 1048576",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
}

#[test]
fn user_devices_list_the_boards_mmio_and_the_console_but_not_the_gic() {
    for name in ["gicv2-512m-smp1.dtb", "gicv3-512m-smp4.dtb"] {
        let machine = machine(name);
        let devices: Vec<_> = machine.devices.iter().copied().collect();
        let covers = |address: u64| devices.iter().any(|range| range.contains(address));
        assert!(
            covers(0x0901_0000),
            "{name}: the PL031 RTC is a user device: {devices:?}"
        );
        assert!(
            covers(0x0a00_0000),
            "{name}: the virtio-mmio transports are user devices"
        );
        assert!(
            covers(0x0900_0000),
            "{name}: the console UART is offered to its user-level driver"
        );
        assert!(
            !covers(0x0800_0000),
            "{name}: the GIC distributor is not offered"
        );
        assert!(
            !covers(0x0802_0000) && !covers(0x0808_0000),
            "{name}: nor its v2m frame or ITS (MSI controllers stay the kernel's)"
        );
        assert!(
            devices
                .iter()
                .all(|range| range.base % 4096 == 0 && range.size % 4096 == 0)
        );
    }
}

#[test]
fn every_qemu_blob_has_the_pcie_ecam_space_at_256_gib_plus_256_mib() {
    for name in QEMU_BLOBS {
        let machine = machine(name);
        let ecam = machine.pci_configuration_space;
        // QEMU 7.2's virt board puts the 256 MiB ECAM window high (highmem-ecam).
        assert_eq!(
            ecam,
            Some(MmioRange::new(0x40_1000_0000, 0x1000_0000)),
            "{name}"
        );
        assert!(
            machine.devices.contains(0x40_1000_0000),
            "{name}: the ECAM space is a user device"
        );
    }
}
