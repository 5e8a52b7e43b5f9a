//! The [`Proposer`] interface and what it is handed.

use std::path::Path;

use swarmlab_core::{Record, TrackSpec};

use crate::Usage;

/// Everything a proposer may look at to produce the next change.
pub struct Context<'a> {
    pub spec: &'a TrackSpec,
    /// A checkout of the current best commit; the proposer edits files here.
    pub worktree: &'a Path,
    /// Full id of the current best commit.
    pub best_commit: &'a str,
    /// Every experiment of this branch so far, baseline first.
    pub history: &'a [Record],
    /// The number the coming experiment will have.
    pub index: u64,
    /// The run's seed; with `index` it makes every proposal reproducible.
    pub seed: u64,
    /// An idea to try, when one was given.
    pub idea: Option<&'a str>,
}

/// The most characters of a description the loop records: it keeps the first line of a
/// [`Proposal::Change`]'s description, cut to this length.
pub const DESCRIPTION_CHARS: usize = 200;

/// The result of asking for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposal {
    /// Files in the worktree were edited; `description` says how, in one line.
    Change { description: String },
    /// No change this time, and why: the proposer has nothing (more) to propose.
    Nothing { reason: String },
    /// The proposer tried and failed (the agent exited non-zero, timed out or could not reach
    /// its model; the model's edits did not apply), and why. Anything it changed is reverted;
    /// failures in a row stop the loop with an error.
    Failed { reason: String },
}

/// Why a proposer failed outright (as opposed to having nothing to propose).
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Unusable(String),
}

/// Produces the next change of a track.
pub trait Proposer: Send {
    /// A short name recorded with every experiment (`sweep`, `script`, ...).
    fn name(&self) -> &str;

    /// Edits files in `ctx.worktree` (only `files.editable` ones count) and describes it.
    fn propose(&mut self, ctx: &Context<'_>) -> Result<Proposal, ProposeError>;

    /// What the last [`Proposer::propose`] cost in model tokens, for proposers that call a
    /// model API and know it; `None` for the others.
    fn last_usage(&self) -> Option<Usage> {
        None
    }
}
