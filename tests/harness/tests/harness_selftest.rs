//! Checks the harness itself, with `sh` standing in for QEMU: that a run stops at the
//! awaited line, at the deadline or at the exit; that the log is complete and normalized;
//! that the child is always reaped; and that `Machine` produces exactly the QEMU command
//! lines we mean.
//!
//! Durations are only compared against generous upper bounds ("stopped long before the
//! stand-in would have exited"), never used to wait.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use harness::{
    Console, GicVersion, HarnessError, LOG_END_MARKER, LOG_START_MARKER, Machine, QEMU_PROGRAM,
    Run, Until, run, run_command, run_command_with_input,
};

/// Long enough never to trigger on a loaded machine, short next to the stand-in's sleeps.
const GENEROUS: Duration = Duration::from_secs(20);

fn shell(script: &str) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    command
}

fn arguments(machine: &Machine, console: Console) -> Vec<String> {
    machine
        .arguments(console)
        .into_iter()
        .map(|argument| argument.into_string().expect("UTF-8 argument"))
        .collect()
}

fn words(line: &str) -> Vec<String> {
    line.split(' ').map(str::to_string).collect()
}

/// The panic message of `assertion`, which must panic.
fn panic_message(assertion: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(assertion).expect_err("the assertion should fail");
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast::<&str>()
            .map(|message| message.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn a_run_stops_as_soon_as_the_awaited_line_is_printed_and_kills_the_process() {
    let run = run_command(
        shell("echo hello; echo VERDICT: pass; exec sleep 30"),
        Until::line("VERDICT"),
        GENEROUS,
    )
    .expect("sh starts");

    assert!(run.stopped_at_line, "{}", run.failure_report("not stopped"));
    assert!(!run.timed_out);
    assert_eq!(run.exit, None);
    assert!(run.duration < GENEROUS);
    assert!(
        !Path::new(&format!("/proc/{}", run.process_id)).exists(),
        "the stand-in was not reaped"
    );
    assert_eq!(run.log, "hello\nVERDICT: pass\n");
    run.assert_stopped_at_line();
    run.assert_lines_in_order(&["hello", "VERDICT"]);
}

#[test]
fn a_run_that_outlives_its_timeout_is_killed_and_reported_as_timed_out() {
    let run = run_command(
        shell("echo started; exec sleep 30"),
        Until::Exit,
        Duration::from_secs(1),
    )
    .expect("sh starts");

    assert!(run.timed_out);
    assert_eq!(run.exit, None);
    assert!(run.duration >= Duration::from_secs(1));
    assert!(run.duration < GENEROUS);
    assert!(!Path::new(&format!("/proc/{}", run.process_id)).exists());
    assert_eq!(run.log, "started\n");
}

#[test]
fn a_run_until_exit_returns_the_exit_code_and_the_whole_log() {
    let run =
        run_command(shell("echo a; echo b >&2; exit 3"), Until::Exit, GENEROUS).expect("sh starts");

    assert!(!run.timed_out);
    assert!(!run.stopped_at_line);
    assert_eq!(run.exit.and_then(|status| status.code()), Some(3));
    assert_eq!(run.log, "a\n");
    assert_eq!(run.stderr, "b\n");
    run.assert_exit_code(3);
}

#[test]
fn a_process_that_exits_before_the_awaited_line_is_not_reported_as_stopped_at_it() {
    let run = run_command(
        shell("echo booting; exit 0"),
        Until::line("VERDICT"),
        GENEROUS,
    )
    .expect("sh starts");

    assert!(!run.stopped_at_line);
    assert!(!run.timed_out);
    run.assert_exited_cleanly();
    let message = panic_message(|| run.assert_stopped_at_line());
    assert!(message.contains("booting"), "{message}");
}

#[test]
fn output_larger_than_a_pipe_buffer_arrives_complete() {
    let run = run_command(
        shell("i=0; while [ $i -lt 5000 ]; do echo line $i; i=$((i+1)); done"),
        Until::Exit,
        GENEROUS,
    )
    .expect("sh starts");

    run.assert_exited_cleanly();
    assert_eq!(run.lines().count(), 5000);
    assert_eq!(run.lines().last(), Some("line 4999"));
}

#[test]
fn carriage_returns_from_the_serial_port_are_normalized() {
    let run =
        run_command(shell(r"printf 'one\r\ntwo\r\n'"), Until::Exit, GENEROUS).expect("sh starts");
    assert_eq!(run.log, "one\ntwo\n");
}

#[test]
fn input_given_to_a_run_reaches_the_process_and_ends_with_end_of_file() {
    let run = run_command_with_input(
        shell("cat; echo after-eof"),
        Some(b"typed line\n".to_vec()),
        Until::Exit,
        GENEROUS,
    )
    .expect("sh starts");
    assert_eq!(run.log, "typed line\nafter-eof\n");
}

#[test]
fn the_process_gets_no_input() {
    let run = run_command(shell("cat; echo after-eof"), Until::Exit, GENEROUS).expect("sh starts");
    run.assert_exited_cleanly();
    assert_eq!(run.log, "after-eof\n");
}

#[test]
fn a_program_that_cannot_start_is_an_error_not_a_panic() {
    let result = run_command(
        Command::new("/nonexistent/qemu-system-aarch64"),
        Until::Exit,
        GENEROUS,
    );
    assert!(
        matches!(result, Err(HarnessError::Spawn { .. })),
        "{result:?}"
    );
}

#[test]
fn running_a_machine_whose_kernel_is_missing_fails_naming_the_path() {
    let machine = Machine::new("/nonexistent/images/kernel.bin");
    let error = run(&machine, Until::Exit, GENEROUS).expect_err("no kernel");
    assert_eq!(
        error.to_string(),
        "missing /nonexistent/images/kernel.bin: run `make test`, which builds the images first"
    );
}

#[test]
fn image_path_panics_with_the_remedy_when_the_image_is_missing() {
    let message = panic_message(|| {
        harness::image_path("no-such-image-for-the-harness-selftest.bin");
    });
    assert!(
        message.starts_with("missing ")
            && message.ends_with(
                "no-such-image-for-the-harness-selftest.bin: run `make test`, which builds the images first"
            ),
        "{message}"
    );
}

#[test]
fn the_default_images_directory_is_target_images_in_the_workspace() {
    if std::env::var_os(harness::IMAGES_DIRECTORY_VARIABLE).is_none() {
        let root = harness::workspace_root();
        assert!(root.join("Cargo.toml").is_file(), "{}", root.display());
        assert!(root.join("tests/harness").is_dir(), "{}", root.display());
        assert_eq!(harness::images_directory(), root.join("target/images"));
    }
}

#[test]
fn a_failed_assertion_prints_the_whole_serial_log_between_markers() {
    let run: Run = run_command(
        shell("echo first line; echo second line; echo warning >&2"),
        Until::Exit,
        GENEROUS,
    )
    .expect("sh starts");

    let message = panic_message(|| run.assert_contains("never printed"));
    let expected_log = format!("{LOG_START_MARKER}\nfirst line\nsecond line\n{LOG_END_MARKER}");
    assert!(message.contains("\"never printed\""), "{message}");
    assert!(message.contains(&expected_log), "{message}");
    assert!(message.contains("exited by itself"), "{message}");
    assert!(message.contains("warning"), "{message}");

    let message = panic_message(|| {
        run.assert_line_matching(|line| line.starts_with("third"));
    });
    assert!(message.contains(&expected_log), "{message}");
    assert_eq!(
        run.assert_line_matching(|line| line.ends_with("second line")),
        "second line"
    );
    let message = panic_message(|| run.assert_lines_in_order(&["second", "first"]));
    assert!(message.contains(&expected_log), "{message}");
    let message = panic_message(|| run.assert_exit_code(1));
    assert!(message.contains(&expected_log), "{message}");
}

#[test]
fn a_timed_out_run_fails_the_clean_exit_assertion() {
    let run = run_command(
        shell("exec sleep 30"),
        Until::Exit,
        Duration::from_millis(200),
    )
    .expect("sh starts");
    let message = panic_message(|| run.assert_exited_cleanly());
    assert!(message.contains("timed out"), "{message}");
}

#[test]
fn the_default_machine_is_what_make_run_uses() {
    let machine = Machine::new("target/images/kernel.bin");
    assert_eq!(
        arguments(&machine, Console::Interactive),
        words(
            "-M virt,gic-version=2 -cpu cortex-a72 -m 512M -smp 1 -nographic -no-reboot \
             -kernel target/images/kernel.bin"
        )
    );
    let command = machine.command();
    assert_eq!(command.get_program(), QEMU_PROGRAM);
    let command_arguments: Vec<OsString> = command.get_args().map(OsString::from).collect();
    assert_eq!(command_arguments, machine.arguments(Console::Interactive));
}

#[test]
fn a_captured_machine_sends_only_the_serial_port_to_stdout() {
    let machine = Machine::new("k.bin").with_initrd("i.cpio");
    let expected = words(
        "-M virt,gic-version=2 -cpu cortex-a72 -m 512M -smp 1 \
         -display none -serial stdio -monitor none -no-reboot -kernel k.bin -initrd i.cpio",
    );
    assert_eq!(arguments(&machine, Console::Captured), expected);
    let captured: Vec<String> = machine
        .captured_command()
        .get_args()
        .map(|argument| argument.to_string_lossy().into_owned())
        .collect();
    assert_eq!(captured, expected);
}

#[test]
fn every_option_appears_on_the_command_line() {
    let machine = Machine::new("k.bin")
        .with_cpu("max")
        .with_memory_mib(1024)
        .with_gic(GicVersion::V3)
        .with_smp(4)
        .at_el2()
        .with_icount()
        .with_semihosting()
        .with_gdb_stub()
        .with_initrd("i.cpio")
        .with_bootargs("console=ttyAMA0 init=/bin/sh");
    let mut expected = words(
        "-M virt,gic-version=3,virtualization=on,dtb-randomness=off -cpu max -m 1024M -smp 4 \
         -display none -serial stdio -monitor none -no-reboot -icount shift=0,sleep=off \
         -semihosting-config enable=on,target=native -s -S -kernel k.bin -initrd i.cpio -append",
    );
    expected.push("console=ttyAMA0 init=/bin/sh".to_string());
    assert_eq!(arguments(&machine, Console::Captured), expected);
}

#[test]
fn empty_bootargs_leave_out_append() {
    let machine = Machine::new(Path::new("k.bin")).with_bootargs("");
    assert!(!arguments(&machine, Console::Captured).contains(&"-append".to_string()));
}

/// A flat arm64 `Image` that prints two lines on the PL011 and powers off through PSCI,
/// enough to check our command lines against the installed QEMU without any build output:
///
/// ```text
/// _start: b entry; .long 0; .quad 0 (text_offset); .quad image_size; .quad 0xa (flags)
///         .quad 0, 0, 0; .ascii "ARM\x64"; .long 0
/// entry:  movz x1, #0x0900, lsl #16      // PL011 data register
///         adr  x2, message
/// 1:      ldrb w3, [x2], #1
///         cbz  w3, 2f
///         strb w3, [x1]
///         b    1b
/// 2:      movz x0, #0x8400, lsl #16
///         movk x0, #0x0008               // PSCI SYSTEM_OFF
///         hvc  #0
///         b    .
/// message: .asciz "hello from the guest\r\nVERDICT: pass\r\n"
/// ```
fn minimal_guest_image() -> Vec<u8> {
    const CODE: [u32; 10] = [
        0xd2a1_2001, // movz x1, #0x0900, lsl #16
        0x1000_0122, // adr x2, message (+36)
        0x3840_1443, // ldrb w3, [x2], #1
        0x3400_0063, // cbz w3, +12
        0x3900_0023, // strb w3, [x1]
        0x17ff_fffd, // b -12
        0xd2b0_8000, // movz x0, #0x8400, lsl #16
        0xf280_0100, // movk x0, #0x0008
        0xd400_0002, // hvc #0
        0x1400_0000, // b .
    ];
    const MESSAGE: &[u8] = b"hello from the guest\r\nVERDICT: pass\r\n\0";
    let mut image = Vec::new();
    image.extend_from_slice(&0x1400_0010u32.to_le_bytes()); // b entry (+0x40)
    image.extend_from_slice(&[0; 4 + 8]); // code1, text_offset
    let image_size = (64 + CODE.len() * 4 + MESSAGE.len()) as u64;
    image.extend_from_slice(&image_size.to_le_bytes());
    image.extend_from_slice(&0xau64.to_le_bytes()); // little-endian, 4K pages, anywhere
    image.extend_from_slice(&[0; 24]); // res2..res4
    image.extend_from_slice(b"ARM\x64");
    image.extend_from_slice(&[0; 4]); // res5
    for instruction in CODE {
        image.extend_from_slice(&instruction.to_le_bytes());
    }
    image.extend_from_slice(MESSAGE);
    image
}

/// Files for one real-QEMU test in the temporary directory, removed when dropped.
struct GuestFiles {
    kernel: std::path::PathBuf,
    initrd: std::path::PathBuf,
}

impl GuestFiles {
    fn new(purpose: &str) -> Self {
        let base =
            std::env::temp_dir().join(format!("harness-selftest-{}-{purpose}", std::process::id()));
        let kernel = base.with_extension("bin");
        let initrd = base.with_extension("cpio");
        std::fs::write(&kernel, minimal_guest_image()).expect("write guest image");
        std::fs::write(&initrd, b"not really an archive").expect("write initrd");
        Self { kernel, initrd }
    }
}

impl Drop for GuestFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.kernel);
        let _ = std::fs::remove_file(&self.initrd);
    }
}

#[test]
fn the_installed_qemu_boots_an_image_through_the_captured_command_line() {
    let files = GuestFiles::new("boot");
    let run = run(&Machine::new(&files.kernel), Until::Exit, GENEROUS).expect("QEMU starts");

    run.assert_exited_cleanly();
    assert_eq!(
        run.log,
        "hello from the guest\nVERDICT: pass\n",
        "{}",
        run.failure_report("unexpected serial log")
    );
}

#[test]
fn the_installed_qemu_accepts_every_machine_option() {
    let files = GuestFiles::new("options");
    // At EL2 the guest's HVC traps to itself, so stop at the line instead of the exit.
    let machine = Machine::new(&files.kernel)
        .with_initrd(&files.initrd)
        .with_gic(GicVersion::V3)
        .with_smp(2)
        .with_memory_mib(256)
        .with_cpu("cortex-a53")
        .at_el2()
        .with_icount()
        .with_semihosting()
        .with_bootargs("console=ttyAMA0 verbose");
    let run = run(&machine, Until::line("VERDICT"), GENEROUS).expect("QEMU starts");

    run.assert_stopped_at_line();
    run.assert_contains("hello from the guest");
}
