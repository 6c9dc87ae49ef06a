//! QEMU tests of user address spaces and EL0: the `user-*` scenarios of the test image
//! (kernel/kernel/src/ktest/user.rs). Two spaces with the same address see their own frames
//! under their own ASIDs; a program at EL0 prints through the kernel and exits; every kind of
//! user fault is reported in one line and the kernel carries on; timer ticks interrupt EL0
//! and it resumes with its registers intact.
//!
//! Images come from `make test` (target/images). A failing assertion prints the whole log.

use std::time::Duration;

use harness::{GicVersion, Machine, Run, Until, image_path, run};

/// Generous for TCG on a loaded 2-core CI machine; a passing run takes about a second.
const TIMEOUT: Duration = Duration::from_secs(60);

fn scenario(name: &str) -> Machine {
    Machine::new(image_path("kernel-test.bin")).with_bootargs(format!("ktest={name}"))
}

fn boot(machine: &Machine) -> Run {
    run(machine, Until::Exit, TIMEOUT).expect("QEMU starts")
}

fn assert_passed(run: &Run, name: &str) {
    run.assert_contains(&format!("KTEST PASS {name}"));
    run.assert_not_contains("KTEST FAIL");
    run.assert_not_contains("KERNEL FAULT");
    run.assert_not_contains("KERNEL PANIC");
    run.assert_exited_cleanly();
}

fn assert_address_spaces_are_separate(run: &Run) {
    run.assert_lines_in_order(&[
        "KTEST START user-space",
        "ktest: ASIDs are",
        "switching back and forth kept both ASIDs, no flush",
        "mapping writable and executable (rwx): refused",
        "mapping a kernel-half address (r--): refused",
        "mapping the first address above the user half (r--): refused",
        "mapping a misaligned address (r--): refused",
        "mapping write without read (-w-): refused",
        "mapping a page that is mapped already (r--): refused",
        "a read-only page is readable by EL0: yes",
        "a read-only page refuses EL0 writes: yes",
        "a read-write page takes EL0 writes: yes",
        "after protect_page to r--, EL0 writes are refused: yes",
        "after protect_page to r--, EL0 still reads: yes",
        "protect_page refuses to add write access: yes",
        "the kernel refuses a buffer running into an unmapped page: yes",
        "an unmapped page no longer translates: yes",
        "a destroyed active space no longer translates",
        "destroying the spaces returned every table frame",
        "KTEST PASS user-space",
    ]);
    let line = run.assert_line_matching(|line| line.contains("kept both ASIDs"));
    let asids: Vec<&str> = line
        .split("(ASID ")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .collect();
    assert_eq!(asids.len(), 2, "two ASIDs in {line:?}");
    assert_ne!(asids[0], asids[1], "the two spaces share an ASID: {line:?}");
    assert!(!asids.contains(&"0"), "ASID 0 is the kernel's: {line:?}");
    assert_passed(run, "user-space");
}

#[test]
fn two_spaces_map_one_address_to_their_own_frames_under_their_own_asids() {
    let run = boot(&scenario("user-space"));
    assert_address_spaces_are_separate(&run);
    run.assert_contains("ASIDs are 16 bits");
}

#[test]
fn address_spaces_work_on_the_qemu_max_cpu_too() {
    let run = boot(&scenario("user-space").with_cpu("max"));
    assert_address_spaces_are_separate(&run);
    run.assert_contains("QEMU 'max' CPU");
}

fn assert_hello_passed(run: &Run) {
    run.assert_lines_in_order(&[
        "KTEST START user-hello",
        "ktest: case hello: entering EL0 at 0x400000 with ASID",
        "user: hello from EL0",
        "ktest: case hello: exited with status 42",
        "ktest: every frame the cases took is back",
        "KTEST PASS user-hello",
    ]);
    run.assert_not_contains("user fault");
    assert_passed(run, "user-hello");
}

#[test]
fn a_program_at_el0_prints_through_the_kernel_and_exits() {
    assert_hello_passed(&boot(&scenario("user-hello")));
}

#[test]
fn a_program_at_el0_runs_on_gicv3() {
    let run = boot(&scenario("user-hello").with_gic(GicVersion::V3));
    assert_hello_passed(&run);
    run.assert_contains("GICv3");
}

#[test]
fn a_program_at_el0_runs_when_the_kernel_was_entered_at_el2() {
    let run = boot(&scenario("user-hello").at_el2());
    assert_hello_passed(&run);
    run.assert_contains("entered at EL2, running at EL1");
}

#[test]
fn a_program_at_el0_runs_at_el2_entry_with_gicv3() {
    let run = boot(&scenario("user-hello").at_el2().with_gic(GicVersion::V3));
    assert_hello_passed(&run);
}

#[test]
fn every_user_fault_is_reported_in_one_line_and_the_kernel_carries_on() {
    let run = boot(&scenario("user-fault"));
    run.assert_lines_in_order(&[
        "KTEST START user-fault",
        "user fault: Data Abort from a lower Exception level (EC 0x24): translation fault, \
         level 1, read at pc=0x400004 far=0x70000000",
        "case load from unmapped memory: caught Data Abort from a lower Exception level: \
         translation fault, level 1, as expected",
        "user fault: Unknown reason (EC 0x00)",
        "case undefined instruction: caught Unknown reason, as expected",
        "user fault: SVC instruction execution in AArch64 state (EC 0x15): immediate 0x1234 \
         at pc=0x400000",
        "case unknown supervisor call: caught SVC instruction execution in AArch64 state, as \
         expected",
        "user fault: Data Abort from a lower Exception level (EC 0x24): permission fault, \
         level 3, write at pc=0x400004 far=0x400000",
        "case store into its code: caught",
        "user fault: Instruction Abort from a lower Exception level (EC 0x20): permission \
         fault, level 3 at pc=0x800000 far=0x800000",
        "case jump into its stack: caught",
        "user: bad buffer for kernel_debug_write at pc=0x400008: 0x70000000 is not mapped \
         readable for EL0",
        "user: bad buffer for kernel_debug_write at pc=0x40001c: not within the user half",
        "user: bad buffer for kernel_debug_write at pc=0x400030: 0x401000 is not mapped \
         readable for EL0",
        "user: bad buffer for kernel_debug_write at pc=0x400040: 257 bytes, more than 256",
        "case bad buffers for kernel_debug_write: exited with status 64",
        "ktest: every frame the cases took is back",
        "KTEST PASS user-fault",
    ]);
    run.assert_not_contains("NOT as expected");
    assert_passed(&run, "user-fault");
}

#[test]
fn timer_ticks_interrupt_el0_and_it_resumes_with_its_registers_intact() {
    let run = boot(&scenario("user-ticks"));
    run.assert_lines_in_order(&[
        "KTEST START user-ticks",
        "ktest: case spin through timer ticks: entering EL0",
        "timer ticks taken at EL0 (EL0t daif=daif",
        "KTEST PASS user-ticks",
    ]);
    // The counting loop ran to its end across the interrupts: x0 and the flags survived.
    run.assert_line_matching(|line| {
        line.contains("timer ticks taken at EL0") && line.ends_with("x0 = 0x100000 at pc 0x400014")
    });
    assert_passed(&run, "user-ticks");
}

#[test]
fn fast_ticks_interrupt_el0_on_gicv3_at_el2_entry() {
    let run = boot(
        &scenario("user-ticks")
            .with_bootargs("ktest=user-ticks hz=1000")
            .with_gic(GicVersion::V3)
            .at_el2(),
    );
    run.assert_contains("tick 1000 Hz");
    run.assert_contains("x0 = 0x100000 at pc 0x400014");
    assert_passed(&run, "user-ticks");
}
