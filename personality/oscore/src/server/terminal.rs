//! The console as a file: reads and writes through the tty's line discipline, `ioctl`,
//! console input, and the calls that wait for the terminal.
//!
//! There is one terminal, the console; `/dev/console` and `/dev/tty` (for a process whose
//! session it controls) are both it. A read with nothing to return parks the reader
//! (`O_NONBLOCK`: `EAGAIN`) with the `VTIME` timer the tty asks for; a write while output is
//! stopped by `^S` parks the writer. Input, resumed output and terminal changes retry every
//! parked console call in the order they parked. `^C`, `^\` and `^Z` become signals to the
//! foreground group, with the effect `signals.rs` describes.
//!
//! Not modelled yet, with job control's stop signals: `SIGTTIN` for background readers and
//! `SIGTTOU` for background writers and `TIOCSPGRP` callers; they proceed as foreground
//! ones would.

use alloc::vec;
use alloc::vec::Vec;

use linux_abi::errno::Errno;
use linux_abi::file::{F_GETFL, F_SETFD, F_SETFL, FD_CLOEXEC, O_NONBLOCK, S_IFMT, S_IFREG};
use linux_abi::layout::{Termios, Winsize};
use linux_abi::signal::Signal;
use linux_abi::terminal::{
    FIOCLEX, FIONBIO, FIONCLEX, FIONREAD, TCFLSH, TCGETS, TCSBRK, TCSETS, TCSETSF, TCSETSW,
    TIOCGPGRP, TIOCGSID, TIOCGWINSZ, TIOCNOTTY, TIOCOUTQ, TIOCSCTTY, TIOCSPGRP, TIOCSWINSZ,
};

use super::io::{copy_in, copy_out, total_length};
use super::record::{ParkedCall, Segment};
use super::{Action, Actions, CallResult, Completion, Nanoseconds, Server, done, running};
use crate::memory::Frames;
use crate::process::Pid;
use crate::tty::{
    INPUT_BUFFER_SIZE, ReadOutcome, ReadTimer, TermiosAction, TtyEvent, WriteOutcome,
};

/// The most bytes one console write takes (a terminal write may be partial; C libraries
/// and busybox write the rest).
const CONSOLE_WRITE_LIMIT: u64 = 64 * 1024;

/// Nanoseconds in one `VTIME` unit, a tenth of a second.
const DECISECOND: u64 = 100_000_000;

impl<F: Frames> Server<F> {
    /// A read of the console into `segments`: `timed_out` after the `VTIME` timer of a
    /// parked read fired, `deadline` that timer if it runs.
    pub(super) fn console_read(
        &mut self,
        pid: Pid,
        fd: i32,
        segments: Vec<Segment>,
        deadline: Option<Nanoseconds>,
        timed_out: bool,
    ) -> CallResult {
        let total = total_length(&segments);
        if total == 0 {
            return Ok(Completion::Value(0));
        }
        let process = running(&mut self.processes, pid)?;
        let nonblocking = process.descriptors.get(fd)?.is_nonblocking();
        let mut buffer = vec![0u8; total.min(INPUT_BUFFER_SIZE as u64) as usize];
        let outcome = if timed_out {
            self.tty.read_timed_out(&mut buffer)
        } else {
            self.tty.read(&mut buffer)
        };
        let count = match outcome {
            ReadOutcome::Data(count) => count,
            ReadOutcome::EndOfFile => 0,
            ReadOutcome::WouldBlock { .. } if nonblocking || timed_out => {
                return if timed_out {
                    Ok(Completion::Value(0))
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            ReadOutcome::WouldBlock { timer } => {
                let deadline = match timer {
                    ReadTimer::None => None,
                    ReadTimer::SinceReadStarted { deciseconds } => {
                        deadline.or(Some(self.after_deciseconds(deciseconds)))
                    }
                    ReadTimer::SinceLastByte { deciseconds } => {
                        Some(self.after_deciseconds(deciseconds))
                    }
                };
                return Ok(Completion::Park(ParkedCall::ConsoleRead {
                    fd,
                    segments,
                    deadline,
                }));
            }
        };
        let data = buffer.get(..count).unwrap_or(&[]);
        let mut copied = 0usize;
        for segment in &segments {
            if copied == data.len() {
                break;
            }
            let piece_length = (data.len() - copied).min(segment.length as usize);
            let piece = data.get(copied..copied + piece_length).unwrap_or(&[]);
            let (arrived, fault) =
                copy_out(&mut process.space, &mut self.frames, segment.address, piece);
            copied += arrived;
            if let Some(error) = fault {
                // The line discipline already gave the bytes away, as Linux's tty does when
                // its copy to user memory faults.
                return if copied > 0 {
                    Ok(Completion::Value(copied as u64))
                } else {
                    Err(error)
                };
            }
        }
        Ok(Completion::Value(copied as u64))
    }

    /// The monotonic time `deciseconds` tenths of a second from now.
    fn after_deciseconds(&self, deciseconds: u8) -> Nanoseconds {
        self.now
            .saturating_add(Nanoseconds(u64::from(deciseconds) * DECISECOND))
    }

    /// A write of `segments` to the console, through output processing.
    pub(super) fn console_write(
        &mut self,
        pid: Pid,
        fd: i32,
        segments: Vec<Segment>,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        let process = running(&mut self.processes, pid)?;
        let nonblocking = process.descriptors.get(fd)?.is_nonblocking();
        if self.tty.is_output_stopped() {
            return if nonblocking {
                Err(Errno::EAGAIN)
            } else {
                Ok(Completion::Park(ParkedCall::ConsoleWrite { fd, segments }))
            };
        }
        let mut data = Vec::new();
        for segment in &segments {
            let room = CONSOLE_WRITE_LIMIT - data.len() as u64;
            let length = segment.length.min(room) as usize;
            let start = data.len();
            data.resize(start + length, 0);
            let piece = data.get_mut(start..).unwrap_or(&mut []);
            let (came, fault) =
                copy_in(&mut process.space, &mut self.frames, segment.address, piece);
            if let Some(error) = fault {
                data.truncate(start + came);
                if data.is_empty() {
                    return Err(error);
                }
                break;
            }
            if data.len() as u64 == CONSOLE_WRITE_LIMIT {
                break;
            }
        }
        let mut output = Vec::new();
        match self.tty.write(&data, &mut output) {
            WriteOutcome::Written(count) => {
                if !output.is_empty() {
                    actions.push(Action::ConsoleWrite(output));
                }
                Ok(Completion::Value(count as u64))
            }
            WriteOutcome::Stopped if nonblocking => Err(Errno::EAGAIN),
            WriteOutcome::Stopped => {
                Ok(Completion::Park(ParkedCall::ConsoleWrite { fd, segments }))
            }
        }
    }

    /// Bytes from the console driver: echo, then whatever the line discipline asks for.
    pub(super) fn console_input(&mut self, bytes: &[u8], actions: &mut Actions<F::Frame>) {
        let mut echo = Vec::new();
        let events = self.tty.receive(bytes, &mut echo);
        if !echo.is_empty() {
            actions.push(Action::ConsoleWrite(echo));
        }
        self.tty_events(&events, actions);
    }

    /// Acts on what the line discipline reported.
    fn tty_events(&mut self, events: &[TtyEvent], actions: &mut Actions<F::Frame>) {
        let mut retry = false;
        for event in events {
            match *event {
                TtyEvent::Signal(request) => {
                    self.signal_group(request.process_group, request.signal, actions);
                }
                TtyEvent::InputAvailable | TtyEvent::OutputResumed => retry = true,
                TtyEvent::OutputStopped => {}
            }
        }
        if retry {
            self.retry_console_waiters(actions);
        }
    }

    /// Retries a parked console call after the terminal changed.
    pub(super) fn retry_console(
        &mut self,
        pid: Pid,
        call: ParkedCall,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        match call {
            ParkedCall::ConsoleRead {
                fd,
                segments,
                deadline,
            } => self.console_read(pid, fd, segments, deadline, false),
            ParkedCall::ConsoleWrite { fd, segments } => {
                self.console_write(pid, fd, segments, actions)
            }
            ParkedCall::Poll {
                descriptors,
                count,
                timeout_address,
                deadline,
            } => self.poll_again(pid, descriptors, count, timeout_address, deadline, false),
            other => Ok(Completion::Park(other)),
        }
    }

    /// `ioctl(fd, request, argument)`: the requests every descriptor takes, `FIONREAD` on
    /// regular files and pipes (the bytes buffered, on either end), and the terminal's;
    /// `ENOTTY` for anything else.
    pub(super) fn ioctl(
        &mut self,
        pid: Pid,
        fd: i32,
        request: u32,
        argument: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        let process = running(&mut self.processes, pid)?;
        let description = process.descriptors.get(fd)?.clone();
        match request {
            FIOCLEX => {
                return done(
                    process
                        .descriptors
                        .fcntl(fd, F_SETFD, u64::from(FD_CLOEXEC)),
                );
            }
            FIONCLEX => return done(process.descriptors.fcntl(fd, F_SETFD, 0)),
            FIONBIO => {
                let on = process.space.read_u32(&mut self.frames, argument)? != 0;
                let flags = process.descriptors.fcntl(fd, F_GETFL, 0)?;
                let flags = if on {
                    flags | u64::from(O_NONBLOCK)
                } else {
                    flags & !u64::from(O_NONBLOCK)
                };
                return done(process.descriptors.fcntl(fd, F_SETFL, flags).map(|_| 0));
            }
            FIONREAD if description.pipe().is_some() => {
                let buffered = description.pipe().map_or(0, |pipe| pipe.buffered());
                let buffered = u32::try_from(buffered).unwrap_or(u32::MAX);
                process
                    .space
                    .write_u32(&mut self.frames, argument, buffered)?;
                return done(Ok(0));
            }
            FIONREAD if !description.is_path_only() && description.terminal().is_none() => {
                let stat = self.vfs.fstat(&process.descriptors, fd)?;
                if stat.mode & S_IFMT != S_IFREG {
                    return Err(Errno::ENOTTY);
                }
                let left = stat.size.saturating_sub(description.offset()).max(0);
                let left = u32::try_from(left).unwrap_or(u32::MAX);
                process.space.write_u32(&mut self.frames, argument, left)?;
                return done(Ok(0));
            }
            _ => {}
        }
        self.vfs.terminal(&process.descriptors, fd)?;
        self.terminal_ioctl(pid, request, argument, actions)
    }

    /// An `ioctl` on the console.
    fn terminal_ioctl(
        &mut self,
        pid: Pid,
        request: u32,
        argument: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        let ids = self.processes.ids(pid).ok_or(Errno::ESRCH)?;
        let process = running(&mut self.processes, pid)?;
        let space = &mut process.space;
        let frames = &mut self.frames;
        match request {
            TCGETS => {
                space.write(frames, argument, &self.tty.termios().to_bytes())?;
            }
            TCSETS | TCSETSW | TCSETSF => {
                let bytes = space.read_array(frames, argument)?;
                let action = TermiosAction::from_request(request).ok_or(Errno::ENOTTY)?;
                let events = self.tty.set_termios(Termios::from_bytes(&bytes), action);
                self.tty_events(&events, actions);
            }
            TIOCGWINSZ => {
                space.write(frames, argument, &self.tty.window_size().to_bytes())?;
            }
            TIOCSWINSZ => {
                let bytes = space.read_array(frames, argument)?;
                if let Some(request) = self.tty.set_window_size(Winsize::from_bytes(&bytes)) {
                    self.signal_group(request.process_group, request.signal, actions);
                }
            }
            TIOCGPGRP => {
                let group = self.tty.foreground_process_group(&ids)?;
                let number = group.map_or(0, Pid::number);
                space.write_u32(frames, argument, number as u32)?;
            }
            TIOCSPGRP => {
                let group = space.read_u32(frames, argument)? as i32;
                let processes = &self.processes;
                self.tty
                    .set_foreground_process_group(&ids, group, |group| {
                        processes.group_session(group)
                    })?;
            }
            TIOCGSID => {
                let session = self.tty.session_of(&ids)?;
                space.write_u32(frames, argument, session.number() as u32)?;
            }
            FIONREAD => {
                let readable = u32::try_from(self.tty.readable_bytes()).unwrap_or(u32::MAX);
                space.write_u32(frames, argument, readable)?;
            }
            TIOCOUTQ => {
                // Output goes to the driver at once: nothing is ever queued here.
                space.write_u32(frames, argument, 0)?;
            }
            TCFLSH => {
                self.tty.flush(argument)?;
            }
            // tcdrain and tcsendbreak: output is never queued, so draining is immediate.
            TCSBRK => {}
            TIOCSCTTY => {
                self.tty.attach_controlling_session(&ids, argument == 1)?;
            }
            TIOCNOTTY => {
                if let Some(group) = self.tty.detach_controlling_session(&ids)? {
                    self.signal_group(group, Signal::SIGHUP, actions);
                    self.signal_group(group, Signal::SIGCONT, actions);
                }
            }
            _ => return Err(Errno::ENOTTY),
        }
        Ok(Completion::Value(0))
    }
}
