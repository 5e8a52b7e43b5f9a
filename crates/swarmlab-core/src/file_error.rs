//! [`FileError`]: a file or folder of a crate's own that could not be read, written or
//! created, naming what was done and where; the I/O error is its source. The loop's and the
//! clients' error enums wrap it as their `Io` variant.
//!
//! It decides nothing: how the message is shown with its cause is the caller's.

use std::io;
use std::path::PathBuf;

/// An I/O failure on a named path.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} {}", path.display())]
pub struct FileError {
    /// What was being done: `read`, `write`, `create`...
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl FileError {
    /// For `map_err`: the error of doing `action` on `path`.
    pub fn at(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| FileError {
            action,
            path,
            source,
        }
    }
}
