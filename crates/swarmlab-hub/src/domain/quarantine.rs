//! [`Quarantine`]: where a submission's objects wait until intake queues it, as git's
//! receive-pack keeps a push's objects apart until its hooks accept it. Git writes into a
//! temporary object folder in the hub's scratch space and reads the track's repository
//! through it; [`Quarantine::admit`] moves the objects into the repository, and dropping
//! the quarantine (refused, failed, cancelled) deletes them. What this must not do: move an
//! object a refused submission brought, or change a ref (git refuses while quarantined).

use std::path::Path;

use swarmlab_core::GitStore;

use super::config::HubConfig;
use super::error::HubError;
use super::scratch::Scratch;

/// A temporary object folder over a track's repository.
#[derive(Debug)]
pub(crate) struct Quarantine {
    objects: Scratch,
    /// The repository seen through the quarantine.
    view: GitStore,
}

impl Quarantine {
    /// An empty quarantine over `repo`.
    pub(crate) fn new(config: &HubConfig, repo: &GitStore) -> Result<Quarantine, HubError> {
        let objects = Scratch::dir(config, "quarantine")?;
        let view = repo.quarantined(objects.as_path())?;
        Ok(Quarantine { objects, view })
    }

    /// The repository as git sees it through the quarantine: new objects land here.
    pub(crate) fn repo(&self) -> &GitStore {
        &self.view
    }

    /// Moves every object into `repo`'s own store: loose objects, then packs, each pack's
    /// index last (git finds a pack by its index). The emptied folder goes with `self`.
    pub(crate) fn admit(self, repo: &GitStore) -> Result<(), HubError> {
        let target = repo.objects_dir()?;
        let entries = read_dir(self.objects.as_path())?;
        for entry in &entries {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let loose = name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if loose {
                move_all(&entry.path(), &target.join(&*name), |_| true)?;
            }
        }
        let packs = self.objects.as_path().join("pack");
        if packs.is_dir() {
            let target = target.join("pack");
            move_all(&packs, &target, |n| !n.ends_with(".idx"))?;
            move_all(&packs, &target, |n| n.ends_with(".idx"))?;
        }
        Ok(())
    }
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, HubError> {
    std::fs::read_dir(dir)
        .and_then(|entries| entries.collect::<Result<Vec<_>, _>>())
        .map_err(|e| HubError::io(format!("failed to read {}", dir.display()), e))
}

/// Moves the files of `from` whose names `pick` takes into `to`, keeping what `to` has
/// already (the same name is the same content: objects are named by their hash).
fn move_all(from: &Path, to: &Path, pick: impl Fn(&str) -> bool) -> Result<(), HubError> {
    std::fs::create_dir_all(to)
        .map_err(|e| HubError::io(format!("failed to create {}", to.display()), e))?;
    for entry in read_dir(from)? {
        let name = entry.file_name();
        let Some(text) = name.to_str() else { continue };
        // Git's own temporary files are not objects.
        if !pick(text) || text.starts_with("tmp") {
            continue;
        }
        let target = to.join(&name);
        if target.exists() {
            continue;
        }
        std::fs::rename(entry.path(), &target).map_err(|e| {
            HubError::io(format!("failed to move an object to {}", to.display()), e)
        })?;
    }
    Ok(())
}
