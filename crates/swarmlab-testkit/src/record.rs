//! [`RecordBuilder`]: an experiment's [`Record`] for tests that need results without running
//! anything. Every field has a plain default (a kept run of branch `swarmlab/main` that
//! printed no metric); a test sets what it is about and leaves the rest.
//!
//! It only builds values; writing them to `results.jsonl` is `swarmlab_core::ResultsLog`'s job.

use std::collections::BTreeMap;

use swarmlab_core::{DiffStat, Record, Status};

/// A [`Record`] being built; see [`record`].
#[derive(Debug, Clone)]
pub struct RecordBuilder {
    record: Record,
}

/// The record of experiment `index` (0 is the baseline), with defaults for every field.
pub fn record(index: u64) -> RecordBuilder {
    RecordBuilder {
        record: Record {
            index,
            branch: "swarmlab/main".into(),
            commit: format!("{index:040x}"),
            parent: String::new(),
            status: Status::Keep,
            description: String::new(),
            proposer: if index == 0 { "baseline" } else { "sweep" }.into(),
            metric: None,
            metrics: BTreeMap::new(),
            memory_gb: 0.0,
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
        },
    }
}

impl RecordBuilder {
    pub fn branch(mut self, branch: &str) -> Self {
        self.record.branch = branch.into();
        self
    }

    pub fn commit(mut self, commit: &str) -> Self {
        self.record.commit = commit.into();
        self
    }

    /// The best commit the proposal started from.
    pub fn parent(mut self, parent: &str) -> Self {
        self.record.parent = parent.into();
        self
    }

    pub fn status(mut self, status: Status) -> Self {
        self.record.status = status;
        self
    }

    pub fn description(mut self, description: &str) -> Self {
        self.record.description = description.into();
        self
    }

    pub fn proposer(mut self, proposer: &str) -> Self {
        self.record.proposer = proposer.into();
        self
    }

    /// The track metric; `None` for a run that printed none.
    pub fn metric(mut self, metric: Option<f64>) -> Self {
        self.record.metric = metric;
        self
    }

    /// Adds one of the numeric keys the run printed.
    pub fn printed(mut self, key: &str, value: f64) -> Self {
        self.record.metrics.insert(key.into(), value);
        self
    }

    pub fn memory_gb(mut self, memory_gb: f64) -> Self {
        self.record.memory_gb = memory_gb;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.record.seed = seed;
        self
    }

    pub fn started_at(mut self, started_at: &str) -> Self {
        self.record.started_at = started_at.into();
        self
    }

    pub fn build(self) -> Record {
        self.record
    }
}
