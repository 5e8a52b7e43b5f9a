//! How a verifier gets one number for one run of one side, by the track's `[eval]` mode
//! (docs/eval.md): `stdout` reads what the program printed (only for tracks that opted in as
//! insecure), `command` runs the baseline's evaluator in a second sandbox on the artifact the
//! training run left, `logits` serves the candidate's model (from a server started after the
//! training run, or from the training run itself once trained, timed against its budget) and
//! scores it on the verifier's own tokens after the causality probe.
//!
//! The one place that says whose fault a failure is: the candidate's (its run crashed, timed
//! out, wrote no artifact, broke the protocol) or the verifier's (anything on our side).

use std::path::{Path, PathBuf};

use swarmlab_core::metric;
use swarmlab_core::spec::{DataSource, EvalMode, LogitsEval, Serve};
use swarmlab_core::{Status, TrackSpec};
use swarmlab_eval::{
    check_artifact, collect_stdout, decode_tokens, evaluate_command, holdout_tokens, score_logits,
    stage_artifact, EvalError, LogitsConfig, SERVE_VAR,
};
use swarmlab_loop::{measure, one_line, run_spec};
use swarmlab_runner::{Cancel, Ending, Exit, RunSpec, SandboxConfig};

/// The largest artifact a training run may leave (a checkpoint).
const MAX_ARTIFACT_BYTES: u64 = 4 << 30;
/// The most validation data a generator may write.
const MAX_DATA_BYTES: usize = 256 << 20;

/// What one run gave.
pub enum Scored {
    Metric(f64),
    /// The candidate's fault when it ran the candidate: `crash` or `timeout`, and a short
    /// reason (never log contents: the reason goes into the public ledger).
    Failed {
        timeout: bool,
        why: String,
    },
}

/// One side's run: its tree and spec, where its files go, and its sandbox.
pub struct Side<'a> {
    pub spec: &'a TrackSpec,
    pub seed: u64,
    pub marker: String,
    pub run_dir: PathBuf,
    /// The verifier's sandbox, `checkout` still to be set; `None`: unsandboxed.
    pub sandbox: Option<&'a SandboxConfig>,
}

impl Side<'_> {
    /// The sandbox for a program of this side, with `scratch` (when given) as its writable
    /// run folder on the host.
    fn sandbox(&self, scratch: Option<&Path>) -> Option<SandboxConfig> {
        self.sandbox.map(|template| {
            let mut config = template.clone();
            config.checkout = self.spec.root.clone();
            config.scratch_host = scratch.map(Path::to_path_buf);
            config
        })
    }

    /// Where the program's `$SWARMLAB_RUN_DIR` lies on the host: in the sandbox a folder of
    /// its own beside the run's log, which it cannot reach.
    fn scratch(&self) -> PathBuf {
        match self.sandbox {
            Some(_) => self.run_dir.join("scratch"),
            None => self.run_dir.clone(),
        }
    }

    /// `$SWARMLAB_RUN_DIR` as the program sees it.
    fn program_run_dir(&self) -> String {
        match self.sandbox {
            Some(config) => config.scratch.display().to_string(),
            None => self.run_dir.display().to_string(),
        }
    }
}

/// Runs one side and scores it. `tokens` are the job's validation tokens in logits mode.
pub fn score(side: &Side, tokens: Option<&[u32]>, cancel: &Cancel) -> Result<Scored, EvalError> {
    match &side.spec.eval.mode {
        EvalMode::Logits(logits) if logits.serve == Serve::Run => {
            let tokens = tokens
                .ok_or_else(|| EvalError::Config("logits mode without validation tokens".into()))?;
            served_by_the_run(side, logits, tokens, cancel)
        }
        _ => trained_then_scored(side, tokens, cancel),
    }
}

/// The training run, then the metric by the mode: the run's output (`stdout`), the
/// evaluator's on its artifact (`command`), or the logits of a server started after it.
fn trained_then_scored(
    side: &Side,
    tokens: Option<&[u32]>,
    cancel: &Cancel,
) -> Result<Scored, EvalError> {
    let spec = side.spec;
    let scratch = side.scratch();
    make_scratch(&scratch, side.sandbox)?;
    let config = side.sandbox(Some(&scratch));
    let m = measure(
        spec,
        side.seed,
        &side.marker,
        &side.run_dir,
        config.as_ref(),
        cancel,
        &mut |_| {},
    )
    .map_err(|e| EvalError::Config(one_line(&e)))?;
    if cancel.is_cancelled() {
        return Err(EvalError::Interrupted);
    }
    let trained = match m.outcome.ending {
        Ending::Exited(Exit::Code(0)) => None,
        Ending::TimedOut => Some(Scored::Failed {
            timeout: true,
            why: "training ran past its timeout".into(),
        }),
        _ => Some(Scored::Failed {
            timeout: false,
            why: format!("training failed ({})", m.exit_text()),
        }),
    };
    match &spec.eval.mode {
        EvalMode::Stdout => Ok(match (m.metric(), m.failure) {
            (Some(v), None) => Scored::Metric(v),
            (_, failure) => Scored::Failed {
                timeout: failure == Some(Status::Timeout),
                why: format!(
                    "{} ({})",
                    failure.map_or("no metric", Status::as_str),
                    m.exit_text()
                ),
            },
        }),
        _ if trained.is_some() => Ok(trained.expect("checked")),
        EvalMode::Command(command) => {
            let staged = side.run_dir.join("artifact");
            stage_artifact(&scratch, &command.artifact, &staged, MAX_ARTIFACT_BYTES)?;
            let mut evaluator = RunSpec::new(
                command.command.clone(),
                &spec.root,
                side.run_dir.join("eval.log"),
                command.timeout,
            );
            evaluator.env = spec.experiment_env(side.seed);
            evaluator.sandbox = side.sandbox(None);
            let out = evaluate_command(&evaluator, &staged, cancel)?;
            let reading = metric::read(&spec.metric, &out.output);
            Ok(match (out.outcome.ending, reading.value) {
                (Ending::Exited(Exit::Code(0)), Some(v)) if v.is_finite() => Scored::Metric(v),
                (ending, _) => Scored::Failed {
                    timeout: ending == Ending::TimedOut,
                    why: format!(
                        "the evaluator found no finite `{}` in the artifact ({ending:?})",
                        spec.metric.name
                    ),
                },
            })
        }
        EvalMode::Logits(logits) => {
            let tokens = tokens
                .ok_or_else(|| EvalError::Config("logits mode without validation tokens".into()))?;
            let Serve::Command(serve) = &logits.serve else {
                return Err(EvalError::Config(
                    "serve = \"run\" serves from the training run itself".into(),
                ));
            };
            if let Some(artifact) = &logits.artifact {
                check_artifact(&scratch, artifact, MAX_ARTIFACT_BYTES)?;
            }
            let mut server = RunSpec::new(
                serve.clone(),
                &spec.root,
                side.run_dir.join("serve.log"),
                logits.timeout,
            );
            server.env = spec.experiment_env(side.seed);
            server
                .env
                .push(("SWARMLAB_RUN_DIR".into(), side.program_run_dir()));
            server.sandbox = side.sandbox(Some(&scratch));
            let score = score_logits(&server, tokens, &logits_config(logits, side.seed), cancel)?;
            Ok(Scored::Metric(score.bits_per_byte))
        }
    }
}

/// `serve = "run"`: the training run itself serves once trained (with [`SERVE_VAR`] set),
/// one process and one training per rerun. Its log is `run.log`; its scratch is the
/// sandbox's own capped tmpfs, since nothing outlives it. With a time budget the verifier
/// times it from outside: a run that is not serving within its budget and the allowance
/// overran the budget and is a `timeout`, as is one that runs past `run.timeout`.
fn served_by_the_run(
    side: &Side,
    logits: &LogitsEval,
    tokens: &[u32],
    cancel: &Cancel,
) -> Result<Scored, EvalError> {
    let spec = side.spec;
    std::fs::create_dir_all(&side.run_dir).map_err(|source| EvalError::Io {
        what: format!("creating {}", side.run_dir.display()),
        source,
    })?;
    let sandbox = side.sandbox(None);
    let mut server = run_spec(
        spec,
        side.seed,
        &side.marker,
        &side.run_dir,
        sandbox.as_ref(),
    );
    server.env.push((SERVE_VAR.into(), "serve".into()));
    let mut config = logits_config(logits, side.seed);
    config.serve_within = spec
        .run
        .budget
        .time()
        .map(|budget| budget + logits.allowance);
    match score_logits(&server, tokens, &config, cancel) {
        Ok(score) => Ok(Scored::Metric(score.bits_per_byte)),
        Err(e @ (EvalError::Overran { .. } | EvalError::Timeout { .. })) => Ok(Scored::Failed {
            timeout: true,
            why: e.to_string(),
        }),
        // Its log stays here: the reason is public.
        Err(e) => match e.ended_before_serving() {
            Some(ending) => Ok(Scored::Failed {
                timeout: false,
                why: format!(
                    "the run {ending} without serving logits: its training never handed the model to the track's evaluation hook"
                ),
            }),
            None => Err(e),
        },
    }
}

/// The scoring settings of the track, with the verifier's seed for this run.
fn logits_config(logits: &LogitsEval, seed: u64) -> LogitsConfig {
    LogitsConfig {
        vocab: logits.vocab,
        context: logits.context,
        token_bytes: logits.token_bytes.clone(),
        windows: logits.windows,
        batch: logits.batch,
        probes: logits.probes,
        tolerance: logits.tolerance,
        seed,
        serve_within: None,
    }
}

/// The validation tokens of a job in logits mode, from the baseline's data: a file, a
/// generator run in the head's tree with the verifier's secret `holdout_seed` (so every job is
/// scored on a fresh holdout nobody else has seen), or files drawn by that seed from the
/// holdout pool in `baseline`, the baseline's tree (the runs' trees do not have it: see
/// [`hide_holdout`]).
pub fn tokens(
    head: &TrackSpec,
    baseline: &Path,
    run_dir: &Path,
    holdout_seed: u64,
    sandbox: Option<&SandboxConfig>,
    cancel: &Cancel,
) -> Result<Option<Vec<u32>>, EvalError> {
    let EvalMode::Logits(logits) = &head.eval.mode else {
        return Ok(None);
    };
    let bytes = match &logits.data {
        DataSource::File(path) => {
            std::fs::read(head.root.join(path)).map_err(|source| EvalError::Io {
                what: format!("reading the validation data {path}"),
                source,
            })?
        }
        DataSource::Holdout { folder, files } => {
            return holdout_tokens(
                &baseline.join(folder),
                *files,
                logits.vocab,
                holdout_seed,
                MAX_DATA_BYTES,
            )
            .map(Some);
        }
        DataSource::Command(command) => {
            std::fs::create_dir_all(run_dir).map_err(|source| EvalError::Io {
                what: format!("creating {}", run_dir.display()),
                source,
            })?;
            let mut generator = RunSpec::new(
                command.clone(),
                &head.root,
                run_dir.join("data.log"),
                logits.timeout,
            );
            // The track's environment (its toolchain's PATH among it), and the seed.
            generator.env = head
                .run
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            generator
                .env
                .push(("SWARMLAB_EVAL_SEED".into(), holdout_seed.to_string()));
            generator.sandbox = sandbox.map(|template| {
                let mut config = template.clone();
                config.checkout = head.root.clone();
                config
            });
            collect_stdout(&generator, MAX_DATA_BYTES, cancel)?
        }
    };
    decode_tokens(&bytes, logits.vocab).map(Some)
}

/// Removes the track's holdout pool from a tree that builds and runs will see, so that no
/// code of a candidate can read it during verification; the next checkout of the tree brings
/// it back. The pool is read from the baseline's own tree (see [`tokens`]).
pub fn hide_holdout(spec: &TrackSpec) -> Result<(), EvalError> {
    let EvalMode::Logits(LogitsEval {
        data: DataSource::Holdout { folder, .. },
        ..
    }) = &spec.eval.mode
    else {
        return Ok(());
    };
    let path = spec.root.join(folder);
    match std::fs::remove_dir_all(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(EvalError::Io {
            what: format!("hiding the holdout pool {}", path.display()),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// The run's writable folder, owned by the sandbox's uid when the verifier is root.
fn make_scratch(dir: &Path, sandbox: Option<&SandboxConfig>) -> Result<(), EvalError> {
    let io = |source| EvalError::Io {
        what: format!("creating {}", dir.display()),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    if let Some(config) = sandbox {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(dir, Some(config.uid), Some(config.gid)).map_err(io)?;
        }
    }
    Ok(())
}
