//! Starts a process (QEMU, or a stand-in in the self-test), captures its output, and stops
//! it when the test has what it waits for or the deadline passes.
//!
//! Waiting is event-driven: reader threads forward output chunks over a channel and the
//! caller blocks in `recv_timeout` until the next chunk or the deadline, so a passing test
//! takes exactly as long as the guest needs and there is no sleep to tune. The child sits
//! in a guard that kills and reaps it when dropped, so no QEMU outlives its test, even one
//! that panics half-way.

use core::fmt;
use std::ffi::OsString;
use std::io::{self, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::machine::Machine;

/// How long to keep collecting output after the child is reaped: its pipes normally close
/// with it at once, this only bounds the wait if a grandchild inherited them.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// When the harness stops waiting for the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Until {
    /// Wait for the process to exit by itself (PSCI SYSTEM_OFF, semihosting exit, a reset
    /// with `-no-reboot`).
    Exit,
    /// Stop the process as soon as a complete line (ended by a newline) containing this text
    /// has been printed on the serial port.
    Line(String),
}

impl Until {
    /// [`Until::Line`] with `text`.
    pub fn line(text: impl Into<String>) -> Self {
        Self::Line(text.into())
    }
}

/// What happened during one run.
#[derive(Debug)]
pub struct Run {
    /// The command that was run, for reproducing a failure by hand.
    pub command_line: String,
    /// The process ID it ran as (reaped by the time the run is returned).
    pub process_id: u32,
    /// Everything the guest printed on the serial port (the process's stdout), with
    /// `\r\n` turned into `\n`.
    pub log: String,
    /// What the process itself printed on stderr (QEMU's own warnings and errors).
    pub stderr: String,
    /// The exit status when the process exited by itself; `None` when the harness stopped it.
    pub exit: Option<ExitStatus>,
    /// The deadline passed before the process exited or the awaited line appeared.
    pub timed_out: bool,
    /// The harness stopped the process because the [`Until::Line`] text appeared.
    pub stopped_at_line: bool,
    /// Time from spawning to the end of the run.
    pub duration: Duration,
}

/// Why the harness could not run a process at all.
#[derive(Debug)]
pub enum HarnessError {
    /// A kernel or initrd image does not exist.
    MissingImage {
        /// The path looked for.
        path: PathBuf,
    },
    /// The process could not be started.
    Spawn {
        /// The program.
        program: OsString,
        /// What the operating system said.
        source: io::Error,
    },
    /// Waiting for the process failed.
    Wait {
        /// What the operating system said.
        source: io::Error,
    },
}

impl fmt::Display for HarnessError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingImage { path } => write!(
                formatter,
                "missing {}: run `make test`, which builds the images first",
                path.display()
            ),
            Self::Spawn { program, source } => write!(
                formatter,
                "cannot start {}: {source}",
                program.to_string_lossy()
            ),
            Self::Wait { source } => write!(formatter, "cannot wait for the process: {source}"),
        }
    }
}

impl std::error::Error for HarnessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::MissingImage { .. } => None,
            Self::Spawn { source, .. } | Self::Wait { source } => Some(source),
        }
    }
}

/// Boots `machine` in QEMU with the serial port captured ([`Machine::captured_command`])
/// and waits `until`, at most `timeout`.
///
/// A missing kernel or initrd is an error ([`HarnessError::MissingImage`]), not a skip.
pub fn run(machine: &Machine, until: Until, timeout: Duration) -> Result<Run, HarnessError> {
    machine.check_images()?;
    run_command(machine.captured_command(), until, timeout)
}

/// Boots `machine` as [`run`] does, with `input` typed on the serial port: the bytes go to
/// QEMU's stdin, which its serial backend hands to the UART as the guest takes them (no byte
/// is lost however early they are written), then stdin is closed, as in
/// `printf 'echo hi\npoweroff\n' | make run`.
pub fn run_with_input(
    machine: &Machine,
    input: &[u8],
    until: Until,
    timeout: Duration,
) -> Result<Run, HarnessError> {
    machine.check_images()?;
    run_command_with_input(
        machine.captured_command(),
        Some(input.to_vec()),
        until,
        timeout,
    )
}

/// One step of a [`run_dialogue`]: once the serial log shows `after` (searched from where
/// the previous step's text was found; `None`: at once), type `send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What to wait for, or nothing.
    pub after: Option<String>,
    /// What to type then.
    pub send: Vec<u8>,
}

impl Step {
    /// Type `send` once `after` has been printed.
    pub fn after(after: &str, send: &str) -> Self {
        Self {
            after: Some(after.into()),
            send: send.as_bytes().to_vec(),
        }
    }
}

/// Boots `machine` as [`run`] does and types each step's bytes once its text has appeared,
/// as a person at the console would: for input that must arrive while a program is already
/// reading (typed ahead, it would reach whatever read first). Stdin closes after the last
/// step.
pub fn run_dialogue(
    machine: &Machine,
    steps: &[Step],
    until: Until,
    timeout: Duration,
) -> Result<Run, HarnessError> {
    machine.check_images()?;
    run_steps(
        machine.captured_command(),
        Some(steps.to_vec()),
        until,
        timeout,
    )
}

/// Runs any `command` the way [`run`] runs QEMU: stdin empty, stdout as the serial log,
/// stderr kept apart; waits `until`, at most `timeout`; always reaps the process.
pub fn run_command(command: Command, until: Until, timeout: Duration) -> Result<Run, HarnessError> {
    run_command_with_input(command, None, until, timeout)
}

/// [`run_command`] with `input` written to the process's stdin (then closed), or stdin
/// empty.
pub fn run_command_with_input(
    command: Command,
    input: Option<Vec<u8>>,
    until: Until,
    timeout: Duration,
) -> Result<Run, HarnessError> {
    let steps = input.map(|send| vec![Step { after: None, send }]);
    run_steps(command, steps, until, timeout)
}

fn run_steps(
    mut command: Command,
    input: Option<Vec<Step>>,
    until: Until,
    timeout: Duration,
) -> Result<Run, HarnessError> {
    let command_line = render_command_line(&command);
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let deadline = start + timeout;
    let child = command.spawn().map_err(|source| HarnessError::Spawn {
        program: command.get_program().to_os_string(),
        source,
    })?;
    let mut child = ChildGuard::new(child);
    let process_id = child.child.id();

    // Steps are handed to a writer thread as they become due (a guest that reads slowly must
    // not block the harness's wait); dropping the sender closes stdin after the last.
    let mut steps = input.unwrap_or_default().into_iter().peekable();
    let mut searched_from = 0;
    let mut typist = child.child.stdin.take().map(|mut stdin| {
        let (typed, to_type) = mpsc::channel::<Vec<u8>>();
        thread::spawn(move || {
            use std::io::Write;
            for bytes in to_type {
                if stdin
                    .write_all(&bytes)
                    .and_then(|()| stdin.flush())
                    .is_err()
                {
                    break;
                }
            }
        });
        typed
    });
    let mut type_due_steps = |log: &str, typist: &mut Option<Sender<Vec<u8>>>| {
        while let Some(step) = steps.peek() {
            match &step.after {
                None => {}
                Some(text) => match log.get(searched_from..).and_then(|rest| rest.find(text)) {
                    Some(at) => searched_from += at + text.len(),
                    None => return,
                },
            }
            if let (Some(step), Some(sender)) = (steps.next(), typist.as_ref()) {
                let _ = sender.send(step.send);
            }
        }
        // Everything typed: close stdin.
        typist.take();
    };
    type_due_steps("", &mut typist);
    let (sender, receiver) = mpsc::channel();
    if let Some(stdout) = child.child.stdout.take() {
        forward(stdout, Stream::Serial, sender.clone());
    }
    if let Some(stderr) = child.child.stderr.take() {
        forward(stderr, Stream::Stderr, sender.clone());
    }
    drop(sender);

    let mut serial = Log::default();
    let mut stderr = Log::default();
    let mut timed_out = false;
    let mut stopped_at_line = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            timed_out = true;
            break;
        }
        match receiver.recv_timeout(remaining) {
            Ok(Chunk {
                stream: Stream::Serial,
                bytes,
            }) => {
                serial.push(&bytes);
                if typist.is_some() {
                    type_due_steps(&serial.text(), &mut typist);
                }
                if let Until::Line(text) = &until
                    && serial.has_complete_line_containing(text)
                {
                    stopped_at_line = true;
                    break;
                }
            }
            Ok(Chunk {
                stream: Stream::Stderr,
                bytes,
            }) => stderr.push(&bytes),
            Err(RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            // Both pipes are closed: the process is exiting.
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }

    let exit = if timed_out || stopped_at_line {
        child.kill()?;
        None
    } else {
        Some(child.wait()?)
    };
    let duration = start.elapsed();
    drain(&receiver, &mut serial, &mut stderr);

    Ok(Run {
        command_line,
        process_id,
        log: serial.into_string(),
        stderr: stderr.into_string(),
        exit,
        timed_out,
        stopped_at_line,
        duration,
    })
}

impl Machine {
    /// Checks that the kernel and the initrd exist.
    pub fn check_images(&self) -> Result<(), HarnessError> {
        for path in std::iter::once(&self.kernel).chain(self.initrd.as_ref()) {
            if !path.is_file() {
                return Err(HarnessError::MissingImage { path: path.clone() });
            }
        }
        Ok(())
    }
}

/// The command as one line a shell would accept (arguments with spaces quoted).
fn render_command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|argument| {
            let argument = argument.to_string_lossy();
            if argument.is_empty() || argument.contains([' ', '"', '\'', '\\', '$']) {
                format!("'{}'", argument.replace('\'', r"'\''"))
            } else {
                argument.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which pipe a chunk came from.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Serial,
    Stderr,
}

/// Some bytes read from one pipe.
#[derive(Debug)]
struct Chunk {
    stream: Stream,
    bytes: Vec<u8>,
}

/// Sends everything read from `pipe` over `sender` until end of file.
fn forward(mut pipe: impl Read + Send + 'static, stream: Stream, sender: Sender<Chunk>) {
    thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) => return,
                Ok(length) => {
                    let chunk = Chunk {
                        stream,
                        bytes: buffer[..length].to_vec(),
                    };
                    if sender.send(chunk).is_err() {
                        return;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    });
}

/// Collects what the reader threads still have, until both pipes are closed.
fn drain(receiver: &Receiver<Chunk>, serial: &mut Log, stderr: &mut Log) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    while let Ok(chunk) = receiver.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        match chunk.stream {
            Stream::Serial => serial.push(&chunk.bytes),
            Stream::Stderr => stderr.push(&chunk.bytes),
        }
    }
}

/// The child process, killed and reaped when dropped unless it was reaped already.
struct ChildGuard {
    child: Child,
    reaped: bool,
}

impl ChildGuard {
    fn new(child: Child) -> Self {
        Self {
            child,
            reaped: false,
        }
    }

    /// Waits for the child to exit by itself.
    fn wait(&mut self) -> Result<ExitStatus, HarnessError> {
        let status = self
            .child
            .wait()
            .map_err(|source| HarnessError::Wait { source })?;
        self.reaped = true;
        Ok(status)
    }

    /// Kills the child and reaps it.
    fn kill(&mut self) -> Result<ExitStatus, HarnessError> {
        // Fails only if the child has already exited, which the wait below reports anyway.
        let _ = self.child.kill();
        self.wait()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Output being collected: `\r\n` becomes `\n` (also across chunk boundaries), and complete
/// lines are searched once each.
#[derive(Debug, Default)]
struct Log {
    bytes: Vec<u8>,
    /// A `\r` ended the last chunk; whether it is kept depends on the next byte.
    pending_carriage_return: bool,
    /// Where the first line not yet searched starts.
    unsearched: usize,
}

impl Log {
    fn push(&mut self, chunk: &[u8]) {
        for &byte in chunk {
            if self.pending_carriage_return {
                self.pending_carriage_return = false;
                if byte != b'\n' {
                    self.bytes.push(b'\r');
                }
            }
            if byte == b'\r' {
                self.pending_carriage_return = true;
            } else {
                self.bytes.push(byte);
            }
        }
    }

    /// Whether a complete line not searched before contains `text`.
    fn has_complete_line_containing(&mut self, text: &str) -> bool {
        let Some(last_newline) = self.bytes.iter().rposition(|&byte| byte == b'\n') else {
            return false;
        };
        let complete = &self.bytes[self.unsearched..=last_newline];
        self.unsearched = last_newline + 1;
        let text = text.as_bytes();
        complete
            .split(|&byte| byte == b'\n')
            .any(|line| text.is_empty() || line.windows(text.len()).any(|window| window == text))
    }

    /// What was printed so far, as text (lossy, `\r` kept).
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn into_string(mut self) -> String {
        if self.pending_carriage_return {
            self.bytes.push(b'\r');
        }
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn collected(chunks: &[&[u8]]) -> String {
        let mut log = Log::default();
        for chunk in chunks {
            log.push(chunk);
        }
        log.into_string()
    }

    #[test]
    fn carriage_return_line_feed_becomes_line_feed() {
        assert_eq!(collected(&[b"one\r\ntwo\r\n"]), "one\ntwo\n");
    }

    #[test]
    fn carriage_return_line_feed_split_across_chunks_becomes_line_feed() {
        assert_eq!(collected(&[b"one\r", b"\ntwo\r", b"", b"\n"]), "one\ntwo\n");
    }

    #[test]
    fn a_lone_carriage_return_is_kept() {
        assert_eq!(
            collected(&[b"progress\r", b"done\n", b"end\r"]),
            "progress\rdone\nend\r"
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_rather_than_lost() {
        assert_eq!(collected(&[b"bad \xff byte\n"]), "bad \u{fffd} byte\n");
    }

    #[test]
    fn a_line_matches_only_once_it_is_complete() {
        let mut log = Log::default();
        log.push(b"boot\nVERD");
        assert!(!log.has_complete_line_containing("VERDICT"));
        log.push(b"ICT: pass");
        assert!(!log.has_complete_line_containing("VERDICT"));
        log.push(b"\r\n");
        assert!(log.has_complete_line_containing("VERDICT"));
    }

    #[test]
    fn text_spread_over_two_lines_does_not_match() {
        let mut log = Log::default();
        log.push(b"VERD\nICT\n");
        assert!(!log.has_complete_line_containing("VERDICT"));
    }

    fn process_is_gone(process_id: u32) -> bool {
        !Path::new(&format!("/proc/{process_id}")).exists()
    }

    #[test]
    fn dropping_the_guard_kills_and_reaps_the_child() {
        let child = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let process_id = child.id();
        drop(ChildGuard::new(child));
        assert!(process_is_gone(process_id));
    }

    #[test]
    fn a_panic_while_the_child_runs_still_kills_and_reaps_it() {
        let child = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let process_id = child.id();
        let outcome = std::panic::catch_unwind(move || {
            let _guard = ChildGuard::new(child);
            panic!("a test failed half-way");
        });
        assert!(outcome.is_err());
        assert!(process_is_gone(process_id));
    }

    #[test]
    fn command_lines_quote_arguments_with_spaces() {
        let mut command = Command::new("qemu-system-aarch64");
        command.args(["-append", "console=ttyAMA0 quiet", "-m", "512M", "it's"]);
        assert_eq!(
            render_command_line(&command),
            r"qemu-system-aarch64 -append 'console=ttyAMA0 quiet' -m 512M 'it'\''s'"
        );
    }

    #[test]
    fn a_missing_image_names_the_path_and_the_remedy() {
        let error = Machine::new("/nonexistent/kernel.bin")
            .check_images()
            .expect_err("no such kernel");
        assert_eq!(
            error.to_string(),
            "missing /nonexistent/kernel.bin: run `make test`, which builds the images first"
        );
    }
}
