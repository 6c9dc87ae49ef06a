//! The console's line discipline: received bytes in, what `read` returns and what must be
//! echoed out; written bytes in, what the device must print out.
//!
//! This is Linux's `N_TTY` (`drivers/tty/n_tty.c`) as pure logic: the console driver hands
//! the server the bytes it received, [`Tty::receive`] edits them into lines (or queues them
//! raw) and appends the echo to a buffer the server sends back to the driver; [`Tty::read`]
//! and [`Tty::write`] answer the system calls; the ioctls are typed methods. Nothing blocks
//! and nothing keeps time here: a read that must wait says so, with the timer the server must
//! arm for `VTIME` ([`ReadTimer`]), and the server retries parked readers when
//! [`TtyEvent::InputAvailable`] comes. Signals from `^C`, `^\` and `^Z` come back as events
//! for the server to deliver.
//!
//! Followed from `n_tty.c`: which bytes are special under which flags (its `char_map`), the
//! order of the checks in `n_tty_receive_char_special`, the echo forms (`^X` for control
//! characters with `ECHOCTL`, `"\b \b"` erasure counting `^X` as two columns and tabs back to
//! their tab stop, `ECHOK`/`ECHOKE` kill forms), output processing with column tracking
//! (`do_output_char`), end-of-file as a line end without a character that reads as 0 only at
//! the start of a line, and the four `VMIN`/`VTIME` cases of termios(3). Deliberate
//! differences, each because the server has no back-pressure on the console and no
//! per-process terminal state yet:
//! - input that does not fit the 4096-byte buffer is dropped and not echoed (Linux leaves
//!   it in the driver's queue); a canonical line keeps at most [`MAXIMUM_LINE_LENGTH`]
//!   characters and one byte stays free for its terminator, so erase, kill and the line
//!   terminators always work, as in Linux.
//! - echo is not held while output is stopped by `^S`; only writes are.
//! - `ECHOPRT`, `IXANY`, `IUCLC`, tab expansion (`XTABS`), parity marking and `EXTPROC` are
//!   not implemented; control characters are the ASCII ones (Linux also treats
//!   0x80..=0x9f as control characters, which mangles UTF-8 echo), and bytes of 0x80 and
//!   above count as word characters for `VWERASE`.
//! - the controlling terminal belongs to a session, not to each process: a non-leader's
//!   `TIOCNOTTY` changes nothing.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::mem;

use linux_abi::errno::Errno;
use linux_abi::layout::{Termios, Winsize};
use linux_abi::signal::Signal;
use linux_abi::terminal::{
    B38400, CREAD, CS8, ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, ECHONL, HUPCL, ICANON, ICRNL, IEXTEN,
    IGNCR, INLCR, ISIG, ISTRIP, IUTF8, IXON, NCCS, NOFLSH, OCRNL, ONLCR, ONLRET, ONOCR, OPOST,
    TCIFLUSH, TCIOFLUSH, TCOFLUSH, TCSETS, TCSETSF, TCSETSW, VDISCARD, VEOF, VEOL, VEOL2, VERASE,
    VINTR, VKILL, VLNEXT, VMIN, VQUIT, VREPRINT, VSTART, VSTOP, VSUSP, VTIME, VWERASE,
};

use crate::process::{Pid, ProcessIds};

/// The size of the input buffer, `N_TTY_BUF_SIZE`: completed lines and the line being
/// edited (or raw bytes) together.
pub const INPUT_BUFFER_SIZE: usize = 4096;

/// The most characters a canonical line holds before its terminator.
pub const MAXIMUM_LINE_LENGTH: usize = INPUT_BUFFER_SIZE - 1;

/// The window size a console reports until someone sets one.
pub const DEFAULT_WINDOW_SIZE: Winsize = Winsize {
    rows: 24,
    columns: 80,
    width_pixels: 0,
    height_pixels: 0,
};

/// The control character of `letter` (`control(b'C')` is `^C`, 3).
const fn control(letter: u8) -> u8 {
    letter & 0x1f
}

/// DEL, the console's erase character.
const DELETE: u8 = 0x7f;

/// The termios a console starts with: Linux's `tty_std_termios` (`drivers/tty/tty_io.c`)
/// and its `INIT_C_CC` (`include/linux/tty.h`).
pub fn console_termios() -> Termios {
    let mut control_characters = [0; NCCS];
    control_characters[VINTR] = control(b'C');
    control_characters[VQUIT] = control(b'\\');
    control_characters[VERASE] = DELETE;
    control_characters[VKILL] = control(b'U');
    control_characters[VEOF] = control(b'D');
    control_characters[VTIME] = 0;
    control_characters[VMIN] = 1;
    control_characters[VSTART] = control(b'Q');
    control_characters[VSTOP] = control(b'S');
    control_characters[VSUSP] = control(b'Z');
    control_characters[VREPRINT] = control(b'R');
    control_characters[VDISCARD] = control(b'O');
    control_characters[VWERASE] = control(b'W');
    control_characters[VLNEXT] = control(b'V');
    Termios {
        input_flags: ICRNL | IXON,
        output_flags: OPOST | ONLCR,
        control_flags: B38400 | CS8 | CREAD | HUPCL,
        local_flags: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
        line_discipline: 0,
        control_characters,
    }
}

/// A signal for the server to send to a process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalRequest {
    /// The signal.
    pub signal: Signal,
    /// The group that gets it (the terminal's foreground group).
    pub process_group: Pid,
}

/// Something the server must act on after the terminal's state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtyEvent {
    /// `ISIG`: `VINTR`, `VQUIT` or `VSUSP` was typed; send `SIGINT`, `SIGQUIT` or `SIGTSTP`
    /// to the foreground group (none is sent when there is no foreground group).
    Signal(SignalRequest),
    /// Input became readable (a line was completed, or raw bytes arrived): retry parked
    /// readers, restarting their [`ReadTimer::SinceLastByte`] timers.
    InputAvailable,
    /// `IXON`: `VSTOP` was typed; writes now answer [`WriteOutcome::Stopped`].
    OutputStopped,
    /// Output may flow again: retry parked writers.
    OutputResumed,
}

/// The timer a blocked non-canonical read needs (`VTIME`, in tenths of a second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadTimer {
    /// No timer: wait for input.
    None,
    /// `VMIN == 0`, `VTIME > 0`: arm the timer when the read first blocks and keep it
    /// across retries; when it fires call [`Tty::read_timed_out`].
    SinceReadStarted {
        /// The timeout in deciseconds.
        deciseconds: u8,
    },
    /// `VMIN > 0`, `VTIME > 0`, with some but not enough bytes in: (re)arm the timer now
    /// (bytes have just arrived); when it fires call [`Tty::read_timed_out`].
    SinceLastByte {
        /// The timeout in deciseconds.
        deciseconds: u8,
    },
}

/// What [`Tty::read`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many bytes were copied into the buffer. 0 only for a zero-length buffer or a
    /// non-canonical read that `VMIN == 0` lets return empty.
    Data(usize),
    /// End of file (`VEOF` at the start of a line): `read` returns 0.
    EndOfFile,
    /// Nothing to return yet: park the reader (or `EAGAIN` for `O_NONBLOCK`).
    WouldBlock {
        /// The timer to arm for the parked reader.
        timer: ReadTimer,
    },
}

/// What [`Tty::write`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// All of this many bytes were processed into the output.
    Written(usize),
    /// Output is stopped (`^S`): park the writer until [`TtyEvent::OutputResumed`].
    Stopped,
}

/// When a new termios applies, from the ioctl that sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermiosAction {
    /// `TCSETS`: now.
    Now,
    /// `TCSETSW`: after output drains (output is never queued here, so at once).
    Drain,
    /// `TCSETSF`: after output drains, discarding unread input.
    DrainAndFlushInput,
}

impl TermiosAction {
    /// The action of `TCSETS`, `TCSETSW` or `TCSETSF`; `None` for other requests.
    pub fn from_request(request: u32) -> Option<TermiosAction> {
        match request {
            TCSETS => Some(TermiosAction::Now),
            TCSETSW => Some(TermiosAction::Drain),
            TCSETSF => Some(TermiosAction::DrainAndFlushInput),
            _ => None,
        }
    }
}

/// Which queues `TCFLSH` discarded; the server discards queued device output for
/// [`FlushQueue::Output`] and [`FlushQueue::Both`] (the tty holds none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushQueue {
    /// `TCIFLUSH`: received input.
    Input,
    /// `TCOFLUSH`: written output.
    Output,
    /// `TCIOFLUSH`: both.
    Both,
}

/// A completed canonical line in the readable queue.
#[derive(Clone, Copy, Debug)]
struct CompletedLine {
    /// Bytes of it still unread (its terminator included, if it has one).
    remaining: usize,
    /// Ended by `VEOF`: a marker without a byte, which takes one place in the buffer.
    end_of_file: bool,
}

/// How much an erase character takes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EraseKind {
    Character,
    Word,
    Line,
}

/// Events gathered while receiving one batch of bytes.
#[derive(Debug, Default)]
struct Receipt {
    events: Vec<TtyEvent>,
    input_added: bool,
}

/// The console terminal: termios, window size, job-control owner and the line discipline's
/// buffers.
#[derive(Debug)]
pub struct Tty {
    termios: Termios,
    window_size: Winsize,
    /// The session this is the controlling terminal of.
    session: Option<Pid>,
    foreground_process_group: Option<Pid>,
    /// Bytes readers may take: completed lines in canonical mode, everything otherwise.
    readable: VecDeque<u8>,
    /// Canonical mode: the completed lines in `readable`, oldest first.
    lines: VecDeque<CompletedLine>,
    /// The number of lines in `lines` ended by `VEOF`.
    end_of_file_markers: usize,
    /// Canonical mode: the line being edited.
    editing: Vec<u8>,
    /// `VLNEXT` was typed: the next byte is taken literally.
    literal_next: bool,
    /// `VSTOP` was typed.
    output_stopped: bool,
    /// The output column, for erasing tabs.
    column: usize,
    /// The column where the line being edited started.
    line_start_column: usize,
}

impl Default for Tty {
    fn default() -> Self {
        Tty::new()
    }
}

impl Tty {
    /// A console terminal with [`console_termios`], [`DEFAULT_WINDOW_SIZE`], no controlling
    /// session and no foreground group.
    pub fn new() -> Tty {
        Tty {
            termios: console_termios(),
            window_size: DEFAULT_WINDOW_SIZE,
            session: None,
            foreground_process_group: None,
            readable: VecDeque::new(),
            lines: VecDeque::new(),
            end_of_file_markers: 0,
            editing: Vec::new(),
            literal_next: false,
            output_stopped: false,
            column: 0,
            line_start_column: 0,
        }
    }

    /// Processes bytes received from the device, appending what must be echoed to the
    /// device to `echo`, and returns what the server must act on.
    pub fn receive(&mut self, input: &[u8], echo: &mut Vec<u8>) -> Vec<TtyEvent> {
        let mut receipt = Receipt::default();
        for &byte in input {
            self.receive_byte(byte, echo, &mut receipt);
        }
        if receipt.input_added && self.has_readable_input() {
            receipt.events.push(TtyEvent::InputAvailable);
        }
        receipt.events
    }

    /// `read`: copies what is readable into `buffer`. Canonical mode returns at most one
    /// line (a partial read leaves the rest of it for the next); otherwise `VMIN` and
    /// `VTIME` decide, as termios(3) describes.
    pub fn read(&mut self, buffer: &mut [u8]) -> ReadOutcome {
        if buffer.is_empty() {
            return ReadOutcome::Data(0);
        }
        if self.local(ICANON) {
            return self.read_line(buffer);
        }
        let minimum = usize::from(self.termios.control_characters[VMIN]);
        let deciseconds = self.termios.control_characters[VTIME];
        let available = self.readable.len();
        let wanted = minimum.min(buffer.len());
        if minimum == 0 {
            if available > 0 || deciseconds == 0 {
                return ReadOutcome::Data(self.take_readable(buffer));
            }
            return ReadOutcome::WouldBlock {
                timer: ReadTimer::SinceReadStarted { deciseconds },
            };
        }
        if available >= wanted {
            return ReadOutcome::Data(self.take_readable(buffer));
        }
        let timer = if available > 0 && deciseconds > 0 {
            ReadTimer::SinceLastByte { deciseconds }
        } else {
            ReadTimer::None
        };
        ReadOutcome::WouldBlock { timer }
    }

    /// The `VTIME` timer of a parked non-canonical read fired: returns what is there, maybe
    /// nothing. (If the terminal went canonical meanwhile, this is [`Tty::read`].)
    pub fn read_timed_out(&mut self, buffer: &mut [u8]) -> ReadOutcome {
        if self.local(ICANON) {
            return self.read(buffer);
        }
        ReadOutcome::Data(self.take_readable(buffer))
    }

    /// `write`: appends `data` to `out` as the device must print it (`OPOST` processing).
    pub fn write(&mut self, data: &[u8], out: &mut Vec<u8>) -> WriteOutcome {
        if self.output_stopped && !data.is_empty() {
            return WriteOutcome::Stopped;
        }
        if self.output(OPOST) {
            for &byte in data {
                self.output_byte(byte, out);
            }
        } else {
            out.extend_from_slice(data);
        }
        WriteOutcome::Written(data.len())
    }

    /// `TCGETS`.
    pub fn termios(&self) -> Termios {
        self.termios
    }

    /// `TCSETS`, `TCSETSW`, `TCSETSF`. Switching canonical mode off makes the line being
    /// edited readable; switching it on makes what is readable one line. Clearing `IXON`
    /// resumes stopped output.
    pub fn set_termios(&mut self, termios: Termios, action: TermiosAction) -> Vec<TtyEvent> {
        if action == TermiosAction::DrainAndFlushInput {
            self.flush_input();
        }
        let old = mem::replace(&mut self.termios, termios);
        let mut receipt = Receipt::default();
        let was_canonical = old.local_flags & ICANON != 0;
        let canonical = self.local(ICANON);
        if was_canonical && !canonical {
            let editing = mem::take(&mut self.editing);
            self.readable.extend(editing);
            self.lines.clear();
            self.end_of_file_markers = 0;
            self.literal_next = false;
        } else if !was_canonical && canonical {
            if !self.readable.is_empty() {
                self.lines.push_back(CompletedLine {
                    remaining: self.readable.len(),
                    end_of_file: false,
                });
            }
            self.literal_next = false;
        }
        if old.input_flags & IXON != 0 && !self.input(IXON) {
            self.resume_output(&mut receipt);
        }
        if self.has_readable_input() {
            receipt.events.push(TtyEvent::InputAvailable);
        }
        receipt.events
    }

    /// `TIOCGWINSZ`.
    pub fn window_size(&self) -> Winsize {
        self.window_size
    }

    /// `TIOCSWINSZ`: a change sends `SIGWINCH` to the foreground group.
    pub fn set_window_size(&mut self, window_size: Winsize) -> Option<SignalRequest> {
        if window_size == self.window_size {
            return None;
        }
        self.window_size = window_size;
        Some(SignalRequest {
            signal: Signal::SIGWINCH,
            process_group: self.foreground_process_group?,
        })
    }

    /// `FIONREAD`: the bytes a reader could take now (in canonical mode, those of
    /// completed lines).
    pub fn readable_bytes(&self) -> usize {
        self.readable.len()
    }

    /// Whether `poll` reports the terminal readable: a completed line (or end of file) in
    /// canonical mode; otherwise `VMIN` bytes when `VTIME` is 0, else one byte.
    pub fn poll_readable(&self) -> bool {
        if self.local(ICANON) {
            return !self.lines.is_empty();
        }
        let minimum = self.termios.control_characters[VMIN];
        let needed = if self.termios.control_characters[VTIME] == 0 && minimum > 0 {
            usize::from(minimum)
        } else {
            1
        };
        self.readable.len() >= needed
    }

    /// Whether `VSTOP` stopped output.
    pub fn is_output_stopped(&self) -> bool {
        self.output_stopped
    }

    /// `TCFLSH` with `argument`: discards unread input for `TCIFLUSH` and `TCIOFLUSH`, and
    /// says which queues the server must discard. `EINVAL` for another argument.
    pub fn flush(&mut self, argument: u64) -> Result<FlushQueue, Errno> {
        let queue = match u32::try_from(argument) {
            Ok(TCIFLUSH) => FlushQueue::Input,
            Ok(TCOFLUSH) => FlushQueue::Output,
            Ok(TCIOFLUSH) => FlushQueue::Both,
            _ => return Err(Errno::EINVAL),
        };
        if queue != FlushQueue::Output {
            self.flush_input();
        }
        Ok(queue)
    }

    /// The session this is the controlling terminal of.
    pub fn controlling_session(&self) -> Option<Pid> {
        self.session
    }

    /// `TIOCSCTTY`: makes this the controlling terminal of the caller's session, with the
    /// caller's group in the foreground. Only a session leader may (`EPERM`); a terminal
    /// controlling another session is taken over only with `steal` (argument 1; every
    /// process is privileged here), else `EPERM`. Asking again is a no-op. With one terminal
    /// a session cannot already have another; when there are more, the server must refuse
    /// (`EPERM`) a session that has one.
    pub fn attach_controlling_session(
        &mut self,
        caller: &ProcessIds,
        steal: bool,
    ) -> Result<(), Errno> {
        if !caller.is_session_leader() {
            return Err(Errno::EPERM);
        }
        if self.session == Some(caller.session) {
            return Ok(());
        }
        if self.session.is_some() && !steal {
            return Err(Errno::EPERM);
        }
        self.session = Some(caller.session);
        self.foreground_process_group = Some(caller.process_group);
        Ok(())
    }

    /// `TIOCNOTTY`: a session leader gives up its controlling terminal; returns the
    /// foreground group, which gets `SIGHUP` and `SIGCONT`. `ENOTTY` if this is not the
    /// caller's controlling terminal.
    pub fn detach_controlling_session(
        &mut self,
        caller: &ProcessIds,
    ) -> Result<Option<Pid>, Errno> {
        self.check_controlling(caller)?;
        if !caller.is_session_leader() {
            return Ok(None);
        }
        Ok(self.release_session(caller.session))
    }

    /// The leader of `session` exited: if this is the session's controlling terminal it is
    /// released, and the old foreground group is returned (it gets `SIGHUP` and `SIGCONT`).
    pub fn release_session(&mut self, session: Pid) -> Option<Pid> {
        if self.session != Some(session) {
            return None;
        }
        self.session = None;
        self.foreground_process_group.take()
    }

    /// `TIOCGSID`: the session of the caller's controlling terminal. `ENOTTY` if this is
    /// not it.
    pub fn session_of(&self, caller: &ProcessIds) -> Result<Pid, Errno> {
        self.check_controlling(caller)?;
        Ok(caller.session)
    }

    /// `TIOCGPGRP`: the foreground group (`None` reads as 0). `ENOTTY` if this is not the
    /// caller's controlling terminal.
    pub fn foreground_process_group(&self, caller: &ProcessIds) -> Result<Option<Pid>, Errno> {
        self.check_controlling(caller)?;
        Ok(self.foreground_process_group)
    }

    /// `TIOCSPGRP`: `ENOTTY` if this is not the caller's controlling terminal, `EINVAL` for
    /// a negative group, `ESRCH` when `session_of_group` (the process table's
    /// `group_session`) knows no such group, `EPERM` if it is in another session. A
    /// background caller must first pass the server's `SIGTTOU` check ([`Tty::is_background`]).
    pub fn set_foreground_process_group(
        &mut self,
        caller: &ProcessIds,
        process_group: i32,
        session_of_group: impl FnOnce(Pid) -> Option<Pid>,
    ) -> Result<(), Errno> {
        self.check_controlling(caller)?;
        if process_group < 0 {
            return Err(Errno::EINVAL);
        }
        let group = Pid::new(process_group).ok_or(Errno::ESRCH)?;
        match session_of_group(group) {
            None => Err(Errno::ESRCH),
            Some(session) if session != caller.session => Err(Errno::EPERM),
            Some(_) => {
                self.foreground_process_group = Some(group);
                Ok(())
            }
        }
    }

    /// Whether the caller is in a background group of its controlling terminal: its reads
    /// (and, with `TOSTOP`, writes and termios changes) get `SIGTTIN`/`SIGTTOU` first.
    pub fn is_background(&self, caller: &ProcessIds) -> bool {
        self.session == Some(caller.session)
            && self
                .foreground_process_group
                .is_some_and(|group| group != caller.process_group)
    }

    fn check_controlling(&self, caller: &ProcessIds) -> Result<(), Errno> {
        if self.session == Some(caller.session) {
            Ok(())
        } else {
            Err(Errno::ENOTTY)
        }
    }

    fn input(&self, flag: u32) -> bool {
        self.termios.input_flags & flag != 0
    }

    fn output(&self, flag: u32) -> bool {
        self.termios.output_flags & flag != 0
    }

    fn local(&self, flag: u32) -> bool {
        self.termios.local_flags & flag != 0
    }

    /// Whether `byte` is the control character at `index`; 0 disables one.
    fn is(&self, byte: u8, index: usize) -> bool {
        byte != 0 && self.termios.control_characters[index] == byte
    }

    /// An ASCII control character, echoed as `^X` with `ECHOCTL`.
    fn is_control(byte: u8) -> bool {
        byte < 0x20 || byte == DELETE
    }

    /// A UTF-8 continuation byte, with `IUTF8`.
    fn is_continuation(&self, byte: u8) -> bool {
        self.input(IUTF8) && byte & 0xc0 == 0x80
    }

    /// Linux's `char_map`: the bytes that need more than storing and echoing.
    fn is_special(&self, byte: u8) -> bool {
        if byte == 0 {
            return false;
        }
        let canonical = self.local(ICANON);
        let extended = self.local(IEXTEN);
        (byte == b'\r' && self.input(IGNCR | ICRNL))
            || (byte == b'\n' && (self.input(INLCR) || canonical))
            || (canonical
                && (self.is(byte, VERASE)
                    || self.is(byte, VKILL)
                    || self.is(byte, VEOF)
                    || self.is(byte, VEOL)))
            || (canonical
                && extended
                && (self.is(byte, VWERASE)
                    || self.is(byte, VLNEXT)
                    || self.is(byte, VEOL2)
                    || (self.local(ECHO) && self.is(byte, VREPRINT))))
            || (self.input(IXON) && (self.is(byte, VSTART) || self.is(byte, VSTOP)))
            || (self.local(ISIG)
                && (self.is(byte, VINTR) || self.is(byte, VQUIT) || self.is(byte, VSUSP)))
    }

    fn has_readable_input(&self) -> bool {
        if self.local(ICANON) {
            !self.lines.is_empty()
        } else {
            !self.readable.is_empty()
        }
    }

    /// Places the buffer holds: readable bytes, end-of-file markers and the edited line.
    fn stored(&self) -> usize {
        self.readable.len() + self.end_of_file_markers + self.editing.len()
    }

    fn receive_byte(&mut self, byte: u8, echo: &mut Vec<u8>, receipt: &mut Receipt) {
        let byte = if self.input(ISTRIP) {
            byte & 0x7f
        } else {
            byte
        };
        if self.literal_next {
            self.literal_next = false;
            self.receive_ordinary(byte, echo, receipt);
        } else if self.is_special(byte) {
            self.receive_special(byte, echo, receipt);
        } else {
            self.receive_ordinary(byte, echo, receipt);
        }
    }

    /// `n_tty_receive_char`: store and echo.
    fn receive_ordinary(&mut self, byte: u8, echo: &mut Vec<u8>, receipt: &mut Receipt) {
        if !self.has_room_for_character() {
            return;
        }
        if self.local(ECHO) {
            self.note_line_start();
            self.echo_character(byte, echo);
        }
        self.store(byte, receipt);
    }

    /// `n_tty_receive_char_special`, check for check.
    fn receive_special(&mut self, byte: u8, echo: &mut Vec<u8>, receipt: &mut Receipt) {
        if self.input(IXON) {
            if self.is(byte, VSTART) {
                self.resume_output(receipt);
                return;
            }
            if self.is(byte, VSTOP) {
                if !self.output_stopped {
                    self.output_stopped = true;
                    receipt.events.push(TtyEvent::OutputStopped);
                }
                return;
            }
        }
        if self.local(ISIG) {
            let signals = [
                (VINTR, Signal::SIGINT),
                (VQUIT, Signal::SIGQUIT),
                (VSUSP, Signal::SIGTSTP),
            ];
            for (index, signal) in signals {
                if self.is(byte, index) {
                    self.signal_character(byte, signal, echo, receipt);
                    return;
                }
            }
        }
        let mut byte = byte;
        if byte == b'\r' {
            if self.input(IGNCR) {
                return;
            }
            if self.input(ICRNL) {
                byte = b'\n';
            }
        } else if byte == b'\n' && self.input(INLCR) {
            byte = b'\r';
        }
        if self.local(ICANON) && self.receive_canonical(byte, echo, receipt) {
            return;
        }
        if !self.has_room_for_character() {
            return;
        }
        if self.local(ECHO) {
            if byte == b'\n' {
                self.echo_raw(b'\n', echo);
            } else {
                self.note_line_start();
                self.echo_character(byte, echo);
            }
        }
        self.store(byte, receipt);
    }

    /// The canonical-mode part of `n_tty_receive_char_special`; whether it took the byte.
    fn receive_canonical(&mut self, byte: u8, echo: &mut Vec<u8>, receipt: &mut Receipt) -> bool {
        let extended = self.local(IEXTEN);
        if self.is(byte, VERASE) || self.is(byte, VKILL) || (self.is(byte, VWERASE) && extended) {
            self.erase(byte, echo);
            return true;
        }
        if self.is(byte, VLNEXT) && extended {
            self.literal_next = true;
            if self.local(ECHO) && self.local(ECHOCTL) {
                self.echo_raw(b'^', echo);
                self.echo_raw(0x08, echo);
            }
            return true;
        }
        if self.is(byte, VREPRINT) && self.local(ECHO) && extended {
            self.echo_character(byte, echo);
            self.echo_raw(b'\n', echo);
            let line = mem::take(&mut self.editing);
            for &character in &line {
                self.echo_character(character, echo);
            }
            self.editing = line;
            return true;
        }
        if byte == b'\n' {
            if self.has_room_for_terminator() && (self.local(ECHO) || self.local(ECHONL)) {
                self.echo_raw(b'\n', echo);
            }
            self.end_line(Some(byte), receipt);
            return true;
        }
        if self.is(byte, VEOF) {
            self.end_line(None, receipt);
            return true;
        }
        if self.is(byte, VEOL) || (self.is(byte, VEOL2) && extended) {
            if self.has_room_for_terminator() && self.local(ECHO) {
                self.note_line_start();
                self.echo_character(byte, echo);
            }
            self.end_line(Some(byte), receipt);
            return true;
        }
        false
    }

    /// `VINTR`, `VQUIT`, `VSUSP` with `ISIG` (`n_tty_receive_signal_char`).
    fn signal_character(
        &mut self,
        byte: u8,
        signal: Signal,
        echo: &mut Vec<u8>,
        receipt: &mut Receipt,
    ) {
        if let Some(process_group) = self.foreground_process_group {
            receipt.events.push(TtyEvent::Signal(SignalRequest {
                signal,
                process_group,
            }));
        }
        if !self.local(NOFLSH) {
            self.flush_input();
        }
        if self.input(IXON) {
            self.resume_output(receipt);
        }
        if self.local(ECHO) {
            self.echo_character(byte, echo);
        }
    }

    fn resume_output(&mut self, receipt: &mut Receipt) {
        if self.output_stopped {
            self.output_stopped = false;
            receipt.events.push(TtyEvent::OutputResumed);
        }
    }

    /// Whether an ordinary byte fits: a canonical line keeps one place for its terminator.
    fn has_room_for_character(&self) -> bool {
        if self.local(ICANON) {
            self.editing.len() < MAXIMUM_LINE_LENGTH && self.stored() + 2 <= INPUT_BUFFER_SIZE
        } else {
            self.readable.len() < INPUT_BUFFER_SIZE
        }
    }

    fn has_room_for_terminator(&self) -> bool {
        self.stored() < INPUT_BUFFER_SIZE
    }

    fn store(&mut self, byte: u8, receipt: &mut Receipt) {
        if self.local(ICANON) {
            self.editing.push(byte);
        } else {
            self.readable.push_back(byte);
            receipt.input_added = true;
        }
    }

    /// Completes the edited line, with `terminator` as its last byte or, for `VEOF`, none.
    fn end_line(&mut self, terminator: Option<u8>, receipt: &mut Receipt) {
        if !self.has_room_for_terminator() {
            return;
        }
        let line = mem::take(&mut self.editing);
        let remaining = line.len() + usize::from(terminator.is_some());
        self.readable.extend(line);
        match terminator {
            Some(byte) => self.readable.push_back(byte),
            None => self.end_of_file_markers += 1,
        }
        self.lines.push_back(CompletedLine {
            remaining,
            end_of_file: terminator.is_none(),
        });
        receipt.input_added = true;
    }

    fn flush_input(&mut self) {
        self.readable.clear();
        self.lines.clear();
        self.end_of_file_markers = 0;
        self.editing.clear();
        self.literal_next = false;
    }

    /// One line (or the rest of one) into `buffer`, which is not empty.
    fn read_line(&mut self, buffer: &mut [u8]) -> ReadOutcome {
        let Some(line) = self.lines.front_mut() else {
            return ReadOutcome::WouldBlock {
                timer: ReadTimer::None,
            };
        };
        let count = line.remaining.min(buffer.len());
        line.remaining -= count;
        let line = *line;
        if line.remaining == 0 {
            self.lines.pop_front();
            if line.end_of_file {
                self.end_of_file_markers = self.end_of_file_markers.saturating_sub(1);
                if count == 0 {
                    return ReadOutcome::EndOfFile;
                }
            }
        }
        ReadOutcome::Data(self.take_bytes(buffer, count))
    }

    /// As many readable bytes as fit into `buffer`.
    fn take_readable(&mut self, buffer: &mut [u8]) -> usize {
        let count = buffer.len().min(self.readable.len());
        self.take_bytes(buffer, count)
    }

    fn take_bytes(&mut self, buffer: &mut [u8], count: usize) -> usize {
        let count = count.min(self.readable.len()).min(buffer.len());
        for (slot, byte) in buffer.iter_mut().zip(self.readable.drain(..count)) {
            *slot = byte;
        }
        count
    }

    /// `eraser`: `VERASE`, `VWERASE` or `VKILL` on the edited line.
    fn erase(&mut self, byte: u8, echo: &mut Vec<u8>) {
        if self.editing.is_empty() {
            return;
        }
        let kind = if self.is(byte, VERASE) {
            EraseKind::Character
        } else if self.is(byte, VWERASE) {
            EraseKind::Word
        } else {
            EraseKind::Line
        };
        if kind == EraseKind::Line {
            if !self.local(ECHO) {
                self.editing.clear();
                return;
            }
            if !(self.local(ECHOK) && self.local(ECHOKE) && self.local(ECHOE)) {
                self.editing.clear();
                self.echo_character(byte, echo);
                if self.local(ECHOK) {
                    self.echo_raw(b'\n', echo);
                }
                return;
            }
        }
        let mut seen_word_characters = false;
        while let Some(mut start) = self.editing.len().checked_sub(1) {
            while start > 0 && self.is_continuation(self.editing[start]) {
                start -= 1;
            }
            let first_byte = self.editing[start];
            if self.is_continuation(first_byte) {
                // Do not erase part of a character.
                break;
            }
            if kind == EraseKind::Word {
                if first_byte.is_ascii_alphanumeric() || first_byte == b'_' || first_byte >= 0x80 {
                    seen_word_characters = true;
                } else if seen_word_characters {
                    break;
                }
            }
            self.editing.truncate(start);
            if self.local(ECHO) {
                self.echo_erasure(kind, first_byte, echo);
            }
            if kind == EraseKind::Character {
                break;
            }
        }
    }

    /// The echo that takes the erased character `erased` off the screen.
    fn echo_erasure(&mut self, kind: EraseKind, erased: u8, echo: &mut Vec<u8>) {
        if kind == EraseKind::Character && !self.local(ECHOE) {
            let erase = self.termios.control_characters[VERASE];
            self.echo_character(erase, echo);
        } else if erased == b'\t' {
            self.echo_erase_tab(echo);
        } else {
            let columns = match (Self::is_control(erased), self.local(ECHOCTL)) {
                (false, _) => 1,
                (true, true) => 2,
                (true, false) => 0,
            };
            for _ in 0..columns {
                for byte in [0x08, b' ', 0x08] {
                    self.echo_raw(byte, echo);
                }
            }
        }
    }

    /// Backspaces from a just-erased tab back to where the text before it ended.
    fn echo_erase_tab(&mut self, echo: &mut Vec<u8>) {
        let mut columns: usize = 0;
        let mut after_tab = false;
        for &byte in self.editing.iter().rev() {
            if byte == b'\t' {
                after_tab = true;
                break;
            } else if Self::is_control(byte) {
                if self.local(ECHOCTL) {
                    columns = columns.wrapping_add(2);
                }
            } else if !self.is_continuation(byte) {
                columns = columns.wrapping_add(1);
            }
        }
        if !after_tab {
            columns = columns.wrapping_add(self.line_start_column);
        }
        for _ in 0..8 - (columns & 7) {
            echo.push(0x08);
            self.column = self.column.saturating_sub(1);
        }
    }

    /// Remembers where the edited line starts on screen, when it is empty.
    fn note_line_start(&mut self) {
        if self.editing.is_empty() {
            self.line_start_column = self.column;
        }
    }

    /// `echo_char`: a control character as `^X` with `ECHOCTL` (tab excepted), else raw.
    fn echo_character(&mut self, byte: u8, echo: &mut Vec<u8>) {
        if self.local(ECHOCTL) && Self::is_control(byte) && byte != b'\t' {
            echo.extend_from_slice(&[b'^', byte ^ 0x40]);
            self.column = self.column.saturating_add(2);
        } else {
            self.echo_raw(byte, echo);
        }
    }

    /// `echo_char_raw`: through output processing like any output.
    fn echo_raw(&mut self, byte: u8, echo: &mut Vec<u8>) {
        if self.output(OPOST) {
            self.output_byte(byte, echo);
        } else {
            echo.push(byte);
        }
    }

    /// `do_output_char`: one byte under `OPOST`, tracking the column.
    fn output_byte(&mut self, byte: u8, out: &mut Vec<u8>) {
        let mut byte = byte;
        match byte {
            b'\n' => {
                if self.output(ONLRET) {
                    self.column = 0;
                }
                if self.output(ONLCR) {
                    self.column = 0;
                    self.line_start_column = 0;
                    out.extend_from_slice(b"\r\n");
                    return;
                }
                self.line_start_column = self.column;
            }
            b'\r' => {
                if self.output(ONOCR) && self.column == 0 {
                    return;
                }
                if self.output(OCRNL) {
                    byte = b'\n';
                    if self.output(ONLRET) {
                        self.column = 0;
                        self.line_start_column = 0;
                    }
                } else {
                    self.column = 0;
                    self.line_start_column = 0;
                }
            }
            b'\t' => self.column = self.column.saturating_add(8 - (self.column & 7)),
            0x08 => self.column = self.column.saturating_sub(1),
            _ => {
                if !Self::is_control(byte) && !self.is_continuation(byte) {
                    self.column = self.column.saturating_add(1);
                }
            }
        }
        out.push(byte);
    }
}

#[cfg(test)]
mod tests;
