//! mkimage: the host tool that turns build outputs into what QEMU boots.
//!
//! QEMU's `-kernel` loader only gives us the Linux boot protocol (DTB in x0, initrd placed
//! and announced, secondary CPUs parked in PSCI) for a flat arm64 `Image`, and its `-initrd`
//! wants a cpio archive. This crate makes both, refusing anything that would only show up
//! later as a silent hang: [`kernel_image`] flattens the kernel ELF, [`staging`] layers the
//! initrd's tree (boot modules, busybox and its applet links, the root filesystem, the user's
//! `EXTRA` files) with modes that do not depend on the checkout, [`initrd`] packs a directory
//! reproducibly, [`executable`] checks that busybox can run on the machine, and
//! [`command_line`] is the tested argument parser behind the `mkimage` binary.

#![forbid(unsafe_code)]

pub mod command_line;
pub mod executable;
pub mod initrd;
pub mod kernel_image;
pub mod staging;
#[cfg(test)]
mod temporary_directory;

use core::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use command_line::{Command, UsageError};
pub use initrd::InitrdError;
pub use kernel_image::{KernelImage, KernelImageError};
pub use staging::{StagingError, StagingStep};

/// Everything that can stop `mkimage`, each naming the file involved.
#[derive(Debug)]
pub enum Error {
    /// The command line was wrong.
    Usage(UsageError),
    /// An input file could not be read.
    Read {
        /// The input.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// An output file could not be written.
    Write {
        /// The output.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The kernel ELF cannot become a bootable image.
    KernelImage {
        /// The kernel ELF.
        path: PathBuf,
        /// Why not.
        source: KernelImageError,
    },
    /// The initrd directory cannot be archived.
    Initrd(InitrdError),
    /// The staging tree cannot be built.
    Staging(StagingError),
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(error) => write!(formatter, "{error} (see `mkimage --help`)"),
            Self::Read { path, source } => {
                write!(formatter, "cannot read {}: {source}", path.display())
            }
            Self::Write { path, source } => {
                write!(formatter, "cannot write {}: {source}", path.display())
            }
            Self::KernelImage { path, source } => write!(formatter, "{}: {source}", path.display()),
            Self::Initrd(error) => write!(formatter, "initrd: {error}"),
            Self::Staging(error) => write!(formatter, "stage: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Usage(error) => Some(error),
            Self::Read { source, .. } | Self::Write { source, .. } => Some(source),
            Self::KernelImage { source, .. } => Some(source),
            Self::Initrd(error) => Some(error),
            Self::Staging(error) => Some(error),
        }
    }
}

impl From<UsageError> for Error {
    fn from(error: UsageError) -> Self {
        Self::Usage(error)
    }
}

/// Performs one parsed command. [`Command::Help`] is the caller's business (it prints).
pub fn execute(command: &Command) -> Result<(), Error> {
    match command {
        Command::Help => Ok(()),
        Command::KernelImage { elf, output } => {
            let contents = fs::read(elf).map_err(|source| Error::Read {
                path: elf.clone(),
                source,
            })?;
            let image = kernel_image::flatten(&contents).map_err(|source| Error::KernelImage {
                path: elf.clone(),
                source,
            })?;
            write_output(output, &image.bytes)
        }
        Command::Initrd { directory, output } => {
            let archive = initrd::archive_directory(directory).map_err(Error::Initrd)?;
            write_output(output, &archive)
        }
        Command::EmptyInitrd { output } => write_output(output, &initrd::empty_archive()),
        Command::Stage { directory, steps } => {
            staging::stage(directory, steps).map_err(Error::Staging)
        }
    }
}

/// Writes `bytes` to `path`, creating missing parent directories (`target/images/`).
fn write_output(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let write_error = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        fs::create_dir_all(parent).map_err(write_error)?;
    }
    fs::write(path, bytes).map_err(write_error)
}
