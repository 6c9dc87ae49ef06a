//! The `mkimage` command line, parsed by hand into a [`Command`] so that it can be tested.
//!
//! Paths stay `OsString`s all the way, so any file name the build uses works.

use core::fmt;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What `mkimage --help` prints.
pub const USAGE: &str = "\
usage:
  mkimage kernel-image <kernel.elf> <out.bin>
      Flatten the kernel ELF (which starts with an arm64 Image header) into the raw
      Image that QEMU's -kernel boots: PT_LOAD contents at p_paddr - lowest p_paddr.
  mkimage initrd <directory> <out.cpio>
      Write a reproducible cpio newc archive of the directory tree.
  mkimage initrd --empty <out.cpio>
      Write a cpio newc archive with no entries.
  mkimage --help
      Print this text.";

/// One invocation of `mkimage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `kernel-image <kernel.elf> <out.bin>`.
    KernelImage {
        /// The kernel ELF to flatten.
        elf: PathBuf,
        /// Where the raw image goes.
        output: PathBuf,
    },
    /// `initrd <directory> <out.cpio>`.
    Initrd {
        /// The tree to archive.
        directory: PathBuf,
        /// Where the archive goes.
        output: PathBuf,
    },
    /// `initrd --empty <out.cpio>`.
    EmptyInitrd {
        /// Where the archive goes.
        output: PathBuf,
    },
    /// `--help` or `-h`, anywhere.
    Help,
}

/// Why the command line was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// No subcommand was given.
    MissingSubcommand,
    /// The subcommand is not one we know.
    UnknownSubcommand {
        /// What was given.
        given: String,
    },
    /// A subcommand got the wrong number of arguments.
    WrongArguments {
        /// The subcommand's usage line.
        expected: &'static str,
    },
    /// An option that no subcommand takes.
    UnknownOption {
        /// What was given.
        given: String,
    },
}

impl fmt::Display for UsageError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSubcommand => write!(formatter, "no subcommand given"),
            Self::UnknownSubcommand { given } => write!(formatter, "unknown subcommand `{given}`"),
            Self::WrongArguments { expected } => write!(formatter, "usage: {expected}"),
            Self::UnknownOption { given } => write!(formatter, "unknown option `{given}`"),
        }
    }
}

impl std::error::Error for UsageError {}

const KERNEL_IMAGE_USAGE: &str = "mkimage kernel-image <kernel.elf> <out.bin>";
const INITRD_USAGE: &str =
    "mkimage initrd <directory> <out.cpio> | mkimage initrd --empty <out.cpio>";

/// Parses the arguments after the program name.
pub fn parse<I>(arguments: I) -> Result<Command, UsageError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let arguments: Vec<OsString> = arguments.into_iter().map(Into::into).collect();
    if arguments
        .iter()
        .any(|argument| argument == "--help" || argument == "-h")
    {
        return Ok(Command::Help);
    }
    let Some((subcommand, rest)) = arguments.split_first() else {
        return Err(UsageError::MissingSubcommand);
    };
    let is_option = |argument: &OsString| argument.to_string_lossy().starts_with('-');
    if let Some(option) = rest
        .iter()
        .find(|argument| is_option(argument) && *argument != "--empty")
    {
        return Err(UsageError::UnknownOption {
            given: option.to_string_lossy().into_owned(),
        });
    }
    let rest: Vec<PathBuf> = rest.iter().map(PathBuf::from).collect();
    match (subcommand.to_string_lossy().as_ref(), rest.as_slice()) {
        ("kernel-image", [elf, output]) if !is_empty_flag(elf) && !is_empty_flag(output) => {
            Ok(Command::KernelImage {
                elf: elf.clone(),
                output: output.clone(),
            })
        }
        ("kernel-image", _) => Err(UsageError::WrongArguments {
            expected: KERNEL_IMAGE_USAGE,
        }),
        ("initrd", [flag, output]) if is_empty_flag(flag) && !is_empty_flag(output) => {
            Ok(Command::EmptyInitrd {
                output: output.clone(),
            })
        }
        ("initrd", [directory, output]) if !is_empty_flag(directory) && !is_empty_flag(output) => {
            Ok(Command::Initrd {
                directory: directory.clone(),
                output: output.clone(),
            })
        }
        ("initrd", _) => Err(UsageError::WrongArguments {
            expected: INITRD_USAGE,
        }),
        (other, _) => Err(UsageError::UnknownSubcommand {
            given: other.to_string(),
        }),
    }
}

fn is_empty_flag(argument: &Path) -> bool {
    argument.as_os_str() == "--empty"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_image_takes_an_elf_and_an_output() {
        assert_eq!(
            parse(["kernel-image", "kernel.elf", "target/images/kernel.bin"]),
            Ok(Command::KernelImage {
                elf: "kernel.elf".into(),
                output: "target/images/kernel.bin".into(),
            })
        );
    }

    #[test]
    fn initrd_takes_a_directory_and_an_output() {
        assert_eq!(
            parse(["initrd", "root", "initrd.cpio"]),
            Ok(Command::Initrd {
                directory: "root".into(),
                output: "initrd.cpio".into(),
            })
        );
    }

    #[test]
    fn initrd_empty_takes_only_an_output() {
        assert_eq!(
            parse(["initrd", "--empty", "initrd.cpio"]),
            Ok(Command::EmptyInitrd {
                output: "initrd.cpio".into()
            })
        );
    }

    #[test]
    fn help_wins_wherever_it_appears() {
        assert_eq!(parse(["--help"]), Ok(Command::Help));
        assert_eq!(parse(["initrd", "-h"]), Ok(Command::Help));
    }

    #[test]
    fn a_missing_or_unknown_subcommand_is_refused() {
        assert_eq!(
            parse(Vec::<String>::new()),
            Err(UsageError::MissingSubcommand)
        );
        assert_eq!(
            parse(["flash", "x"]),
            Err(UsageError::UnknownSubcommand {
                given: "flash".into()
            })
        );
    }

    #[test]
    fn wrong_argument_counts_are_refused_with_the_usage_line() {
        assert_eq!(
            parse(["kernel-image", "kernel.elf"]),
            Err(UsageError::WrongArguments {
                expected: KERNEL_IMAGE_USAGE
            })
        );
        assert_eq!(
            parse(["initrd", "root", "out", "extra"]),
            Err(UsageError::WrongArguments {
                expected: INITRD_USAGE
            })
        );
        assert_eq!(
            parse(["initrd", "--empty"]),
            Err(UsageError::WrongArguments {
                expected: INITRD_USAGE
            })
        );
        assert_eq!(
            parse(["kernel-image", "--empty", "out"]),
            Err(UsageError::WrongArguments {
                expected: KERNEL_IMAGE_USAGE
            })
        );
    }

    #[test]
    fn unknown_options_are_refused() {
        assert_eq!(
            parse(["initrd", "--verbose", "root", "out"]),
            Err(UsageError::UnknownOption {
                given: "--verbose".into()
            })
        );
    }
}
