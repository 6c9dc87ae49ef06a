//! QEMU tests of the OS personality (issue 4): the normal image boots to busybox's shell on the
//! console, through the console driver, the OS server and the trampoline, and the tests type
//! commands on the serial port and read what the shell prints.
//!
//! The shell echoes what is typed (the server's tty line discipline), so every check looks for
//! output that differs from its command: `echo $((6*7))` must print a line `42`, which the
//! typed line `echo $((6*7))` is not. Each run ends with `poweroff` (or the shell's exit), which
//! makes the server ask the root task to turn the machine off, so QEMU exits by itself.

use std::time::Duration;

use harness::{Machine, Run, Step, Until, image_path, run_dialogue, run_with_input};

const TIMEOUT: Duration = Duration::from_secs(90);

/// The test image's initrd: the normal one plus the test programs (tests/linux-programs).
fn machine() -> Machine {
    Machine::new(image_path("kernel.bin")).with_initrd(image_path("test-initrd.cpio"))
}

/// Boot, type `input` (lines), and wait for QEMU to exit.
fn type_into(machine: &Machine, input: &str) -> Run {
    let run = run_with_input(machine, input.as_bytes(), Until::Exit, TIMEOUT).expect("QEMU starts");
    run.assert_not_contains("KERNEL FAULT");
    run.assert_not_contains("server: FAIL");
    run
}

/// Whether the log has a line that is exactly `text` once trailing spaces are trimmed.
fn has_line(run: &Run, text: &str) -> bool {
    run.log.lines().any(|line| line.trim_end() == text)
}

/// `log` without the lines our tasks print through the kernel (`[task.thread/vN] ...`), which
/// may land in the middle of a program's output on the shared console.
fn without_log_lines(log: &str) -> String {
    let mut rest = log;
    let mut kept = String::new();
    while let Some(start) = rest.find('[') {
        let candidate = &rest[start..];
        let prefix = candidate
            .find("] ")
            .map(|end| &candidate[1..end])
            .filter(|inside| {
                inside.contains("/v")
                    && inside
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '.' || c == '/' || c == 'v')
            });
        match prefix {
            Some(_) => {
                kept.push_str(&rest[..start]);
                rest = candidate.find('\n').map_or("", |end| &candidate[end + 1..]);
            }
            None => {
                kept.push_str(&rest[..=start]);
                rest = &rest[start + 1..];
            }
        }
    }
    kept.push_str(rest);
    kept
}

#[test]
fn log_lines_of_our_tasks_are_taken_out_of_the_console_text() {
    assert_eq!(
        without_log_lines("h[4.0/v1] server: a notice\nelp [x] [1] done\n"),
        "help [x] [1] done\n"
    );
}

fn assert_line(run: &Run, text: &str) {
    assert!(
        has_line(run, text),
        "no line {text:?} in the log:\n{}",
        run.log
    );
}

#[test]
fn echo_prints_and_poweroff_turns_the_machine_off() {
    let run = type_into(&machine(), "echo $((6*7))\npoweroff\n");
    run.assert_exited_cleanly();
    assert_line(&run, "42");
}

#[test]
fn ls_l_lists_the_root_directory_with_modes_links_and_sizes() {
    let run = type_into(&machine(), "ls -l /\npoweroff\n");
    run.assert_exited_cleanly();
    run.assert_line_matching(|line| line.starts_with("drwxr-xr-x") && line.ends_with(" bin"));
    run.assert_line_matching(|line| line.starts_with("drwxr-xr-x") && line.ends_with(" etc"));
    run.assert_line_matching(|line| {
        line.starts_with("lrwxrwxrwx") && line.ends_with("linuxrc -> /bin/busybox")
    });
}

#[test]
fn cat_pwd_cd_and_uname_work() {
    let run = type_into(
        &machine(),
        "cat /etc/passwd\ncd /bin\npwd\ncd ..\npwd\nuname -a\npoweroff\n",
    );
    run.assert_exited_cleanly();
    assert_line(&run, "root:x:0:0:root:/root:/bin/sh");
    assert_line(&run, "/bin");
    assert_line(&run, "/");
    run.assert_line_matching(|line| line.starts_with("Linux ") && line.contains(" aarch64"));
}

#[test]
fn a_pipe_of_applets_lists_the_first_applets() {
    let run = type_into(&machine(), "ls /bin | head -3\necho done-$?\npoweroff\n");
    run.assert_exited_cleanly();
    // busybox installs `[` and `[[` in /usr/bin; /bin begins with these.
    assert_line(&run, "arch");
    assert_line(&run, "ash");
    assert_line(&run, "base64");
    assert_line(&run, "done-0");
}

#[test]
fn an_external_applet_runs_as_its_own_process_and_its_status_comes_back() {
    let run = type_into(
        &machine(),
        "/bin/true; echo status-$?\n/bin/false; echo status-$?\nsh -c 'exit 7'; echo status-$?\npoweroff\n",
    );
    run.assert_exited_cleanly();
    assert_line(&run, "status-0");
    assert_line(&run, "status-1");
    assert_line(&run, "status-7");
}

#[test]
fn exit_ends_init_and_the_machine_turns_off() {
    let run = type_into(&machine(), "echo bye-$((1+1))\nexit\n");
    run.assert_exited_cleanly();
    assert_line(&run, "bye-2");
}

#[test]
fn the_shell_runs_through_exception_ipc_too() {
    let machine = machine().with_bootargs("personality.syscall_path=exception");
    let run = type_into(&machine, "echo $((6*7))\nls /bin | head -1\npoweroff\n");
    run.assert_exited_cleanly();
    run.assert_contains("system calls by exception");
    assert_line(&run, "42");
    assert_line(&run, "arch");
}

/// The suite of the project's own static Linux test programs (tests/linux-programs, in the
/// test image's /tests), each printing `PASS <name> (N checks)` or `FAIL <name>: …`.
const PROGRAMS: [&str; 8] = [
    "files",
    "descriptors",
    "processes",
    "memory",
    "time",
    "misc",
    "console",
    "client_library",
];

/// Run every test program of `directory` from the shell, each with `prefix` before it (an
/// environment setting), and check that each passed.
fn run_the_suite_in(machine: &Machine, prefix: &str, directory: &str) {
    let mut input = String::new();
    for program in PROGRAMS {
        input.push_str(&format!("{prefix}{directory}/{program}\n"));
    }
    input.push_str("poweroff\n");
    let run = type_into(machine, &input);
    run.assert_exited_cleanly();
    // The server's notices (a child killed on purpose) share the console with the programs.
    let console = without_log_lines(&run.log);
    for program in PROGRAMS {
        let passed = console
            .lines()
            .any(|line| line.starts_with(&format!("PASS {program} (")));
        assert!(passed, "{program} did not pass:\n{}", run.log);
    }
    run.assert_not_contains("not ok:");
}

/// The suite whose checks make their calls by `svc #0`.
fn run_the_suite(machine: &Machine, prefix: &str) {
    run_the_suite_in(machine, prefix, "/tests");
}

#[test]
fn the_linux_test_programs_pass_through_the_client_library() {
    // The same programs built with the client library: every check's call is a direct ipc.
    run_the_suite_in(&machine(), "", "/tests/direct");
}

#[test]
fn the_linux_test_programs_pass_through_the_trampoline() {
    run_the_suite(&machine(), "");
}

#[test]
fn the_linux_test_programs_pass_through_exception_ipc_chosen_per_exec() {
    // L4_SYSCALL_PATH in the environment of an execve chooses the new program's path.
    run_the_suite(&machine(), "L4_SYSCALL_PATH=exception ");
}

#[test]
fn the_linux_test_programs_pass_with_exception_ipc_as_the_boot_default() {
    run_the_suite(
        &machine().with_bootargs("personality.syscall_path=exception"),
        "",
    );
}

#[test]
fn the_normal_image_boots_to_the_shell_and_piped_input_ends_the_run() {
    // What `printf 'echo hi\npoweroff\n' | make run` does.
    let machine = Machine::new(image_path("kernel.bin")).with_initrd(image_path("initrd.cpio"));
    let run = type_into(&machine, "echo hi-$((40+2))\npoweroff\n");
    run.assert_exited_cleanly();
    run.assert_contains("BusyBox v1.");
    assert_line(&run, "hi-42");
}

#[test]
fn a_program_reading_in_canonical_mode_gets_edited_lines_and_end_of_file() {
    // cat reads the console in canonical mode: the tty echoes, erases with DEL (0x7f), kills
    // the line with ^U, ends a line with newline and the input with ^D. The lines are typed
    // once cat reads (typed ahead, the shell's raw-mode line editor would take them as they
    // are, as on Linux).
    let steps = [
        Step {
            after: None,
            send: b"echo ready-$((1+1)); cat\n".to_vec(),
        },
        Step::after("ready-2", "help\x7fp-me\n"),
        Step::after("help-me", "wrong\x15right\n"),
        Step::after("right", "\x04"),
        Step::after("~ # ", "echo cat-ended-$?\npoweroff\n"),
    ];
    let run = run_dialogue(&machine(), &steps, Until::Exit, TIMEOUT).expect("QEMU starts");
    run.assert_not_contains("KERNEL FAULT");
    run.assert_exited_cleanly();
    // The tty's echo shows the editing (ECHOE: backspace, space, backspace per erased
    // character); cat copies the edited lines. A server or kernel log line may cut into the
    // echo (the console is shared), so those are taken out first.
    let console = without_log_lines(&run.log);
    for echo in [
        "help\u{8} \u{8}p-me",
        "wrong\u{8} \u{8}\u{8} \u{8}\u{8} \u{8}\u{8} \u{8}\u{8} \u{8}right",
    ] {
        assert!(console.contains(echo), "no echo {echo:?} in:\n{}", run.log);
    }
    assert_line(&run, "help-me");
    assert_line(&run, "right");
    assert_line(&run, "cat-ended-0");
}

#[test]
fn a_client_that_spins_neither_hangs_the_server_nor_the_shell() {
    let run = type_into(
        &machine(),
        "sh -c 'while :; do :; done' &\necho still-$((1+1))\n/tests/time\npoweroff\n",
    );
    run.assert_exited_cleanly();
    assert_line(&run, "still-2");
    run.assert_line_matching(|line| line.starts_with("PASS time ("));
}
