//! What a branch's records say once read in order: which points were kept, discarded or
//! failed, the running best, and how much each kept experiment gained on its parent.
//!
//! The chart and the summary both read it so they tell the same story; nothing here formats.

use std::collections::HashMap;

use crate::{Goal, Record, Status};

/// How a record is drawn: a point with a metric, or a failure without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Kept,
    Discarded,
    Failed,
}

impl Outcome {
    /// A record counts as a point only when it was kept or discarded with a finite metric;
    /// everything else (a crash, or a malformed record) is drawn as a failure.
    pub(super) fn of(record: &Record) -> Outcome {
        match (record.status, value(record)) {
            (Status::Keep, Some(_)) => Outcome::Kept,
            (Status::Discard, Some(_)) => Outcome::Discarded,
            _ => Outcome::Failed,
        }
    }
}

/// The record's metric when it is finite.
pub(super) fn value(record: &Record) -> Option<f64> {
    record.metric.filter(|m| m.is_finite())
}

/// A kept experiment with a metric.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Step {
    /// Position in the records.
    pub(super) pos: usize,
    pub(super) value: f64,
    /// What it is measured against: its parent commit's metric when that commit was kept
    /// earlier, else the best before it; `None` for the first kept record (the baseline).
    pub(super) reference: Option<f64>,
    /// The running best once this step is counted.
    pub(super) best: f64,
}

impl Step {
    /// `value - reference`, signed as the metric is.
    pub(super) fn delta(&self) -> Option<f64> {
        self.reference.map(|r| self.value - r)
    }
}

/// The records of one branch read in order.
pub(super) struct History<'a> {
    pub(super) records: &'a [Record],
    pub(super) goal: Goal,
    /// Every kept record with a metric, in order.
    pub(super) steps: Vec<Step>,
}

impl<'a> History<'a> {
    pub(super) fn new(records: &'a [Record], goal: Goal) -> Self {
        let mut kept_by_commit: HashMap<&str, f64> = HashMap::new();
        let mut best: Option<f64> = None;
        let mut steps = Vec::new();
        for (pos, record) in records.iter().enumerate() {
            if Outcome::of(record) != Outcome::Kept {
                continue;
            }
            let value = value(record).expect("a kept outcome has a finite metric");
            let reference = kept_by_commit.get(record.parent.as_str()).copied().or(best);
            let running = best.map_or(value, |b| goal.better(b, value));
            steps.push(Step {
                pos,
                value,
                reference,
                best: running,
            });
            best = Some(running);
            kept_by_commit.insert(record.commit.as_str(), value);
        }
        History {
            records,
            goal,
            steps,
        }
    }

    /// The first kept record with a metric: the baseline, unless the baseline failed.
    pub(super) fn baseline(&self) -> Option<&Step> {
        self.steps.first()
    }

    /// The kept record with the best metric (the earliest, on a tie).
    pub(super) fn best(&self) -> Option<&Step> {
        self.steps
            .iter()
            .fold(None, |best: Option<&Step>, step| match best {
                Some(b) if !self.goal.improves(step.value, b.value) => Some(b),
                _ => Some(step),
            })
    }

    /// How much `step` improved on its reference, positive when it is better whatever the goal.
    pub(super) fn gain(&self, step: &Step) -> f64 {
        step.reference
            .map_or(0.0, |reference| self.goal.gain(reference, step.value))
    }

    /// The kept experiments after the baseline, largest gain first (earliest first on a tie).
    pub(super) fn improvements(&self) -> Vec<&Step> {
        let mut steps: Vec<&Step> = self.steps.iter().skip(1).collect();
        steps.sort_by(|a, b| {
            self.gain(b)
                .total_cmp(&self.gain(a))
                .then(a.pos.cmp(&b.pos))
        });
        steps
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::DiffStat;
    use std::collections::BTreeMap;

    /// A record at `index` with a commit named after it and `parent` as its parent's index.
    pub(crate) fn record(
        index: u64,
        parent: u64,
        status: Status,
        metric: Option<f64>,
        description: &str,
    ) -> Record {
        Record {
            index,
            branch: "swarmlab/test".into(),
            commit: format!("c{index:06}aaaaaaaaaa"),
            parent: format!("c{parent:06}aaaaaaaaaa"),
            status,
            description: description.into(),
            proposer: "test".into(),
            metric,
            metrics: BTreeMap::new(),
            memory_gb: 1.0,
            peak_rss_bytes: 0,
            wall_seconds: 60.0,
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
    fn outcome_needs_a_finite_metric_to_be_a_point() {
        assert_eq!(
            Outcome::of(&record(1, 0, Status::Keep, Some(1.0), "")),
            Outcome::Kept
        );
        assert_eq!(
            Outcome::of(&record(1, 0, Status::Discard, Some(1.0), "")),
            Outcome::Discarded
        );
        assert_eq!(
            Outcome::of(&record(1, 0, Status::Crash, None, "")),
            Outcome::Failed
        );
        assert_eq!(
            Outcome::of(&record(1, 0, Status::Keep, None, "")),
            Outcome::Failed
        );
        assert_eq!(
            Outcome::of(&record(1, 0, Status::Discard, Some(f64::NAN), "")),
            Outcome::Failed
        );
    }

    #[test]
    fn steps_measure_each_kept_record_against_its_parent() {
        let records = [
            record(0, 0, Status::Keep, Some(1.0), "baseline"),
            record(1, 0, Status::Discard, Some(1.1), "worse"),
            record(2, 0, Status::Keep, Some(0.9), "better"),
            record(3, 2, Status::Crash, None, "boom"),
            // Pipelined: started from the baseline, measured against it.
            record(4, 0, Status::Keep, Some(0.8), "much better"),
        ];
        let history = History::new(&records, Goal::Minimize);
        let steps: Vec<(usize, Option<f64>, f64)> = history
            .steps
            .iter()
            .map(|s| (s.pos, s.reference, s.best))
            .collect();
        assert_eq!(
            steps,
            vec![(0, None, 1.0), (2, Some(1.0), 0.9), (4, Some(1.0), 0.8)]
        );
        assert_eq!(history.best().map(|s| s.pos), Some(4));
        let order: Vec<usize> = history.improvements().iter().map(|s| s.pos).collect();
        assert_eq!(order, vec![4, 2]);
    }

    #[test]
    fn maximize_gains_are_positive_upwards() {
        let records = [
            record(0, 0, Status::Keep, Some(10.0), "baseline"),
            record(1, 0, Status::Keep, Some(12.0), "up"),
        ];
        let history = History::new(&records, Goal::Maximize);
        assert_eq!(history.gain(&history.steps[1]), 2.0);
        assert_eq!(history.best().map(|s| s.pos), Some(1));
    }
}
