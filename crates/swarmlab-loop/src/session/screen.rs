//! Successive halving in the sequential loop (`swarmlab run --screen FRACTION`): every change
//! first runs at a fraction of the budget, and only a screen among the best [`ETA`]th of all
//! screens so far is promoted to a full run; the others are logged as discarded without one.
//!
//! The rule reads the records alone (each screened experiment keeps its screen's metric under
//! [`key`]), so a resumed run promotes exactly what an uninterrupted one would have. It decides
//! promotion only: whether a promoted run is kept is the session's one rule, on the full run.

use swarmlab_core::{Goal, Record};

use super::Session;
use crate::measure::Measurement;
use crate::LoopError;

/// One screen in this many is promoted (rounded up: the first screen always is).
pub const ETA: usize = 3;

/// The key of a screened experiment's record under which its screen's metric is kept.
pub fn key(metric: &str) -> String {
    format!("screen_{metric}")
}

/// Whether a screen that measured `value` is promoted: it is among the best `ceil(n / ETA)`
/// of the `n` screens of `history` and itself, ties going to the new one.
pub fn promoted(history: &[Record], metric: &str, goal: Goal, value: f64) -> bool {
    let key = key(metric);
    let earlier: Vec<f64> = history
        .iter()
        .filter_map(|r| r.metrics.get(&key).copied())
        .collect();
    let places = (earlier.len() + 1).div_ceil(ETA);
    let ahead = earlier.iter().filter(|&&e| goal.improves(e, value)).count();
    ahead < places
}

/// The note of an experiment that its screen left out.
pub fn screened_out_note(metric: &str, value: f64, fraction: f64, screens: usize) -> String {
    format!(
        "screened out: {metric} {value:.6} at {:.0}% of the budget is not among the best 1/{ETA} of {screens} screens",
        fraction * 100.0
    )
}

/// The number of screens in `history`, this one not counted.
pub fn screens(history: &[Record], metric: &str) -> usize {
    let key = key(metric);
    history
        .iter()
        .filter(|r| r.metrics.contains_key(&key))
        .count()
}

/// What the screen of a change came to.
pub(super) enum Screened {
    /// Promoted: the full run follows. The screen measured this, in this many seconds.
    In(f64, f64),
    /// Screened out, or the screen failed: its measurement stands for the experiment's, and
    /// the note says why there was no full run.
    Out(String),
}

impl Session {
    /// Screens experiment `index` at `fraction` of the budget and decides its promotion.
    pub(super) fn screened(
        &mut self,
        index: u64,
        description: &str,
        marker: &str,
        fraction: f64,
    ) -> Result<(Screened, Measurement), LoopError> {
        let (measurement, _) =
            self.measure_and_prepare(index, description, marker, None, Some(fraction))?;
        let (metric, goal) = (&self.spec.metric.name, self.spec.metric.goal);
        let note = match (measurement.failure, measurement.metric()) {
            (None, Some(value)) if promoted(&self.records, metric, goal, value) => {
                let wall = measurement.outcome.wall.as_secs_f64();
                return Ok((Screened::In(value, wall), measurement));
            }
            (None, Some(value)) => {
                screened_out_note(metric, value, fraction, screens(&self.records, metric) + 1)
            }
            _ => format!(
                "the screening run at {:.0}% of the budget did not measure {metric}",
                fraction * 100.0
            ),
        };
        Ok((Screened::Out(note), measurement))
    }

    /// Writes what the screen measured into the experiment's `record`: the screen's metric
    /// under [`key`] beside a full run's; for one screened out, its numbers (each key with
    /// `screen_` in front), its log and why it went no further.
    pub(super) fn note_screen(&self, record: &mut Record, screened: &Screened) {
        let metric = &self.spec.metric.name;
        match screened {
            Screened::In(value, wall) => {
                record.metrics.insert(key(metric), *value);
                record.wall_seconds += wall;
            }
            Screened::Out(note) => {
                record.metric = None;
                record.metrics = std::mem::take(&mut record.metrics)
                    .into_iter()
                    .map(|(k, v)| (key(&k), v))
                    .collect();
                record.log = format!("{}/screen/run.log", self.run_dir_relative(record.index));
                record.note = Some(match &record.note {
                    Some(earlier) => format!("{note}; {earlier}"),
                    None => note.clone(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::tests::record;
    use swarmlab_core::Status;

    fn screened(values: &[f64]) -> Vec<Record> {
        values
            .iter()
            .zip(1..)
            .map(|(&v, index)| {
                let mut record = record(index, Status::Discard, None, "d");
                record.metrics.insert(key("loss"), v);
                record
            })
            .collect()
    }

    #[test]
    fn the_first_screen_is_promoted_and_then_only_the_best_third() {
        let goal = Goal::Minimize;
        assert!(promoted(&[], "loss", goal, 9.0));
        // Two screens: one place.
        assert!(promoted(&screened(&[2.0]), "loss", goal, 1.5));
        assert!(!promoted(&screened(&[2.0]), "loss", goal, 2.5));
        assert!(
            promoted(&screened(&[2.0]), "loss", goal, 2.0),
            "a tie goes to the new one"
        );
        // Six screens: two places.
        let five = screened(&[5.0, 1.0, 4.0, 3.0, 2.0]);
        assert!(promoted(&five, "loss", goal, 1.5));
        assert!(!promoted(&five, "loss", goal, 2.5));
        assert!(promoted(&five, "loss", Goal::Maximize, 4.5));
        assert!(!promoted(&five, "loss", Goal::Maximize, 3.5));
        assert_eq!(screens(&five, "loss"), 5);
    }

    #[test]
    fn records_without_a_screen_or_of_another_metric_do_not_count() {
        let mut history = screened(&[1.0]);
        history[0].metrics.clear();
        history[0].metric = Some(0.5);
        history.extend(screened(&[0.1]).into_iter().map(|mut r| {
            let v = r.metrics.remove(&key("loss")).expect("set above");
            r.metrics.insert(key("other"), v);
            r
        }));
        assert!(promoted(&history, "loss", Goal::Minimize, 100.0));
        assert_eq!(screens(&history, "loss"), 0);
    }
}
