//! Runs one experiment's command through the runner and says what it measured.
//!
//! Classification lives here and only here: ok (with a finite metric), crash, timeout,
//! no_metric, non_finite, interrupted. Keep or discard is the loop's decision.

use std::path::Path;

use swarmlab_core::metric::{self, Reading};
use swarmlab_core::{Status, TrackSpec};
use swarmlab_runner::{Cancel, Ending, Exit, RunOutcome, RunSpec, SandboxConfig, Tick};

use crate::LoopError;

/// The metric and all output of a run is read from at most this much of the log's end.
const READ_TAIL_BYTES: usize = 256 * 1024;
/// How much of a failed run's log goes into its record's note.
const NOTE_TAIL_BYTES: usize = 1500;

/// What one run of the track's command gave.
pub struct Measurement {
    /// `None` when the run produced a finite metric; otherwise the failure status.
    pub failure: Option<Status>,
    pub reading: Reading,
    pub outcome: RunOutcome,
    pub note: Option<String>,
}

impl Measurement {
    /// The finite metric of a successful run.
    pub fn metric(&self) -> Option<f64> {
        self.reading.value.filter(|v| v.is_finite())
    }

    pub fn exit_text(&self) -> String {
        match self.outcome.ending {
            Ending::Exited(Exit::Code(code)) => format!("exit {code}"),
            Ending::Exited(Exit::Signal(signal)) => format!("signal {signal}"),
            Ending::TimedOut => "timeout".into(),
            Ending::Interrupted => "interrupted".into(),
        }
    }
}

/// The environment variable that marks every process of one experiment, so that a later
/// start can find what a killed swarmlab left running.
pub const EXPERIMENT_MARK: &str = "SWARMLAB_EXPERIMENT";

/// Runs the track's command as [`run_spec`] says and classifies how it ended.
pub fn measure(
    spec: &TrackSpec,
    seed: u64,
    marker: &str,
    run_dir: &Path,
    sandbox: Option<&SandboxConfig>,
    cancel: &Cancel,
    on_tick: &mut dyn FnMut(&Tick),
) -> Result<Measurement, LoopError> {
    std::fs::create_dir_all(run_dir).map_err(LoopError::io("create", run_dir))?;
    let run = run_spec(spec, seed, marker, run_dir, sandbox);
    let log_path = run.log_path.clone();
    let outcome = swarmlab_runner::run(&run, cancel, on_tick)?;
    let output = swarmlab_runner::tail(&log_path, READ_TAIL_BYTES)
        .map_err(LoopError::io("read", &log_path))?;
    let reading = metric::read(&spec.metric, &output);
    let failure = classify(outcome.ending, &reading);
    let note = failure.map(|status| {
        let tail: String = tail_chars(&output, NOTE_TAIL_BYTES);
        let what = match status {
            Status::Timeout => format!(
                "killed after the {} timeout",
                swarmlab_core::spec::format_duration(spec.run.timeout)
            ),
            Status::NoMetric => format!("exited 0 but printed no `{}`", spec.metric.name),
            Status::NonFinite => format!("`{}` was not finite", spec.metric.name),
            Status::Interrupted => "stopped by the user".into(),
            _ => "the program failed".into(),
        };
        format!("{what}; log tail:\n{tail}")
    });
    Ok(Measurement {
        failure,
        reading,
        outcome,
        note,
    })
}

/// One run of the track's command with its budget, seed and timeout; the log goes to
/// `run_dir/run.log`, and every process carries `SWARMLAB_EXPERIMENT=marker`. In `sandbox`
/// the program sees the checkout read-only and gets the scratch as its run folder.
pub fn run_spec(
    spec: &TrackSpec,
    seed: u64,
    marker: &str,
    run_dir: &Path,
    sandbox: Option<&SandboxConfig>,
) -> RunSpec {
    let mut run = RunSpec::new(
        spec.run.command.clone(),
        &spec.root,
        run_dir.join("run.log"),
        spec.run.timeout,
    );
    run.grace = spec.run.grace;
    run.env = spec.experiment_env(seed);
    let program_run_dir = match sandbox {
        Some(config) => config.scratch.clone(),
        None => run_dir.to_path_buf(),
    };
    run.env.push((
        "SWARMLAB_RUN_DIR".into(),
        program_run_dir.display().to_string(),
    ));
    run.sandbox = sandbox.cloned();
    run.env.push((EXPERIMENT_MARK.into(), marker.to_string()));
    run
}

/// Runs the track's `build` step (when it has one) before experiment's run, in `run_dir`'s
/// `build.log`, calling `on_tick` as it goes. `None`: built, go on; otherwise the experiment's measurement: `crash` with
/// the log's tail when the build failed or timed out, `interrupted` when stopped.
pub fn build(
    spec: &TrackSpec,
    seed: u64,
    run_dir: &Path,
    cancel: &Cancel,
    on_tick: &mut dyn FnMut(&Tick),
) -> Result<Option<Measurement>, LoopError> {
    let Some(command) = spec.run.build.clone() else {
        return Ok(None);
    };
    std::fs::create_dir_all(run_dir).map_err(LoopError::io("create", run_dir))?;
    let log_path = run_dir.join("build.log");
    let mut run = RunSpec::new(command, &spec.root, &log_path, spec.run.setup_timeout);
    run.env = spec.build_env(seed);
    let outcome = swarmlab_runner::run(&run, cancel, on_tick)?;
    let failure = match outcome.ending {
        Ending::Exited(Exit::Code(0)) => return Ok(None),
        Ending::Interrupted => Status::Interrupted,
        _ => Status::Crash,
    };
    let output = swarmlab_runner::tail(&log_path, NOTE_TAIL_BYTES)
        .map_err(LoopError::io("read", &log_path))?;
    let what = match outcome.ending {
        Ending::Interrupted => "stopped by the user while building".to_string(),
        Ending::TimedOut => format!(
            "the build ran past {}",
            swarmlab_core::spec::format_duration(spec.run.setup_timeout)
        ),
        _ => "the build failed".to_string(),
    };
    Ok(Some(Measurement {
        failure: Some(failure),
        reading: Reading::default(),
        outcome,
        note: Some(format!(
            "{what}; log tail:\n{}",
            tail_chars(&output, NOTE_TAIL_BYTES)
        )),
    }))
}

/// The one place where a run's ending and output become a status.
pub fn classify(ending: Ending, reading: &Reading) -> Option<Status> {
    match ending {
        Ending::Interrupted => Some(Status::Interrupted),
        Ending::TimedOut => Some(Status::Timeout),
        Ending::Exited(Exit::Code(0)) => match reading.value {
            None => Some(Status::NoMetric),
            Some(v) if !v.is_finite() => Some(Status::NonFinite),
            Some(_) => None,
        },
        Ending::Exited(_) => Some(Status::Crash),
    }
}

fn tail_chars(text: &str, max: usize) -> String {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(value: Option<f64>) -> Reading {
        Reading {
            value,
            all: Default::default(),
        }
    }

    #[test]
    fn every_ending_has_one_status() {
        let ok = Ending::Exited(Exit::Code(0));
        assert_eq!(classify(ok, &reading(Some(1.0))), None);
        assert_eq!(classify(ok, &reading(None)), Some(Status::NoMetric));
        assert_eq!(
            classify(ok, &reading(Some(f64::NAN))),
            Some(Status::NonFinite)
        );
        assert_eq!(
            classify(ok, &reading(Some(f64::NEG_INFINITY))),
            Some(Status::NonFinite)
        );
        assert_eq!(
            classify(Ending::Exited(Exit::Code(1)), &reading(Some(1.0))),
            Some(Status::Crash)
        );
        assert_eq!(
            classify(Ending::Exited(Exit::Signal(9)), &reading(None)),
            Some(Status::Crash)
        );
        assert_eq!(
            classify(Ending::TimedOut, &reading(Some(1.0))),
            Some(Status::Timeout)
        );
        assert_eq!(
            classify(Ending::Interrupted, &reading(None)),
            Some(Status::Interrupted)
        );
    }
}
