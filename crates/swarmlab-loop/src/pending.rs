//! The journal of the experiment in flight: written before a proposal touches the tree,
//! removed once its record is logged. Finding it at start means swarmlab died mid-experiment.
//! A sequential session keeps one (`.swarmlab/pending-<tag>.json`); a parallel one keeps one
//! per experiment in flight (`.swarmlab/slots/<tag>/pending-<index>.json`), and a start
//! repairs them all, however many slots the session that wrote them had.

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
    /// The slot of a parallel session that ran it, and that slot's device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

impl Pending {
    pub fn path(root: &Path, tag: &str) -> PathBuf {
        root.join(".swarmlab").join(format!("pending-{tag}.json"))
    }

    /// The journal of experiment `index` of a parallel session.
    pub fn parallel_path(root: &Path, tag: &str, index: u64) -> PathBuf {
        slots_dir(root, tag).join(format!("pending-{index}.json"))
    }

    /// Every journal of `tag` left on disk: the sequential one, then a parallel session's in
    /// the order of their experiments.
    pub fn all(root: &Path, tag: &str) -> Vec<(PathBuf, Result<Pending, String>)> {
        let mut paths = vec![Pending::path(root, tag)];
        let mut slots: Vec<(u64, PathBuf)> = std::fs::read_dir(slots_dir(root, tag))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let index = name.strip_prefix("pending-")?.strip_suffix(".json")?;
                Some((index.parse().ok()?, entry.path()))
            })
            .collect();
        slots.sort();
        paths.extend(slots.into_iter().map(|(_, path)| path));
        paths
            .into_iter()
            .filter_map(|path| Some((path.clone(), Pending::read(&path)?)))
            .collect()
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

/// Where a parallel session of `tag` keeps its slots' worktrees and journals.
pub fn slots_dir(root: &Path, tag: &str) -> PathBuf {
    root.join(".swarmlab").join("slots").join(tag)
}
