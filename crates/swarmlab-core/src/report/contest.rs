//! The standings of a contest of programs (`swarmlab contest`): per program, the best metric
//! each of its runs reached, the mean of those bests with a bootstrap confidence interval, the
//! gain per device-hour, a ranking that says which leads are clear, and one chart of every
//! program's running best.
//!
//! The statistics, stated plainly (docs/contest.md says the same): a run's *best* is its best
//! kept metric, its baseline included; a program's score is the mean best over its runs; its
//! 95% interval is the percentile bootstrap of that mean (2000 resamples of its runs with
//! replacement, drawn from a fixed seed so the report is reproducible). Programs rank by mean
//! best; one leads the next *clearly* when their intervals do not overlap. A run's gain per
//! device-hour is its best's gain on its own baseline over the hours its runs took (the sum of
//! their wall seconds).
//!
//! Pure functions of the records, like the rest of the report; the caller reads and writes.

mod chart;

use std::fmt::Write;

use serde::Serialize;

use super::format_value;
use crate::{Goal, Record, Status};

pub use chart::contest_svg;

/// Resamples of the bootstrap.
const RESAMPLES: usize = 2000;
/// The bootstrap's seed: the same records always give the same intervals.
const BOOTSTRAP_SEED: u64 = 0x5EED_C0DE;

/// One program of the contest: its name and each of its runs' records, run 1 first.
pub struct Entry<'a> {
    pub name: &'a str,
    pub runs: Vec<&'a [Record]>,
}

/// What the contest found for one program, in rank order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standing {
    pub rank: usize,
    pub program: String,
    /// The best metric each run reached, run 1 first (`None`: no kept metric).
    pub bests: Vec<Option<f64>>,
    /// The mean of the bests, and its 95% percentile-bootstrap interval.
    pub mean_best: Option<f64>,
    pub interval: Option<(f64, f64)>,
    /// Each run's gain on its baseline per device-hour, and their mean.
    pub gains_per_hour: Vec<Option<f64>>,
    pub mean_gain_per_hour: Option<f64>,
    /// Summed wall seconds of all its runs.
    pub device_seconds: f64,
    /// Experiments logged (baselines and interrupted ones not counted).
    pub experiments: usize,
    /// Whether its interval lies clear of the next program's (false for the last).
    pub clearly_ahead: bool,
}

/// The standings of every program, best first.
pub fn standings(entries: &[Entry], goal: Goal) -> Vec<Standing> {
    let mut out: Vec<Standing> = entries.iter().map(|e| standing(e, goal)).collect();
    // Programs with no result rank last; ties keep the order given.
    out.sort_by(|a, b| match (a.mean_best, b.mean_best) {
        (Some(x), Some(y)) => goal
            .gain(y, x)
            .partial_cmp(&0.0)
            .map_or(std::cmp::Ordering::Equal, std::cmp::Ordering::reverse),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    for i in 0..out.len() {
        out[i].rank = i + 1;
        out[i].clearly_ahead = match (out[i].interval, out.get(i + 1).and_then(|n| n.interval)) {
            (Some(a), Some(b)) => !overlap(a, b),
            _ => false,
        };
    }
    out
}

fn standing(entry: &Entry, goal: Goal) -> Standing {
    let bests: Vec<Option<f64>> = entry.runs.iter().map(|r| best(r, goal)).collect();
    let found: Vec<f64> = bests.iter().flatten().copied().collect();
    let gains_per_hour: Vec<Option<f64>> = entry
        .runs
        .iter()
        .zip(&bests)
        .map(|(records, best)| -> Option<f64> {
            let baseline = records.iter().find(|r| r.index == 0)?.metric?;
            let hours = seconds(records) / 3600.0;
            (hours > 0.0).then_some(goal.gain(baseline, (*best)?) / hours)
        })
        .collect();
    let gains: Vec<f64> = gains_per_hour.iter().flatten().copied().collect();
    Standing {
        rank: 0,
        program: entry.name.to_string(),
        mean_best: mean(&found),
        interval: bootstrap(&found),
        gains_per_hour,
        mean_gain_per_hour: mean(&gains),
        device_seconds: entry.runs.iter().map(|r| seconds(r)).sum(),
        experiments: entry
            .runs
            .iter()
            .map(|r| {
                r.iter()
                    .filter(|x| x.index > 0 && x.status != Status::Interrupted)
                    .count()
            })
            .sum(),
        bests,
        clearly_ahead: false,
    }
}

/// The best kept metric of one run's records.
fn best(records: &[Record], goal: Goal) -> Option<f64> {
    running_best(records, goal).last().map(|(_, v)| *v)
}

/// `(experiment number, best so far)` at each kept experiment with a metric.
fn running_best(records: &[Record], goal: Goal) -> Vec<(u64, f64)> {
    let mut steps: Vec<(u64, f64)> = Vec::new();
    for record in records.iter().filter(|r| r.status == Status::Keep) {
        let Some(v) = record.metric.filter(|v| v.is_finite()) else {
            continue;
        };
        match steps.last() {
            Some((_, b)) if !goal.improves(v, *b) => {}
            _ => steps.push((record.index, v)),
        }
    }
    steps
}

fn seconds(records: &[Record]) -> f64 {
    records.iter().map(|r| r.wall_seconds.max(0.0)).sum()
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

/// The 2.5th and 97.5th percentiles of the mean of `values` resampled with replacement.
fn bootstrap(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut state = BOOTSTRAP_SEED;
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let sum: f64 = (0..values.len())
                .map(|_| values[(splitmix(&mut state) % values.len() as u64) as usize])
                .sum();
            sum / values.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (RESAMPLES - 1) as f64).round() as usize).min(RESAMPLES - 1)];
    Some((at(0.025), at(0.975)))
}

/// SplitMix64: a small, well-mixed generator, enough for resampling indices.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn cell(value: Option<f64>) -> String {
    value.map_or("—".into(), format_value)
}

/// Seconds as `42.1 s`, or hours as `3.25 h` from an hour on.
fn device_time(seconds: f64) -> String {
    if seconds < 3600.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{:.2} h", seconds / 3600.0)
    }
}

/// `contest.md`: the ranking table, what it means, and every run's best.
pub fn contest_markdown(standings: &[Standing], metric: &str, goal: Goal, title: &str) -> String {
    let mut out = format!("# {title}\n\n");
    let _ = writeln!(
        out,
        "Each program's score is the mean of its runs' best {metric} ({goal}); the interval is \
         the 95% percentile bootstrap of that mean over its runs ({RESAMPLES} resamples). A \
         program leads the next **clearly** when their intervals do not overlap.\n"
    );
    let _ = writeln!(
        out,
        "| rank | program | mean best | 95% interval | gain / device-hour | device time | experiments | ahead of the next |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for (i, s) in standings.iter().enumerate() {
        let ahead = match (i + 1 == standings.len(), s.clearly_ahead) {
            (true, _) => "",
            (false, true) => "clearly",
            (false, false) => "no clear difference",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {ahead} |",
            s.rank,
            s.program,
            cell(s.mean_best),
            s.interval.map_or("—".into(), |(lo, hi)| format!(
                "[{}, {}]",
                format_value(lo),
                format_value(hi)
            )),
            cell(s.mean_gain_per_hour),
            device_time(s.device_seconds),
            s.experiments,
        );
    }
    let _ = writeln!(out, "\n## Best of each run\n");
    for s in standings {
        let bests: Vec<String> = s.bests.iter().map(|b| cell(*b)).collect();
        let _ = writeln!(out, "- {}: {}", s.program, bests.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[(Status, f64)]) -> Vec<Record> {
        values
            .iter()
            .enumerate()
            .map(|(i, (status, v))| {
                let mut r: Record = serde_json::from_str(&format!(
                    r#"{{"index":{i},"branch":"b","commit":"c","parent":"p","status":"keep","description":"","proposer":"x","metric":{v},"memory_gb":0,"peak_rss_bytes":0,"wall_seconds":1800,"seed":0,"started_at":""}}"#
                ))
                .expect("a record");
                r.status = *status;
                r
            })
            .collect()
    }

    #[test]
    fn a_better_program_ranks_first_with_its_gain_per_hour() {
        let (k, d) = (Status::Keep, Status::Discard);
        let good = [run(&[(k, 2.0), (k, 1.0)]), run(&[(k, 2.0), (k, 1.2)])];
        let poor = [run(&[(k, 2.0), (d, 3.0)]), run(&[(k, 2.0), (k, 1.9)])];
        let entries = [
            Entry {
                name: "poor",
                runs: poor.iter().map(Vec::as_slice).collect(),
            },
            Entry {
                name: "good",
                runs: good.iter().map(Vec::as_slice).collect(),
            },
        ];
        let s = standings(&entries, Goal::Minimize);
        assert_eq!(s[0].program, "good");
        assert_eq!(s[0].bests, vec![Some(1.0), Some(1.2)]);
        assert_eq!(s[0].mean_best, Some(1.1));
        // One hour per run (two records of 1800 s); gains 1.0 and 0.8.
        assert_eq!(s[0].gains_per_hour, vec![Some(1.0), Some(0.8)]);
        let (lo, hi) = s[0].interval.expect("an interval");
        assert!((1.0..=1.2).contains(&lo) && (1.0..=1.2).contains(&hi) && lo < hi);
        assert!(s[0].clearly_ahead);
        assert_eq!(s[1].bests, vec![Some(2.0), Some(1.9)]);
        let md = contest_markdown(&s, "loss", Goal::Minimize, "t");
        assert!(md.contains("| 1 | good |"), "{md}");
        let svg = contest_svg(&entries, "loss", Goal::Minimize, "t");
        assert_eq!(svg.matches(r#"class="mean""#).count(), 2);
        assert_eq!(svg.matches(r#"class="run""#).count(), 4);
    }

    #[test]
    fn identical_programs_are_not_separated() {
        let k = Status::Keep;
        let runs = [run(&[(k, 2.0), (k, 1.0)]), run(&[(k, 2.0), (k, 1.5)])];
        let entry = |name| Entry {
            name,
            runs: runs.iter().map(Vec::as_slice).collect(),
        };
        let s = standings(&[entry("a"), entry("b")], Goal::Minimize);
        assert_eq!(s[0].interval, s[1].interval);
        assert!(!s[0].clearly_ahead);
        assert!(contest_markdown(&s, "loss", Goal::Minimize, "t").contains("no clear difference"));
    }
}
