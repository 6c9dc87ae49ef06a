//! `bench`: the kernel microbenchmarks of `make bench` (docs/performance.md).
//!
//! Boots the test kernel with the benchmark initrd (tests/bench-programs) under
//! `-icount shift=0,sleep=off` and `dtb-randomness=off` ([`Machine::with_icount`]), where one
//! retired instruction is one virtual nanosecond and the run is deterministic; reads the
//! `BENCH <name> <instructions> ticks=<t> iterations=<n>` lines the client task prints; prints
//! a table; and writes the figures as JSON (default `target/bench/kernel.json`). It fails
//! (exit status 1, with the serial log) if the run does not end cleanly with every figure
//! and `BENCH-DONE`.
//!
//! A benchmark is not a test: nothing here judges a figure. The flags are parsed by hand, as
//! in the `qemu` binary.

#![forbid(unsafe_code)]

use core::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use harness::{Machine, QEMU_PROGRAM, Run, Until, find_image, run, workspace_root};

const USAGE: &str = "\
usage: bench [options]
  --iterations <n>    operations per timed loop (default 100000; also $BENCH_ITERATIONS)
  --output <path>     where the JSON goes (default target/bench/kernel.json)
  --timeout <s>       give up after this many seconds (default 900)
  --help              print this text";

/// The figures the client prints, in order (tests/bench-programs `FIGURES`). Every one must
/// be in a run's log; a figure not listed here is still reported, after these.
const FIGURES: [&str; 8] = [
    "empty_loop",
    "null_call",
    "thread_switch_yield",
    "ipc_call_reply_two_spaces",
    "ipc_call_reply_same_space",
    "ipc_one_way",
    "page_fault_user_pager",
    "interrupt_delivery",
];

/// The environment variable that sets the iteration count when no flag does.
const ITERATIONS_VARIABLE: &str = "BENCH_ITERATIONS";
const DEFAULT_ITERATIONS: u64 = 100_000;
const DEFAULT_TIMEOUT_SECONDS: u64 = 900;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    iterations: u64,
    output: PathBuf,
    timeout: Duration,
}

/// One `BENCH` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Figure {
    name: String,
    /// Instructions per operation, loop overhead subtracted, as the client rounded it.
    instructions: u64,
    /// Counter ticks over the whole loop.
    ticks: u64,
    /// Operations in the loop.
    iterations: u64,
}

/// Everything a run printed that the report needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Results {
    figures: Vec<Figure>,
    counter_frequency: Option<u64>,
    done: bool,
}

fn parse_options(
    arguments: impl IntoIterator<Item = String>,
    environment_iterations: Option<String>,
) -> Result<Option<Options>, String> {
    let mut iterations = match environment_iterations {
        Some(text) if !text.is_empty() => Some(positive(ITERATIONS_VARIABLE, &text)?),
        _ => None,
    };
    let mut output = None;
    let mut timeout = None;
    let mut arguments = arguments.into_iter();
    while let Some(argument) = arguments.next() {
        let (flag, inline) = match argument.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value)),
            _ => (argument.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        if !["--iterations", "--output", "--timeout"].contains(&flag.as_str()) {
            return Err(format!("unknown flag `{argument}`"));
        }
        let value = match inline {
            Some(value) => value.to_string(),
            None => arguments
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?,
        };
        match flag.as_str() {
            "--iterations" => iterations = Some(positive(&flag, &value)?),
            "--output" => output = Some(PathBuf::from(value)),
            _ => timeout = Some(Duration::from_secs(positive(&flag, &value)?)),
        }
    }
    Ok(Some(Options {
        iterations: iterations.unwrap_or(DEFAULT_ITERATIONS),
        output: output.unwrap_or_else(|| {
            workspace_root()
                .join("target")
                .join("bench")
                .join("kernel.json")
        }),
        timeout: timeout.unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT_SECONDS)),
    }))
}

fn positive(what: &str, text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(format!("{what} wants a positive number, not `{text}`")),
    }
}

/// The `BENCH` lines of a serial log. The kernel prefixes a task's output with its thread
/// ID (`[4.0/v1] BENCH ...`), so the marker is looked for anywhere in the line.
fn parse_log(log: &str) -> Result<Results, String> {
    let mut results = Results::default();
    for line in log.lines() {
        let Some(start) = line.find("BENCH") else {
            continue;
        };
        let mut words = line[start..].split_whitespace();
        match words.next() {
            Some("BENCH-DONE") => results.done = true,
            Some("BENCH-START") => {
                for word in words {
                    if let Some(("counter_frequency", value)) = word.split_once('=') {
                        results.counter_frequency = value.parse().ok();
                    }
                }
            }
            Some("BENCH") => results.figures.push(parse_figure(words, line)?),
            _ => {}
        }
    }
    Ok(results)
}

fn parse_figure<'a>(
    mut words: impl Iterator<Item = &'a str>,
    line: &str,
) -> Result<Figure, String> {
    let malformed = || format!("malformed figure line: {line:?}");
    let name = words.next().ok_or_else(malformed)?.to_string();
    let instructions = words
        .next()
        .and_then(|word| word.parse().ok())
        .ok_or_else(malformed)?;
    let (mut ticks, mut iterations) = (None, None);
    for word in words {
        match word.split_once('=') {
            Some(("ticks", value)) => ticks = value.parse().ok(),
            Some(("iterations", value)) => iterations = value.parse().ok(),
            _ => return Err(malformed()),
        }
    }
    Ok(Figure {
        name,
        instructions,
        ticks: ticks.ok_or_else(malformed)?,
        iterations: iterations
            .filter(|&count| count > 0)
            .ok_or_else(malformed)?,
    })
}

/// The figures in table order: the known ones first, then any other.
fn ordered(results: &Results) -> Result<Vec<&Figure>, String> {
    let mut figures = Vec::new();
    for name in FIGURES {
        let figure = results
            .figures
            .iter()
            .find(|figure| figure.name == name)
            .ok_or_else(|| format!("the run printed no figure `{name}`"))?;
        figures.push(figure);
    }
    figures.extend(
        results
            .figures
            .iter()
            .filter(|figure| !FIGURES.contains(&figure.name.as_str())),
    );
    if !results.done {
        return Err("the run did not print BENCH-DONE".to_string());
    }
    Ok(figures)
}

/// Instructions per operation before rounding, loop overhead subtracted (the client's
/// arithmetic, with a fraction).
fn exact(figure: &Figure, frequency: u64, overhead: f64) -> f64 {
    let per_tick = 1e9 / frequency as f64;
    let raw = figure.ticks as f64 * per_tick / figure.iterations as f64;
    if figure.name == "empty_loop" {
        raw
    } else {
        raw - overhead
    }
}

fn table(figures: &[&Figure], frequency: u64) -> String {
    let overhead = figures
        .iter()
        .find(|figure| figure.name == "empty_loop")
        .map_or(0.0, |figure| exact(figure, frequency, 0.0));
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{:<28} {:>12} {:>12} {:>12} {:>12}",
        "figure", "instructions", "exact", "iterations", "ticks"
    );
    for figure in figures {
        let _ = writeln!(
            text,
            "{:<28} {:>12} {:>12.2} {:>12} {:>12}",
            figure.name,
            figure.instructions,
            exact(figure, frequency, overhead),
            figure.iterations,
            figure.ticks
        );
    }
    text
}

fn json(figures: &[&Figure], frequency: u64, qemu: &str, run: &Run, iterations: u64) -> String {
    let overhead = figures
        .iter()
        .find(|figure| figure.name == "empty_loop")
        .map_or(0.0, |figure| exact(figure, frequency, 0.0));
    let mut text = String::from("{\n");
    let _ = writeln!(
        text,
        "  \"unit\": \"guest instructions per operation under -icount shift=0, empty loop subtracted (except empty_loop)\","
    );
    let _ = writeln!(text, "  \"qemu\": {},", quoted(qemu));
    let _ = writeln!(text, "  \"command\": {},", quoted(&run.command_line));
    let _ = writeln!(text, "  \"iterations\": {iterations},");
    let _ = writeln!(text, "  \"counter_frequency\": {frequency},");
    let _ = writeln!(text, "  \"figures\": {{");
    for (index, figure) in figures.iter().enumerate() {
        let comma = if index + 1 < figures.len() { "," } else { "" };
        let _ = writeln!(
            text,
            "    {}: {{\"instructions\": {}, \"exact\": {:.3}, \"iterations\": {}, \"ticks\": {}}}{comma}",
            quoted(&figure.name),
            figure.instructions,
            exact(figure, frequency, overhead),
            figure.iterations,
            figure.ticks
        );
    }
    text.push_str("  }\n}\n");
    text
}

/// A JSON string.
fn quoted(text: &str) -> String {
    let mut quoted = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            character if u32::from(character) < 0x20 => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(character));
            }
            character => quoted.push(character),
        }
    }
    quoted.push('"');
    quoted
}

/// The first line of `qemu-system-aarch64 --version`.
fn qemu_version() -> String {
    Command::new(QEMU_PROGRAM)
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

fn bench(options: &Options) -> Result<(), String> {
    let kernel = find_image("kernel-test.bin").map_err(|error| error.to_string())?;
    let initrd = find_image("bench-initrd.cpio").map_err(|error| error.to_string())?;
    let machine = Machine::new(kernel)
        .with_icount()
        .with_initrd(initrd)
        .with_bootargs(format!(
            "ktest=bench bench.iterations={}",
            options.iterations
        ));
    eprintln!(
        "bench: {} iterations per loop under -icount shift=0",
        options.iterations
    );
    let run = run(&machine, Until::Exit, options.timeout).map_err(|error| error.to_string())?;
    let figures = (|| {
        if !run.exit.is_some_and(|status| status.success()) {
            return Err(format!("the run did not end cleanly: {}", run.outcome()));
        }
        if run.log.contains("FAIL") || run.log.contains("panic") {
            return Err("a task or the kernel reported a failure".to_string());
        }
        let results = parse_log(&run.log)?;
        let frequency = results
            .counter_frequency
            .filter(|&frequency| frequency > 0)
            .ok_or("the run printed no counter frequency")?;
        Ok((results, frequency))
    })();
    let (results, frequency) = figures.map_err(|why| run.failure_report(&why))?;
    let figures = ordered(&results).map_err(|why| run.failure_report(&why))?;
    let qemu = qemu_version();
    println!("{qemu}; -icount shift=0,sleep=off; counter {frequency} Hz");
    print!("{}", table(&figures, frequency));
    let text = json(&figures, frequency, &qemu, &run, options.iterations);
    if let Some(directory) = options.output.parent() {
        std::fs::create_dir_all(directory)
            .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    }
    std::fs::write(&options.output, text)
        .map_err(|error| format!("cannot write {}: {error}", options.output.display()))?;
    println!("wrote {}", options.output.display());
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_options(
        std::env::args().skip(1),
        std::env::var(ITERATIONS_VARIABLE).ok(),
    ) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("bench: {error} (see `bench --help`)");
            return ExitCode::FAILURE;
        }
    };
    match bench(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
KTEST START bench
[4.0/v1] BENCH-START iterations=1000 counter_frequency=62500000
[4.0/v1] BENCH empty_loop 4 ticks=250 iterations=1000
[4.0/v1] BENCH null_call 2330 ticks=145875 iterations=1000
[4.0/v1] BENCH thread_switch_yield 1200 ticks=75000 iterations=1000
[4.0/v1] BENCH ipc_call_reply_two_spaces 7922 ticks=495360 iterations=1000
[4.0/v1] BENCH ipc_call_reply_same_space 8105 ticks=506813 iterations=1000
[4.0/v1] BENCH ipc_one_way 6171 ticks=385936 iterations=1000
[4.0/v1] BENCH page_fault_user_pager 11056 ticks=691242 iterations=1000
[4.0/v1] BENCH interrupt_delivery 3706 ticks=231876 iterations=1000
[4.0/v1] BENCH-DONE
";

    fn options(arguments: &[&str], environment: Option<&str>) -> Result<Option<Options>, String> {
        parse_options(
            arguments.iter().map(|argument| argument.to_string()),
            environment.map(str::to_string),
        )
    }

    #[test]
    fn every_figure_of_a_log_is_found_in_order() {
        let results = parse_log(LOG).unwrap();
        assert!(results.done);
        assert_eq!(results.counter_frequency, Some(62_500_000));
        let figures = ordered(&results).unwrap();
        let names: Vec<&str> = figures.iter().map(|figure| figure.name.as_str()).collect();
        assert_eq!(names, FIGURES);
        assert_eq!(
            *figures[1],
            Figure {
                name: "null_call".to_string(),
                instructions: 2330,
                ticks: 145_875,
                iterations: 1000
            }
        );
    }

    #[test]
    fn the_exact_figure_subtracts_the_empty_loop() {
        let results = parse_log(LOG).unwrap();
        let figures = ordered(&results).unwrap();
        let overhead = exact(figures[0], 62_500_000, 0.0);
        assert_eq!(overhead, 4.0);
        assert_eq!(exact(figures[1], 62_500_000, overhead), 2330.0);
    }

    #[test]
    fn a_missing_figure_or_end_is_an_error() {
        let without_done = LOG.replace("[4.0/v1] BENCH-DONE\n", "");
        assert!(ordered(&parse_log(&without_done).unwrap()).is_err());
        let without_figure = LOG.replace("ipc_one_way", "something_else");
        assert!(ordered(&parse_log(&without_figure).unwrap()).is_err());
        assert!(parse_log("BENCH null_call many ticks=1 iterations=1\n").is_err());
        assert!(parse_log("BENCH null_call 5 ticks=1\n").is_err());
    }

    #[test]
    fn the_json_names_every_figure() {
        let results = parse_log(LOG).unwrap();
        let figures = ordered(&results).unwrap();
        let run = Run {
            command_line: "qemu-system-aarch64 -append 'a \"b\"'".to_string(),
            process_id: 1,
            log: String::new(),
            stderr: String::new(),
            exit: None,
            timed_out: false,
            stopped_at_line: false,
            duration: Duration::ZERO,
        };
        let text = json(&figures, 62_500_000, "QEMU 7.2", &run, 1000);
        assert!(text.contains("\"command\": \"qemu-system-aarch64 -append 'a \\\"b\\\"'\""));
        assert!(text.contains(
            "\"null_call\": {\"instructions\": 2330, \"exact\": 2330.000, \"iterations\": 1000, \"ticks\": 145875},"
        ));
        assert!(text.contains("\"page_fault_user_pager\": {\"instructions\": 11056"));
    }

    #[test]
    fn iterations_come_from_the_flag_then_the_environment_then_the_default() {
        let default = options(&[], None).unwrap().unwrap();
        assert_eq!(default.iterations, DEFAULT_ITERATIONS);
        assert!(default.output.ends_with("target/bench/kernel.json"));
        assert_eq!(options(&[], Some("500")).unwrap().unwrap().iterations, 500);
        let flagged = options(
            &["--iterations=100", "--output", "/tmp/x.json"],
            Some("500"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(flagged.iterations, 100);
        assert_eq!(flagged.output, PathBuf::from("/tmp/x.json"));
        assert_eq!(options(&["--help"], None), Ok(None));
        assert!(options(&["--iterations", "0"], None).is_err());
        assert!(options(&["--turbo"], None).is_err());
        assert!(options(&["--timeout"], None).is_err());
    }
}
