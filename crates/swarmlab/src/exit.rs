//! Exit codes, documented in `swarmlab --help` and the README:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure (an error message says which) |
//! | 2 | wrong usage of the command line |
//! | 3 | the track spec (`swarmlab.toml`) is invalid |
//! | 4 | the repository is not in a state swarmlab may work in (dirty tree, not a repository) |
//! | 130 | stopped by Ctrl-C or SIGTERM after cleaning up |
//!
//! The library crates return their own error enums (`LoopError`, `ClientError`, ...); a variant
//! that wraps another crate's error keeps it as its source, so the cause that decides the code
//! is found anywhere in the chain. This is the one place that decides codes.

use swarmlab_core::{GitError, SpecError};
use swarmlab_loop::LoopError;

pub const FAILURE: i32 = 1;
pub const INVALID_TRACK: i32 = 3;
pub const REPOSITORY_STATE: i32 = 4;
pub const INTERRUPTED: i32 = 130;

/// The exit code an error maps to.
pub fn code_of(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        if cause.downcast_ref::<SpecError>().is_some() {
            return INVALID_TRACK;
        }
        if cause
            .downcast_ref::<LoopError>()
            .is_some_and(|e| matches!(e, LoopError::RepositoryState(_)))
            || cause.downcast_ref::<GitError>().is_some_and(|e| {
                matches!(
                    e,
                    GitError::NotARepository(_) | GitError::UnsafeAttributes { .. }
                )
            })
        {
            return REPOSITORY_STATE;
        }
    }
    FAILURE
}

/// The message of an error and its causes, on one line each; a cause whose message is already
/// shown (a wrapper that repeats it) is not repeated.
pub fn render(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
    }
    text
}
