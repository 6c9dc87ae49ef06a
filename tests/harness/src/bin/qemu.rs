//! `qemu`: boots an image by hand for `make run` and `make debug`.
//!
//! It builds the same [`Machine`] the tests use and then becomes QEMU on the terminal
//! (`-nographic`, Ctrl-A X quits): `exec` rather than spawn, so QEMU's exit status is ours
//! and killing this process can never leave a QEMU behind. The flags are parsed by
//! hand into [`Options`], which is small enough not to need an argument-parsing crate and is
//! tested below.

#![forbid(unsafe_code)]

use core::fmt;
use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::ExitCode;

use harness::{GicVersion, Machine};

const USAGE: &str = "\
usage: qemu --kernel <Image> [options]
  --kernel <path>     flat kernel Image to boot (required)
  --initrd <path>     initrd (cpio archive)
  --cpu <model>       CPU model (default cortex-a72)
  --memory <MiB>      RAM size in MiB (default 512)
  --gic <2|3>         GIC version (default 2)
  --smp <count>       number of CPUs (default 1)
  --el2               enter the kernel at EL2 (virtualization=on)
  --icount            deterministic execution (-icount shift=0,sleep=off)
  --semihosting       allow semihosting calls
  --bootargs <text>   kernel command line
  --debug             start halted with a gdb stub on localhost:1234
  --symbols <path>    kernel ELF to name in the gdb hint
  --help              print this text
Quit QEMU with Ctrl-A X.";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Invocation {
    /// `--help`.
    Help,
    /// Boot a machine.
    Boot(Options),
}

/// A parsed command line that boots.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    machine: Machine,
    /// The kernel ELF, for the gdb hint.
    symbols: Option<PathBuf>,
}

/// Why the command line was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UsageError {
    UnknownFlag(String),
    MissingValue(&'static str),
    NotUnicode(&'static str),
    InvalidNumber { flag: &'static str, value: String },
    InvalidGic(String),
    MissingKernel,
}

impl fmt::Display for UsageError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFlag(flag) => write!(formatter, "unknown flag `{flag}`"),
            Self::MissingValue(flag) => write!(formatter, "{flag} needs a value"),
            Self::NotUnicode(flag) => write!(formatter, "the value of {flag} is not valid UTF-8"),
            Self::InvalidNumber { flag, value } => {
                write!(formatter, "{flag} wants a positive number, not `{value}`")
            }
            Self::InvalidGic(value) => write!(formatter, "--gic wants 2 or 3, not `{value}`"),
            Self::MissingKernel => write!(formatter, "--kernel <Image> is required"),
        }
    }
}

/// Flags that take a value, with the name used in messages.
const VALUE_FLAGS: [&str; 8] = [
    "--kernel",
    "--initrd",
    "--cpu",
    "--memory",
    "--gic",
    "--smp",
    "--bootargs",
    "--symbols",
];

/// Parses the arguments after the program name; `--flag value` and `--flag=value` both work.
fn parse<I>(arguments: I) -> Result<Invocation, UsageError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut machine = Machine::default();
    let mut kernel = None;
    let mut symbols = None;
    let mut arguments = arguments.into_iter().map(Into::into);
    while let Some(argument) = arguments.next() {
        let text = argument.to_string_lossy().into_owned();
        let (flag, inline_value) = match text.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value)),
            _ => (text.clone(), None),
        };
        let Some(&flag_name) = VALUE_FLAGS.iter().find(|&&name| name == flag) else {
            match text.as_str() {
                "--help" | "-h" => return Ok(Invocation::Help),
                "--el2" => machine.enter_at_el2 = true,
                "--icount" => machine.icount = true,
                "--semihosting" => machine.semihosting = true,
                "--debug" => machine.gdb_stub = true,
                _ => return Err(UsageError::UnknownFlag(text)),
            }
            continue;
        };
        let value: OsString = match inline_value {
            // Slice the original so that non-UTF-8 paths survive `--kernel=...`.
            Some(_) => argument
                .into_string()
                .map(|whole| whole[flag_name.len() + 1..].into())
                .map_err(|_| UsageError::NotUnicode(flag_name))?,
            None => arguments
                .next()
                .ok_or(UsageError::MissingValue(flag_name))?,
        };
        let text_value = || {
            value
                .to_str()
                .map(str::to_string)
                .ok_or(UsageError::NotUnicode(flag_name))
        };
        match flag_name {
            "--kernel" => kernel = Some(PathBuf::from(&value)),
            "--initrd" => machine.initrd = Some(PathBuf::from(&value)),
            "--symbols" => symbols = Some(PathBuf::from(&value)),
            "--cpu" => machine.cpu = text_value()?,
            "--bootargs" => machine.bootargs = text_value()?,
            "--memory" => machine.memory_mib = positive_number(flag_name, &text_value()?)?,
            "--smp" => {
                let count = positive_number(flag_name, &text_value()?)?;
                machine.smp = u32::try_from(count).map_err(|_| UsageError::InvalidNumber {
                    flag: flag_name,
                    value: count.to_string(),
                })?;
            }
            "--gic" => {
                machine.gic = match text_value()?.as_str() {
                    "2" => GicVersion::V2,
                    "3" => GicVersion::V3,
                    other => return Err(UsageError::InvalidGic(other.to_string())),
                }
            }
            _ => unreachable!("every name in VALUE_FLAGS is handled"),
        }
    }
    machine.kernel = kernel.ok_or(UsageError::MissingKernel)?;
    Ok(Invocation::Boot(Options { machine, symbols }))
}

fn positive_number(flag: &'static str, value: &str) -> Result<u64, UsageError> {
    match value.parse::<u64>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(UsageError::InvalidNumber {
            flag,
            value: value.to_string(),
        }),
    }
}

/// The hint printed before QEMU starts halted.
fn gdb_hint(symbols: Option<&PathBuf>) -> String {
    let elf = symbols.map_or_else(
        || "<kernel ELF>".to_string(),
        |path| path.display().to_string(),
    );
    format!(
        "QEMU is halted with a gdb stub on localhost:1234. In another terminal: \
         gdb-multiarch {elf} -ex 'target remote localhost:1234'"
    )
}

fn main() -> ExitCode {
    let options = match parse(std::env::args_os().skip(1)) {
        Ok(Invocation::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Boot(options)) => options,
        Err(error) => {
            eprintln!("qemu: {error} (see `qemu --help`)");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = options.machine.check_images() {
        eprintln!("qemu: {error}");
        return ExitCode::FAILURE;
    }
    if options.machine.gdb_stub {
        eprintln!("{}", gdb_hint(options.symbols.as_ref()));
    }
    // `exec` only returns if QEMU could not be started.
    let error = options.machine.command().exec();
    eprintln!("qemu: cannot start {}: {error}", harness::QEMU_PROGRAM);
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(arguments: &[&str]) -> Options {
        match parse(arguments.iter().copied()) {
            Ok(Invocation::Boot(options)) => options,
            other => panic!("expected a boot for {arguments:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_kernel_alone_boots_the_default_machine() {
        let options = boot(&["--kernel", "target/images/kernel.bin"]);
        assert_eq!(options.machine, Machine::new("target/images/kernel.bin"));
        assert_eq!(options.symbols, None);
    }

    #[test]
    fn every_flag_reaches_the_machine() {
        let options = boot(&[
            "--kernel",
            "k.bin",
            "--initrd",
            "i.cpio",
            "--cpu",
            "cortex-a53",
            "--memory",
            "1024",
            "--gic",
            "3",
            "--smp",
            "4",
            "--el2",
            "--icount",
            "--semihosting",
            "--bootargs",
            "console=ttyAMA0 verbose",
            "--debug",
            "--symbols",
            "target/kernel.elf",
        ]);
        let expected = Machine::new("k.bin")
            .with_initrd("i.cpio")
            .with_cpu("cortex-a53")
            .with_memory_mib(1024)
            .with_gic(GicVersion::V3)
            .with_smp(4)
            .at_el2()
            .with_icount()
            .with_semihosting()
            .with_bootargs("console=ttyAMA0 verbose")
            .with_gdb_stub();
        assert_eq!(options.machine, expected);
        assert_eq!(options.symbols, Some(PathBuf::from("target/kernel.elf")));
    }

    #[test]
    fn values_may_follow_an_equals_sign() {
        let options = boot(&["--kernel=k.bin", "--bootargs=init=/bin/sh", "--gic=3"]);
        assert_eq!(options.machine.kernel, PathBuf::from("k.bin"));
        assert_eq!(options.machine.bootargs, "init=/bin/sh");
        assert_eq!(options.machine.gic, GicVersion::V3);
    }

    #[test]
    fn help_needs_no_kernel() {
        assert_eq!(parse(["--help"]), Ok(Invocation::Help));
    }

    #[test]
    fn a_missing_kernel_is_refused() {
        assert_eq!(parse(["--smp", "2"]), Err(UsageError::MissingKernel));
    }

    #[test]
    fn a_flag_without_its_value_is_refused() {
        assert_eq!(
            parse(["--kernel", "k.bin", "--initrd"]),
            Err(UsageError::MissingValue("--initrd"))
        );
    }

    #[test]
    fn unknown_flags_are_refused() {
        assert_eq!(
            parse(["--kernel", "k.bin", "--turbo"]),
            Err(UsageError::UnknownFlag("--turbo".to_string()))
        );
        assert_eq!(
            parse(["--kernel", "k.bin", "stray"]),
            Err(UsageError::UnknownFlag("stray".to_string()))
        );
    }

    #[test]
    fn numbers_must_be_positive_integers() {
        for (flag, value) in [("--memory", "0"), ("--smp", "two"), ("--memory", "-5")] {
            assert_eq!(
                parse(["--kernel", "k.bin", flag, value]),
                Err(UsageError::InvalidNumber {
                    flag: if flag == "--smp" { "--smp" } else { "--memory" },
                    value: value.to_string()
                })
            );
        }
    }

    #[test]
    fn only_gic_versions_two_and_three_are_accepted() {
        assert_eq!(
            parse(["--kernel", "k.bin", "--gic", "4"]),
            Err(UsageError::InvalidGic("4".to_string()))
        );
    }

    #[test]
    fn the_gdb_hint_names_the_symbols_file() {
        assert_eq!(
            gdb_hint(Some(&PathBuf::from("target/kernel.elf"))),
            "QEMU is halted with a gdb stub on localhost:1234. In another terminal: \
             gdb-multiarch target/kernel.elf -ex 'target remote localhost:1234'"
        );
    }
}
