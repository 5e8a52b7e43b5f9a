//! A contest of programs (`swarmlab contest`): for each program file, R independent runs of N
//! experiments from the same baseline commit, each an ordinary [`Session`] on a branch of its
//! own, `swarmlab/contest-<program>-<r>`, whose first commit puts the program over the
//! track's `[track] program` file. Then the standings: the best each run reached, the mean
//! per program with a bootstrap interval, the gain per device-hour, and one chart.
//!
//! Interleaving: round-robin by experiment. Round 0 runs every run's baseline, round k every
//! run's k-th experiment, run 1 of every program before run 2; so each program meets the
//! machine's drift (heat, other load, a cache warming up) at the same stage of its search, and
//! a contest stopped early leaves every program with the same number of experiments. Run r
//! of every program uses the seed `seed + r - 1`, so programs differ in their program alone.
//!
//! Resuming is counting: a run with fewer steps logged than the round is advanced, one with
//! as many is skipped, so running the same command again goes on where it stopped; repairing
//! an experiment a kill left in flight is the session's own recovery. The baseline commit and
//! the branch the contest started on are kept in `.swarmlab/contest/state.json`.
//!
//! It decides nothing about keeping or measuring (the session does) nor about statistics
//! (`swarmlab_core::report`'s contest does). Rounds of contests between a champion and
//! variants that a writer drafts are [`Evolution`] (`contest/evolve.rs`).

mod brief;
mod error;
mod evolve;
mod program;
mod writer;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use swarmlab_agent::Proposer;
use swarmlab_core::report::{contest_markdown, contest_svg, standings, Entry, Standing};
use swarmlab_core::{GitStore, Record, ResultsLog, Status, TrackSpec};
use swarmlab_runner::Cancel;

pub use error::ContestError;
pub use evolve::{Evolution, EVOLVE_DIR};
pub use program::Program;

use crate::{Limits, LoopError, Session, Stop};

/// Where the contest keeps its state and writes its report, inside the track.
pub const CONTEST_DIR: &str = ".swarmlab/contest";

/// What the contest started from, kept so that a rerun starts every new run there too.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// The commit every run's branch starts from.
    base: String,
    /// The branch checked out when the contest started, checked out again when it ends.
    branch: Option<String>,
}

/// Every program's runs' records: program by program, run 1 first.
pub(crate) type Runs = Vec<Vec<Vec<Record>>>;

/// The files a finished contest wrote, and its table.
pub struct ContestReport {
    /// What `contest.md` says: the standings' table.
    pub text: String,
    pub markdown: PathBuf,
    pub svg: PathBuf,
    pub json: PathBuf,
    pub standings: Vec<Standing>,
}

impl ContestReport {
    /// What a finished contest says: the standings, then the files it wrote.
    pub fn summary(&self) -> String {
        format!(
            "{}\nwrote {}, {} and {}",
            self.text,
            self.markdown.display(),
            self.svg.display(),
            self.json.display()
        )
    }
}

/// One contest on one track.
pub struct Contest {
    spec: TrackSpec,
    /// The folder, relative to the track, of the state and the report.
    dir: String,
    program_file: String,
    programs: Vec<Program>,
    runs: u32,
    experiments: u64,
    seed: u64,
}

/// The track's program file, which every contest copies over: a track without one cannot
/// have a contest.
fn program_file(spec: &TrackSpec) -> Result<String, ContestError> {
    spec.program.clone().ok_or_else(|| ContestError::NoProgram {
        dir: spec.root.clone(),
    })
}

impl Contest {
    /// Checks the input: the track names a program file, and there is at least one run of
    /// at least one experiment.
    pub fn new(
        spec: TrackSpec,
        programs: Vec<Program>,
        runs: u32,
        experiments: u64,
        seed: u64,
    ) -> Result<Contest, ContestError> {
        let program_file = program_file(&spec)?;
        if runs == 0 || experiments == 0 {
            return Err(ContestError::Input(
                "--runs and --experiments must be 1 or more".into(),
            ));
        }
        Ok(Contest {
            spec,
            dir: CONTEST_DIR.to_string(),
            program_file,
            programs,
            runs,
            experiments,
            seed,
        })
    }

    /// Keeps the state and writes the report in `dir` (relative to the track) instead of
    /// [`CONTEST_DIR`].
    pub fn with_dir(mut self, dir: impl Into<String>) -> Contest {
        self.dir = dir.into();
        self
    }

    /// The programs, in the order given.
    pub fn programs(&self) -> &[Program] {
        &self.programs
    }

    /// The tag of run `r` (from 1) of `program`: its branch is `swarmlab/<tag>`.
    pub fn tag(program: &Program, r: u32) -> String {
        format!("contest-{}-{r}", program.name)
    }

    /// Runs (or resumes) every run, round-robin by experiment, a fresh proposer from
    /// `proposer` per step; runs the track's setup once first when `setup`. Returns to the
    /// branch the contest started on when every step ran.
    pub fn run<E: From<ContestError>>(
        &self,
        mut proposer: impl FnMut() -> Result<Box<dyn Proposer>, E>,
        cancel: &Cancel,
        mut setup: bool,
    ) -> Result<Stop, E> {
        let git = GitStore::open(&self.spec.root).map_err(loop_error)?;
        let state = self.state(&git)?;
        let log = ResultsLog::new(&self.spec.root, &self.spec.metric.name);
        for round in 0..=self.experiments {
            let records = log.read().map_err(loop_error)?;
            for r in 1..=self.runs {
                for program in &self.programs {
                    let branch = format!("swarmlab/{}", Contest::tag(program, r));
                    let mine: Vec<&Record> =
                        records.iter().filter(|x| x.branch == branch).collect();
                    if steps(&mine) > round {
                        continue;
                    }
                    if cancel.is_cancelled() {
                        return Ok(Stop::Interrupted);
                    }
                    self.enter(&git, &state.base, &branch, program, mine.is_empty())?;
                    let seed = self.seed.wrapping_add(u64::from(r - 1));
                    let mut session = Session::open(
                        self.spec.clone(),
                        &Contest::tag(program, r),
                        seed,
                        proposer()?,
                        cancel.clone(),
                    )
                    .map_err(loop_error)?;
                    if std::mem::take(&mut setup) {
                        session.setup().map_err(loop_error)?;
                    }
                    let limits = Limits {
                        experiments: Some(u64::from(round > 0)),
                        duration: None,
                    };
                    if session.run(limits).map_err(loop_error)? == Stop::Interrupted {
                        return Ok(Stop::Interrupted);
                    }
                }
            }
        }
        if let Some(home) = &state.branch {
            git.switch_to(home).map_err(loop_error)?;
        }
        Ok(Stop::Limit)
    }

    /// Every program's runs' records so far (program by program, run 1 first), and the
    /// standings they give.
    pub(crate) fn results(&self) -> Result<(Runs, Vec<Standing>), ContestError> {
        let log = ResultsLog::new(&self.spec.root, &self.spec.metric.name);
        let records = log.read().map_err(LoopError::from)?;
        let runs: Runs = self
            .programs
            .iter()
            .map(|p| {
                (1..=self.runs)
                    .map(|r| {
                        let branch = format!("swarmlab/{}", Contest::tag(p, r));
                        records
                            .iter()
                            .filter(|x| x.branch == branch)
                            .cloned()
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let table = standings(&self.entries(&runs), self.spec.metric.goal);
        Ok((runs, table))
    }

    fn entries<'a>(&'a self, runs: &'a [Vec<Vec<Record>>]) -> Vec<Entry<'a>> {
        self.programs
            .iter()
            .zip(runs)
            .map(|(p, runs)| Entry {
                name: &p.name,
                runs: runs.iter().map(Vec::as_slice).collect(),
            })
            .collect()
    }

    /// Writes `contest.md`, `contest.svg` and `contest.json` under the contest folder from
    /// every run's records so far.
    pub fn report(&self) -> Result<ContestReport, ContestError> {
        let (runs, table) = self.results()?;
        let entries = self.entries(&runs);
        let (metric, goal) = (&self.spec.metric.name, self.spec.metric.goal);
        let title = format!(
            "{}: contest of {} programs, {} runs of {} experiments",
            self.spec.name,
            self.programs.len(),
            self.runs,
            self.experiments
        );
        let dir = self.spec.root.join(&self.dir);
        std::fs::create_dir_all(&dir).map_err(LoopError::io("create", &dir))?;
        let write = |name: &str, text: String| -> Result<PathBuf, ContestError> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(LoopError::io("write", &path))?;
            Ok(path)
        };
        let json = serde_json::json!({
            "track": self.spec.name,
            "metric": metric,
            "goal": goal.as_str(),
            "runs": self.runs,
            "experiments": self.experiments,
            "seed": self.seed,
            "standings": table,
        });
        let text = contest_markdown(&table, metric, goal, &title);
        Ok(ContestReport {
            markdown: write("contest.md", text.clone())?,
            text,
            svg: write("contest.svg", contest_svg(&entries, metric, goal, &title))?,
            json: write(
                "contest.json",
                serde_json::to_string_pretty(&json).expect("a JSON value serialises"),
            )?,
            standings: table,
        })
    }

    /// The saved state, or a new one from HEAD when no run of this contest has a branch yet.
    fn state(&self, git: &GitStore) -> Result<State, ContestError> {
        let path = self.spec.root.join(&self.dir).join("state.json");
        if self.started(git) {
            if let Ok(text) = std::fs::read_to_string(&path) {
                if let Ok(state) = serde_json::from_str(&text) {
                    return Ok(state);
                }
            }
        }
        let state = State {
            base: git
                .resolve("HEAD")
                .map_err(LoopError::from)?
                .ok_or(LoopError::NoCommit)?,
            branch: git.current_branch().map_err(LoopError::from)?,
        };
        std::fs::create_dir_all(path.parent().expect("the state file is in a folder"))
            .map_err(LoopError::io("create", &path))?;
        let text = serde_json::to_string(&state).expect("the state serialises");
        std::fs::write(&path, text).map_err(LoopError::io("write", &path))?;
        Ok(state)
    }

    /// Whether any run of this contest has a branch yet.
    pub(crate) fn started(&self, git: &GitStore) -> bool {
        self.programs.iter().any(|p| {
            (1..=self.runs).any(|r| {
                let branch = format!("refs/heads/swarmlab/{}", Contest::tag(p, r));
                git.resolve(&branch).ok().flatten().is_some()
            })
        })
    }

    /// Checks out the run's branch (made at `base` the first time) and, before its
    /// baseline, commits the program over the track's program file.
    fn enter(
        &self,
        git: &GitStore,
        base: &str,
        branch: &str,
        program: &Program,
        fresh: bool,
    ) -> Result<(), ContestError> {
        if git.current_branch().map_err(LoopError::from)?.as_deref() != Some(branch) {
            let dirty = git.dirty_tracked().map_err(LoopError::from)?;
            if !dirty.is_empty() {
                return Err(LoopError::RepositoryState(format!(
                    "uncommitted changes to {}; commit or stash them before the contest switches to {branch}",
                    dirty.join(", ")
                ))
                .into());
            }
            let exists = git
                .resolve(&format!("refs/heads/{branch}"))
                .map_err(LoopError::from)?
                .is_some();
            let args = if exists {
                vec!["checkout", "--quiet", branch]
            } else {
                vec!["checkout", "--quiet", "-b", branch, base]
            };
            git.run(&args).map_err(LoopError::from)?;
        }
        if !fresh {
            return Ok(());
        }
        // Written and committed when it differs from the commit, which also finishes a write
        // that a kill left uncommitted.
        let path = self.spec.root.join(&self.program_file);
        std::fs::write(&path, &program.text).map_err(LoopError::io("write", &path))?;
        let dirty = git.dirty_tracked().map_err(LoopError::from)?;
        if !dirty.contains(&self.program_file) {
            return Ok(());
        }
        git.commit_paths(
            std::slice::from_ref(&self.program_file),
            &format!("contest: program {}", program.name),
        )
        .map_err(LoopError::from)?;
        Ok(())
    }
}

/// Steps a run has logged: its baseline and its experiments, interrupted ones not counted.
fn steps(records: &[&Record]) -> u64 {
    records
        .iter()
        .filter(|r| r.status != Status::Interrupted)
        .count() as u64
}

fn loop_error<E: From<ContestError>>(error: impl Into<LoopError>) -> E {
    E::from(ContestError::Loop(error.into()))
}
