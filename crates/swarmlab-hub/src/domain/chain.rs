//! The verified chain of a track: bundles of its head for workers, and the rebase of a
//! winner whose parent is no longer the head. The head itself moves only in the store, by
//! compare-and-swap on the parent in one transaction; a winner that lost the race is never
//! merged blindly: it is rebased here (a 3-way merge in the track's repository, no work
//! tree) and verified again against the new head.

use swarmlab_core::GitStore;

use super::config::HubConfig;
use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::{blocking, Hub};
use super::intake_reason::IntakeReason;
use super::scratch::Scratch;
use super::track::{commit_ref, CHAIN_REF};

/// Replays `commit` (a child of `old_parent`) onto `onto` and keeps the result reachable.
/// `None` when the change conflicts.
pub fn rebase(
    repo: &GitStore,
    commit: &str,
    old_parent: &str,
    onto: &str,
) -> Result<Option<String>, HubError> {
    let rebased = replay(repo, commit, old_parent, onto)?;
    if let Some(commit) = &rebased {
        keep(repo, commit)?;
    }
    Ok(rebased)
}

/// [`rebase`] without keeping the result: what a quarantined `repo`, which cannot change
/// a ref, can do. The caller keeps it ([`keep`]) once it is wanted.
pub fn replay(
    repo: &GitStore,
    commit: &str,
    old_parent: &str,
    onto: &str,
) -> Result<Option<String>, HubError> {
    let Ok(out) = repo.run(&[
        "merge-tree",
        "--write-tree",
        "--merge-base",
        old_parent,
        onto,
        commit,
    ]) else {
        return Ok(None);
    };
    let tree = out.lines().next().unwrap_or_default().trim().to_string();
    let message = repo.run(&["log", "-1", "--format=%B", commit])?;
    let rebased = repo
        .run(&["commit-tree", &tree, "-p", onto, "-m", message.trim_end()])?
        .trim()
        .to_string();
    Ok(Some(rebased))
}

/// Keeps `commit` reachable in the track's repository (never served to workers while
/// pending).
pub fn keep(repo: &GitStore, commit: &str) -> Result<(), HubError> {
    Ok(repo.keep_ref(&commit_ref(commit), commit)?)
}

/// A git bundle of `refname` and its history.
pub fn bundle(repo: &GitStore, refname: &str, config: &HubConfig) -> Result<Vec<u8>, HubError> {
    let path = Scratch::path(config, "out")?;
    repo.run(&["bundle", "create", "--quiet", path.as_str()?, refname])?;
    std::fs::read(path.as_path()).map_err(|e| HubError::io("failed to read a bundle it made", e))
}

impl Hub {
    /// A bundle of a track's verified head, for workers to sync from.
    /// The head is the store's: the chain ref follows it here, so that a head moved by a
    /// verdict (one database transaction) is what workers get.
    pub async fn head_bundle(&self, track: &str) -> Result<Vec<u8>, HubError> {
        let head = self.track(track).await?.head;
        let repo = self.repo(track)?;
        let config = self.config.clone();
        blocking(move || {
            repo.run(&["update-ref", CHAIN_REF, &head])?;
            bundle(&repo, CHAIN_REF, &config)
        })
        .await
    }

    /// Rebases every winner that lost the race for the head onto the current head and queues
    /// it for verification again; a conflicting one is rejected as at intake
    /// ([`IntakeReason::RebaseConflict`]).
    pub async fn reverify_pending(&self) -> Result<usize, HubError> {
        let pending = self.store.reverify_pending().await?;
        for sub in &pending {
            let track = self.track(&sub.track).await?;
            let (Some(candidate), Some(base)) = (sub.candidate.clone(), sub.base.clone()) else {
                continue;
            };
            let repo = self.repo(&sub.track)?;
            let head = track.head.clone();
            let rebased = blocking(move || rebase(&repo, &candidate, &base, &head)).await?;
            match rebased {
                Some(c) => {
                    self.store
                        .requeue(sub.id, &c, &track.head, self.now())
                        .await?
                }
                None => {
                    self.store
                        .reject_submission(sub.id, IntakeReason::RebaseConflict, self.now())
                        .await?
                }
            }
            self.publish(HubEvent::new(EventKind::Submission, &sub.track).about(sub.id));
        }
        Ok(pending.len())
    }
}
