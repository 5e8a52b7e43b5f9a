//! The local loop on one track: baseline first, then propose → commit → run → keep or
//! reset → log, until a limit or Ctrl-C. The harness owns this loop, not the proposer.
//!
//! State lives in git (branch `swarmlab/<tag>`, whose tip is always the best kept commit),
//! in the results log, and in a journal of the experiment in flight; a new session repairs
//! whatever a killed one left behind. This module never spawns the experiment itself (that
//! is `measure`'s job, through the runner) and never edits track files (the proposer's).

mod pace;
mod parallel;
mod recovery;
mod screen;
mod setup;
mod summary;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use swarmlab_agent::Proposer;
use swarmlab_core::results::{JSONL_FILE, TSV_FILE};
use swarmlab_core::short;
use swarmlab_core::{GitStore, Record, ResultsLog, Status, TrackSpec};
use swarmlab_runner::Cancel;

use crate::draft::{draft, Draft, Request};
use crate::measure::{build_and_measure, Measurement};
use crate::pending::Pending;
use crate::status::{is_baseline, Counts, Progress, StatusLine};
use crate::worktree::{adopt, Prepared, Worktree};
use crate::{one_line, LoopError};
use screen::Screened;

/// Where swarmlab keeps run logs and its journal, inside the track (excluded from git).
const STATE_DIR: &str = ".swarmlab";
/// Proposals in a row that change nothing before the loop gives up.
const MAX_EMPTY_PROPOSALS: u32 = 5;

/// When to stop starting experiments.
pub struct Limits {
    pub experiments: Option<u64>,
    pub duration: Option<Duration>,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Limit,
    Interrupted,
    NothingToPropose,
}

/// What one turn of the loop came to.
enum Turn {
    /// An experiment was logged with this status: it ran, or was refused as invalid.
    Logged(Status),
    /// Nothing to run: no proposal, a duplicate, or Ctrl-C while proposing.
    Skipped,
    /// The proposal failed, and why.
    Failed(String),
}

/// One `swarmlab run` on one track and branch.
pub struct Session {
    spec: TrackSpec,
    git: GitStore,
    log: ResultsLog,
    tag: String,
    branch: String,
    seed: u64,
    proposer: Box<dyn Proposer>,
    cancel: Cancel,
    records: Vec<Record>,
    idea: Option<String>,
    /// The side worktree where the next change is drafted while an experiment runs.
    worktree: Option<Worktree>,
    counts: Counts,
    /// How many records the branch had when this session opened (after repairs).
    records_at_open: usize,
    pace: pace::Pace,
    status: StatusLine,
    /// Devices a parallel run took out after they failed again and again, and why.
    retired: Vec<String>,
    /// The fraction of the budget every change is first screened at (`--screen`).
    screen: Option<f64>,
}

impl Session {
    /// Opens the track's repository on `swarmlab/<tag>`, repairing what a killed session
    /// left behind and refusing to touch uncommitted work.
    pub fn open(
        spec: TrackSpec,
        tag: &str,
        seed: u64,
        proposer: Box<dyn Proposer>,
        cancel: Cancel,
    ) -> Result<Session, LoopError> {
        if tag.is_empty()
            || tag.contains(|c: char| c.is_whitespace() || "~^:?*[\\".contains(c))
            || tag.contains("..")
        {
            return Err(LoopError::Tag(tag.to_string()));
        }
        let git = GitStore::open(&spec.root)?;
        git.exclude(&[
            TSV_FILE,
            JSONL_FILE,
            "/.swarmlab/",
            "/progress.svg",
            "/summary.md",
        ])?;
        let branch = format!("swarmlab/{tag}");
        let log = ResultsLog::new(&spec.root, &spec.metric.name);
        let records: Vec<Record> = log
            .read()?
            .into_iter()
            .filter(|r| r.branch == branch)
            .collect();
        let mut counts = Counts::default();
        records.iter().for_each(|r| counts.add(r));
        let mut session = Session {
            spec,
            git,
            log,
            tag: tag.to_string(),
            branch,
            seed,
            proposer,
            cancel,
            records,
            idea: None,
            worktree: None,
            counts,
            records_at_open: 0,
            pace: pace::Pace::default(),
            status: StatusLine::new(),
            retired: Vec::new(),
            screen: None,
        };
        session.enter_branch()?;
        session.records_at_open = session.records.len();
        if let Some(line) = session.resume_line() {
            session.status.say(&line);
        }
        Ok(session)
    }

    /// `resuming swarmlab/main at #41: the baseline and 40 experiments logged, best loss
    /// 1.234567 (#31)`, when the branch has a history.
    fn resume_line(&self) -> Option<String> {
        let last = self.records.last()?;
        let mut line = format!(
            "resuming {} at #{}: {} logged",
            self.branch,
            self.next_index(),
            logged(&self.records),
        );
        if let Some(best) = self.best_record().filter(|b| b.metric.is_some()) {
            line.push_str(&format!(
                ", best {} {:.6} (#{})",
                self.spec.metric.name,
                best.metric.unwrap_or(f64::NAN),
                best.index
            ));
        }
        if last.status == Status::Interrupted {
            line.push_str(&format!("; #{} was interrupted", last.index));
        }
        Some(line)
    }

    /// Drafts the next change in a side worktree while each experiment runs.
    pub fn enable_pipeline(&mut self) -> Result<(), LoopError> {
        let head = self.head()?;
        self.worktree = Some(Worktree::open(&self.git, STATE_DIR, &self.tag, &head)?);
        Ok(())
    }

    /// An idea handed to every proposal (`swarmlab run --idea`).
    pub fn set_idea(&mut self, idea: Option<String>) {
        self.idea = idea;
    }

    /// Screens every change at `fraction` of the budget first and runs in full only the
    /// promoted ones (successive halving, [`screen`]); sequential runs only.
    pub fn set_screen(&mut self, fraction: Option<f64>) {
        self.screen = fraction;
    }

    /// The loop. Runs the baseline when this branch has no kept experiment yet.
    pub fn run(&mut self, limits: Limits) -> Result<Stop, LoopError> {
        let started = Instant::now();
        self.pace = pace::Pace::start(limits.experiments, limits.duration);
        let mut prepared = None;
        if self.best_record().is_none() {
            match self.baseline(limits.experiments != Some(0))? {
                Ok(next) => prepared = next,
                Err(stop) => return Ok(stop),
            }
        }
        let mut done = 0u64;
        // Proposals in a row with nothing to run, how many of them failed, and the last
        // failure's reason.
        let (mut empty, mut failed, mut last_failure) = (0u32, 0u32, None);
        loop {
            if self.cancel.is_cancelled() {
                return Ok(Stop::Interrupted);
            }
            if limits.experiments.is_some_and(|n| done >= n)
                || limits.duration.is_some_and(|d| started.elapsed() >= d)
            {
                return Ok(Stop::Limit);
            }
            // Draft a next change only when a next experiment may follow.
            let more = limits.experiments.is_none_or(|n| done + 1 < n);
            let (turn, next) = self.experiment(prepared.take(), more, empty)?;
            prepared = next;
            match turn {
                Turn::Logged(Status::Interrupted) => return Ok(Stop::Interrupted),
                Turn::Logged(_) => {
                    done += 1;
                    (empty, failed, last_failure) = (0, 0, None);
                    continue;
                }
                Turn::Skipped => empty += 1,
                Turn::Failed(reason) => {
                    empty += 1;
                    failed += 1;
                    last_failure = Some(reason);
                }
            }
            if empty < MAX_EMPTY_PROPOSALS {
                continue;
            }
            self.status.say(&format!(
                "stopping: {MAX_EMPTY_PROPOSALS} proposals in a row came to nothing (see the reasons above)"
            ));
            return match last_failure {
                Some(last) => Err(LoopError::ProposerFailing {
                    failed,
                    in_a_row: empty,
                    experiments: done,
                    last,
                }),
                None => Ok(Stop::NothingToPropose),
            };
        }
    }

    /// Runs the baseline (and, when pipelining, drafts experiment 1 meanwhile).
    fn baseline(&mut self, draft_next: bool) -> Result<Result<Option<Prepared>, Stop>, LoopError> {
        let index = self.next_index();
        let head = self.head()?;
        self.status.say(&format!(
            "baseline: running {} at {}",
            self.spec.name,
            short(&head)
        ));
        let pending = self.journal(index, &head)?;
        let (measurement, prepared) = self.measure_and_prepare(
            index,
            "baseline",
            &pending.marker,
            draft_next.then_some(head.as_str()),
            None,
        )?;
        let status = measurement.failure.unwrap_or(Status::Keep);
        let record = Record {
            status,
            description: "baseline".into(),
            ..self.measured_record(index, &head, &head, "baseline", &measurement)
        };
        let log = record.log.clone();
        self.finish(record, &Pending::path(&self.spec.root, &self.tag))?;
        match status {
            Status::Keep => Ok(Ok(prepared)),
            Status::Interrupted => Ok(Err(Stop::Interrupted)),
            failure => Err(LoopError::BaselineFailed {
                status: failure,
                log: self.spec.root.join(log),
            }),
        }
    }

    /// One experiment, started from `prepared` when the side worktree drafted it. Returns
    /// what came of it and, when pipelining, the draft of the next one.
    /// `attempt` counts the proposals skipped in a row before this one: a proposer seeded by
    /// (seed, index) alone would repeat a skipped duplicate forever.
    fn experiment(
        &mut self,
        prepared: Option<Prepared>,
        draft_next: bool,
        attempt: u32,
    ) -> Result<(Turn, Option<Prepared>), LoopError> {
        let index = self.next_index();
        let best = self.best_record().expect("the baseline ran").clone();
        let pending_path = Pending::path(&self.spec.root, &self.tag);
        let pending = self.journal(index, &best.commit)?;
        let (description, touched, usage) = match self.change(prepared, index, &best, attempt)? {
            Draft::Skip(reason) => {
                Pending::clear(&pending_path)?;
                self.status.say(&format!("#{index} skipped: {reason}"));
                return Ok((Turn::Skipped, None));
            }
            Draft::Failed(reason) => {
                Pending::clear(&pending_path)?;
                self.status.say(&format!("#{index} failed: {reason}"));
                return Ok((Turn::Failed(reason), None));
            }
            Draft::Invalid {
                description,
                note,
                usage,
            } => {
                let record = Record {
                    status: Status::Invalid,
                    description,
                    note: Some(note),
                    usage,
                    ..self.blank_record(index, &best.commit)
                };
                let logged = self.finish(record, &pending_path)?;
                return Ok((Turn::Logged(logged.status), None));
            }
            Draft::Ready {
                description,
                touched,
                usage,
            } => (description, touched, usage),
        };

        let proposer = self.proposer.name().to_string();
        let message = format!("{description}\n\nswarmlab experiment {index} ({proposer})");
        let Some((commit, hash)) = self.commit_new(index, &best, &touched, &message)? else {
            return Ok((Turn::Skipped, None));
        };
        let (mut screened, mut screened_out) = (None, None);
        if let Some(fraction) = self.screen {
            let (verdict, measurement) =
                self.screened(index, &description, &pending.marker, fraction)?;
            if matches!(verdict, Screened::Out(_)) {
                screened_out = Some(measurement);
            }
            screened = Some(verdict);
        }
        let (measurement, next) = match screened_out {
            Some(measurement) => (measurement, None),
            None => self.measure_and_prepare(
                index,
                &description,
                &pending.marker,
                draft_next.then_some(best.commit.as_str()),
                None,
            )?,
        };
        let status = match &screened {
            Some(Screened::Out(_)) if measurement.failure.is_none() => Status::Discard,
            _ => self.keep_or_discard(&measurement, 0.0, best.metric),
        };
        if status != Status::Keep {
            self.undo(&best.commit, &touched)?;
            self.git.keep_ref(
                &format!("refs/swarmlab/{}/discarded/{index}", self.tag),
                &commit,
            )?;
        }
        let mut record = Record {
            status,
            description,
            diff: self.git.diff_stat(&best.commit, &commit)?,
            diff_hash: Some(swarmlab_agent::memory::diff_hash_hex(hash)),
            usage,
            ..self.measured_record(index, &commit, &best.commit, &proposer, &measurement)
        };
        if let Some(screened) = &screened {
            self.note_screen(&mut record, screened);
        }
        if status == Status::Interrupted {
            record.note = Some("stopped by the user while running; the change was dropped".into());
        }
        Ok((
            Turn::Logged(self.finish(record, &pending_path)?.status),
            next,
        ))
    }

    /// The change of experiment `index`: the side worktree's draft when it still applies on
    /// the best commit, else a fresh one from the proposer.
    fn change(
        &mut self,
        prepared: Option<Prepared>,
        index: u64,
        best: &Record,
        attempt: u32,
    ) -> Result<Draft, LoopError> {
        if let Some(prepared) = prepared {
            if let Some(drafted) = adopt(&self.git, prepared, &best.commit)? {
                return Ok(drafted);
            }
            self.status.say(&format!(
                "#{index} the draft no longer applies on {}; proposing again",
                short(&best.commit)
            ));
        }
        let request = Request {
            spec: &self.spec,
            history: &self.records,
            index,
            seed: retry_seed(self.seed, attempt),
            idea: self.idea.as_deref(),
            best_commit: &best.commit,
            cancel: &self.cancel,
        };
        draft(&self.git, &mut *self.proposer, &request)
    }

    /// Commits the change with its diff's hash; `None` (the change undone, the journal
    /// cleared) when the same change was already tried.
    fn commit_new(
        &mut self,
        index: u64,
        best: &Record,
        touched: &[String],
        message: &str,
    ) -> Result<Option<(String, u64)>, LoopError> {
        let commit = self.git.commit_paths(touched, message)?;
        let hash =
            swarmlab_agent::memory::normalised_diff_hash(&self.git.diff(&best.commit, &commit)?);
        if let Some(earlier) = swarmlab_agent::memory::already_tried(&self.records, hash) {
            let earlier = earlier.index;
            self.undo(&best.commit, touched)?;
            Pending::clear(&Pending::path(&self.spec.root, &self.tag))?;
            self.status.say(&format!(
                "#{index} skipped: the same change as experiment #{earlier}"
            ));
            return Ok(None);
        }
        Ok(Some((commit, hash)))
    }

    /// Kept when it ran and improves on the best (or the best has no metric); a failure keeps
    /// its own status. The one place where keep or discard is decided, in sequence and in
    /// parallel: `shift` moves the metric onto the best's scale (devices compared by their
    /// baselines), zero when the metric is compared as printed.
    fn keep_or_discard(&self, measurement: &Measurement, shift: f64, best: Option<f64>) -> Status {
        match (measurement.failure, measurement.metric()) {
            (Some(failure), _) => failure,
            (None, Some(value))
                if best.is_none_or(|b| self.spec.metric.goal.improves(value + shift, b)) =>
            {
                Status::Keep
            }
            (None, _) => Status::Discard,
        }
    }

    /// Runs experiment `index`; when pipelining and given `draft_from`, drafts the next change
    /// from that commit in the side worktree at the same time.
    /// With `screen`, a screening run at that fraction of the budget, in the run folder's
    /// `screen`.
    fn measure_and_prepare(
        &mut self,
        index: u64,
        description: &str,
        marker: &str,
        draft_from: Option<&str>,
        screen: Option<f64>,
    ) -> Result<(Measurement, Option<Prepared>), LoopError> {
        let seed = self.experiment_seed(index);
        let mut run_dir = self.run_dir(index);
        let mut screening_spec = None;
        if let Some(fraction) = screen {
            let mut spec = self.spec.clone();
            spec.run.budget = spec.run.budget.scaled(fraction);
            screening_spec = Some(spec);
            run_dir = run_dir.join("screen");
        }
        let budget = screening_spec
            .as_ref()
            .unwrap_or(&self.spec)
            .run
            .budget
            .to_string();
        let baseline = self.best_record().is_none();
        let typical = pace::typical_run(&self.records);
        let mut progress = Progress {
            index,
            quota: self.pace.place(baseline),
            description,
            elapsed: Duration::ZERO,
            typical,
            budget: &budget,
            building: false,
            best: self.best_record().and_then(|r| Some((r.metric?, r.index))),
            counts: self.counts,
            eta: None,
        };
        let eta = self.pace.eta(baseline, typical);
        let request = draft_from.map(|best| Request {
            spec: &self.spec,
            history: &self.records,
            index: index + 1,
            seed: self.seed,
            idea: self.idea.as_deref(),
            best_commit: best,
            cancel: &self.cancel,
        });
        let proposer = &mut *self.proposer;
        let status = &mut self.status;
        let spec = screening_spec.as_ref().unwrap_or(&self.spec);
        let (cancel, worktree) = (&self.cancel, self.worktree.as_ref());
        let (measurement, prepared) = std::thread::scope(|scope| {
            let drafting = worktree.zip(request.as_ref()).map(|(worktree, request)| {
                scope.spawn(move || worktree.prepare(proposer, request))
            });
            let measurement = build_and_measure(
                spec,
                seed,
                marker,
                &run_dir,
                cancel,
                &mut |tick, building| {
                    progress.building = building;
                    progress.elapsed = tick.elapsed;
                    if !building {
                        progress.eta = eta.at(tick.elapsed);
                    }
                    status.progress(&progress);
                },
            );
            (measurement, drafting.map(|d| d.join()))
        });
        let prepared = match prepared {
            None => None,
            Some(Ok(Ok(prepared))) => Some(prepared),
            Some(Ok(Err(e))) => {
                self.status.say(&format!(
                    "#{} drafting in the side worktree failed: {}",
                    index + 1,
                    one_line(&e)
                ));
                None
            }
            Some(Err(_)) => return Err(LoopError::ProposerPanicked(index + 1)),
        };
        Ok((measurement?, prepared))
    }

    /// Writes the journal of the experiment about to start, with a fresh process marker.
    fn journal(&self, index: u64, parent: &str) -> Result<Pending, LoopError> {
        let pending = self.pending(index, parent);
        pending.write(&Pending::path(&self.spec.root, &self.tag))?;
        Ok(pending)
    }

    /// The journal entry of experiment `index` from `parent`, with a fresh process marker.
    fn pending(&self, index: u64, parent: &str) -> Pending {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Pending {
            index,
            parent: parent.to_string(),
            started_at: now(),
            marker: format!("{}-{index}-{}-{nanos}", self.tag, std::process::id()),
            slot: None,
            device: None,
        }
    }

    /// Logs a finished experiment and clears the journal.
    fn finish(
        &mut self,
        record: Record,
        pending_path: &std::path::Path,
    ) -> Result<Record, LoopError> {
        self.append(record.clone())?;
        Pending::clear(pending_path)?;
        Ok(record)
    }

    fn append(&mut self, record: Record) -> Result<(), LoopError> {
        self.log.append(&record)?;
        self.counts.add(&record);
        let best_before = self.best_record().and_then(|r| r.metric);
        let best = match (record.status, record.metric) {
            (Status::Keep, Some(m)) => Some(m),
            _ => best_before,
        };
        let baseline = is_baseline(&record);
        let quota = self.pace.place(baseline);
        let shown = match &record.device {
            Some(device) => Record {
                description: format!("[{device}] {}", record.description),
                ..record.clone()
            },
            None => record.clone(),
        };
        self.status.say(&crate::status::finished_text(
            &shown,
            quota,
            &self.spec.metric.name,
            best,
        ));
        self.pace.finished(baseline);
        self.records.push(record);
        Ok(())
    }

    /// Puts the tree back at `best` after a proposal that will not run.
    fn undo(&self, best: &str, touched: &[String]) -> Result<(), LoopError> {
        self.git.reset_hard(best)?;
        self.git.clean(touched)?;
        Ok(())
    }

    fn measured_record(
        &self,
        index: u64,
        commit: &str,
        parent: &str,
        proposer: &str,
        m: &Measurement,
    ) -> Record {
        let memory_gb = match self
            .spec
            .metric
            .memory
            .as_ref()
            .and_then(|k| m.reading.all.get(k))
        {
            Some(mb) if mb.is_finite() => mb / 1024.0,
            _ => m.outcome.peak_rss_bytes as f64 / (1u64 << 30) as f64,
        };
        Record {
            commit: commit.to_string(),
            proposer: proposer.to_string(),
            metric: m.metric(),
            metrics: m
                .reading
                .all
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            memory_gb,
            peak_rss_bytes: m.outcome.peak_rss_bytes,
            wall_seconds: m.outcome.wall.as_secs_f64(),
            exit: m.exit_text(),
            log: format!("{}/run.log", self.run_dir_relative(index)),
            note: m.note.clone(),
            ..self.blank_record(index, parent)
        }
    }

    fn blank_record(&self, index: u64, parent: &str) -> Record {
        Record {
            index,
            branch: self.branch.clone(),
            commit: parent.to_string(),
            parent: parent.to_string(),
            status: Status::Invalid,
            description: String::new(),
            proposer: self.proposer.name().to_string(),
            metric: None,
            metrics: Default::default(),
            memory_gb: 0.0,
            peak_rss_bytes: 0,
            wall_seconds: 0.0,
            exit: String::new(),
            seed: self.experiment_seed(index),
            diff: Default::default(),
            log: String::new(),
            started_at: now(),
            note: None,
            diff_hash: None,
            usage: None,
            slot: None,
            device: None,
        }
    }

    /// The seed an experiment runs with: the track's fixed one, or one per experiment
    /// derived from the session seed (kept below 2^31 for programs with small seeds).
    fn experiment_seed(&self, index: u64) -> u64 {
        self.spec.run.seed.unwrap_or_else(|| {
            swarmlab_agent::Rng::for_experiment(self.seed, index).next_u64() % (1 << 31)
        })
    }

    fn best_record(&self) -> Option<&Record> {
        self.records.iter().rev().find(|r| r.status == Status::Keep)
    }

    /// The best kept record of this branch (the baseline until something beats it).
    pub fn best(&self) -> Option<&Record> {
        self.best_record()
    }

    /// The metric this branch's baseline measured.
    pub fn baseline_metric(&self) -> Option<f64> {
        self.records
            .iter()
            .find(|r| r.index == 0)
            .and_then(|r| r.metric)
    }

    pub fn spec(&self) -> &TrackSpec {
        &self.spec
    }

    /// Wall seconds of every experiment of this branch, those read back when it opened
    /// included: the device time the search has spent on it.
    pub fn wall_seconds(&self) -> f64 {
        self.records.iter().map(|r| r.wall_seconds).sum()
    }

    fn next_index(&self) -> u64 {
        self.records.iter().map(|r| r.index + 1).max().unwrap_or(0)
    }

    fn head(&self) -> Result<String, LoopError> {
        self.git.resolve("HEAD")?.ok_or(LoopError::NoCommit)
    }

    fn state_dir(&self) -> PathBuf {
        self.spec.root.join(STATE_DIR)
    }

    fn run_dir_relative(&self, index: u64) -> String {
        format!("{STATE_DIR}/runs/{}/{index}", self.tag)
    }

    fn run_dir(&self, index: u64) -> PathBuf {
        self.spec.root.join(self.run_dir_relative(index))
    }
}

/// `the baseline and 40 experiments`: what a branch's records hold.
fn logged(records: &[Record]) -> String {
    let baselines = records.iter().filter(|r| is_baseline(r)).count();
    let experiments = records.len() - baselines;
    let noun = if experiments == 1 {
        "experiment"
    } else {
        "experiments"
    };
    match (baselines > 0, experiments) {
        (true, 0) => "the baseline".into(),
        (true, n) => format!("the baseline and {n} {noun}"),
        (false, n) => format!("{n} {noun}"),
    }
}

/// The proposer's seed for another try at the same experiment number.
fn retry_seed(seed: u64, attempt: u32) -> u64 {
    seed.wrapping_add(u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_names_the_baseline_and_counts_the_rest() {
        let record = |proposer: &str| Record {
            proposer: proposer.into(),
            ..crate::status::tests::record(1, Status::Keep, None, "")
        };
        assert_eq!(logged(&[record("baseline")]), "the baseline");
        assert_eq!(
            logged(&[record("baseline"), record("sweep")]),
            "the baseline and 1 experiment"
        );
        assert_eq!(logged(&[record("sweep"), record("sweep")]), "2 experiments");
    }
}
