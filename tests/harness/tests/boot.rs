//! QEMU boot tests of the kernel (issue 2): every supported machine configuration boots the
//! test image to `KTEST PASS boot`; deliberate faults produce the decoded report; the normal
//! image boots to its banner and takes ticks; boot arguments take effect.
//!
//! Images come from `make test` (target/images). Each test is one small boot with a timeout;
//! a failing assertion prints the whole serial log.

use std::time::Duration;

use harness::{GicVersion, Machine, Run, Until, image_path, run};

/// Generous for TCG on a loaded 2-core CI machine; a passing boot takes about a second.
const TIMEOUT: Duration = Duration::from_secs(60);

fn test_machine(bootargs: &str) -> Machine {
    Machine::new(image_path("kernel-test.bin"))
        .with_initrd(image_path("initrd.cpio"))
        .with_bootargs(bootargs)
}

fn boot(machine: &Machine) -> Run {
    run(machine, Until::Exit, TIMEOUT).expect("QEMU starts")
}

fn initrd_size() -> u64 {
    std::fs::metadata(image_path("initrd.cpio"))
        .expect("initrd built")
        .len()
}

/// The checks every passing `ktest=boot` run must show.
fn assert_boot_passed(run: &Run) {
    run.assert_lines_in_order(&[
        "L4/aarch64 microkernel",
        "  CPU:",
        "  EL:",
        "  RAM:",
        "  GIC:",
        "  timer:      counter 62500000 Hz, tick 100 Hz on INTID 27",
        "KTEST START boot",
        "reserved memory intact",
        "kernel text is not writable: yes",
        "the linear alias of kernel text is not writable: yes",
        "timer ticks arrived (5 awaited)",
        "KTEST PASS boot",
    ]);
    run.assert_contains(&format!("initrd:     {} bytes at", initrd_size()));
    run.assert_not_contains("KTEST FAIL");
    run.assert_exited_cleanly();
}

#[test]
fn gicv2_at_el1_boots_and_passes_the_boot_checks() {
    let run = boot(&test_machine("ktest=boot"));
    assert_boot_passed(&run);
    run.assert_contains("GIC:        GICv2 distributor 0x8000000, CPU interface 0x8010000");
    run.assert_contains("entered at EL1, running at EL1");
    run.assert_contains("RAM:        512 MiB [0x40000000..0x60000000)");
    run.assert_contains("CPU:        Arm Cortex-A72");
    run.assert_contains("PSCI:       1.1 via hvc");
}

#[test]
fn gicv3_at_el1_boots_and_passes_the_boot_checks() {
    let run = boot(&test_machine("ktest=boot").with_gic(GicVersion::V3));
    assert_boot_passed(&run);
    run.assert_contains("GIC:        GICv3 distributor 0x8000000, redistributors 0x80a0000");
}

#[test]
fn entered_at_el2_with_gicv3_the_kernel_drops_to_el1_and_passes() {
    let run = boot(&test_machine("ktest=boot").with_gic(GicVersion::V3).at_el2());
    assert_boot_passed(&run);
    run.assert_contains("entered at EL2, running at EL1");
    run.assert_contains("PSCI:       1.1 via smc");
}

#[test]
fn entered_at_el2_with_gicv2_the_kernel_drops_to_el1_and_passes() {
    let run = boot(&test_machine("ktest=boot").with_gic(GicVersion::V2).at_el2());
    assert_boot_passed(&run);
    run.assert_contains("entered at EL2, running at EL1");
    run.assert_contains("GICv2");
}

#[test]
fn the_smallest_supported_memory_of_128_mib_boots() {
    let run = boot(&test_machine("ktest=boot").with_memory_mib(128));
    assert_boot_passed(&run);
    run.assert_contains("RAM:        128 MiB [0x40000000..0x48000000)");
}

#[test]
fn two_gib_of_memory_boot_and_every_frame_is_usable() {
    let run = boot(
        &test_machine("ktest=boot")
            .with_memory_mib(2048)
            .with_gic(GicVersion::V3),
    );
    assert_boot_passed(&run);
    run.assert_contains("RAM:        2048 MiB [0x40000000..0xc0000000)");
    run.assert_line_matching(|line| {
        line.starts_with("ktest: allocated and wrote") && line.contains("(20")
    });
}

#[test]
fn four_cpus_boot_with_the_secondaries_parked() {
    let run = boot(
        &test_machine("ktest=boot")
            .with_smp(4)
            .with_gic(GicVersion::V3),
    );
    assert_boot_passed(&run);
    run.assert_contains("CPUs:       4 in the device tree, 1 online");
}

#[test]
fn the_qemu_max_cpu_boots_too() {
    let run = boot(&test_machine("ktest=boot").with_cpu("max"));
    assert_boot_passed(&run);
}

#[test]
fn reading_unmapped_memory_gives_a_decoded_translation_fault_report() {
    let run = boot(&test_machine("ktest=fault-unmapped"));
    run.assert_lines_in_order(&[
        "ktest: reading 0xffff8000dead0000",
        "KERNEL FAULT: Synchronous exception from EL1",
        "cause: Data Abort taken without a change in Exception level (EC 0x25): translation fault",
        "ESR_EL1  = 0x",
        "FAR_EL1  = 0xffff8000dead0000",
        "ELR_EL1  = 0xffffff80",
        "SPSR_EL1 = 0x",
        "x0 ",
        "x28",
        "kernel stopped after a fatal exception.",
    ]);
    run.assert_contains("read");
    run.assert_not_contains("KTEST PASS");
    run.assert_exited_cleanly();
}

#[test]
fn writing_kernel_text_gives_a_decoded_permission_fault_report() {
    let run = boot(&test_machine("ktest=fault-write-text"));
    run.assert_lines_in_order(&[
        "ktest: writing to kernel text at 0xffffff80",
        "KERNEL FAULT: Synchronous exception from EL1",
        "permission fault, level 3, write",
        "FAR_EL1  = 0xffffff80",
        "kernel stopped after a fatal exception.",
    ]);
    run.assert_not_contains("KTEST PASS");
    run.assert_exited_cleanly();
}

#[test]
fn a_kernel_panic_is_reported_and_stops_the_kernel() {
    let run = boot(&test_machine("ktest=panic"));
    run.assert_lines_in_order(&[
        "KERNEL PANIC",
        "deliberate panic requested by ktest=panic",
        "kernel stopped after a panic.",
    ]);
    run.assert_exited_cleanly();
}

#[test]
fn an_unknown_scenario_fails_with_a_verdict_instead_of_hanging() {
    let run = boot(&test_machine("ktest=no-such-thing"));
    run.assert_contains("KTEST FAIL no-such-thing: no such scenario");
    run.assert_exited_cleanly();
}

#[test]
fn the_normal_image_boots_to_its_banner_and_takes_ticks() {
    let machine = Machine::new(image_path("kernel.bin"))
        .with_initrd(image_path("initrd.cpio"))
        .with_bootargs("log=debug ktest=boot");
    let run = run(&machine, Until::line("tick 100: 1 s of ticks"), TIMEOUT).expect("QEMU starts");
    run.assert_stopped_at_line();
    run.assert_lines_in_order(&[
        "L4/aarch64 microkernel",
        "initrd:",
        "boot complete; timer ticking",
        "DEBUG kernel::timer: tick 100",
    ]);
    run.assert_not_contains("KTEST");
}

#[test]
fn without_an_initrd_the_banner_says_none() {
    let machine = Machine::new(image_path("kernel-test.bin")).with_bootargs("ktest=boot");
    let run = boot(&machine);
    run.assert_contains("initrd:     none");
    run.assert_contains("KTEST PASS boot");
}

#[test]
fn the_tick_rate_comes_from_the_hz_boot_argument() {
    let run = boot(&test_machine("ktest=no-such-thing hz=250"));
    run.assert_contains("tick 250 Hz on INTID 27");
    let run = boot(&test_machine("ktest=no-such-thing hz=fast"));
    run.assert_contains("hz= must be a number in 1..=10000; using 100");
    run.assert_contains("tick 100 Hz");
}

#[test]
fn the_log_level_comes_from_the_log_boot_argument() {
    let quiet = boot(&test_machine("ktest=no-such-thing log=warn"));
    quiet.assert_not_contains("INFO  kernel::boot: boot complete");
    quiet.assert_contains("L4/aarch64 microkernel");
    let default = boot(&test_machine("ktest=no-such-thing"));
    default.assert_contains("INFO  kernel::boot: boot complete; timer ticking");
    default.assert_not_contains("DEBUG");
}
