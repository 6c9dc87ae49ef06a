//! console: the terminal on standard input and output (our /dev/console; a pseudo-terminal
//! under Linux): TCGETS (isatty), TCSETS between canonical and raw mode, TIOCGWINSZ, fstat,
//! write, and the ioctl errors.
//!
//! It needs a terminal as descriptors 0, 1 and 2, and fails at once without one.

#![no_main]

use std::ffi::{c_char, c_int};

use linux_programs::*;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    let mut checks = Checks::new("console");
    terminal(&mut checks);
    modes(&mut checks);
    errors(&mut checks);
    checks.finish()
}

fn terminal(checks: &mut Checks) {
    for fd in 0..3 {
        let mut termios = KernelTermios::default();
        let result = get_terminal_attributes(fd, Out::To(&mut termios));
        checks.equal(
            &format!("descriptor {fd} is a terminal (TCGETS)"),
            result,
            0,
        );
    }
    let mut termios = KernelTermios::default();
    get_terminal_attributes(1, Out::To(&mut termios));
    let cooked = libc::ICANON | libc::ECHO;
    checks.equal(
        "a terminal starts canonical and echoing",
        termios.local & cooked,
        cooked,
    );
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    checks.equal("TIOCGWINSZ", get_window_size(1, Out::To(&mut size)), 0);
    let mut status = empty_stat();
    checks.equal("fstat of the terminal", fstat(1, Out::To(&mut status)), 0);
    checks.equal(
        "the terminal is a character device",
        status.st_mode & libc::S_IFMT,
        libc::S_IFCHR,
    );
    let line = b"ok: write to the terminal (this line)\n";
    let written = write(1, In::From(line));
    checks.check_quietly(
        "write to the terminal",
        written == line.len() as i64,
        || describe(written),
    );
}

fn modes(checks: &mut Checks) {
    let mut original = KernelTermios::default();
    if get_terminal_attributes(0, Out::To(&mut original)) != 0 {
        checks.check("TCGETS before changing modes", false, String::new);
        return;
    }
    let mut raw_mode = original;
    raw_mode.local &= !(libc::ICANON | libc::ECHO);
    checks.equal(
        "TCSETS to raw mode",
        set_terminal_attributes(0, In::From(&raw_mode)),
        0,
    );
    let mut now = KernelTermios::default();
    get_terminal_attributes(0, Out::To(&mut now));
    checks.equal(
        "raw mode: ICANON and ECHO are off",
        now.local & (libc::ICANON | libc::ECHO),
        0,
    );
    checks.equal(
        "raw mode: the other settings are kept",
        (now.input, now.output, now.control),
        (original.input, original.output, original.control),
    );
    checks.equal(
        "TCSETS back to canonical mode",
        set_terminal_attributes(0, In::From(&original)),
        0,
    );
    get_terminal_attributes(0, Out::To(&mut now));
    checks.equal("canonical mode again", now.local, original.local);
    checks.fails_with(
        "TCSETS from the null page",
        set_terminal_attributes(0, In::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
}

fn errors(checks: &mut Checks) {
    let mut termios = KernelTermios::default();
    checks.fails_with(
        "TCGETS into the null page",
        get_terminal_attributes(1, Out::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
    checks.fails_with(
        "TIOCGWINSZ into the null page",
        get_window_size(1, Out::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
    checks.fails_with(
        "TCGETS of a closed descriptor",
        get_terminal_attributes(1000, Out::To(&mut termios)),
        libc::EBADF,
    );
    checks.fails_with(
        "an undefined ioctl on the terminal",
        undefined_ioctl(1),
        libc::ENOTTY,
    );
    let file = openat(
        libc::AT_FDCWD,
        In::From(&c_string("/etc/passwd")),
        libc::O_RDONLY,
        0,
    );
    if let Some(file) = checks.success("openat /etc/passwd", file) {
        let file = file as c_int;
        checks.fails_with(
            "TCGETS of a file (isatty is false)",
            get_terminal_attributes(file, Out::To(&mut termios)),
            libc::ENOTTY,
        );
        checks.fails_with(
            "an undefined ioctl on a file",
            undefined_ioctl(file),
            libc::ENOTTY,
        );
        close(file);
    }
}
