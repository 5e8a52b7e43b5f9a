//! One experiment's outcome as it is written to `results.jsonl` (everything) and
//! `results.tsv` (autoresearch's five columns).
//!
//! This module only describes and formats records; appending them and reading them back is
//! `results`' job.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What became of an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Better than the best so far (or the baseline): the branch advanced to it.
    Keep,
    /// Ran and printed a metric that was not better: the branch was reset.
    Discard,
    /// Exited non-zero or was killed by a signal it did not get from the runner.
    Crash,
    /// Ran past the track's hard timeout and was killed.
    Timeout,
    /// Exited 0 but printed no metric.
    NoMetric,
    /// Printed a metric that is NaN or infinite.
    NonFinite,
    /// The proposal changed paths outside `files.editable`; it was reverted and never run.
    Invalid,
    /// The user stopped swarmlab while the experiment ran.
    Interrupted,
}

impl Status {
    /// Every status, in the order reports list them.
    pub const ALL: [Status; 8] = [
        Status::Keep,
        Status::Discard,
        Status::Crash,
        Status::Timeout,
        Status::NoMetric,
        Status::NonFinite,
        Status::Invalid,
        Status::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Keep => "keep",
            Status::Discard => "discard",
            Status::Crash => "crash",
            Status::Timeout => "timeout",
            Status::NoMetric => "no_metric",
            Status::NonFinite => "non_finite",
            Status::Invalid => "invalid",
            Status::Interrupted => "interrupted",
        }
    }

    /// True for outcomes where the program failed to produce a usable measurement.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Status::Crash | Status::Timeout | Status::NoMetric | Status::NonFinite
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lines added and removed by a proposal, over the files it touched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffStat {
    pub files: u32,
    pub insertions: u32,
    pub deletions: u32,
}

/// One line of `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 0 for the baseline, then 1, 2, ... per branch.
    pub index: u64,
    /// The branch the loop works on, `swarmlab/<tag>`.
    pub branch: String,
    /// Full hash of the experiment's commit (the parent's for an invalid proposal).
    pub commit: String,
    /// Full hash of the best commit the proposal started from.
    pub parent: String,
    pub status: Status,
    /// One line saying what the proposal changed.
    pub description: String,
    /// Which proposer produced the change (`baseline` for the baseline).
    pub proposer: String,
    /// The track metric, when the run printed a finite one.
    pub metric: Option<f64>,
    /// Every numeric key the run printed.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// The memory column of results.tsv: the track's memory key when it names one, else the
    /// peak resident memory of the process tree.
    pub memory_gb: f64,
    /// Peak resident memory of the whole process tree, sampled by the runner.
    pub peak_rss_bytes: u64,
    /// Wall time of the run, as the runner measured it.
    pub wall_seconds: f64,
    /// `exit 0`, `exit 3`, `signal 9`, or empty when nothing ran.
    #[serde(default)]
    pub exit: String,
    /// The seed passed in `SWARMLAB_SEED`.
    pub seed: u64,
    #[serde(default)]
    pub diff: DiffStat,
    /// Path of the run's log relative to the track root (empty when nothing ran).
    #[serde(default)]
    pub log: String,
    /// RFC 3339 time the experiment started.
    pub started_at: String,
    /// Why it failed or was refused: the invalid paths, the log tail of a crash, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Hash of the proposal's normalised diff, to recognise a change tried before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_hash: Option<String>,
    /// What asking a model for this proposal cost, for proposers that know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::usage::Usage>,
    /// The slot of a parallel run (`swarmlab run --parallel N`) that ran it, from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u32>,
    /// The device that slot runs on (`cuda:3`, `cpu:0-3`), when it was given one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

impl Record {
    /// The first seven characters of the commit, as results.tsv shows it.
    pub fn short_commit(&self) -> &str {
        crate::git::short(&self.commit)
    }

    /// The row of results.tsv: `commit metric memory_gb status description`, tab-separated.
    /// A missing metric is written as 0.000000 and memory with one decimal, as autoresearch does.
    pub fn tsv_row(&self) -> String {
        let description: String = self
            .description
            .chars()
            .map(|c| {
                if c == '\t' || c == '\n' || c == '\r' {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        format!(
            "{}\t{:.6}\t{:.1}\t{}\t{}",
            self.short_commit(),
            self.metric.unwrap_or(0.0),
            self.memory_gb,
            self.status,
            description
        )
    }
}

/// The header line of results.tsv; the metric's own name stands second.
pub fn tsv_header(metric_name: &str) -> String {
    format!("commit\t{metric_name}\tmemory_gb\tstatus\tdescription")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            index: 3,
            branch: "swarmlab/main".into(),
            commit: "a1b2c3d4e5f6".into(),
            parent: "0000000".into(),
            status: Status::Discard,
            description: "lr 0.0020 -> 0.0031\twith a tab".into(),
            proposer: "sweep".into(),
            metric: Some(1.234_567_89),
            metrics: BTreeMap::new(),
            memory_gb: 44.04,
            peak_rss_bytes: 0,
            wall_seconds: 1.0,
            exit: "exit 0".into(),
            seed: 1,
            diff: DiffStat::default(),
            log: String::new(),
            started_at: "2026-01-01T00:00:00Z".into(),
            note: None,
            diff_hash: None,
            usage: None,
            slot: None,
            device: None,
        }
    }

    #[test]
    fn tsv_row_has_five_tab_separated_columns_in_autoresearch_format() {
        let row = record().tsv_row();
        assert_eq!(
            row,
            "a1b2c3d\t1.234568\t44.0\tdiscard\tlr 0.0020 -> 0.0031 with a tab"
        );
    }

    #[test]
    fn missing_metric_is_written_as_zero() {
        let mut r = record();
        r.metric = None;
        r.status = Status::Crash;
        assert!(r.tsv_row().starts_with("a1b2c3d\t0.000000\t44.0\tcrash\t"));
    }

    #[test]
    fn status_round_trips_through_json_in_snake_case() {
        for s in Status::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Status>(&json).unwrap(), s);
        }
    }
}
