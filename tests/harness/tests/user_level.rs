//! QEMU tests of the normal boot's user level: the kernel starts sigma0 and the root task
//! from the initrd; the root task touches fresh memory, every first touch faults to sigma0,
//! which hands out a page of the RAM the kernel gave it; it gets device registers from sigma0
//! (the first page of the 256 MiB PCIe configuration space, whose root mapping the kernel
//! makes only then), and it starts `hello` from the initrd as a task it pages itself (pagers
//! stacked).

use std::time::Duration;

use harness::{GicVersion, Machine, Until, image_path, run};

const TIMEOUT: Duration = Duration::from_secs(60);

fn boots_to_the_root_task(machine: Machine) {
    let machine = machine.with_initrd(image_path("test-initrd.cpio"));
    let run = run(
        &machine,
        Until::line("hello: task_new of a number the root task owns"),
        TIMEOUT,
    )
    .expect("QEMU starts");
    run.assert_stopped_at_line();
    run.assert_lines_in_order(&[
        "L4/aarch64 microkernel",
        "starting sigma0 (1.0/v1",
        "roottask: started",
        "roottask: 64 pages from sigma0, all read back",
        "roottask: PCI 00:00.0 is 1b36:0008 (configuration space at 0x4010000000, 256 MiB)",
        "roottask: started hello as 5.0/v1, paging it with memory from sigma0",
        "hello: running in a task paged by the root task",
    ]);
    run.assert_contains("hello: task_new of a number the root task owns: refused (NotChief)");
    run.assert_contains("hello: the kernel interface page is where task_new put it");
    // sigma0 and the root task share the CPU by time slices: sigma0's line has no fixed place.
    run.assert_line_matching(|line| {
        line.contains("sigma0: ") && line.ends_with("MiB of conventional memory to hand out")
    });
    run.assert_not_contains("FAIL");
    run.assert_not_contains("KERNEL FAULT");
}

#[test]
fn the_normal_image_starts_sigma0_and_the_root_task_which_gets_memory_from_it() {
    boots_to_the_root_task(Machine::new(image_path("kernel.bin")));
}

#[test]
fn sigma0_serves_the_root_task_with_two_gib_on_gicv3_entered_at_el2() {
    boots_to_the_root_task(
        Machine::new(image_path("kernel.bin"))
            .with_memory_mib(2048)
            .with_gic(GicVersion::V3)
            .at_el2(),
    );
}
