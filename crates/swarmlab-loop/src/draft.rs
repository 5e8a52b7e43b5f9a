//! Asking the proposer for a change in a working tree, and judging what it touched, before
//! anything runs. The same code drafts in the track itself and, when pipelining, in the
//! side worktree while an experiment runs.

use swarmlab_agent::{Context, Proposal, Proposer, DESCRIPTION_CHARS};
use swarmlab_core::usage::Usage;
use swarmlab_core::{GitStore, Record, TrackSpec};
use swarmlab_runner::Cancel;

use crate::LoopError;

/// What a proposal turned out to be.
#[derive(Debug, Clone)]
pub enum Draft {
    /// Nothing to run, and why; the tree is back at the best commit.
    Skip(String),
    /// The proposer failed (or claimed a change and made none), and why; the tree is back at
    /// the best commit.
    Failed(String),
    /// It changed paths outside `files.editable`; the tree is back at the best commit.
    Invalid {
        description: String,
        note: String,
        usage: Option<Usage>,
    },
    /// Editable paths changed and wait in the tree.
    Ready {
        description: String,
        touched: Vec<String>,
        usage: Option<Usage>,
    },
}

/// What a proposer is told, besides the tree it works in.
pub struct Request<'a> {
    pub spec: &'a TrackSpec,
    pub history: &'a [Record],
    pub index: u64,
    pub seed: u64,
    pub idea: Option<&'a str>,
    /// The commit the tree is at.
    pub best_commit: &'a str,
    pub cancel: &'a Cancel,
}

/// Asks `proposer` for a change of `tree` (checked out at `request.best_commit`).
pub fn draft(
    tree: &GitStore,
    proposer: &mut dyn Proposer,
    request: &Request<'_>,
) -> Result<Draft, LoopError> {
    let before = tree.changed_paths()?;
    let ctx = Context {
        spec: request.spec,
        worktree: tree.root(),
        best_commit: request.best_commit,
        history: request.history,
        index: request.index,
        seed: request.seed,
        idea: request.idea,
    };
    let proposal = proposer.propose(&ctx)?;
    let usage = proposer.last_usage();
    let touched: Vec<String> = tree
        .changed_paths()?
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let undo = || -> Result<(), LoopError> {
        tree.reset_hard(request.best_commit)?;
        tree.clean(&touched)?;
        Ok(())
    };
    if request.cancel.is_cancelled() {
        undo()?;
        return Ok(Draft::Skip("stopped by the user while proposing".into()));
    }
    let description = match proposal {
        Proposal::Nothing { reason } => {
            undo()?;
            return Ok(Draft::Skip(format!("no proposal: {reason}")));
        }
        Proposal::Failed { reason } => {
            undo()?;
            return Ok(Draft::Failed(reason));
        }
        Proposal::Change { description } if touched.is_empty() => {
            // An agent that gave up (aider offline exits 0) says why in its last words.
            return Ok(Draft::Failed(format!(
                "the proposal changed no file; it said: {}",
                one_line(&description)
            )));
        }
        Proposal::Change { description } => one_line(&description),
    };
    let outside: Vec<&str> = touched
        .iter()
        .map(String::as_str)
        .filter(|p| !request.spec.files.is_editable(p))
        .collect();
    if !outside.is_empty() {
        let note = format!(
            "changed paths outside files.editable: {}",
            outside.join(", ")
        );
        undo()?;
        return Ok(Draft::Invalid {
            description,
            note,
            usage,
        });
    }
    Ok(Draft::Ready {
        description,
        touched,
        usage,
    })
}

/// The first non-empty line, at most [`DESCRIPTION_CHARS`] characters.
fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.is_empty() {
        "(no description)".into()
    } else {
        line.chars().take(DESCRIPTION_CHARS).collect()
    }
}
