//! Pipelining: while experiment k runs in the track, the proposer drafts k+1 in a side
//! worktree (`.swarmlab/worktrees/<tag>`) checked out at the best commit known then. The
//! draft is committed there, detached, and later brought into the track with a 3-way
//! cherry-pick: cleanly when k was discarded, rebased onto k when k was kept, or dropped (and
//! re-proposed) when it conflicts. The device never waits for the agent unless it must.
//!
//! A parallel run (`session/parallel.rs`) keeps one such worktree per slot and brings a
//! result onto a best that moved on with [`merge_onto`].

use std::path::{Path, PathBuf};

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
        Worktree::open_at(main, &path, at)
    }

    /// Opens (or creates) a worktree of `main` at `path`, detached at `at` when created.
    pub fn open_at(main: &GitStore, path: &Path, at: &str) -> Result<Worktree, LoopError> {
        main.run(&["worktree", "prune"])?;
        if GitStore::open(path).is_err() {
            if path.exists() {
                std::fs::remove_dir_all(path).map_err(LoopError::io("clear", path))?;
            }
            let shown = path.display().to_string();
            main.run(&[
                "worktree", "add", "--quiet", "--detach", "--force", &shown, at,
            ])?;
        }
        Ok(Worktree {
            git: GitStore::open(path)?,
        })
    }

    /// The worktree's own git.
    pub fn git(&self) -> &GitStore {
        &self.git
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

/// What became of a change brought onto a best other than the one it was drafted from.
pub enum Merged {
    /// git's 3-way merge applied cleanly: this commit, on the best.
    Clean(String),
    /// The merge conflicted; this commit resolves every conflict toward the change.
    Conflicted(String),
    /// The change adds nothing to the best (the best already holds it).
    Empty,
    /// Not even a merge that favours the change applies (a file deleted on one side).
    Impossible,
}

/// Brings `change` (a commit drafted from an older best) onto `best` in `tree`, as one new
/// detached commit with `message`: git's 3-way merge, and when that conflicts, the same merge
/// with every conflicting hunk taken from the change. The caller owns `tree` meanwhile.
pub fn merge_onto(
    tree: &GitStore,
    change: &str,
    best: &str,
    message: &str,
) -> Result<Merged, LoopError> {
    let reset = || -> Result<(), LoopError> {
        tree.reset_hard(best)?;
        tree.run(&["clean", "--quiet", "-d", "--force"])?;
        Ok(())
    };
    reset()?;
    let pick = |favour: &[&str]| {
        let mut args = vec!["cherry-pick", "--no-commit", "--strategy=ort"];
        args.extend_from_slice(favour);
        args.push(change);
        tree.run(&args).is_ok()
    };
    let clean = pick(&[]);
    if !clean {
        reset()?;
        if !pick(&["-X", "theirs"]) {
            reset()?;
            return Ok(Merged::Impossible);
        }
    }
    let touched = tree.changed_paths()?;
    if touched.is_empty() {
        reset()?;
        return Ok(Merged::Empty);
    }
    let merged = tree.commit_paths(&touched, message)?;
    Ok(if clean {
        Merged::Clean(merged)
    } else {
        Merged::Conflicted(merged)
    })
}
