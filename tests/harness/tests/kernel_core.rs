//! QEMU tests of the kernel core on the hardware: user programs from the initrd, started as
//! tasks, talk by IPC through `svc`, fault to a user-level pager that maps them a page of its
//! own, and stop, while a fuzzer task calls the kernel 100,000 times with random arguments;
//! the kernel core (kcore) handles every event. The programs are
//! tests/ktest-programs, packed by `make images` into target/images/test-initrd.cpio.

use std::time::Duration;

use harness::{GicVersion, Machine, Until, image_path, run};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the scenario, checks every task's verdict, and returns the run for more checks. The
/// test image checks the kernel's invariants at every general-path entry (KTEST FAIL if one
/// breaks), so the IPC fastpath's state changes are checked too.
fn kcore_ipc(machine: Machine, bootargs: &str) -> harness::Run {
    let machine = machine
        .with_initrd(image_path("test-initrd.cpio"))
        .with_bootargs(format!("ktest=kcore-ipc {bootargs}"));
    let run = run(&machine, Until::Exit, TIMEOUT).expect("QEMU starts");
    // The three tasks share the CPU by time slices, so only each task's own lines have an
    // order; the kernel's last line comes after all of them.
    run.assert_lines_in_order(&[
        "KTEST START kcore-ipc",
        "ktest: started pong as 3.0/v1 and ping as its client",
        "ping: start",
        "ping: 1000 calls ok",
        "ping: FP/SIMD registers survive switches",
        "ping: read 0x5eedcafe through a user-level pager",
        "ping: a 30000 us receive timeout expired",
        "ping: svc #0 became an exception message; its handler answered 4242",
        "ping: svc #0 reflected to the trampoline and answered by pong: 4",
        "ping: raised interrupt 100 twice",
        "KTEST-USER PASS",
        "ktest: no thread can run any more",
    ]);
    run.assert_lines_in_order(&[
        "pong: ready",
        "pong: mapped a page for 0x10000000",
        "pong: answered ping's svc #0 as its exception handler",
        "pong: interrupt 100 arrived as a message",
        "pong: interrupt 100 arrived as a message",
        "pong: done",
        "ktest: no thread can run any more",
    ]);
    run.assert_line_matching(|line| line.contains("fuzz: 100000 random kernel calls survived"));
    run.assert_not_contains("FAIL");
    run.assert_not_contains("panic");
    run.assert_not_contains("KERNEL FAULT");
    run.assert_exited_cleanly();
    run
}

#[test]
fn two_user_tasks_call_each_other_and_one_pages_the_other() {
    kcore_ipc(Machine::new(image_path("kernel-test.bin")), "");
}

#[test]
fn the_kernel_core_runs_user_tasks_on_gicv3_entered_at_el2() {
    kcore_ipc(
        Machine::new(image_path("kernel-test.bin"))
            .with_gic(GicVersion::V3)
            .at_el2(),
        "",
    );
}

/// With two ASIDs for three tasks, almost every switch rolls the ASIDs over: the general
/// path's activations and the fastpath's remembered TTBR0 values (valid for one generation)
/// must still put every task in its own space.
#[test]
fn the_same_run_with_asids_rolling_over_all_the_time() {
    let run = kcore_ipc(Machine::new(image_path("kernel-test.bin")), "ktest.asids=2");
    let line = run.assert_line_matching(|line| line.starts_with("ktest: ASID generation "));
    let generation: u64 = line
        .trim_start_matches("ktest: ASID generation ")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no generation in {line:?}"));
    assert!(generation >= 10, "only {generation} ASID generations");
}
