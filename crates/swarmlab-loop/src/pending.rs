//! The journal of the experiment in flight: written before a proposal touches the tree,
//! removed once its record is logged. Finding it at start means swarmlab died mid-experiment.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::LoopError;

/// What the next start needs to undo an unfinished experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub index: u64,
    /// The best commit the experiment started from.
    pub parent: String,
    pub started_at: String,
    /// The value of `SWARMLAB_EXPERIMENT` in the experiment's environment, by which
    /// processes it left behind are found.
    #[serde(default)]
    pub marker: String,
}

impl Pending {
    pub fn path(root: &Path, tag: &str) -> PathBuf {
        root.join(".swarmlab").join(format!("pending-{tag}.json"))
    }

    /// Reads the journal; a torn or unreadable one still says an experiment was in flight.
    pub fn read(path: &Path) -> Option<Result<Pending, String>> {
        let text = std::fs::read_to_string(path).ok()?;
        Some(serde_json::from_str(&text).map_err(|e| e.to_string()))
    }

    pub fn write(&self, path: &Path) -> Result<(), LoopError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(LoopError::io("create", parent))?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string(self).expect("pending always serializes");
        std::fs::write(&tmp, text).map_err(LoopError::io("write", &tmp))?;
        std::fs::rename(&tmp, path).map_err(LoopError::io("write", path))
    }

    pub fn clear(path: &Path) -> Result<(), LoopError> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LoopError::io("remove", path)(e)),
        }
    }
}
