//! The console: output processing, parked reads and writes, termios, window size, job
//! control ioctls, signals from the keyboard, and `ppoll`.

use linux_abi::errno::Errno;
use linux_abi::file::{O_NONBLOCK, O_RDONLY};
use linux_abi::layout::{Termios, Winsize};
use linux_abi::process::{CoreDump, signalled_status};
use linux_abi::signal::Signal;
use linux_abi::syscall::Syscall;
use linux_abi::terminal::{
    ECHO, FIONBIO, FIONREAD, ICANON, TCFLSH, TCGETS, TCSETS, TIOCGPGRP, TIOCGSID, TIOCGWINSZ,
    TIOCSCTTY, TIOCSPGRP, TIOCSWINSZ, VMIN, VTIME,
};

use super::{Harness, answer, answers, console_output, deletes};
use crate::process::Pid;
use crate::server::{Event, Nanoseconds};

/// Console input `bytes`.
fn type_in(harness: &mut Harness, bytes: &[u8]) -> Vec<crate::server::Action<u64>> {
    harness.handle(Event::ConsoleInput(bytes.to_vec()))
}

/// The console's termios as `pid` reads it.
fn termios(harness: &mut Harness, pid: Pid) -> Termios {
    let buffer = harness.scratch(pid, 1);
    harness.ok(pid, Syscall::Ioctl, &[0, u64::from(TCGETS), buffer]);
    let bytes = harness.peek(pid, buffer, Termios::SIZE);
    Termios::from_bytes(&bytes.try_into().unwrap())
}

/// Sets the console's termios from `pid`.
fn set_termios(harness: &mut Harness, pid: Pid, termios: Termios) {
    let buffer = harness.scratch(pid, 1);
    harness.poke(pid, buffer, &termios.to_bytes());
    harness.ok(pid, Syscall::Ioctl, &[0, u64::from(TCSETS), buffer]);
}

/// Makes init a session leader with the console as its controlling terminal.
fn take_the_console(harness: &mut Harness) {
    harness.ok(Pid::INIT, Syscall::Setsid, &[]);
    harness.ok(Pid::INIT, Syscall::Ioctl, &[0, u64::from(TIOCSCTTY), 0]);
}

#[test]
fn console_writes_go_through_output_processing() {
    let mut harness = Harness::booted();
    let text = harness.string(Pid::INIT, b"a\nb");
    let actions = harness.call(Pid::INIT, Syscall::Write, &[1, text, 3]);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(3)));
    assert_eq!(console_output(&actions), b"a\r\nb");
}

#[test]
fn a_console_read_parks_until_a_line_arrives_and_the_line_is_echoed() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    let actions = harness.call(Pid::INIT, Syscall::Read, &[0, buffer, 100]);
    assert!(!answers(&actions, Pid::INIT), "nothing typed yet");
    let actions = type_in(&mut harness, b"ls");
    assert!(!answers(&actions, Pid::INIT), "the line is not complete");
    assert_eq!(console_output(&actions), b"ls");
    let actions = type_in(&mut harness, b"\r");
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(3)));
    assert_eq!(console_output(&actions), b"\r\n");
    assert_eq!(harness.peek(Pid::INIT, buffer, 3), b"ls\n");
}

#[test]
fn a_nonblocking_console_read_with_nothing_typed_is_eagain() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/dev/console", O_RDONLY | O_NONBLOCK);
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[fd, buffer, 10]),
        Errno::EAGAIN
    );
    let on = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, on, &1u32.to_le_bytes());
    harness.ok(Pid::INIT, Syscall::Ioctl, &[0, u64::from(FIONBIO), on]);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Read, &[0, buffer, 10]),
        Errno::EAGAIN
    );
}

#[test]
fn end_of_file_at_the_start_of_a_line_reads_as_0() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.call(Pid::INIT, Syscall::Read, &[0, buffer, 100]);
    let actions = type_in(&mut harness, b"\x04");
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)));
}

#[test]
fn raw_mode_reads_each_byte_as_it_comes() {
    let mut harness = Harness::booted();
    let mut raw = termios(&mut harness, Pid::INIT);
    raw.local_flags &= !(ICANON | ECHO);
    raw.control_characters[VMIN] = 1;
    raw.control_characters[VTIME] = 0;
    set_termios(&mut harness, Pid::INIT, raw);
    assert_eq!(termios(&mut harness, Pid::INIT), raw);
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.call(Pid::INIT, Syscall::Read, &[0, buffer, 10]);
    let actions = type_in(&mut harness, b"q");
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(1)));
    assert_eq!(console_output(&actions), b"", "no echo");
}

#[test]
fn a_vtime_read_answers_empty_when_its_timer_expires() {
    let mut harness = Harness::booted();
    let mut timed = termios(&mut harness, Pid::INIT);
    timed.local_flags &= !ICANON;
    timed.control_characters[VMIN] = 0;
    timed.control_characters[VTIME] = 5;
    set_termios(&mut harness, Pid::INIT, timed);
    let buffer = harness.scratch(Pid::INIT, 1);
    let actions = harness.call(Pid::INIT, Syscall::Read, &[0, buffer, 10]);
    assert!(!answers(&actions, Pid::INIT));
    let deadline = harness.server.next_deadline().expect("the VTIME timer");
    assert_eq!(
        deadline,
        harness.now.saturating_add(Nanoseconds(500_000_000))
    );
    assert!(!answers(&harness.advance(499_999_999), Pid::INIT));
    let actions = harness.advance(1);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)));
    assert_eq!(harness.server.next_deadline(), None);
}

#[test]
fn readv_from_the_console_scatters_the_line() {
    let mut harness = Harness::booted();
    type_in(&mut harness, b"abcdef\r");
    let buffer = harness.scratch(Pid::INIT, 1);
    let vector = harness.scratch(Pid::INIT, 1);
    for (index, (base, length)) in [(buffer, 3u64), (buffer + 100, 10)].iter().enumerate() {
        harness.poke(Pid::INIT, vector + 16 * index as u64, &base.to_le_bytes());
        harness.poke(
            Pid::INIT,
            vector + 16 * index as u64 + 8,
            &length.to_le_bytes(),
        );
    }
    assert_eq!(harness.ok(Pid::INIT, Syscall::Readv, &[0, vector, 2]), 7);
    assert_eq!(harness.peek(Pid::INIT, buffer, 3), b"abc");
    assert_eq!(harness.peek(Pid::INIT, buffer + 100, 4), b"def\n");
}

#[test]
fn the_window_size_is_read_and_set() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.ok(
        Pid::INIT,
        Syscall::Ioctl,
        &[1, u64::from(TIOCGWINSZ), buffer],
    );
    let size = Winsize::from_bytes(&harness.peek(Pid::INIT, buffer, 8).try_into().unwrap());
    assert_eq!((size.rows, size.columns), (24, 80));
    let wide = Winsize {
        rows: 50,
        columns: 132,
        width_pixels: 0,
        height_pixels: 0,
    };
    harness.poke(Pid::INIT, buffer, &wide.to_bytes());
    harness.ok(
        Pid::INIT,
        Syscall::Ioctl,
        &[1, u64::from(TIOCSWINSZ), buffer],
    );
    harness.poke(Pid::INIT, buffer, &[0; 8]);
    harness.ok(
        Pid::INIT,
        Syscall::Ioctl,
        &[1, u64::from(TIOCGWINSZ), buffer],
    );
    assert_eq!(harness.peek(Pid::INIT, buffer, 8), wide.to_bytes());
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Ioctl, &[1, u64::from(TIOCGWINSZ), 16]),
        Errno::EFAULT
    );
}

#[test]
fn ioctl_on_other_files_is_enotty_except_the_generic_requests() {
    let mut harness = Harness::booted();
    let fd = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY);
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Ioctl, &[fd, u64::from(TCGETS), buffer]),
        Errno::ENOTTY
    );
    harness.ok(Pid::INIT, Syscall::Lseek, &[fd, 2, 0]);
    harness.ok(
        Pid::INIT,
        Syscall::Ioctl,
        &[fd, u64::from(FIONREAD), buffer],
    );
    assert_eq!(
        harness.peek_u32(Pid::INIT, buffer),
        4,
        "bytes left in the file"
    );
    harness.ok(Pid::INIT, Syscall::Ioctl, &[fd, 0x5451, 0]);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Fcntl, &[fd, 1, 0]),
        1,
        "FIOCLEX"
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Ioctl, &[88, u64::from(TCGETS), buffer]),
        Errno::EBADF
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Ioctl, &[0, 0x1234, buffer]),
        Errno::ENOTTY
    );
}

#[test]
fn fionread_on_the_console_counts_completed_lines() {
    let mut harness = Harness::booted();
    type_in(&mut harness, b"one\rtw");
    let buffer = harness.scratch(Pid::INIT, 1);
    harness.ok(Pid::INIT, Syscall::Ioctl, &[0, u64::from(FIONREAD), buffer]);
    assert_eq!(harness.peek_u32(Pid::INIT, buffer), 4);
    harness.ok(Pid::INIT, Syscall::Ioctl, &[0, u64::from(TCFLSH), 0]);
    harness.ok(Pid::INIT, Syscall::Ioctl, &[0, u64::from(FIONREAD), buffer]);
    assert_eq!(
        harness.peek_u32(Pid::INIT, buffer),
        0,
        "TCIFLUSH discarded the input"
    );
}

#[test]
fn job_control_ioctls_need_the_controlling_terminal() {
    let mut harness = Harness::booted();
    let buffer = harness.scratch(Pid::INIT, 1);
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Ioctl,
            &[0, u64::from(TIOCGPGRP), buffer]
        ),
        Errno::ENOTTY
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Ioctl, &[0, u64::from(TIOCSCTTY), 0]),
        Errno::EPERM,
        "only a session leader"
    );
    take_the_console(&mut harness);
    harness.ok(
        Pid::INIT,
        Syscall::Ioctl,
        &[0, u64::from(TIOCGPGRP), buffer],
    );
    assert_eq!(harness.peek_u32(Pid::INIT, buffer), 1);
    harness.ok(Pid::INIT, Syscall::Ioctl, &[0, u64::from(TIOCGSID), buffer]);
    assert_eq!(harness.peek_u32(Pid::INIT, buffer), 1);
    let child = harness.fork(Pid::INIT);
    harness.ok(child, Syscall::Setpgid, &[0, 0]);
    harness.poke(Pid::INIT, buffer, &(child.number() as u32).to_le_bytes());
    harness.ok(
        Pid::INIT,
        Syscall::Ioctl,
        &[0, u64::from(TIOCSPGRP), buffer],
    );
    harness.ok(
        Pid::INIT,
        Syscall::Ioctl,
        &[0, u64::from(TIOCGPGRP), buffer],
    );
    assert_eq!(harness.peek_u32(Pid::INIT, buffer), child.number() as u32);
    harness.poke(Pid::INIT, buffer, &999u32.to_le_bytes());
    assert_eq!(
        harness.error(
            Pid::INIT,
            Syscall::Ioctl,
            &[0, u64::from(TIOCSPGRP), buffer]
        ),
        Errno::ESRCH
    );
}

#[test]
fn control_c_kills_a_foreground_process_that_keeps_the_default_action() {
    let mut harness = Harness::booted();
    take_the_console(&mut harness);
    let child = harness.fork(Pid::INIT);
    harness.ok(child, Syscall::Setpgid, &[0, 0]);
    let group = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, group, &(child.number() as u32).to_le_bytes());
    harness.ok(Pid::INIT, Syscall::Ioctl, &[0, u64::from(TIOCSPGRP), group]);
    let status = harness.scratch(Pid::INIT, 1);
    harness.call(Pid::INIT, Syscall::Wait4, &[u64::MAX, status, 0, 0]);
    let actions = type_in(&mut harness, b"\x03");
    assert!(deletes(&actions, child));
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(child.number() as u64)));
    let expected = signalled_status(Signal::SIGINT, CoreDump::NotDumped);
    assert_eq!(harness.peek_u32(Pid::INIT, status), expected);
    assert_eq!(console_output(&actions), b"^C");
}

#[test]
fn control_c_is_only_recorded_for_a_process_with_a_handler() {
    let mut harness = Harness::booted();
    take_the_console(&mut harness);
    let action = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, action, &0x40_1000u64.to_le_bytes());
    harness.ok(Pid::INIT, Syscall::RtSigaction, &[2, action, 0, 8]);
    let actions = type_in(&mut harness, b"\x03");
    assert!(!deletes(&actions, Pid::INIT));
    let process = harness.server.processes.get(Pid::INIT).unwrap();
    assert!(process.signals.pending.contains(Signal::SIGINT));
}

#[test]
fn a_writer_parks_while_output_is_stopped_and_writes_when_it_resumes() {
    let mut harness = Harness::booted();
    type_in(&mut harness, b"\x13");
    let text = harness.string(Pid::INIT, b"later");
    let actions = harness.call(Pid::INIT, Syscall::Write, &[1, text, 5]);
    assert!(!answers(&actions, Pid::INIT));
    let actions = type_in(&mut harness, b"\x11");
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(5)));
    assert_eq!(console_output(&actions), b"later");
}

#[test]
fn ppoll_waits_for_console_input() {
    let mut harness = Harness::booted();
    let fds = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, fds, &[0, 0, 0, 0, 1, 0, 0, 0]);
    let actions = harness.call(Pid::INIT, Syscall::Ppoll, &[fds, 1, 0, 0, 8]);
    assert!(!answers(&actions, Pid::INIT));
    let actions = type_in(&mut harness, b"x\r");
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(1)));
    assert_eq!(harness.peek(Pid::INIT, fds + 6, 2), [0x1, 0], "POLLIN");
}

#[test]
fn ppoll_answers_at_once_for_ready_files_and_zero_timeouts() {
    let mut harness = Harness::booted();
    let file = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY) as u32;
    let fds = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, fds, &file.to_le_bytes());
    harness.poke(Pid::INIT, fds + 4, &[0x5, 0]);
    harness.poke(Pid::INIT, fds + 8, &77u32.to_le_bytes());
    harness.poke(Pid::INIT, fds + 12, &[0x1, 0]);
    harness.poke(Pid::INIT, fds + 16, &(-1i32).to_le_bytes());
    assert_eq!(harness.ok(Pid::INIT, Syscall::Ppoll, &[fds, 3, 0, 0, 0]), 2);
    assert_eq!(harness.peek(Pid::INIT, fds + 6, 2), [0x5, 0]);
    assert_eq!(harness.peek(Pid::INIT, fds + 14, 2), [0x20, 0], "POLLNVAL");
    assert_eq!(harness.peek(Pid::INIT, fds + 22, 2), [0, 0]);
    let timeout = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, fds, &0u32.to_le_bytes());
    harness.poke(Pid::INIT, fds + 4, &[0x1, 0]);
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Ppoll, &[fds, 1, timeout, 0, 0]),
        0,
        "nothing typed"
    );
}

#[test]
fn ppoll_answers_0_at_its_deadline_and_checks_its_arguments() {
    let mut harness = Harness::booted();
    let fds = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, fds + 4, &[0x1, 0]);
    let timeout = harness.scratch(Pid::INIT, 1);
    harness.poke(Pid::INIT, timeout + 8, &1_000_000i64.to_le_bytes());
    let actions = harness.call(Pid::INIT, Syscall::Ppoll, &[fds, 1, timeout, 0, 8]);
    assert!(!answers(&actions, Pid::INIT));
    let actions = harness.advance(1_000_000);
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(0)));
    harness.poke(Pid::INIT, timeout + 8, &(-1i64).to_le_bytes());
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Ppoll, &[fds, 1, timeout, 0, 8]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Ppoll, &[fds, 1, 0, fds, 4]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Ppoll, &[fds, 5000, 0, 0, 8]),
        Errno::EINVAL
    );
    assert_eq!(
        harness.error(Pid::INIT, Syscall::Ppoll, &[16, 1, 0, 0, 8]),
        Errno::EFAULT
    );
}

#[test]
fn a_reader_that_dies_waiting_is_not_answered_when_input_arrives() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let buffer = harness.scratch(child, 1);
    harness.call(child, Syscall::Read, &[0, buffer, 10]);
    harness.call(Pid::INIT, Syscall::Kill, &[child.number() as u64, 9]);
    let first = harness.scratch(Pid::INIT, 1);
    harness.call(Pid::INIT, Syscall::Read, &[0, first, 10]);
    let actions = type_in(&mut harness, b"hi\r");
    assert!(!answers(&actions, child));
    assert_eq!(
        answer(&actions, Pid::INIT),
        Some(Ok(3)),
        "the living reader gets the line"
    );
}

#[test]
fn parked_readers_take_lines_in_the_order_they_parked() {
    let mut harness = Harness::booted();
    let child = harness.fork(Pid::INIT);
    let child_buffer = harness.scratch(child, 1);
    let init_buffer = harness.scratch(Pid::INIT, 1);
    harness.call(child, Syscall::Read, &[0, child_buffer, 10]);
    harness.call(Pid::INIT, Syscall::Read, &[0, init_buffer, 10]);
    let actions = type_in(&mut harness, b"one\rtwo\r");
    assert_eq!(answer(&actions, child), Some(Ok(4)));
    assert_eq!(answer(&actions, Pid::INIT), Some(Ok(4)));
    assert_eq!(harness.peek(child, child_buffer, 4), b"one\n");
    assert_eq!(harness.peek(Pid::INIT, init_buffer, 4), b"two\n");
}

#[test]
fn ppoll_handles_arrays_longer_than_one_batch() {
    let mut harness = Harness::booted();
    let file = harness.open(Pid::INIT, b"/etc/motd", O_RDONLY) as i32;
    let fds = harness.scratch(Pid::INIT, 2);
    for index in 0..600u64 {
        let fd = if index == 555 { file } else { -1 };
        harness.poke(Pid::INIT, fds + 8 * index, &fd.to_le_bytes());
        harness.poke(Pid::INIT, fds + 8 * index + 4, &[0x1, 0, 0xAA, 0xAA]);
    }
    assert_eq!(
        harness.ok(Pid::INIT, Syscall::Ppoll, &[fds, 600, 0, 0, 8]),
        1
    );
    assert_eq!(harness.peek(Pid::INIT, fds + 8 * 555 + 6, 2), [0x1, 0]);
    assert_eq!(
        harness.peek(Pid::INIT, fds + 8 * 599 + 6, 2),
        [0, 0],
        "revents cleared"
    );
}
