//! The part of a process's state that path resolution starts from: its working directory,
//! and the umask that file creation will apply.
//!
//! Linux keeps these in `struct fs_struct`, separate from the descriptor table, because
//! `clone` can share one without the other; here both are plain values the process owns and
//! clones at `fork`. The working directory is kept as a node only: its path is computed
//! when `getcwd` asks, by following `..` links, so it stays right if directories are ever
//! renamed.

use super::node::NodeId;

/// The umask of the first process, as Linux's `init` gets it.
const INITIAL_UMASK: u32 = 0o022;

/// A process's working directory and umask. Cloned at `fork`; `chdir`, `fchdir` and `umask`
/// change it (see [`Vfs::chdir`](super::Vfs::chdir)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSystemContext {
    working_directory: NodeId,
    umask: u32,
}

impl FileSystemContext {
    /// A context in `working_directory` with the initial umask `0o022`.
    pub(crate) fn new(working_directory: NodeId) -> Self {
        FileSystemContext {
            working_directory,
            umask: INITIAL_UMASK,
        }
    }

    /// The working directory, where relative paths start.
    pub fn working_directory(&self) -> NodeId {
        self.working_directory
    }

    /// Moves to `directory` (already checked to be a directory).
    pub(crate) fn set_working_directory(&mut self, directory: NodeId) {
        self.working_directory = directory;
    }

    /// The file-creation mask.
    pub fn umask(&self) -> u32 {
        self.umask
    }

    /// `umask(mask)`: keeps the permission bits of `mask` and returns the previous mask.
    /// Cannot fail.
    pub fn set_umask(&mut self, mask: u32) -> u32 {
        core::mem::replace(&mut self.umask, mask & 0o777)
    }
}
