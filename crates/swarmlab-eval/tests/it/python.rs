//! Python runs that serve through the trusted module of tracks/pygpt (`swarmlab_logits.py`),
//! as a run with `serve = "run"` does once trained: a model of the wrong shape or one that
//! answers NaN gets a clear error that blames the candidate, and a run that never calls the
//! hook is the candidate's crash as soon as it ends, not at its timeout.
//!
//! The run that never calls the hook needs only the system's python3 (the module loads torch
//! when it serves); the models need PyTorch, from `SWARMLAB_TEST_PYTHON` (see
//! `swarmlab_testkit::pygpt`).

use std::path::Path;
use std::time::Duration;

use swarmlab_eval::{score_logits, EvalError, LogitsConfig, SERVE_VAR};
use swarmlab_runner::{Cancel, RunSpec};
use swarmlab_testkit::pygpt;

use swarmlab_testkit::scratch::Scratch;

const VOCAB: u32 = 16;
const CONTEXT: usize = 8;

/// A run that trains nothing and hands `model` (Python code defining `Model`) to the hook,
/// or, with `None`, never calls it.
fn script(model: Option<&str>) -> String {
    let track = pygpt::track();
    let serve = match model {
        Some(model) => format!(
            "import torch\n{model}\nswarmlab_logits.evaluate(Model(), vocab={VOCAB}, context={CONTEXT}, local=lambda: 0.0)\n"
        ),
        None => "print('trained; the summary follows, without any evaluation')\n".into(),
    };
    format!(
        "import sys\nsys.path.insert(0, {track:?})\nimport swarmlab_logits\n{serve}",
        track = track.display().to_string()
    )
}

fn run(fx: &Scratch, python: &Path, script: &str, timeout: Duration) -> RunSpec {
    std::fs::write(fx.path("train.py"), script).unwrap();
    let mut spec = RunSpec::new(
        vec![python.display().to_string(), "train.py".into()],
        fx.dir.path(),
        fx.path("run.log"),
        timeout,
    );
    spec.env = vec![(SERVE_VAR.into(), "serve".into())];
    spec.grace = Duration::from_millis(500);
    spec
}

fn config() -> LogitsConfig {
    LogitsConfig {
        vocab: VOCAB,
        context: CONTEXT,
        token_bytes: vec![1; VOCAB as usize],
        windows: None,
        batch: 8,
        probes: 2,
        tolerance: 1e-4,
        seed: 3,
        serve_within: Some(Duration::from_secs(120)),
    }
}

fn tokens() -> Vec<u32> {
    (0..20 * CONTEXT as u32 + 1)
        .map(|i| (i * 7) % VOCAB)
        .collect()
}

#[test]
fn a_run_that_never_calls_the_hook_is_the_candidates_crash_when_it_ends() {
    let fx = Scratch::new();
    let spec = run(
        &fx,
        Path::new("/usr/bin/python3"),
        &script(None),
        Duration::from_secs(600),
    );
    // It ended, and said so at once: the error is not the session's timeout.
    let err = score_logits(&spec, &tokens(), &config(), &Cancel::new()).unwrap_err();
    assert!(matches!(err, EvalError::Ended { .. }), "{err}");
    assert!(err.blames_candidate());
    assert_eq!(err.ended_before_serving(), Some("exited with code 0"));
    let message = err.to_string();
    assert!(
        message.starts_with(
            "the logits server exited with code 0 while waiting for the handshake (0 of 16 bytes read)"
        ),
        "{message}"
    );
    // What the run printed went to its log, not into the protocol.
    assert!(
        message.contains("trained; the summary follows"),
        "{message}"
    );
}

#[test]
fn a_python_model_of_the_wrong_shape_or_with_nan_is_named() {
    let Some(python) = pygpt::python() else {
        return;
    };
    let fx = Scratch::new();
    let wrong_shape = "class Model(torch.nn.Module):\n    def forward(self, idx):\n        return torch.zeros(idx.shape[0], idx.shape[1], 15)\n";
    let spec = run(
        &fx,
        &python,
        &script(Some(wrong_shape)),
        Duration::from_secs(600),
    );
    let err = score_logits(&spec, &tokens(), &config(), &Cancel::new()).unwrap_err();
    assert!(err.blames_candidate(), "{err}");
    assert_eq!(err.ended_before_serving(), None, "it said hello first");
    let message = err.to_string();
    assert!(
        message
            .starts_with("the logits server exited with code 1 while probing causality, request 1"),
        "{message}"
    );
    assert!(
        message.contains("the model answered ids of shape (6, 8) with (6, 8, 15); logits of shape (6, 8, 16) were expected"),
        "{message}"
    );

    let nan = "class Model(torch.nn.Module):\n    def forward(self, idx):\n        out = torch.zeros(idx.shape[0], idx.shape[1], 16)\n        out[0, 1, 3] = float('nan')\n        return out\n";
    let spec = run(&fx, &python, &script(Some(nan)), Duration::from_secs(600));
    let err = score_logits(&spec, &tokens(), &config(), &Cancel::new()).unwrap_err();
    assert!(
        matches!(
            err,
            EvalError::NonFinite {
                request: 1,
                row: 0,
                position: 1,
                token: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.blames_candidate());

    // The same module with an honest (uniform) model is scored: 4 bits per token.
    let uniform = "class Model(torch.nn.Module):\n    def forward(self, idx):\n        return torch.zeros(idx.shape[0], idx.shape[1], 16)\n";
    let spec = run(
        &fx,
        &python,
        &script(Some(uniform)),
        Duration::from_secs(600),
    );
    let score = score_logits(&spec, &tokens(), &config(), &Cancel::new()).unwrap();
    assert!((score.bits_per_byte - 4.0).abs() < 1e-9, "{score:?}");
}
