//! Assertions on a finished [`Run`] that show everything when they fail.
//!
//! A QEMU test that fails with only "assertion failed" sends the reader off to reproduce the
//! run by hand. Every assertion here panics with what was expected, how the run ended, the
//! command line, and the whole serial log between `----- serial log -----` markers (plus
//! QEMU's own stderr, if it said anything).

use core::fmt::Write as _;

use crate::runner::Run;

/// Opens the serial log in a failure report.
pub const LOG_START_MARKER: &str = "----- serial log -----";
/// Closes the serial log in a failure report.
pub const LOG_END_MARKER: &str = "----- end of serial log -----";

impl Run {
    /// The serial log line by line.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.log.lines()
    }

    /// One sentence on how the run ended.
    pub fn outcome(&self) -> String {
        if self.timed_out {
            format!("timed out after {:.1?}", self.duration)
        } else if self.stopped_at_line {
            format!(
                "stopped by the harness once the awaited line appeared, after {:.1?}",
                self.duration
            )
        } else {
            match self.exit {
                Some(status) => format!("exited by itself ({status}) after {:.1?}", self.duration),
                None => format!("stopped after {:.1?}", self.duration),
            }
        }
    }

    /// The text the assertions panic with: `headline`, the outcome, the command line and the
    /// whole serial log between markers.
    pub fn failure_report(&self, headline: &str) -> String {
        let mut report = String::new();
        let _ = writeln!(report, "{headline}");
        let _ = writeln!(report, "the run {}", self.outcome());
        let _ = writeln!(report, "command: {}", self.command_line);
        let _ = writeln!(report, "{LOG_START_MARKER}");
        report.push_str(&self.log);
        if !self.log.is_empty() && !self.log.ends_with('\n') {
            report.push('\n');
        }
        let _ = write!(report, "{LOG_END_MARKER}");
        if !self.stderr.is_empty() {
            let _ = write!(
                report,
                "\n----- QEMU stderr -----\n{}",
                self.stderr.trim_end()
            );
            let _ = write!(report, "\n----- end of QEMU stderr -----");
        }
        report
    }

    /// Panics with the full report unless the serial log contains `text`.
    #[track_caller]
    pub fn assert_contains(&self, text: &str) {
        if !self.log.contains(text) {
            panic!(
                "{}",
                self.failure_report(&format!("expected the serial log to contain {text:?}"))
            );
        }
    }

    /// Panics with the full report if the serial log contains `text`.
    #[track_caller]
    pub fn assert_not_contains(&self, text: &str) {
        if self.log.contains(text) {
            panic!(
                "{}",
                self.failure_report(&format!("expected the serial log not to contain {text:?}"))
            );
        }
    }

    /// Panics with the full report unless each of `texts` appears on a line after the
    /// line where the previous one appeared.
    #[track_caller]
    pub fn assert_lines_in_order(&self, texts: &[&str]) {
        let mut lines = self.lines();
        for text in texts {
            if !lines.any(|line| line.contains(text)) {
                panic!(
                    "{}",
                    self.failure_report(&format!(
                        "expected lines containing {texts:?} in this order; {text:?} is missing or out of order"
                    ))
                );
            }
        }
    }

    /// Returns the first serial line for which `predicate` holds; panics with the full
    /// report if there is none.
    #[track_caller]
    pub fn assert_line_matching(&self, predicate: impl Fn(&str) -> bool) -> &str {
        match self.lines().find(|line| predicate(line)) {
            Some(line) => line,
            None => panic!(
                "{}",
                self.failure_report(&format!(
                    "expected a serial line matching the predicate at {}",
                    std::panic::Location::caller()
                ))
            ),
        }
    }

    /// Panics with the full report unless the process exited by itself with status 0
    /// before the deadline.
    #[track_caller]
    pub fn assert_exited_cleanly(&self) {
        let clean = !self.timed_out && self.exit.is_some_and(|status| status.success());
        if !clean {
            panic!(
                "{}",
                self.failure_report("expected QEMU to exit by itself with status 0")
            );
        }
    }

    /// Panics with the full report unless the process exited by itself with `code`.
    #[track_caller]
    pub fn assert_exit_code(&self, code: i32) {
        if self.timed_out || self.exit.and_then(|status| status.code()) != Some(code) {
            panic!(
                "{}",
                self.failure_report(&format!(
                    "expected QEMU to exit by itself with status {code}"
                ))
            );
        }
    }

    /// Panics with the full report unless the run ended because the [`Until::Line`] text
    /// appeared (rather than a timeout or the process exiting first).
    ///
    /// [`Until::Line`]: crate::Until::Line
    #[track_caller]
    pub fn assert_stopped_at_line(&self) {
        if !self.stopped_at_line {
            panic!(
                "{}",
                self.failure_report("expected the awaited line to appear before the deadline")
            );
        }
    }
}
