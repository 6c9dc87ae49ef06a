//! The `mkimage` command line, parsed by hand into a [`Command`] so that it can be tested.
//!
//! Paths stay `OsString`s all the way, so any file name the build uses works.

use core::fmt;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::staging::StagingStep;

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
  mkimage stage <directory> <step>...
      Build the tree for `mkimage initrd` in <directory>, which must be missing or
      empty. Steps run in order; what a later step puts at a path replaces what was
      there (symbolic links are replaced, never written through). Files get mode 0755
      if their owner may execute them, else 0644; directories get 0755 unless a
      manifest says otherwise.
        --tree <directory>                merge the tree under <directory>
        --file <file>                     copy <file> to the top under its own name
        --directories <manifest>          create the directories the manifest lists,
                                          a line `<octal mode> <path>` each
        --busybox <binary> <applet-list>  check that <binary> is a static aarch64
                                          executable, install it as bin/busybox and
                                          link /bin/busybox at every path of the list
                                          (what `busybox --list-full` prints)
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
    /// `stage <directory> <step>...`.
    Stage {
        /// The staging directory to build.
        directory: PathBuf,
        /// What goes into it, in order.
        steps: Vec<StagingStep>,
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
const STAGE_USAGE: &str = "mkimage stage <directory> (--tree <directory> | --file <file> \
     | --directories <manifest> | --busybox <binary> <applet-list>)...";

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
    if subcommand == "stage" {
        return parse_stage(rest);
    }
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

/// Parses the arguments of `stage`: the directory, then one or more steps.
fn parse_stage(arguments: &[OsString]) -> Result<Command, UsageError> {
    let wrong_arguments = UsageError::WrongArguments {
        expected: STAGE_USAGE,
    };
    let is_option = |argument: &OsString| argument.to_string_lossy().starts_with('-');
    let Some((directory, mut rest)) = arguments.split_first() else {
        return Err(wrong_arguments);
    };
    if is_option(directory) {
        return Err(unknown_or_misplaced(directory, &wrong_arguments));
    }
    let mut steps = Vec::new();
    while let Some((option, after)) = rest.split_first() {
        let wanted = match option.to_string_lossy().as_ref() {
            "--tree" | "--file" | "--directories" => 1,
            "--busybox" => 2,
            _ => return Err(unknown_or_misplaced(option, &wrong_arguments)),
        };
        let values = after
            .get(..wanted)
            .filter(|values| !values.iter().any(is_option))
            .ok_or_else(|| wrong_arguments.clone())?;
        let path = |index: usize| values.get(index).map(PathBuf::from).unwrap_or_default();
        steps.push(match option.to_string_lossy().as_ref() {
            "--tree" => StagingStep::Tree(path(0)),
            "--file" => StagingStep::File(path(0)),
            "--directories" => StagingStep::Directories(path(0)),
            _ => StagingStep::Busybox {
                binary: path(0),
                applet_list: path(1),
            },
        });
        rest = after.get(wanted..).unwrap_or_default();
    }
    if steps.is_empty() {
        return Err(wrong_arguments);
    }
    Ok(Command::Stage {
        directory: PathBuf::from(directory),
        steps,
    })
}

/// An argument where a step's option belongs: an unknown option, or a stray value.
fn unknown_or_misplaced(argument: &OsString, wrong_arguments: &UsageError) -> UsageError {
    let given = argument.to_string_lossy();
    if given.starts_with('-') {
        UsageError::UnknownOption {
            given: given.into_owned(),
        }
    } else {
        wrong_arguments.clone()
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

    #[test]
    fn stage_takes_a_directory_and_steps_in_order() {
        assert_eq!(
            parse([
                "stage",
                "target/images/initrd-root",
                "--tree",
                "images/initrd",
                "--file",
                "sigma0",
                "--busybox",
                "downloads/busybox",
                "downloads/busybox.applets",
                "--tree",
                "images/rootfs",
                "--directories",
                "images/rootfs.directories",
            ]),
            Ok(Command::Stage {
                directory: "target/images/initrd-root".into(),
                steps: vec![
                    StagingStep::Tree("images/initrd".into()),
                    StagingStep::File("sigma0".into()),
                    StagingStep::Busybox {
                        binary: "downloads/busybox".into(),
                        applet_list: "downloads/busybox.applets".into(),
                    },
                    StagingStep::Tree("images/rootfs".into()),
                    StagingStep::Directories("images/rootfs.directories".into()),
                ],
            })
        );
    }

    #[test]
    fn stage_refuses_missing_steps_values_and_strays() {
        let wrong = Err(UsageError::WrongArguments {
            expected: STAGE_USAGE,
        });
        assert_eq!(parse(["stage"]), wrong);
        assert_eq!(parse(["stage", "root"]), wrong);
        assert_eq!(parse(["stage", "root", "--tree"]), wrong);
        assert_eq!(parse(["stage", "root", "--busybox", "busybox"]), wrong);
        assert_eq!(
            parse(["stage", "root", "--busybox", "busybox", "--tree", "x"]),
            wrong
        );
        assert_eq!(parse(["stage", "root", "--tree", "a", "b"]), wrong);
        assert_eq!(
            parse(["stage", "root", "--copy", "a"]),
            Err(UsageError::UnknownOption {
                given: "--copy".into()
            })
        );
        assert_eq!(
            parse(["stage", "--tree", "a"]),
            Err(UsageError::UnknownOption {
                given: "--tree".into()
            })
        );
    }
}
