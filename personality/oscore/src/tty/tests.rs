//! Tests of the line discipline: echo and line editing, signals, end of file, the
//! non-canonical read cases, output processing, the ioctls and job control.

use alloc::vec;
use alloc::vec::Vec;

use linux_abi::terminal::{IUTF8, TOSTOP};

use super::*;

fn type_in(tty: &mut Tty, input: &[u8]) -> (Vec<u8>, Vec<TtyEvent>) {
    let mut echo = Vec::new();
    let events = tty.receive(input, &mut echo);
    (echo, events)
}

fn echo_of(tty: &mut Tty, input: &[u8]) -> Vec<u8> {
    type_in(tty, input).0
}

/// Reads with a buffer of `size` bytes; the outcome and the bytes read.
fn read(tty: &mut Tty, size: usize) -> (ReadOutcome, Vec<u8>) {
    let mut buffer = vec![0; size];
    let outcome = tty.read(&mut buffer);
    let count = match outcome {
        ReadOutcome::Data(count) => count,
        _ => 0,
    };
    buffer.truncate(count);
    (outcome, buffer)
}

fn read_bytes(tty: &mut Tty, size: usize) -> Vec<u8> {
    let (outcome, bytes) = read(tty, size);
    assert!(matches!(outcome, ReadOutcome::Data(_)), "{outcome:?}");
    bytes
}

const BLOCKED: ReadOutcome = ReadOutcome::WouldBlock {
    timer: ReadTimer::None,
};

fn with_termios(change: impl FnOnce(&mut Termios)) -> Tty {
    let mut tty = Tty::new();
    let mut termios = tty.termios();
    change(&mut termios);
    tty.set_termios(termios, TermiosAction::Now);
    tty
}

/// What `cfmakeraw`-style programs (and busybox's line editor) set: no canonical mode, no
/// echo.
fn raw(minimum: u8, deciseconds: u8) -> Tty {
    with_termios(|termios| {
        termios.local_flags &= !(ICANON | ECHO);
        termios.control_characters[VMIN] = minimum;
        termios.control_characters[VTIME] = deciseconds;
    })
}

fn ids(pid: i32, process_group: i32, session: i32) -> ProcessIds {
    ProcessIds {
        pid: Pid::new(pid).unwrap(),
        parent: Pid::INIT,
        process_group: Pid::new(process_group).unwrap(),
        session: Pid::new(session).unwrap(),
    }
}

/// A terminal controlled by session 2 (the shell, pid 2) with group 5 in the foreground.
fn job_control_terminal() -> Tty {
    let mut tty = Tty::new();
    tty.attach_controlling_session(&ids(2, 2, 2), false)
        .unwrap();
    tty.set_foreground_process_group(&ids(2, 2, 2), 5, |_| Some(Pid::new(2).unwrap()))
        .unwrap();
    tty
}

fn sigint_to(group: i32) -> TtyEvent {
    TtyEvent::Signal(SignalRequest {
        signal: Signal::SIGINT,
        process_group: Pid::new(group).unwrap(),
    })
}

#[test]
fn the_console_starts_with_linuxs_standard_termios() {
    let tty = Tty::new();
    let termios = tty.termios();
    assert_eq!(termios.input_flags, ICRNL | IXON);
    assert_eq!(termios.output_flags, OPOST | ONLCR);
    assert_eq!(termios.control_flags, B38400 | CS8 | CREAD | HUPCL);
    assert_eq!(
        termios.local_flags,
        ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
    );
    assert_eq!(
        termios.control_characters,
        [
            3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0, 0
        ]
    );
    assert_eq!(tty.window_size(), DEFAULT_WINDOW_SIZE);
    assert_eq!(
        (tty.window_size().rows, tty.window_size().columns),
        (24, 80)
    );
    assert_eq!(tty.controlling_session(), None);
}

#[test]
fn typed_text_is_echoed_and_read_as_a_line_once_enter_is_pressed() {
    let mut tty = Tty::new();
    let (echo, events) = type_in(&mut tty, b"ls -l");
    assert_eq!(echo, b"ls -l");
    assert!(events.is_empty());
    assert_eq!(read(&mut tty, 100).0, BLOCKED);
    assert_eq!(tty.readable_bytes(), 0);
    assert!(!tty.poll_readable());
    let (echo, events) = type_in(&mut tty, b"\r");
    assert_eq!(echo, b"\r\n", "CR became NL, echoed through ONLCR");
    assert_eq!(events, vec![TtyEvent::InputAvailable]);
    assert!(tty.poll_readable());
    assert_eq!(read_bytes(&mut tty, 100), b"ls -l\n");
    assert_eq!(read(&mut tty, 100).0, BLOCKED);
}

#[test]
fn a_read_returns_at_most_one_line() {
    let mut tty = Tty::new();
    type_in(&mut tty, b"one\ntwo\n");
    assert_eq!(tty.readable_bytes(), 8);
    assert_eq!(read_bytes(&mut tty, 100), b"one\n");
    assert_eq!(read_bytes(&mut tty, 100), b"two\n");
}

#[test]
fn a_partial_read_leaves_the_rest_of_the_line() {
    let mut tty = Tty::new();
    type_in(&mut tty, b"hello\nnext\n");
    assert_eq!(read_bytes(&mut tty, 2), b"he");
    assert_eq!(tty.readable_bytes(), 9);
    assert_eq!(read_bytes(&mut tty, 3), b"llo");
    assert_eq!(read_bytes(&mut tty, 100), b"\n");
    assert_eq!(read_bytes(&mut tty, 100), b"next\n");
    assert_eq!(read(&mut tty, 0).0, ReadOutcome::Data(0));
}

#[test]
fn erase_removes_the_last_character_and_rubs_it_out() {
    let mut tty = Tty::new();
    assert_eq!(
        echo_of(&mut tty, b"cat\x7f\x7fp"),
        b"cat\x08 \x08\x08 \x08p"
    );
    type_in(&mut tty, b"\n");
    assert_eq!(read_bytes(&mut tty, 100), b"cp\n");
}

#[test]
fn erase_at_the_start_of_a_line_does_nothing() {
    let mut tty = Tty::new();
    assert_eq!(echo_of(&mut tty, b"\x7f\x7f"), b"");
    assert_eq!(echo_of(&mut tty, b"a\n\x7f"), b"a\r\n");
    assert_eq!(read_bytes(&mut tty, 100), b"a\n");
}

#[test]
fn erase_without_echoe_echoes_the_erase_character() {
    let mut tty = with_termios(|termios| termios.local_flags &= !ECHOE);
    assert_eq!(echo_of(&mut tty, b"ab\x7f"), b"ab^?");
}

#[test]
fn erasing_a_control_character_rubs_out_both_columns_of_its_echo() {
    let mut tty = Tty::new();
    assert_eq!(echo_of(&mut tty, b"x\x16\x01"), b"x^\x08^A");
    assert_eq!(echo_of(&mut tty, b"\x7f"), b"\x08 \x08\x08 \x08");
    type_in(&mut tty, b"\n");
    assert_eq!(read_bytes(&mut tty, 100), b"x\n");
}

#[test]
fn erasing_a_tab_backs_up_to_where_the_text_before_it_ended() {
    let mut tty = Tty::new();
    let mut out = Vec::new();
    // A prompt puts the line's start at column 2.
    tty.write(b"$ ", &mut out);
    assert_eq!(echo_of(&mut tty, b"ab\t"), b"ab\t");
    assert_eq!(echo_of(&mut tty, b"\x7f"), b"\x08\x08\x08\x08");
    // After another tab only the text since that tab counts.
    assert_eq!(
        echo_of(&mut tty, b"\tx\t\x7f"),
        b"\tx\t\x08\x08\x08\x08\x08\x08\x08"
    );
}

#[test]
fn kill_erases_the_whole_line_visually_with_echoke() {
    let mut tty = Tty::new();
    assert_eq!(echo_of(&mut tty, b"rm"), b"rm");
    assert_eq!(echo_of(&mut tty, b"\x15"), b"\x08 \x08\x08 \x08");
    type_in(&mut tty, b"ls\n");
    assert_eq!(read_bytes(&mut tty, 100), b"ls\n");
}

#[test]
fn kill_without_echoke_echoes_the_kill_character_and_a_newline() {
    let mut tty = with_termios(|termios| termios.local_flags &= !ECHOKE);
    assert_eq!(echo_of(&mut tty, b"rm -rf\x15"), b"rm -rf^U\r\n");
    let mut quiet = with_termios(|termios| termios.local_flags &= !(ECHOKE | ECHOK));
    assert_eq!(echo_of(&mut quiet, b"rm\x15"), b"rm^U");
    type_in(&mut tty, b"ok\n");
    assert_eq!(read_bytes(&mut tty, 100), b"ok\n");
}

#[test]
fn word_erase_removes_the_last_word_and_the_blanks_after_it() {
    let mut tty = Tty::new();
    type_in(&mut tty, b"echo hello_world  ");
    assert_eq!(
        echo_of(&mut tty, b"\x17"),
        b"\x08 \x08".repeat(13),
        "two blanks and the eleven characters of the word"
    );
    assert_eq!(echo_of(&mut tty, b"x.y\x17"), b"x.y\x08 \x08");
    type_in(&mut tty, b"\n");
    assert_eq!(read_bytes(&mut tty, 100), b"echo x.\n");
}

#[test]
fn word_erase_needs_iexten() {
    let mut tty = with_termios(|termios| termios.local_flags &= !IEXTEN);
    assert_eq!(echo_of(&mut tty, b"ab\x17\n"), b"ab^W\r\n");
    assert_eq!(read_bytes(&mut tty, 100), b"ab\x17\n");
}

#[test]
fn end_of_file_at_the_start_of_a_line_reads_as_end_of_file_once() {
    let mut tty = Tty::new();
    let (echo, events) = type_in(&mut tty, b"\x04");
    assert_eq!(echo, b"", "VEOF is not echoed");
    assert_eq!(events, vec![TtyEvent::InputAvailable]);
    assert!(tty.poll_readable());
    assert_eq!(tty.readable_bytes(), 0);
    assert_eq!(read(&mut tty, 100).0, ReadOutcome::EndOfFile);
    assert_eq!(read(&mut tty, 100).0, BLOCKED);
    // A zero-length read does not use it up.
    type_in(&mut tty, b"\x04");
    assert_eq!(read(&mut tty, 0).0, ReadOutcome::Data(0));
    assert_eq!(read(&mut tty, 10).0, ReadOutcome::EndOfFile);
}

#[test]
fn end_of_file_in_the_middle_of_a_line_returns_the_line_without_newline() {
    let mut tty = Tty::new();
    type_in(&mut tty, b"abc\x04\x04");
    assert_eq!(read_bytes(&mut tty, 100), b"abc");
    assert_eq!(read(&mut tty, 100).0, ReadOutcome::EndOfFile);
    // Read in pieces, the marker goes with the last piece rather than reading as 0.
    type_in(&mut tty, b"xyz\x04more\n");
    assert_eq!(read_bytes(&mut tty, 2), b"xy");
    assert_eq!(read_bytes(&mut tty, 1), b"z");
    assert_eq!(read_bytes(&mut tty, 100), b"more\n");
}

#[test]
fn eol_characters_end_a_line_and_stay_in_it() {
    let mut tty = with_termios(|termios| {
        termios.control_characters[VEOL] = b';';
        termios.control_characters[VEOL2] = b'|';
    });
    assert_eq!(echo_of(&mut tty, b"a;b|"), b"a;b|");
    assert_eq!(read_bytes(&mut tty, 100), b"a;");
    assert_eq!(read_bytes(&mut tty, 100), b"b|");
}

#[test]
fn interrupt_signals_the_foreground_group_flushes_input_and_echoes_caret_c() {
    let mut tty = job_control_terminal();
    type_in(&mut tty, b"first\npartial");
    let (echo, events) = type_in(&mut tty, b"\x03");
    assert_eq!(echo, b"^C");
    assert_eq!(events, vec![sigint_to(5)]);
    assert_eq!(tty.readable_bytes(), 0);
    assert_eq!(read(&mut tty, 100).0, BLOCKED);
    type_in(&mut tty, b"after\n");
    assert_eq!(read_bytes(&mut tty, 100), b"after\n");
}

#[test]
fn quit_and_suspend_send_their_signals() {
    let mut tty = job_control_terminal();
    let group = Pid::new(5).unwrap();
    let (echo, events) = type_in(&mut tty, b"\x1c\x1a");
    assert_eq!(echo, b"^\\^Z");
    assert_eq!(
        events,
        vec![
            TtyEvent::Signal(SignalRequest {
                signal: Signal::SIGQUIT,
                process_group: group
            }),
            TtyEvent::Signal(SignalRequest {
                signal: Signal::SIGTSTP,
                process_group: group
            }),
        ]
    );
}

#[test]
fn without_a_foreground_group_interrupt_only_flushes() {
    let mut tty = Tty::new();
    type_in(&mut tty, b"line\n");
    let (echo, events) = type_in(&mut tty, b"\x03");
    assert_eq!(echo, b"^C");
    assert!(events.is_empty());
    assert_eq!(tty.readable_bytes(), 0);
}

#[test]
fn noflsh_keeps_the_input_when_a_signal_character_arrives() {
    let mut tty = job_control_terminal();
    let mut termios = tty.termios();
    termios.local_flags |= NOFLSH;
    tty.set_termios(termios, TermiosAction::Now);
    let (_, events) = type_in(&mut tty, b"kept\nmore\x03\n");
    assert_eq!(events, vec![sigint_to(5), TtyEvent::InputAvailable]);
    assert_eq!(read_bytes(&mut tty, 100), b"kept\n");
    assert_eq!(read_bytes(&mut tty, 100), b"more\n");
}

#[test]
fn without_isig_signal_characters_are_data() {
    let mut tty = with_termios(|termios| termios.local_flags &= !ISIG);
    let (echo, events) = type_in(&mut tty, b"\x03\n");
    assert_eq!(echo, b"^C\r\n");
    assert_eq!(events, vec![TtyEvent::InputAvailable]);
    assert_eq!(read_bytes(&mut tty, 100), b"\x03\n");
}

#[test]
fn literal_next_quotes_special_characters() {
    let mut tty = job_control_terminal();
    let (echo, events) = type_in(&mut tty, b"\x16\x03\x16\x7f\x16\x04\n");
    assert!(
        events
            .iter()
            .all(|event| !matches!(event, TtyEvent::Signal(_)))
    );
    assert_eq!(echo, b"^\x08^C^\x08^?^\x08^D\r\n");
    assert_eq!(read_bytes(&mut tty, 100), b"\x03\x7f\x04\n");
}

#[test]
fn reprint_echoes_the_line_being_edited_on_a_new_line() {
    let mut tty = Tty::new();
    type_in(&mut tty, b"done\nvi\x01m");
    assert_eq!(echo_of(&mut tty, b"\x12"), b"^R\r\nvi^Am");
    type_in(&mut tty, b"\n");
    assert_eq!(read_bytes(&mut tty, 100), b"done\n");
    assert_eq!(read_bytes(&mut tty, 100), b"vi\x01m\n");
}

#[test]
fn carriage_return_and_newline_are_mapped_by_the_input_flags() {
    let mut tty = with_termios(|termios| termios.input_flags |= IGNCR);
    type_in(&mut tty, b"a\r\n");
    assert_eq!(read_bytes(&mut tty, 100), b"a\n");
    let mut tty = raw(1, 0);
    let mut termios = tty.termios();
    termios.input_flags = INLCR;
    tty.set_termios(termios, TermiosAction::Now);
    type_in(&mut tty, b"x\ny\r");
    assert_eq!(read_bytes(&mut tty, 100), b"x\ry\r");
    let mut tty = raw(1, 0);
    type_in(&mut tty, b"\r");
    assert_eq!(
        read_bytes(&mut tty, 100),
        b"\n",
        "ICRNL applies in raw mode too"
    );
}

#[test]
fn istrip_clears_the_eighth_bit() {
    let mut tty = with_termios(|termios| termios.input_flags |= ISTRIP);
    type_in(&mut tty, b"\xc1\x8a");
    assert_eq!(read_bytes(&mut tty, 100), b"A\n");
}

#[test]
fn echo_off_echoes_nothing_but_echonl_still_echoes_newlines() {
    let mut tty = with_termios(|termios| termios.local_flags &= !ECHO);
    assert_eq!(echo_of(&mut tty, b"secret\x7f\n"), b"");
    assert_eq!(read_bytes(&mut tty, 100), b"secre\n");
    let mut tty =
        with_termios(|termios| termios.local_flags = (termios.local_flags & !ECHO) | ECHONL);
    assert_eq!(echo_of(&mut tty, b"pw\n"), b"\r\n");
}

#[test]
fn control_characters_echo_raw_without_echoctl() {
    let mut tty = with_termios(|termios| termios.local_flags &= !ECHOCTL);
    assert_eq!(echo_of(&mut tty, b"a\x01"), b"a\x01");
    assert_eq!(
        echo_of(&mut tty, b"\x7f"),
        b"",
        "a raw control character took no column"
    );
}

#[test]
fn with_iutf8_erase_removes_a_whole_character() {
    let mut tty = with_termios(|termios| termios.input_flags |= IUTF8);
    assert_eq!(echo_of(&mut tty, "aé€".as_bytes()), "aé€".as_bytes());
    assert_eq!(echo_of(&mut tty, b"\x7f\x7f"), b"\x08 \x08\x08 \x08");
    type_in(&mut tty, b"\n");
    assert_eq!(read_bytes(&mut tty, 100), b"a\n");
}

#[test]
fn output_maps_newline_to_carriage_return_newline() {
    let mut tty = Tty::new();
    let mut out = Vec::new();
    assert_eq!(tty.write(b"one\ntwo\n", &mut out), WriteOutcome::Written(8));
    assert_eq!(out, b"one\r\ntwo\r\n");
}

#[test]
fn without_opost_output_passes_unchanged() {
    let mut tty = with_termios(|termios| termios.output_flags &= !OPOST);
    let mut out = Vec::new();
    tty.write(b"a\nb\r", &mut out);
    assert_eq!(out, b"a\nb\r");
    // Echo is not processed either.
    assert_eq!(echo_of(&mut tty, b"x\r"), b"x\n");
}

#[test]
fn ocrnl_onocr_and_onlret_shape_carriage_returns() {
    let mut tty = with_termios(|termios| termios.output_flags = OPOST | OCRNL);
    let mut out = Vec::new();
    tty.write(b"a\rb\n", &mut out);
    assert_eq!(out, b"a\nb\n");
    let mut tty = with_termios(|termios| termios.output_flags = OPOST | ONOCR);
    let mut out = Vec::new();
    tty.write(b"\rab\r\r", &mut out);
    assert_eq!(out, b"ab\r", "no CR at column 0");
    let mut tty = with_termios(|termios| termios.output_flags = OPOST | ONOCR | ONLRET);
    let mut out = Vec::new();
    tty.write(b"ab\n\r", &mut out);
    assert_eq!(
        out, b"ab\n",
        "NL returned to column 0, so the CR is dropped"
    );
}

#[test]
fn raw_mode_set_with_tcsets_gives_bytes_at_once_without_echo() {
    let mut tty = raw(1, 0);
    let (echo, events) = type_in(&mut tty, b"k");
    assert_eq!(echo, b"");
    assert_eq!(events, vec![TtyEvent::InputAvailable]);
    assert_eq!(tty.readable_bytes(), 1);
    assert!(tty.poll_readable());
    assert_eq!(read_bytes(&mut tty, 100), b"k");
    assert_eq!(read(&mut tty, 100).0, BLOCKED);
    type_in(&mut tty, b"\x7f\x15\x04\x1b[A");
    assert_eq!(read_bytes(&mut tty, 100), b"\x7f\x15\x04\x1b[A");
}

#[test]
fn a_minimum_above_one_waits_for_that_many_bytes() {
    let mut tty = raw(3, 0);
    type_in(&mut tty, b"ab");
    assert!(!tty.poll_readable());
    assert_eq!(read(&mut tty, 100).0, BLOCKED);
    // A smaller request needs only as many as it asks for.
    assert_eq!(read_bytes(&mut tty, 1), b"a");
    type_in(&mut tty, b"cd");
    assert!(tty.poll_readable());
    assert_eq!(read_bytes(&mut tty, 100), b"bcd");
}

#[test]
fn minimum_and_time_zero_is_a_poll() {
    let mut tty = raw(0, 0);
    assert_eq!(read(&mut tty, 10).0, ReadOutcome::Data(0));
    type_in(&mut tty, b"xy");
    assert_eq!(read_bytes(&mut tty, 10), b"xy");
}

#[test]
fn a_time_without_minimum_is_an_overall_timeout() {
    let mut tty = raw(0, 5);
    assert_eq!(
        read(&mut tty, 10).0,
        ReadOutcome::WouldBlock {
            timer: ReadTimer::SinceReadStarted { deciseconds: 5 }
        }
    );
    let mut buffer = [0; 10];
    assert_eq!(tty.read_timed_out(&mut buffer), ReadOutcome::Data(0));
    type_in(&mut tty, b"q");
    assert_eq!(read_bytes(&mut tty, 10), b"q");
}

#[test]
fn a_time_with_minimum_is_an_inter_byte_timeout_started_by_the_first_byte() {
    let mut tty = raw(4, 2);
    assert_eq!(read(&mut tty, 10).0, BLOCKED, "no timer before a byte");
    type_in(&mut tty, b"ab");
    assert_eq!(
        read(&mut tty, 10).0,
        ReadOutcome::WouldBlock {
            timer: ReadTimer::SinceLastByte { deciseconds: 2 }
        }
    );
    let mut buffer = [0; 10];
    assert_eq!(tty.read_timed_out(&mut buffer), ReadOutcome::Data(2));
    assert_eq!(&buffer[..2], b"ab");
    type_in(&mut tty, b"wxyz!");
    assert_eq!(read_bytes(&mut tty, 10), b"wxyz!");
}

#[test]
fn a_line_keeps_at_most_4095_characters_and_its_newline() {
    let mut tty = Tty::new();
    let (echo, _) = type_in(&mut tty, &[b'a'; 5000]);
    assert_eq!(
        echo.len(),
        MAXIMUM_LINE_LENGTH,
        "dropped bytes are not echoed"
    );
    // Erase still works at the limit, and frees a place.
    type_in(&mut tty, b"\x7fb");
    let (echo, events) = type_in(&mut tty, b"\n");
    assert_eq!(echo, b"\r\n");
    assert_eq!(events, vec![TtyEvent::InputAvailable]);
    assert_eq!(tty.readable_bytes(), INPUT_BUFFER_SIZE);
    let line = read_bytes(&mut tty, 10_000);
    assert_eq!(line.len(), MAXIMUM_LINE_LENGTH + 1);
    assert!(
        line[..MAXIMUM_LINE_LENGTH - 1]
            .iter()
            .all(|&byte| byte == b'a')
    );
    assert_eq!(&line[MAXIMUM_LINE_LENGTH - 1..], b"b\n");
}

#[test]
fn unread_lines_and_the_edited_line_share_the_input_buffer() {
    let mut tty = Tty::new();
    let mut first = vec![b'x'; 3000];
    first.push(b'\n');
    type_in(&mut tty, &first);
    type_in(&mut tty, &[b'y'; 2000]);
    type_in(&mut tty, b"\n");
    assert_eq!(tty.readable_bytes(), INPUT_BUFFER_SIZE);
    assert_eq!(read_bytes(&mut tty, 10_000).len(), 3001);
    let second = read_bytes(&mut tty, 10_000);
    assert_eq!(second.len(), INPUT_BUFFER_SIZE - 3001);
    assert_eq!(second.last(), Some(&b'\n'));
}

#[test]
fn raw_input_beyond_the_buffer_is_dropped() {
    let mut tty = raw(1, 0);
    type_in(&mut tty, &[7; 5000]);
    assert_eq!(tty.readable_bytes(), INPUT_BUFFER_SIZE);
    assert_eq!(read_bytes(&mut tty, 10_000).len(), INPUT_BUFFER_SIZE);
}

#[test]
fn fionread_counts_the_bytes_of_completed_lines() {
    let mut tty = Tty::new();
    type_in(&mut tty, b"ab\ncd\x04ef");
    assert_eq!(tty.readable_bytes(), 5);
    read_bytes(&mut tty, 1);
    assert_eq!(tty.readable_bytes(), 4);
}

#[test]
fn tcsetsf_discards_unread_input_and_the_edited_line() {
    let mut tty = Tty::new();
    type_in(&mut tty, b"typed ahead\npartial");
    let termios = tty.termios();
    tty.set_termios(termios, TermiosAction::Drain);
    assert_eq!(tty.readable_bytes(), 12);
    let events = tty.set_termios(termios, TermiosAction::DrainAndFlushInput);
    assert!(events.is_empty());
    assert_eq!(tty.readable_bytes(), 0);
    type_in(&mut tty, b"\n");
    assert_eq!(read_bytes(&mut tty, 100), b"\n");
}

#[test]
fn termios_actions_come_from_the_ioctl_numbers() {
    assert_eq!(
        TermiosAction::from_request(TCSETS),
        Some(TermiosAction::Now)
    );
    assert_eq!(
        TermiosAction::from_request(TCSETSW),
        Some(TermiosAction::Drain)
    );
    assert_eq!(
        TermiosAction::from_request(TCSETSF),
        Some(TermiosAction::DrainAndFlushInput)
    );
    assert_eq!(TermiosAction::from_request(0x5401), None);
}

#[test]
fn tcflsh_flushes_the_named_queues_and_refuses_others() {
    let mut tty = Tty::new();
    type_in(&mut tty, b"x\n");
    assert_eq!(tty.flush(u64::from(TCOFLUSH)), Ok(FlushQueue::Output));
    assert_eq!(tty.readable_bytes(), 2);
    assert_eq!(tty.flush(u64::from(TCIFLUSH)), Ok(FlushQueue::Input));
    assert_eq!(tty.readable_bytes(), 0);
    type_in(&mut tty, b"y\n");
    assert_eq!(tty.flush(u64::from(TCIOFLUSH)), Ok(FlushQueue::Both));
    assert_eq!(tty.readable_bytes(), 0);
    assert_eq!(tty.flush(3), Err(Errno::EINVAL));
    assert_eq!(tty.flush(1 << 32), Err(Errno::EINVAL));
}

#[test]
fn leaving_canonical_mode_makes_the_edited_line_readable() {
    let mut tty = Tty::new();
    type_in(&mut tty, b"done\nhalf");
    let mut termios = tty.termios();
    termios.local_flags &= !ICANON;
    let events = tty.set_termios(termios, TermiosAction::Now);
    assert_eq!(events, vec![TtyEvent::InputAvailable]);
    assert_eq!(read_bytes(&mut tty, 100), b"done\nhalf");
}

#[test]
fn entering_canonical_mode_makes_pending_raw_bytes_one_line() {
    let mut tty = raw(1, 0);
    type_in(&mut tty, b"raw");
    let mut termios = tty.termios();
    termios.local_flags |= ICANON | ECHO;
    tty.set_termios(termios, TermiosAction::Now);
    type_in(&mut tty, b"next\n");
    assert_eq!(read_bytes(&mut tty, 100), b"raw");
    assert_eq!(read_bytes(&mut tty, 100), b"next\n");
}

#[test]
fn stop_holds_writes_until_start() {
    let mut tty = Tty::new();
    let (echo, events) = type_in(&mut tty, b"\x13");
    assert_eq!(echo, b"");
    assert_eq!(events, vec![TtyEvent::OutputStopped]);
    assert!(tty.is_output_stopped());
    let mut out = Vec::new();
    assert_eq!(tty.write(b"held", &mut out), WriteOutcome::Stopped);
    assert!(out.is_empty());
    assert_eq!(type_in(&mut tty, b"\x11").1, vec![TtyEvent::OutputResumed]);
    assert_eq!(tty.write(b"held", &mut out), WriteOutcome::Written(4));
    assert_eq!(out, b"held");
    // Neither character reached the input.
    assert_eq!(tty.readable_bytes(), 0);
}

#[test]
fn interrupt_or_clearing_ixon_restarts_stopped_output() {
    let mut tty = job_control_terminal();
    type_in(&mut tty, b"\x13");
    let (_, events) = type_in(&mut tty, b"\x03");
    assert_eq!(events, vec![sigint_to(5), TtyEvent::OutputResumed]);
    type_in(&mut tty, b"\x13");
    let mut termios = tty.termios();
    termios.input_flags &= !IXON;
    assert_eq!(
        tty.set_termios(termios, TermiosAction::Now),
        vec![TtyEvent::OutputResumed]
    );
    // Without IXON the characters are data.
    type_in(&mut tty, b"\x13\n");
    assert_eq!(read_bytes(&mut tty, 100), b"\x13\n");
}

#[test]
fn changing_the_window_size_signals_sigwinch_to_the_foreground_group() {
    let mut tty = job_control_terminal();
    let size = Winsize {
        rows: 50,
        columns: 132,
        width_pixels: 0,
        height_pixels: 0,
    };
    assert_eq!(
        tty.set_window_size(size),
        Some(SignalRequest {
            signal: Signal::SIGWINCH,
            process_group: Pid::new(5).unwrap()
        })
    );
    assert_eq!(tty.window_size(), size);
    assert_eq!(tty.set_window_size(size), None, "no change, no signal");
    let mut lonely = Tty::new();
    assert_eq!(lonely.set_window_size(size), None);
    assert_eq!(lonely.window_size(), size);
}

#[test]
fn only_a_session_leader_acquires_a_controlling_terminal() {
    let mut tty = Tty::new();
    assert_eq!(
        tty.attach_controlling_session(&ids(3, 2, 2), false),
        Err(Errno::EPERM)
    );
    tty.attach_controlling_session(&ids(2, 2, 2), false)
        .unwrap();
    assert_eq!(tty.controlling_session(), Pid::new(2));
    assert_eq!(tty.foreground_process_group(&ids(3, 3, 2)), Ok(Pid::new(2)));
    // Again is fine; another session needs to steal it.
    tty.attach_controlling_session(&ids(2, 2, 2), false)
        .unwrap();
    assert_eq!(
        tty.attach_controlling_session(&ids(9, 9, 9), false),
        Err(Errno::EPERM)
    );
    tty.attach_controlling_session(&ids(9, 9, 9), true).unwrap();
    assert_eq!(tty.controlling_session(), Pid::new(9));
    assert_eq!(
        tty.foreground_process_group(&ids(2, 2, 2)),
        Err(Errno::ENOTTY)
    );
}

#[test]
fn the_foreground_group_is_set_only_within_the_controlling_session() {
    let mut tty = job_control_terminal();
    let shell = ids(2, 2, 2);
    let session_two = |group: Pid| (group.number() < 100).then(|| Pid::new(2).unwrap());
    assert_eq!(
        tty.set_foreground_process_group(&ids(8, 8, 8), 2, session_two),
        Err(Errno::ENOTTY)
    );
    assert_eq!(
        tty.set_foreground_process_group(&shell, -4, session_two),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        tty.set_foreground_process_group(&shell, 0, session_two),
        Err(Errno::ESRCH)
    );
    assert_eq!(
        tty.set_foreground_process_group(&shell, 500, session_two),
        Err(Errno::ESRCH)
    );
    assert_eq!(
        tty.set_foreground_process_group(&shell, 7, |_| Pid::new(3)),
        Err(Errno::EPERM)
    );
    assert_eq!(tty.foreground_process_group(&shell), Ok(Pid::new(5)));
    tty.set_foreground_process_group(&shell, 7, session_two)
        .unwrap();
    assert_eq!(tty.foreground_process_group(&shell), Ok(Pid::new(7)));
    assert_eq!(tty.session_of(&shell), Ok(Pid::new(2).unwrap()));
    assert_eq!(tty.session_of(&ids(8, 8, 8)), Err(Errno::ENOTTY));
}

#[test]
fn members_of_other_groups_are_in_the_background() {
    let tty = job_control_terminal();
    assert!(!tty.is_background(&ids(6, 5, 2)));
    assert!(tty.is_background(&ids(2, 2, 2)));
    assert!(!tty.is_background(&ids(8, 8, 8)), "another session");
    assert!(!Tty::new().is_background(&ids(2, 2, 2)));
    // TOSTOP is the server's to check; it is only a flag here.
    assert_eq!(Tty::new().termios().local_flags & TOSTOP, 0);
}

#[test]
fn the_session_leader_letting_go_releases_the_terminal_and_names_the_group_to_hang_up() {
    let mut tty = job_control_terminal();
    assert_eq!(
        tty.detach_controlling_session(&ids(8, 8, 8)),
        Err(Errno::ENOTTY)
    );
    assert_eq!(tty.detach_controlling_session(&ids(6, 5, 2)), Ok(None));
    assert_eq!(tty.controlling_session(), Pid::new(2));
    assert_eq!(
        tty.detach_controlling_session(&ids(2, 2, 2)),
        Ok(Pid::new(5))
    );
    assert_eq!(tty.controlling_session(), None);
    let mut tty = job_control_terminal();
    assert_eq!(tty.release_session(Pid::new(3).unwrap()), None);
    assert_eq!(tty.release_session(Pid::new(2).unwrap()), Pid::new(5));
    assert_eq!(
        tty.foreground_process_group(&ids(2, 2, 2)),
        Err(Errno::ENOTTY)
    );
    // With no foreground group, interrupt signals no one.
    assert!(type_in(&mut tty, b"\x03").1.is_empty());
}
