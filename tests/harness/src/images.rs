//! Where the test images are: `<workspace>/target/images/`, or `$KERNEL_IMAGES_DIR`.
//!
//! `make test` builds the images before it runs `cargo test`; a test that cannot find its
//! image fails and says so, because a skipped boot test looks exactly like a passing one.

use std::path::{Path, PathBuf};

use crate::runner::HarnessError;

/// Environment variable that overrides the images directory.
pub const IMAGES_DIRECTORY_VARIABLE: &str = "KERNEL_IMAGES_DIR";

/// The directory the images are in: `$KERNEL_IMAGES_DIR` if set, otherwise
/// `target/images` under the workspace root.
pub fn images_directory() -> PathBuf {
    match std::env::var_os(IMAGES_DIRECTORY_VARIABLE) {
        Some(directory) if !directory.is_empty() => PathBuf::from(directory),
        _ => workspace_root().join("target").join("images"),
    }
}

/// The workspace root: this crate lives in `<root>/tests/harness`.
pub fn workspace_root() -> PathBuf {
    let manifest_directory = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_directory
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_directory)
        .to_path_buf()
}

/// The path of image `name`, or [`HarnessError::MissingImage`] if it is not there.
pub fn find_image(name: &str) -> Result<PathBuf, HarnessError> {
    let path = images_directory().join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::MissingImage { path })
    }
}

/// The path of image `name`, for tests.
///
/// # Panics
///
/// If the image does not exist, with ``missing <path>: run `make test`, which builds the
/// images first`` — a missing image fails the test, it never skips it.
#[track_caller]
pub fn image_path(name: &str) -> PathBuf {
    match find_image(name) {
        Ok(path) => path,
        Err(error) => panic!("{error}"),
    }
}
