//! The verifier's evaluation modes (docs/eval.md): the building blocks that compute a
//! candidate's metric without believing what the candidate prints.
//!
//! - `command`: [`stage_artifact`] copies what the training run wrote out of its run
//!   directory (no symlinks, no special files, capped), and [`evaluate_command`] runs the
//!   trusted evaluator on it, sandboxed as the caller says; the metric is read from the
//!   evaluator's output only.
//! - `logits`: [`check_artifact`] checks the checkpoint the server will read in place;
//!   [`collect_stdout`], [`decode_tokens`] and [`holdout_tokens`] get the validation tokens
//!   from a trusted generator, a file or a pool of held-out files; [`score_logits`] serves
//!   the candidate's model (a server of its own, or its training run once trained, which
//!   finds [`SERVE_VAR`] in its environment), runs the
//!   causality probe, scores every window with the verifier's own log-softmax and byte table,
//!   and checks that repeated windows get the same answers.
//!
//! Programs run through `swarmlab-runner` ([`swarmlab_runner::run`] and
//! [`swarmlab_runner::Piped`]), never spawned here. This crate must not know about tracks,
//! the hub or the local loop: it depends on the runner alone, and the caller maps the
//! spec's `[eval]` onto these plain values.

mod command;
mod data;
mod logits;
mod plan;
mod rng;
mod score;
mod wire;

use std::io;
use std::time::Duration;

pub use command::{check_artifact, evaluate_command, stage_artifact, CommandOutput, ARTIFACT_VAR};
pub use data::{collect_stdout, decode_tokens, holdout_tokens};
pub use logits::{score_logits, LogitsConfig, LogitsScore};

use swarmlab_runner::RunError;

/// In the environment of a training run that serves logits once trained, with the value
/// `serve`: its trusted evaluation hook then answers the verifier on stdin/stdout instead of
/// evaluating locally (docs/eval.md).
pub const SERVE_VAR: &str = "SWARMLAB_LOGITS";

/// Why an evaluation gave no metric.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The runner could not start or supervise a program.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The caller's configuration cannot work.
    #[error("invalid evaluation settings: {0}")]
    Config(String),
    /// The validation data is unusable (the trusted side's problem).
    #[error("validation data: {0}")]
    Data(String),
    /// The verifier's own I/O failed.
    #[error("failed {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The run was cancelled by the caller.
    #[error("the evaluation was stopped")]
    Interrupted,
    /// The artifact the training run should have left is missing or unfit.
    #[error("artifact: {0}")]
    Artifact(String),
    /// The server did not speak the protocol.
    #[error("the logits server broke the protocol: {0}")]
    Protocol(String),
    /// A server that trains first (the run itself) was not serving by the end of its time
    /// budget and allowance: it overran its budget.
    #[error("the run was not serving logits within {limit:?} of its start (its time budget and the allowance): its training overran the budget")]
    Overran {
        /// The budget and the allowance.
        limit: Duration,
    },
    /// The server's time ran out.
    #[error("the logits server timed out while {during} (limit {after:?})")]
    Timeout {
        /// What the verifier was waiting for.
        during: String,
        /// The session's limit.
        after: Duration,
    },
    /// The server ended before it answered.
    #[error("the logits server {ending} while {during}; its log ends with:\n{log}")]
    Ended {
        /// What the verifier was waiting for.
        during: String,
        /// How it ended.
        ending: String,
        /// The tail of its stderr.
        log: String,
    },
    /// A logit was NaN or infinite.
    #[error("the logits server sent {value} in request {request}, row {row}, position {position}, token {token}; logits must be finite")]
    NonFinite {
        /// 1-based.
        request: usize,
        /// 0-based within the request.
        row: usize,
        position: usize,
        token: usize,
        value: f32,
    },
    /// Changing tokens after `split` changed the answer at an earlier position.
    #[error("causality probe failed: in window {window}, changing the tokens from position {split} on changed the prediction at position {position} by {change:.3e} (tolerance {tolerance:e}); the model reads tokens after the one it predicts")]
    NotCausal {
        window: usize,
        split: usize,
        position: usize,
        change: f64,
        tolerance: f64,
    },
    /// The same window got different answers at different times.
    #[error("window {window} was answered differently when sent again (position {position}, change {change:.3e}, tolerance {tolerance:e}); the model keeps state between calls or reads the other rows of a request")]
    Stateful {
        window: usize,
        position: usize,
        change: f64,
        tolerance: f64,
    },
}

impl EvalError {
    /// How the server ended when it ended before it said hello (for a run that serves once
    /// trained: its training never handed its model to the hook), e.g. "exited with code 0".
    pub fn ended_before_serving(&self) -> Option<&str> {
        match self {
            EvalError::Ended { during, ending, .. }
                if during.starts_with(logits::WAITING_FOR_THE_HANDSHAKE) =>
            {
                Some(ending)
            }
            _ => None,
        }
    }

    /// Whether the candidate caused it (reject the candidate) rather than the verifier or
    /// the track's trusted side (retry, or fix the track).
    pub fn blames_candidate(&self) -> bool {
        matches!(
            self,
            EvalError::Artifact(_)
                | EvalError::Protocol(_)
                | EvalError::Timeout { .. }
                | EvalError::Overran { .. }
                | EvalError::Ended { .. }
                | EvalError::NonFinite { .. }
                | EvalError::NotCausal { .. }
                | EvalError::Stateful { .. }
        )
    }
}
