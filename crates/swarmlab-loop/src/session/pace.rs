//! The pace of a session, for the screen: which experiment of the quota is in flight, what a
//! run of this branch usually takes, and when the session should be done.
//!
//! It only estimates; the limits themselves are `Session::run`'s to enforce.

use std::time::{Duration, Instant};

use swarmlab_core::{Record, Status};

/// Runs looked at for what a run usually takes.
const RECENT_RUNS: usize = 10;

/// What `Session::run` was asked for, and how far it got.
#[derive(Debug, Clone, Default)]
pub(super) struct Pace {
    started: Option<Instant>,
    /// Experiments asked for; shown as a quota, and counted for the ETA, only when more than
    /// one (each round of `swarmlab work` asks for one, and the worker goes on after it).
    quota: Option<u64>,
    until: Option<Instant>,
    /// Experiments finished since `started` (baselines not counted).
    done: u64,
    /// Records finished since `started`, baselines counted, and when the last one finished.
    finished: u32,
    last_finish: Option<Instant>,
}

impl Pace {
    pub(super) fn start(quota: Option<u64>, duration: Option<Duration>) -> Pace {
        let now = Instant::now();
        Pace {
            started: Some(now),
            quota,
            until: duration.map(|d| now + d),
            ..Pace::default()
        }
    }

    /// Counts a finished record.
    pub(super) fn finished(&mut self, baseline: bool) {
        if !baseline {
            self.done += 1;
        }
        self.finished += 1;
        self.last_finish = Some(Instant::now());
    }

    /// The quota place of the next record, `(3, 10)`; a baseline is `(0, 10)`.
    pub(super) fn place(&self, baseline: bool) -> Option<(u64, u64)> {
        let quota = self.quota.filter(|n| *n > 1)?;
        Some((if baseline { 0 } else { self.done + 1 }, quota))
    }

    /// The estimate for the record about to run, given what a run usually takes.
    pub(super) fn eta(&self, baseline: bool, typical: Option<Duration>) -> Eta {
        let per = match (self.started, self.last_finish) {
            (Some(start), Some(last)) if self.finished > 0 => {
                Some(last.duration_since(start) / self.finished)
            }
            _ => typical,
        };
        let position = if baseline { 0 } else { self.done + 1 };
        Eta {
            per,
            left_after: self
                .quota
                .filter(|n| *n > 1)
                .map(|n| n.saturating_sub(position)),
            until: self.until,
        }
    }
}

/// How long until the session is done, as the run in flight goes on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Eta {
    /// What one experiment takes, proposal and all.
    per: Option<Duration>,
    /// Experiments of the quota after the one in flight.
    left_after: Option<u64>,
    /// When the session stops starting experiments.
    until: Option<Instant>,
}

impl Eta {
    /// The estimate once the run in flight has taken `elapsed`; `None` without a limit or
    /// before anything has a time.
    pub(super) fn at(&self, elapsed: Duration) -> Option<Duration> {
        let per = self.per?;
        let this = per.saturating_sub(elapsed);
        let by_count = self
            .left_after
            .map(|n| per.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX)) + this);
        let by_time = self
            .until
            .map(|until| until.saturating_duration_since(Instant::now()) + this);
        match (by_count, by_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What a complete run of these records usually takes: the median wall time of the last
/// kept or discarded runs (failures end early or late and say little).
pub(super) fn typical_run(records: &[Record]) -> Option<Duration> {
    let mut walls: Vec<f64> = records
        .iter()
        .rev()
        .filter(|r| matches!(r.status, Status::Keep | Status::Discard))
        .map(|r| r.wall_seconds)
        .filter(|w| w.is_finite() && *w > 0.0)
        .take(RECENT_RUNS)
        .collect();
    if walls.is_empty() {
        return None;
    }
    walls.sort_by(f64::total_cmp);
    Some(Duration::from_secs_f64(walls[walls.len() / 2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_counts_experiments_and_shows_the_baseline_as_zero() {
        let mut pace = Pace::start(Some(10), None);
        assert_eq!(pace.place(true), Some((0, 10)));
        pace.finished(true);
        assert_eq!(pace.place(false), Some((1, 10)));
        pace.finished(false);
        assert_eq!(pace.place(false), Some((2, 10)));
        assert_eq!(Pace::start(Some(1), None).place(false), None);
        assert_eq!(Pace::start(None, None).place(false), None);
    }

    #[test]
    fn the_eta_is_the_runs_left_at_the_usual_pace() {
        let pace = Pace::start(Some(10), None);
        let typical = Some(Duration::from_secs(4));
        // Before anything finished here, earlier runs give the pace: 10 after the baseline.
        let eta = pace.eta(true, typical);
        assert_eq!(
            eta.at(Duration::from_secs(1)),
            Some(Duration::from_secs(43))
        );
        // A run past its usual time adds nothing negative.
        assert_eq!(
            eta.at(Duration::from_secs(9)),
            Some(Duration::from_secs(40))
        );
        assert_eq!(pace.eta(true, None).at(Duration::ZERO), None);
        assert_eq!(
            Pace::start(None, None)
                .eta(false, typical)
                .at(Duration::ZERO),
            None
        );
    }

    #[test]
    fn a_deadline_caps_the_eta() {
        let pace = Pace::start(Some(1000), Some(Duration::from_secs(60)));
        let eta = pace.eta(false, Some(Duration::from_secs(4)));
        let left = eta.at(Duration::ZERO).unwrap();
        assert!(
            left <= Duration::from_secs(64) && left > Duration::from_secs(60),
            "{left:?}"
        );
    }
}
