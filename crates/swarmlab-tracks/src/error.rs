//! What writing or importing a track can fail with.

use std::path::PathBuf;

use swarmlab_core::{FileError, SpecError};
use swarmlab_loop::LoopError;

#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{} is not empty; swarmlab init writes a track into a new or empty folder", .0.display())]
    NotEmpty(PathBuf),
    #[error("{} already exists; swarmlab init never overwrites it", .0.display())]
    Exists(PathBuf),
    /// What the import refuses to patch, and what to do.
    #[error("{0}")]
    Refused(String),
    /// The repository's state, as the loop reports it; kept as the source, so that its exit
    /// code is the loop's.
    #[error("{0}")]
    Loop(#[from] LoopError),
    /// The spec written does not validate (everything written is undone); kept as the source.
    #[error("{0}")]
    Spec(#[from] SpecError),
}

impl From<swarmlab_core::GitError> for TrackError {
    fn from(e: swarmlab_core::GitError) -> Self {
        TrackError::Loop(e.into())
    }
}
