//! A scratch directory for the tests of this crate, removed again when dropped.
//!
//! The tests build real trees (files, directories, symbolic links, sockets) because what
//! they check is how the tool treats a real file system; each gets its own directory under
//! the system temporary directory, named after the process and a counter so that tests
//! running in parallel never share one.

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory under the system temporary directory, removed again when dropped.
#[derive(Debug)]
pub(crate) struct TemporaryDirectory(PathBuf);

impl TemporaryDirectory {
    /// A new, empty directory whose name contains `purpose`.
    pub(crate) fn new(purpose: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "mkimage-test-{}-{purpose}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temporary directory");
        Self(path)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// `relative` below the directory.
    pub(crate) fn join(&self, relative: &str) -> PathBuf {
        self.0.join(relative)
    }

    /// Writes the file `relative` with `contents` and `permissions`.
    pub(crate) fn file(&self, relative: &str, contents: &[u8], permissions: u32) {
        let path = self.join(relative);
        fs::write(&path, contents).expect("write test file");
        fs::set_permissions(&path, fs::Permissions::from_mode(permissions))
            .expect("set permissions");
    }

    /// Creates the directory `relative` (its parent must exist).
    pub(crate) fn directory(&self, relative: &str) {
        fs::create_dir(self.join(relative)).expect("create test directory");
    }

    /// Creates the directory `relative` with `permissions`.
    pub(crate) fn directory_with_mode(&self, relative: &str, permissions: u32) {
        self.directory(relative);
        fs::set_permissions(self.join(relative), fs::Permissions::from_mode(permissions))
            .expect("set permissions");
    }

    /// Creates the symbolic link `relative` pointing to `target`.
    pub(crate) fn symbolic_link(&self, relative: &str, target: &str) {
        symlink(target, self.join(relative)).expect("create symbolic link");
    }
}

impl Drop for TemporaryDirectory {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
