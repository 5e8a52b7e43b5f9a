//! [`LoopError`]: why the loop stopped with an error rather than a [`crate::Stop`]. A failed
//! experiment is not an error (it is a record with its status); these are failures of the
//! loop itself, of git, of the results log, or of the repository's state.
//!
//! A variant that wraps another crate's error shows that error's message and keeps it as its
//! source, so that a caller walking the chain still finds it (the binary maps `GitError` and
//! `SpecError` to exit codes that way). It must not decide exit codes itself.

use std::error::Error;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use swarmlab_agent::ProposeError;
use swarmlab_core::{FileError, GitError, ResultsError, Status};
use swarmlab_runner::{Ending, RunError};

/// A failure of the loop.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// The repository is in a state swarmlab refuses to work in (uncommitted work, a branch
    /// moved outside swarmlab); the message says how to fix it.
    #[error("{0}")]
    RepositoryState(String),
    /// The tag cannot be part of the branch name `swarmlab/<tag>`.
    #[error("`{0}` cannot be part of a branch name; choose a tag like `nov27` or `wide-models`")]
    Tag(String),
    #[error("the repository has no commit yet; commit the track first")]
    NoCommit,
    /// A run to compare has no results in the track's log; `tags` lists those that have.
    #[error("no results of branch swarmlab/{tag} in {}; the tags with results: {tags}", dir.display())]
    NoResults {
        tag: String,
        dir: PathBuf,
        tags: String,
    },
    #[error("{0}")]
    Git(#[from] GitError),
    #[error("{0}")]
    Results(#[from] ResultsError),
    /// The runner could not start or supervise a run (a failing run is a record, not this).
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Propose(#[from] ProposeError),
    /// Proposals in a row came to nothing to run and some of them failed (the agent could not
    /// start, exited non-zero, timed out or could not reach its model; a change that touched
    /// no file).
    #[error(
        "{}: {failed} of the last {in_a_row} proposals failed; the last failure: {last}",
        if *experiments == 0 {
            "no proposal succeeded".to_string()
        } else {
            format!("the proposer stopped working after {experiments} experiments")
        }
    )]
    ProposerFailing {
        failed: u32,
        in_a_row: u32,
        /// Experiments run in this session before the failures (the baseline not counted).
        experiments: u64,
        last: String,
    },
    #[error("the proposer panicked while drafting experiment {0}")]
    ProposerPanicked(u64),
    #[error("setup interrupted")]
    SetupInterrupted,
    #[error(
        "setup `{command}` failed ({ending:?}) after {:.1}s; log {}:\n{tail}",
        wall.as_secs_f64(),
        log.display()
    )]
    SetupFailed {
        command: String,
        ending: Ending,
        wall: Duration,
        log: PathBuf,
        /// The end of the setup's log.
        tail: String,
    },
    #[error("the baseline failed ({status}); the loop needs a working baseline. See {}", log.display())]
    BaselineFailed { status: Status, log: PathBuf },
    /// A file or folder of the loop's own (results, journal, run folders, report files).
    #[error(transparent)]
    Io(#[from] FileError),
}

impl LoopError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> LoopError {
        let at = FileError::at(action, path);
        move |source| LoopError::Io(at(source))
    }
}

/// An error and its causes on one line, `message: cause: cause`, each cause once: a wrapper
/// that shows its cause's message is not repeated.
pub fn one_line(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let message = next.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_names_each_cause_once() {
        let io = io::Error::new(io::ErrorKind::NotFound, "no such file");
        let error = LoopError::io("read", "/x/results.jsonl")(io);
        assert_eq!(
            one_line(&error),
            "failed to read /x/results.jsonl: no such file"
        );
        let git = LoopError::Git(GitError::NotARepository("/x".into()));
        assert_eq!(one_line(&git), git.to_string());
    }
}
