//! The project's own static Linux test programs: what they share.
//!
//! Each program (`src/bin/*.rs`) checks one group of system calls, their errors included,
//! the way an unmodified static binary makes them: a raw `svc #0` (through musl's
//! `syscall`), with the arguments Linux defines and the structures of its uapi. It prints one
//! line per check (`ok: …` or `not ok: …: what happened`), then `PASS <program>` or
//! `FAIL <program>: <what>`, and exits 0 or 1. The expectations are Linux's own: every
//! program passes under `qemu-aarch64` (Linux user-mode emulation) in a read-only copy of
//! our root filesystem (`check-under-qemu-user`), which shows that the checks encode what
//! Linux does, not what our server happens to do.
//!
//! Why they are built this way:
//!
//! - **No Rust runtime start-up** (`#![no_main]`, a C `main`): std's start-up makes system
//!   calls of its own (`ppoll` on fds 0..2, `sigaltstack`, `mprotect`, `rt_sigaction`),
//!   which would make every program depend on calls other programs test. musl's start-up
//!   alone makes none that matter; std is still there for formatting, allocation and
//!   output.
//! - **Raw calls through safe wrappers**, one per system call ([`call`]): each takes the
//!   program's own buffers, or [`Unmapped`] where a check wants a bad pointer, so a check
//!   reads like the manual page and the one `unsafe` per call says why it is sound.
//! - **Bad pointers are addresses no mapping can hold**: the null page and an address in
//!   the kernel half, never an address that was unmapped (it could be mapped again).
//! - **Children report by exit status**: a check that needs a child process forks, lets the
//!   child test and exit with a code, and checks the status in the parent, so output never
//!   interleaves.

pub mod call;

use std::ffi::{CStr, CString, c_char, c_int};
use std::io::Write;

pub use call::*;

/// One program's checks: counts them, prints a line for each, and ends the program.
#[derive(Debug)]
pub struct Checks {
    program: &'static str,
    count: usize,
    failures: Vec<String>,
}

impl Checks {
    /// The checks of `program` (the name in the final line).
    pub fn new(program: &'static str) -> Checks {
        Checks {
            program,
            count: 0,
            failures: Vec::new(),
        }
    }

    /// Records one check: passed when `passed`, otherwise `detail` says what happened.
    pub fn check(&mut self, name: &str, passed: bool, detail: impl FnOnce() -> String) {
        self.count += 1;
        if passed {
            say(format_args!("ok: {name}\n"));
        } else {
            let detail = detail();
            say(format_args!("not ok: {name}: {detail}\n"));
            self.failures.push(format!("{name}: {detail}"));
        }
    }

    /// Records a check whose passing line the call under test printed itself (a `write` to
    /// standard output): prints only a failure.
    pub fn check_quietly(&mut self, name: &str, passed: bool, detail: impl FnOnce() -> String) {
        self.count += 1;
        if !passed {
            let detail = detail();
            say(format_args!("not ok: {name}: {detail}\n"));
            self.failures.push(format!("{name}: {detail}"));
        }
    }

    /// Checks that a call returned exactly `expected`.
    pub fn equal<T: PartialEq + std::fmt::Debug>(&mut self, name: &str, actual: T, expected: T) {
        let passed = actual == expected;
        self.check(name, passed, || {
            format!("got {actual:?}, expected {expected:?}")
        });
    }

    /// Checks that a call succeeded (returned a value that is not `-errno`) and returns the
    /// value (or `None`).
    pub fn success(&mut self, name: &str, result: i64) -> Option<i64> {
        let passed = errno_of(result).is_none();
        self.check(name, passed, || format!("failed with {}", describe(result)));
        passed.then_some(result)
    }

    /// Checks that a call failed with `errno`.
    pub fn fails_with(&mut self, name: &str, result: i64, errno: c_int) {
        self.check(name, errno_of(result) == Some(errno), || {
            format!(
                "returned {}, expected {}",
                describe(result),
                errno_name(errno)
            )
        });
    }

    /// Prints `PASS <program>` and exits 0 if every check passed, otherwise
    /// `FAIL <program>: <how many> of <count> checks failed: <first failure>` and exits 1.
    pub fn finish(&mut self) -> ! {
        if self.failures.is_empty() {
            say(format_args!(
                "PASS {} ({} checks)\n",
                self.program, self.count
            ));
            exit(0)
        }
        let first = &self.failures[0];
        say(format_args!(
            "FAIL {}: {} of {} checks failed, first {}\n",
            self.program,
            self.failures.len(),
            self.count,
            first
        ));
        exit(1)
    }
}

/// Writes to standard output at once (one `write` per line, nothing buffered across a fork
/// or an exec).
pub fn say(arguments: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_fmt(arguments);
    let _ = stdout.flush();
}

/// Ends the process with `status` (exit_group), after flushing standard output.
pub fn exit(status: c_int) -> ! {
    let _ = std::io::stdout().flush();
    call::exit_group(status)
}

/// The error number of a raw result, if it is `-errno` (`-4095..=-1`).
pub fn errno_of(result: i64) -> Option<c_int> {
    (-4095..=-1).contains(&result).then(|| (-result) as c_int)
}

/// A raw result for a message: the value, or `-ENAME`.
pub fn describe(result: i64) -> String {
    match errno_of(result) {
        Some(errno) => format!("-{}", errno_name(errno)),
        None => format!("{result}"),
    }
}

/// The name of the error numbers the programs expect (the number for others).
pub fn errno_name(errno: c_int) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

/// A C string from Rust text (for paths and arguments; `text` has no NUL).
pub fn c_string(text: &str) -> CString {
    CString::new(text).unwrap_or_default()
}

/// The program's arguments, from the C `main`'s `argc` and `argv`.
///
/// # Safety
///
/// `argv` must hold `argc` pointers to C strings, as the C library passes them to `main`.
pub unsafe fn arguments(argc: c_int, argv: *const *const c_char) -> Vec<String> {
    (0..argc.max(0) as usize)
        .map(|index| {
            // SAFETY: the caller guarantees argc valid pointers to C strings.
            let argument = unsafe { CStr::from_ptr(*argv.add(index)) };
            argument.to_string_lossy().into_owned()
        })
        .collect()
}

/// The path to run this program again: `argv[0]` if it names a path, otherwise the first
/// match in `PATH` (there is no `/proc/self/exe` to read on our server).
pub fn own_path(argument0: &str) -> Option<String> {
    if argument0.contains('/') {
        return Some(argument0.to_string());
    }
    let search = std::env::var("PATH").unwrap_or_else(|_| "/bin:/usr/bin".to_string());
    search
        .split(':')
        .map(|directory| format!("{directory}/{argument0}"))
        .find(|candidate| {
            let path = c_string(candidate);
            let mut status = empty_stat();
            call::newfstatat(libc::AT_FDCWD, In::From(&path), Out::To(&mut status), 0) == 0
        })
}

/// A zeroed `struct stat` to receive one.
pub fn empty_stat() -> libc::stat {
    // SAFETY: `stat` is plain integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// Runs `child` in a forked child, which exits with what it returns (or with 255 if
/// `fork` fails there is no child). Returns the child's wait status, or `None` if fork or
/// wait4 failed.
pub fn in_child(child: impl FnOnce() -> c_int) -> Option<c_int> {
    let pid = call::fork();
    if pid == 0 {
        let status = child();
        exit(status)
    }
    if pid < 0 {
        return None;
    }
    let mut status = 0;
    let waited = call::wait4(pid as libc::pid_t, Out::To(&mut status), 0);
    (waited == pid).then_some(status)
}

/// Executes an undefined instruction (`udf`): the process dies of SIGILL.
#[cfg(target_arch = "aarch64")]
pub fn undefined_instruction() -> ! {
    // SAFETY: `udf` raises an undefined-instruction exception and never completes.
    unsafe { std::arch::asm!("udf #0", options(noreturn, nomem, nostack)) }
}

/// Executes an undefined instruction (`ud2`): the process dies of SIGILL. (The programs
/// are for aarch64; this lets them build and run on an x86_64 Linux host as well.)
#[cfg(target_arch = "x86_64")]
pub fn undefined_instruction() -> ! {
    // SAFETY: `ud2` raises an invalid-opcode exception and never completes.
    unsafe { std::arch::asm!("ud2", options(noreturn, nomem, nostack)) }
}

/// `WIFEXITED(status) ? WEXITSTATUS(status)` as an option.
pub fn exit_code(status: c_int) -> Option<c_int> {
    libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status))
}

/// `WIFSIGNALED(status) ? WTERMSIG(status)` as an option.
pub fn killed_by(status: c_int) -> Option<c_int> {
    libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_top_4095_values_are_errors() {
        assert_eq!(errno_of(-2), Some(libc::ENOENT));
        assert_eq!(errno_of(-4095), Some(4095));
        assert_eq!(errno_of(-4096), None);
        assert_eq!(errno_of(0), None);
        assert_eq!(describe(-2), "-ENOENT");
        assert_eq!(describe(7), "7");
    }

    #[test]
    fn a_path_with_a_slash_is_taken_as_it_is() {
        assert_eq!(own_path("/tests/files").as_deref(), Some("/tests/files"));
        assert_eq!(own_path("./files").as_deref(), Some("./files"));
    }
}
