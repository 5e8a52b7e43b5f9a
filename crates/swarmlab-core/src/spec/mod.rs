//! The track spec, `swarmlab.toml`: how to run an experiment, which metric in which direction,
//! the budget, which files a proposal may edit and which are trusted.
//!
//! Loading parses, warns about unknown keys and validates against the track's files; it never
//! runs anything.

mod budget;
mod devices;
mod duration;
mod eval;
mod knob;
mod place;
mod raw;
mod unknown;
mod verify_setting;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;

pub use budget::Budget;
pub use devices::{Compare, DeviceSpec, Remeasure};
pub use duration::{format_duration, parse_duration};
pub use eval::{CommandEval, DataSource, Eval, EvalMode, LogitsEval, Serve};
pub use knob::{Domain, Knob, KnobPlace, Scale};
pub use place::Place;
pub use unknown::{suggest, Warning};
pub use verify_setting::set_verify;

use crate::Goal;

/// The file name of a track spec inside a track's root.
pub const SPEC_FILE: &str = "swarmlab.toml";

/// A fully commented spec with every key, which `swarmlab init --spec-only` writes out.
pub const REFERENCE: &str = include_str!("reference.toml");

/// A loaded, validated track.
#[derive(Debug, Clone)]
pub struct TrackSpec {
    /// The directory holding `swarmlab.toml`.
    pub root: PathBuf,
    pub name: String,
    /// Instructions for agents, relative to the root.
    pub program: Option<String>,
    pub run: RunSpec,
    pub metric: MetricSpec,
    pub files: Files,
    pub eval: Eval,
    pub verify: Verify,
    /// `[devices]`: how a run is handed its device when several run at once.
    pub devices: DeviceSpec,
    pub knobs: Vec<Knob>,
}

/// `[run]`: how an experiment is started and bounded.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub command: Vec<String>,
    /// Run once before the baseline (e.g. a release build), under `setup_timeout`.
    pub setup: Option<Vec<String>>,
    /// Timeout of `setup`, and of each `build`.
    pub setup_timeout: Duration,
    /// Run before every experiment (an edit needs a rebuild), its time outside the budget.
    pub build: Option<Vec<String>>,
    /// The folder, relative to the root, that `setup` and `build` write their output to. A
    /// verifier lets nothing else write it, and keeps it from one job to the next only as a
    /// fresh copy of the baseline's build (docs/security.md).
    pub build_dir: Option<String>,
    /// What the build (and, for Python, every run) needs beyond the system, which a verifier
    /// provides read-only.
    pub toolchain: Option<Toolchain>,
    /// With the Python toolchain: the trusted lock file, relative to the root, that pins
    /// every package of the environment.
    pub lock: Option<String>,
    pub budget: Budget,
    /// Hard wall-clock limit of one experiment, start-up included.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL when the timeout strikes.
    pub grace: Duration,
    /// Passed as `SWARMLAB_SEED`; when absent every experiment gets its own seed.
    pub seed: Option<u64>,
    pub env: BTreeMap<String, String>,
}

/// A toolchain a verifier makes visible to a track's build in the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolchain {
    /// Rust: the toolchain's sysroot and the crates `Cargo.lock` pins, fetched outside the
    /// sandbox from the trusted manifests; cargo runs offline and builds into `build_dir`
    /// (`CARGO_TARGET_DIR`).
    Cargo,
    /// Python: an environment with exactly the packages `run.lock` pins, prepared by a
    /// verifier outside the sandbox (a venv keyed by the lock, reused across jobs) and seen
    /// read-only and offline by every build and run; `python3` on `PATH` is its interpreter.
    Python,
}

/// `[metric]`: what is measured and which way is better.
#[derive(Debug, Clone)]
pub struct MetricSpec {
    pub name: String,
    pub goal: Goal,
    /// A track-defined pattern with a group `v` (or one group); the last match counts.
    pub regex: Option<Regex>,
    /// A summary key, in MB, for the memory column; the runner's peak RSS otherwise.
    pub memory: Option<String>,
    /// A value no run can pass (an entropy floor), drawn on charts.
    pub floor: Option<f64>,
    /// A value the track aims for, drawn on charts.
    pub target: Option<f64>,
}

/// `[files]`: what a proposal may change and what is pinned.
#[derive(Debug, Clone)]
pub struct Files {
    pub editable: Vec<String>,
    pub trusted: Vec<String>,
}

impl Files {
    /// True when `path` (relative, `/`-separated) is an editable file or lies under an
    /// editable directory.
    pub fn is_editable(&self, path: &str) -> bool {
        self.editable.iter().any(|e| covers(e, path))
    }
}

/// `[verify]`: how a hub verifies a claim on this track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verify {
    /// Reruns of each side a verifier makes before the hub's first decisive look.
    pub reruns: u32,
    /// Reruns of each side the hub may ask for while the evidence is promising but not yet
    /// decisive (default: three times `reruns`).
    pub max_reruns: u32,
    pub alpha: f64,
    pub min_delta: f64,
}

/// Why a track could not be loaded. A message names the file and line and says what to do;
/// [`SpecError::Invalid`] shows the line itself under its first line.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The track's folder is not there (a mistyped path, or a track not made yet).
    #[error("there is no folder {}; `swarmlab init {}` creates a track there", dir.display(), dir.display())]
    NoFolder { dir: PathBuf },
    /// The folder holds no `swarmlab.toml`.
    #[error(
        "{} has no {SPEC_FILE}: give the folder of a track, or write a fully commented one with `swarmlab init --spec-only {}`",
        dir.display(),
        dir.display()
    )]
    NoSpec { dir: PathBuf },
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{}: {message}{}", path.display(), at_line(place.as_ref()), excerpt(place.as_ref()))]
    Invalid {
        path: PathBuf,
        /// The line and column, with the line's text, when the error has one.
        place: Option<Place>,
        message: String,
        /// Unknown keys found before the error; a typo is often its cause.
        warnings: Vec<Warning>,
    },
}

impl SpecError {
    /// The line of an [`SpecError::Invalid`] that has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            SpecError::Invalid { place, .. } => place.as_ref().map(|p| p.line),
            _ => None,
        }
    }
}

fn at_line(place: Option<&Place>) -> String {
    place
        .map(|p| format!(" at line {}", p.line))
        .unwrap_or_default()
}

fn excerpt(place: Option<&Place>) -> String {
    place.map(Place::to_string).unwrap_or_default()
}

/// True when `pattern` names `path` itself or a directory above it.
fn covers(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_end_matches('/');
    path == pattern
        || path
            .strip_prefix(pattern)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl TrackSpec {
    /// Loads `DIR/swarmlab.toml` and validates it against the files in `DIR`.
    pub fn load(dir: &Path) -> Result<(TrackSpec, Vec<Warning>), SpecError> {
        if !dir.exists() {
            return Err(SpecError::NoFolder {
                dir: dir.to_path_buf(),
            });
        }
        let path = dir.join(SPEC_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir.is_dir() => {
                return Err(SpecError::NoSpec {
                    dir: dir.to_path_buf(),
                })
            }
            Err(source) => return Err(SpecError::Read { path, source }),
        };
        raw::parse(dir, &text).map_err(|(span, message)| {
            let warnings = text
                .parse::<toml::Table>()
                .map(|doc| unknown::unknown_keys(&text, &doc))
                .unwrap_or_default();
            SpecError::Invalid {
                path,
                place: span.map(|span| Place::of(&text, span)),
                message,
                warnings,
            }
        })
    }

    /// Parses spec text for a track rooted at `dir`; errors carry their line when known.
    pub fn parse(
        dir: &Path,
        text: &str,
    ) -> Result<(TrackSpec, Vec<Warning>), (Option<usize>, String)> {
        raw::parse(dir, text)
            .map_err(|(span, message)| (span.map(|s| Place::of(text, s).line), message))
    }

    /// The knobs' places in spec text, read without the track's files (a hub keeps only
    /// the baseline spec's text): each knob's file and its pattern.
    pub fn knob_places(text: &str) -> Result<Vec<KnobPlace>, String> {
        raw::knob_places(text)
    }

    /// Replaces the budget (`swarmlab run --budget`); a time budget grows the timeout so that
    /// it keeps its margin over the budget, a count of steps or tokens leaves it as it is.
    pub fn override_budget(&mut self, budget: Budget) {
        if let Budget::Time(time) = budget {
            let margin = match self.run.budget.time() {
                Some(old) => self.run.timeout.saturating_sub(old),
                None => self.run.timeout,
            };
            self.run.timeout = self.run.timeout.max(time + margin);
        }
        self.run.budget = budget;
    }

    /// The absolute path of a track-relative path.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The environment of `setup` and `build` on top of the experiment's: with the cargo
    /// toolchain, `CARGO_TARGET_DIR` is the build folder, whatever the caller's environment
    /// says, so that the built program is where the track's commands look for it.
    pub fn build_env(&self, seed: u64) -> Vec<(String, String)> {
        let mut env = self.experiment_env(seed);
        if let (Some(Toolchain::Cargo), Some(dir)) = (self.run.toolchain, &self.run.build_dir) {
            // Absolute: cargo would take a relative one from its own folder, the root, and a
            // root given relative (`swarmlab run demo`) would be counted twice.
            let target = self.root.join(dir);
            let target = std::path::absolute(&target).unwrap_or(target);
            env.push(("CARGO_TARGET_DIR".into(), target.display().to_string()));
        }
        env
    }

    /// The environment every experiment of this track gets, besides the inherited one.
    pub fn experiment_env(&self, seed: u64) -> Vec<(String, String)> {
        let (budget_key, budget_value) = self.run.budget.env();
        let mut env: Vec<(String, String)> = self
            .run
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.push((budget_key.to_string(), budget_value));
        env.push(("SWARMLAB_SEED".to_string(), seed.to_string()));
        env
    }

    /// What was understood, for `swarmlab track check`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!("track      {}", self.name));
        if let Some(program) = &self.program {
            line(format!("program    {program}"));
        }
        if let Some(setup) = &self.run.setup {
            line(format!(
                "setup      {} (timeout {})",
                shell_words(setup),
                format_duration(self.run.setup_timeout)
            ));
        }
        if let Some(build) = &self.run.build {
            line(format!(
                "build      {} (every experiment)",
                shell_words(build)
            ));
        }
        if let Some(dir) = &self.run.build_dir {
            let toolchain = match self.run.toolchain {
                Some(Toolchain::Cargo) => ", toolchain cargo",
                _ => "",
            };
            line(format!("build dir  {dir}{toolchain}"));
        }
        if let (Some(Toolchain::Python), Some(lock)) = (self.run.toolchain, &self.run.lock) {
            line(format!("toolchain  python, pinned by {lock}"));
        }
        line(format!("command    {}", shell_words(&self.run.command)));
        line(format!(
            "budget     {} ({}={}), timeout {}, grace {}",
            self.run.budget,
            self.run.budget.env().0,
            self.run.budget.env().1,
            format_duration(self.run.timeout),
            format_duration(self.run.grace)
        ));
        line(match self.run.seed {
            Some(seed) => format!("seed       {seed} (fixed)"),
            None => "seed       one per experiment".to_string(),
        });
        let how = match &self.metric.regex {
            Some(re) => format!("regex {}", re.as_str()),
            None => "summary block".to_string(),
        };
        line(format!(
            "metric     {} ({}, from {how})",
            self.metric.name, self.metric.goal
        ));
        line(format!(
            "memory     {}",
            self.metric
                .memory
                .as_deref()
                .map(|k| format!("summary key {k} (MB)"))
                .unwrap_or_else(|| "peak RSS of the process tree".to_string())
        ));
        line(format!("editable   {}", self.files.editable.join(", ")));
        line(format!("trusted    {}", self.files.trusted.join(", ")));
        for (i, text) in self.eval.describe().into_iter().enumerate() {
            line(format!(
                "{}{text}",
                if i == 0 { "eval       " } else { "           " }
            ));
        }
        line(format!(
            "verify     {} reruns (up to {}), alpha {}, min_delta {}",
            self.verify.reruns, self.verify.max_reruns, self.verify.alpha, self.verify.min_delta
        ));
        if let Some(devices) = self.describe_devices() {
            line(devices);
        }
        for knob in &self.knobs {
            let domain = match &knob.domain {
                Domain::Range { low, high, scale } => {
                    format!("[{low}, {high}] {}", format!("{scale:?}").to_lowercase())
                }
                Domain::Choices(c) => format!("one of {}", c.join(" | ")),
            };
            line(format!(
                "knob       {} in {}: {domain}",
                knob.name, knob.file
            ));
        }
        out
    }

    /// The `[devices]` line of [`TrackSpec::describe`], when the section is not the default.
    fn describe_devices(&self) -> Option<String> {
        if self.devices == DeviceSpec::default() {
            return None;
        }
        let env = |table: &BTreeMap<String, String>| {
            table
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        Some(format!(
            "devices    {}; cpu cores: {}; compare {}, re-measure on {}",
            env(&self.devices.env),
            env(&self.devices.cpu_env),
            self.devices.compare(&self.run.budget).as_str(),
            self.devices.remeasure.as_str()
        ))
    }
}

fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if w.is_empty() || w.contains(|c: char| c.is_whitespace() || "'\"\\$".contains(c)) {
                format!("'{}'", w.replace('\'', "'\\''"))
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
