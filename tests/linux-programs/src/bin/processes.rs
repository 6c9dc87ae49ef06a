//! processes: getpid, getppid, gettid, set_tid_address, fork (clone), wait4 and its
//! statuses (exit codes, death by a signal), execve (of /bin/true, of this program with
//! arguments and environment, and its errors), exit_group.
//!
//! Runs itself again as `processes exec-check <argument> …` to see what execve passed.

#![no_main]

use std::ffi::{CStr, c_char, c_int};
use std::sync::atomic::{AtomicI32, Ordering};

use linux_programs::*;

const EXEC_CHECK: &str = "exec-check";
const EXEC_ARGUMENTS: [&str; 3] = ["first argument", "", "third"];
const EXEC_VARIABLE: &str = "LINUX_PROGRAMS_CHECK=yes";

/// Where the kernel clears the thread ID when the thread ends (set_tid_address).
static CLEAR_CHILD_TID: AtomicI32 = AtomicI32::new(-1);

#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C library passes main its argc and argv.
    let arguments = unsafe { linux_programs::arguments(argc, argv) };
    if arguments.get(1).map(String::as_str) == Some(EXEC_CHECK) {
        exit(after_exec(&arguments))
    }
    let mut checks = Checks::new("processes");
    identities(&mut checks);
    children(&mut checks);
    deaths(&mut checks);
    waiting(&mut checks);
    executing(
        &mut checks,
        arguments.first().map(String::as_str).unwrap_or("processes"),
    );
    checks.finish()
}

fn identities(checks: &mut Checks) {
    let pid = getpid();
    checks.check("getpid is positive", pid > 0, || describe(pid));
    checks.equal("gettid of the only thread is the pid", gettid(), pid);
    let parent = getppid();
    checks.check("getppid is not negative", parent >= 0, || describe(parent));
    checks.check("getppid is not the pid", parent != pid, || describe(parent));
    checks.equal(
        "set_tid_address returns the thread ID",
        set_tid_address(&CLEAR_CHILD_TID),
        pid,
    );
    checks.equal(
        "set_tid_address leaves the word alone",
        CLEAR_CHILD_TID.load(Ordering::SeqCst),
        -1,
    );
}

fn children(checks: &mut Checks) {
    let parent = getpid();
    // The child reports what it sees as its exit status: 0 = all as expected.
    let status = in_child(|| {
        let pid = getpid();
        if getppid() != parent {
            return 10;
        }
        if pid == parent || pid <= 0 || gettid() != pid {
            return 11;
        }
        0
    });
    checks.equal(
        "the child has its own pid and the parent as parent",
        status.and_then(exit_code),
        Some(0),
    );
    for code in [0, 1, 42, 255] {
        let status = in_child(|| code);
        checks.equal(
            &format!("wait4 reports exit status {code}"),
            status.and_then(exit_code),
            Some(code),
        );
    }
    let status = in_child(|| 256 + 7);
    checks.equal(
        "an exit status is taken modulo 256",
        status.and_then(exit_code),
        Some(7),
    );

    let child = fork();
    if child == 0 {
        exit_group(3)
    }
    let mut status = 0;
    checks.equal(
        "wait4 for a particular child returns its pid",
        wait4(child as libc::pid_t, Out::To(&mut status), 0),
        child,
    );
    checks.check(
        "the status says exited",
        libc::WIFEXITED(status) && !libc::WIFSIGNALED(status),
        || format!("{status:#x}"),
    );
    checks.equal(
        "the child's memory is its own",
        memory_after_fork(),
        Some(0),
    );
}

/// A child changes a value it shares with the parent by copy: the parent keeps its own.
fn memory_after_fork() -> Option<c_int> {
    let mut value = 5;
    let status = in_child(|| {
        value = 6;
        std::hint::black_box(&mut value);
        0
    })?;
    let _ = exit_code(status)?;
    Some(if std::hint::black_box(value) == 5 {
        0
    } else {
        1
    })
}

fn deaths(checks: &mut Checks) {
    let status = in_child(|| {
        let address = std::hint::black_box(Bad::NullPage.address()) as *mut u8;
        // SAFETY: not sound: this child writes to the null page on purpose, to die of
        // SIGSEGV; it never returns from the write.
        unsafe { address.write_volatile(1) };
        0
    });
    checks.equal(
        "a child that writes to the null page dies of SIGSEGV",
        status.and_then(killed_by),
        Some(libc::SIGSEGV),
    );
    let status = in_child(|| undefined_instruction());
    checks.equal(
        "a child that executes an undefined instruction dies of SIGILL",
        status.and_then(killed_by),
        Some(libc::SIGILL),
    );
    checks.check(
        "a death by signal is not an exit",
        status.is_some_and(|status| !libc::WIFEXITED(status)),
        || format!("{status:?}"),
    );
}

fn waiting(checks: &mut Checks) {
    let mut status = 0;
    checks.fails_with(
        "wait4 without children",
        wait4(-1, Out::To(&mut status), 0),
        libc::ECHILD,
    );
    checks.fails_with(
        "wait4 for a pid that is no child",
        wait4(1, Out::To(&mut status), 0),
        libc::ECHILD,
    );
    checks.fails_with(
        "wait4 with unknown options",
        wait4(-1, Out::To(&mut status), 0x1000),
        libc::EINVAL,
    );
    let child = fork();
    if child == 0 {
        let second = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        nanosleep(In::From(&second), Out::Absent);
        exit_group(9)
    }
    checks.check("fork", child > 0, || describe(child));
    checks.equal(
        "wait4 WNOHANG while the child runs",
        wait4(-1, Out::To(&mut status), libc::WNOHANG),
        0,
    );
    checks.equal(
        "wait4 for any child",
        wait4(-1, Out::To(&mut status), 0),
        child,
    );
    checks.equal("its status", exit_code(status), Some(9));
    let child = fork();
    if child == 0 {
        exit_group(0)
    }
    checks.equal(
        "wait4 without a status pointer",
        wait4(child as libc::pid_t, Out::Absent, 0),
        child,
    );
    checks.fails_with(
        "wait4 after every child was reaped",
        wait4(-1, Out::To(&mut status), 0),
        libc::ECHILD,
    );
}

fn executing(checks: &mut Checks, argument0: &str) {
    let run = |path: &str, argv: &[&str], envp: &[&str]| {
        let path = c_string(path);
        let argv: Vec<_> = argv.iter().map(|word| c_string(word)).collect();
        let envp: Vec<_> = envp.iter().map(|word| c_string(word)).collect();
        in_child(|| {
            let argv: Vec<&CStr> = argv.iter().map(|word| word.as_c_str()).collect();
            let envp: Vec<&CStr> = envp.iter().map(|word| word.as_c_str()).collect();
            let result = execve(In::From(&path), &argv, &envp);
            // Reached only if execve failed: report the error number.
            errno_of(result).map_or(254, |errno| 100 + errno)
        })
    };
    checks.equal(
        "execve /bin/true",
        run("/bin/true", &["true"], &[]).and_then(exit_code),
        Some(0),
    );
    checks.equal(
        "execve /bin/false",
        run("/bin/false", &["false"], &[]).and_then(exit_code),
        Some(1),
    );
    let error = |errno: c_int| Some(100 + errno);
    checks.equal(
        "execve a missing file",
        run("/nonexistent", &["x"], &[]).and_then(exit_code),
        error(libc::ENOENT),
    );
    checks.equal(
        "execve a file without execute permission",
        run("/etc/passwd", &["x"], &[]).and_then(exit_code),
        error(libc::EACCES),
    );
    checks.equal(
        "execve a directory",
        run("/bin", &["x"], &[]).and_then(exit_code),
        error(libc::EACCES),
    );
    checks.equal(
        "execve below a file",
        run("/etc/passwd/x", &["x"], &[]).and_then(exit_code),
        error(libc::ENOTDIR),
    );
    let bad_path = in_child(|| {
        errno_of(execve(In::Bad(Bad::NullPage), &[], &[])).map_or(254, |errno| 100 + errno)
    });
    checks.equal(
        "execve a path in the null page",
        bad_path.and_then(exit_code),
        error(libc::EFAULT),
    );
    let bad_arguments = in_child(|| {
        errno_of(execve_with_bad_arguments(
            &c_string("/bin/true"),
            Bad::NullPage,
        ))
        .map_or(254, |errno| 100 + errno)
    });
    checks.equal(
        "execve with arguments in the null page",
        bad_arguments.and_then(exit_code),
        error(libc::EFAULT),
    );

    let Some(path) = own_path(argument0) else {
        checks.check("find this program to run it again", false, || {
            format!("argv[0] is {argument0}")
        });
        return;
    };
    let mut argv = vec![path.as_str(), EXEC_CHECK];
    argv.extend(EXEC_ARGUMENTS);
    let status = run(&path, &argv, &[EXEC_VARIABLE, "SECOND=2"]);
    checks.equal(
        "execve passes the arguments and the environment",
        status.and_then(exit_code),
        Some(0),
    );
}

/// The program run again: exit 0 if it got the arguments and environment `executing` gave.
fn after_exec(arguments: &[String]) -> c_int {
    if arguments.len() != 2 + EXEC_ARGUMENTS.len() {
        return 10;
    }
    if arguments[2..].iter().map(String::as_str).ne(EXEC_ARGUMENTS) {
        return 11;
    }
    let environment: Vec<String> = std::env::vars()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if environment != [EXEC_VARIABLE, "SECOND=2"] {
        say(format_args!(
            "the environment after execve: {environment:?}\n"
        ));
        return 12;
    }
    0
}
