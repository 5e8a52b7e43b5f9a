//! Exit codes, documented in `swarmlab --help` and the README:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure (an error message says which) |
//! | 2 | wrong usage of the command line (clap's own errors, a bad `--tag`, a track folder that does not exist, a contest's missing or same-named program files) |
//! | 3 | the track spec (`swarmlab.toml`) is missing or invalid (or names no program for a contest) |
//! | 4 | the repository is not in a state swarmlab may work in (dirty tree, not a repository) |
//! | 5 | the proposer cannot work: the agent is missing or its flags disagree with its `--help`, the model API refuses, or proposals in a row failed (none ran) |
//! | 130 | stopped by Ctrl-C or SIGTERM after cleaning up |
//!
//! The library crates return their own error enums (`LoopError`, `ClientError`, ...); a variant
//! that wraps another crate's error keeps it as its source, so the cause that decides the code
//! is found anywhere in the chain. This is the one place that decides codes.

use swarmlab_agent::{PresetError, ProposeError};
use swarmlab_core::{GitError, SpecError};
use swarmlab_loop::{ContestError, LoopError, Stop};

pub const FAILURE: i32 = 1;
/// The code clap exits with for its own usage errors; ours match it.
pub const USAGE: i32 = 2;
pub const INVALID_TRACK: i32 = 3;
pub const REPOSITORY_STATE: i32 = 4;
pub const PROPOSER: i32 = 5;
pub const INTERRUPTED: i32 = 130;

/// The code of a command that stopped as `stop` says: [`INTERRUPTED`] or success.
pub fn of_stop(stop: Stop) -> i32 {
    match stop {
        Stop::Interrupted => INTERRUPTED,
        _ => 0,
    }
}

/// The exit code an error maps to.
pub fn code_of(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        match cause.downcast_ref::<ContestError>() {
            Some(ContestError::Input(_) | ContestError::ProgramFile { .. }) => return USAGE,
            Some(ContestError::NoProgram { .. }) => return INVALID_TRACK,
            _ => {}
        }
        if let Some(spec) = cause.downcast_ref::<SpecError>() {
            return match spec {
                SpecError::NoFolder { .. } => USAGE,
                _ => INVALID_TRACK,
            };
        }
        if let Some(LoopError::Tag(_)) = cause.downcast_ref::<LoopError>() {
            return USAGE;
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
        if cause.downcast_ref::<ProposeError>().is_some()
            || cause.downcast_ref::<PresetError>().is_some()
            || cause
                .downcast_ref::<LoopError>()
                .is_some_and(|e| matches!(e, LoopError::ProposerFailing { .. }))
        {
            return PROPOSER;
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

#[cfg(test)]
mod tests {
    use swarmlab_client::ClientError;

    use super::*;

    fn spec_error() -> SpecError {
        let text = "[run]\ncommand = [\"sh\"]\nbugdet = 3\n";
        let start = text.find("bugdet").unwrap();
        SpecError::Invalid {
            path: "swarmlab.toml".into(),
            place: Some(swarmlab_core::spec::Place::of(text, start..start + 6)),
            message: "unknown key".into(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn the_library_errors_map_to_the_documented_codes_however_deep() {
        let dirty = LoopError::RepositoryState("uncommitted changes".into());
        assert_eq!(code_of(&dirty.into()), REPOSITORY_STATE);
        let worker = ClientError::Loop(LoopError::RepositoryState("moved".into()));
        assert_eq!(code_of(&worker.into()), REPOSITORY_STATE);
        let missing = ClientError::Loop(LoopError::Git(GitError::NotARepository("/x".into())));
        assert_eq!(code_of(&missing.into()), REPOSITORY_STATE);
        assert_eq!(
            code_of(&ClientError::Spec(spec_error()).into()),
            INVALID_TRACK
        );
        assert_eq!(code_of(&LoopError::NoCommit.into()), FAILURE);
        let failing = LoopError::ProposerFailing {
            failed: 5,
            in_a_row: 5,
            experiments: 0,
            last: "the agent exited with code 1".into(),
        };
        assert_eq!(code_of(&ClientError::Loop(failing).into()), PROPOSER);
        let missing = ProposeError::Unusable("agent `claude` not found on PATH".into());
        assert_eq!(code_of(&LoopError::Propose(missing).into()), PROPOSER);
        let absent = PresetError::NotFound {
            program: "gemini".into(),
        };
        assert_eq!(code_of(&absent.into()), PROPOSER);
        assert_eq!(code_of(&LoopError::Tag("a b".into()).into()), USAGE);
        let missing = SpecError::NoFolder { dir: "/x".into() };
        assert_eq!(code_of(&ClientError::Spec(missing).into()), USAGE);
        let no_spec = SpecError::NoSpec { dir: "/x".into() };
        assert_eq!(code_of(&no_spec.into()), INVALID_TRACK);
        assert_eq!(code_of(&ClientError::NoToken.into()), FAILURE);
        assert_eq!(code_of(&ContestError::Input("x".into()).into()), USAGE);
        let none = ContestError::NoProgram { dir: "/x".into() };
        assert_eq!(code_of(&none.into()), INVALID_TRACK);
        let dirty = ContestError::Loop(LoopError::RepositoryState("dirty".into()));
        assert_eq!(code_of(&dirty.into()), REPOSITORY_STATE);
    }

    #[test]
    fn a_wrapper_that_shows_its_cause_is_rendered_once() {
        let error: anyhow::Error = ClientError::Spec(spec_error()).into();
        assert_eq!(
            render(&error),
            "swarmlab.toml at line 3: unknown key\n  |\n3 | bugdet = 3\n  | ^^^^^^"
        );
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error: anyhow::Error = ClientError::Start {
            name: "worker-1".into(),
            source: io,
        }
        .into();
        assert_eq!(
            render(&error),
            "failed to start worker-1\n  caused by: no such file"
        );
    }
}
