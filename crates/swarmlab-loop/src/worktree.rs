//! Pipelining: while experiment k runs in the track, the proposer drafts k+1 in a side
//! worktree (`.swarmlab/worktrees/<tag>`) checked out at the best commit known then. The
//! draft is committed there, detached, and later brought into the track with a 3-way
//! cherry-pick: cleanly when k was discarded, rebased onto k when k was kept, or dropped (and
//! re-proposed) when it conflicts. The device never waits for the agent unless it must.

use std::path::PathBuf;

use swarmlab_agent::Proposer;
use swarmlab_core::short;
use swarmlab_core::usage::Usage;
use swarmlab_core::GitStore;

use crate::draft::{draft, Draft, Request};
use crate::LoopError;

/// A draft prepared in the side worktree.
pub struct Prepared {
    /// The best commit it was drafted from.
    pub base: String,
    pub outcome: Outcome,
}

/// What the side worktree produced.
pub enum Outcome {
    /// A skip or an invalid proposal: final whatever happens to the experiment in flight.
    Final(Draft),
    /// A change, committed detached in the worktree.
    Change {
        description: String,
        commit: String,
        usage: Option<Usage>,
    },
}

/// The side worktree of one tag.
pub struct Worktree {
    git: GitStore,
}

impl Worktree {
    /// Opens (or creates) the side worktree of `tag` under the track's `state_dir` (relative
    /// to its root), detached at `at`.
    pub fn open(
        main: &GitStore,
        state_dir: &str,
        tag: &str,
        at: &str,
    ) -> Result<Worktree, LoopError> {
        let path: PathBuf = main.root().join(state_dir).join("worktrees").join(tag);
        main.run(&["worktree", "prune"])?;
        if GitStore::open(&path).is_err() {
            if path.exists() {
                std::fs::remove_dir_all(&path).map_err(LoopError::io("clear", &path))?;
            }
            let shown = path.display().to_string();
            main.run(&[
                "worktree", "add", "--quiet", "--detach", "--force", &shown, at,
            ])?;
        }
        Ok(Worktree {
            git: GitStore::open(&path)?,
        })
    }

    /// Resets the worktree to `request.best_commit`, asks for a change there and commits it.
    pub fn prepare(
        &self,
        proposer: &mut dyn Proposer,
        request: &Request<'_>,
    ) -> Result<Prepared, LoopError> {
        self.git.reset_hard(request.best_commit)?;
        self.git.run(&["clean", "--quiet", "-d", "--force"])?;
        let outcome = match draft(&self.git, proposer, request)? {
            Draft::Ready {
                description,
                touched,
                usage,
            } => Outcome::Change {
                commit: self.git.commit_paths(&touched, &description)?,
                description,
                usage,
            },
            other => Outcome::Final(other),
        };
        Ok(Prepared {
            base: request.best_commit.to_string(),
            outcome,
        })
    }
}

/// Brings a prepared draft into the track at `best`. `None` when it no longer applies (the
/// experiment in flight was kept and touched the same lines): the caller re-proposes.
pub fn adopt(track: &GitStore, prepared: Prepared, best: &str) -> Result<Option<Draft>, LoopError> {
    let (description, commit, usage) = match prepared.outcome {
        Outcome::Final(draft) => return Ok(Some(draft)),
        Outcome::Change {
            description,
            commit,
            usage,
        } => (description, commit, usage),
    };
    let before = track.changed_paths()?;
    if track
        .run(&["cherry-pick", "--no-commit", "--strategy=ort", &commit])
        .is_err()
    {
        track.run(&["reset", "--quiet", "--hard", best])?;
        let after: Vec<String> = track
            .changed_paths()?
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        track.clean(&after)?;
        return Ok(None);
    }
    let touched: Vec<String> = track
        .changed_paths()?
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    if touched.is_empty() {
        return Ok(Some(Draft::Skip(format!(
            "the draft made from {} changes nothing on {}",
            short(&prepared.base),
            short(best)
        ))));
    }
    Ok(Some(Draft::Ready {
        description,
        touched,
        usage,
    }))
}
