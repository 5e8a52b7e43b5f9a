//! Scratch space: fresh paths under the data directory for bundles, trees and quarantines
//! in flight. Each is a [`Scratch`], removed when it is dropped, so that neither an error
//! nor a cancelled request leaves a file behind; what a killed hub left is swept at start
//! and, once old, by the periodic sweep. So are the temporaries git leaves in a track's
//! repository when it is killed or runs out of disk mid-write: half-written objects and
//! packs (`tmp_*`) and the lock files that would refuse every later update of a ref.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::config::HubConfig;
use super::error::HubError;
use super::hub::random_bytes;

/// A file or folder in the hub's scratch folder, removed on drop.
#[derive(Debug)]
pub(crate) struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// A fresh path named after `what` (nothing is created there).
    pub(crate) fn path(config: &HubConfig, what: &str) -> Result<Scratch, HubError> {
        let dir = config.scratch_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| HubError::io(format!("failed to create {}", dir.display()), e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| HubError::io(format!("failed to resolve {}", dir.display()), e))?;
        let path = dir.join(format!("{what}-{}", hex::encode(random_bytes::<8>()?)));
        Ok(Scratch { path })
    }

    /// A fresh, empty folder named after `what`.
    pub(crate) fn dir(config: &HubConfig, what: &str) -> Result<Scratch, HubError> {
        let scratch = Scratch::path(config, what)?;
        std::fs::create_dir(&scratch.path)
            .map_err(|e| HubError::io(format!("failed to create {}", scratch.path.display()), e))?;
        Ok(scratch)
    }

    pub(crate) fn as_path(&self) -> &Path {
        &self.path
    }

    /// The path as the `&str` git's arguments need.
    pub(crate) fn as_str(&self) -> Result<&str, HubError> {
        path_str(&self.path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        remove(&self.path);
    }
}

fn remove(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// When the periodic sweep last walked the disk, by the hub's clock. A leftover counts only
/// once it is `scratch_max_age` old, so walking the scratch folder and every track's
/// repository (every loose object's folder) on each tick of the sweep would read the same
/// entries again and again for nothing: a walk every quarter of that age is enough.
#[derive(Debug, Default)]
pub(crate) struct DiskSweep {
    last_ms: Mutex<Option<i64>>,
}

impl DiskSweep {
    /// Whether a walk is due at `now_ms` when one is due every `every`; if so, it counts
    /// as taken from now.
    pub(crate) fn due(&self, now_ms: i64, every: Duration) -> bool {
        let every = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        let mut last = self.last_ms.lock().unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|at| now_ms.saturating_sub(at) >= every);
        if due {
            *last = Some(now_ms);
        }
        due
    }
}

/// Removes what lies in the scratch folder, all of it or only what is older than
/// `older_than`. Returns how many entries went.
pub(crate) fn sweep_scratch(config: &HubConfig, older_than: Option<Duration>) -> usize {
    let Ok(entries) = std::fs::read_dir(config.scratch_dir()) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut swept = 0;
    for entry in entries.flatten() {
        if older(&entry, now, older_than) {
            remove(&entry.path());
            swept += 1;
        }
    }
    swept
}

/// Removes git's temporaries from every track's repository, all of them or only those older
/// than `older_than`: files named `tmp_*` (objects and packs never renamed into place) and
/// `*.lock`. Returns how many went.
pub(crate) fn sweep_git_temporaries(config: &HubConfig, older_than: Option<Duration>) -> usize {
    let Ok(tracks) = std::fs::read_dir(config.data_dir.join("tracks")) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut swept = 0;
    let mut stack: Vec<PathBuf> = tracks.flatten().map(|t| t.path().join(".git")).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
                continue;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let temporary = name.starts_with("tmp_") || name.ends_with(".lock");
            if temporary && older(&entry, now, older_than) {
                remove(&entry.path());
                swept += 1;
            }
        }
    }
    swept
}

/// Whether `entry` was last modified longer than `age` before `now` (no age: always).
fn older(entry: &std::fs::DirEntry, now: SystemTime, age: Option<Duration>) -> bool {
    let Some(age) = age else { return true };
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|a| a > age)
}

/// A path as the `&str` git's arguments need.
pub(crate) fn path_str(path: &Path) -> Result<&str, HubError> {
    path.to_str()
        .ok_or_else(|| HubError::Internal(format!("{} is not UTF-8", path.display())))
}
