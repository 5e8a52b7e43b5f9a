//! Scratch space: fresh paths under the data directory for bundles and trees in flight,
//! removed by whoever made them once git is done with them.

use std::path::{Path, PathBuf};

use super::config::HubConfig;
use super::error::HubError;
use super::hub::random_bytes;

/// A fresh path in the hub's scratch folder.
pub(crate) fn scratch_path(config: &HubConfig, what: &str) -> Result<PathBuf, HubError> {
    let dir = config.scratch_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| HubError::io(format!("failed to create {}", dir.display()), e))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| HubError::io(format!("failed to resolve {}", dir.display()), e))?;
    Ok(dir.join(format!("{what}-{}", hex::encode(random_bytes::<8>()?))))
}

/// A path as the `&str` git's arguments need.
pub(crate) fn path_str(path: &Path) -> Result<&str, HubError> {
    path.to_str()
        .ok_or_else(|| HubError::Internal(format!("{} is not UTF-8", path.display())))
}
