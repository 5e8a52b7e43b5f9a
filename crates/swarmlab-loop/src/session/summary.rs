//! The closing lines of a session: the totals (this session's and the branch's), the best
//! against the baseline, a short table (the best and the last few rows, with the path of the
//! full one), where the chart is, and how to go on.
//!
//! The text is a pure function of the records ([`summary_text`]); writing the report files is
//! `report`'s.

use std::path::Path;

use swarmlab_core::{short, Record, Status};

use super::{logged, Session, Stop};
use crate::one_line;
use crate::status::{clock, is_baseline, Counts};

/// The last rows of the table shown at the end; the whole table is in results.tsv.
const LAST_ROWS: usize = 5;

impl Session {
    /// Prints the closing lines and writes the report files.
    pub fn print_summary(&mut self, stop: Stop) {
        let chart =
            match crate::report::write(&self.spec, &self.branch, &self.records, &self.spec.root) {
                Ok((svg, summary)) => format!(
                    "chart:   {} (summary: {})",
                    svg.display(),
                    summary.display()
                ),
                Err(e) => format!("chart:   not written: {}", one_line(&e)),
            };
        let text = summary_text(&Closing {
            branch: &self.branch,
            metric: &self.spec.metric.name,
            records: &self.records,
            new: self.records.len() - self.records_at_open.min(self.records.len()),
            tsv: self.log.tsv_path(),
            stop,
        });
        self.status.say("");
        for line in text.lines() {
            self.status.say(line);
        }
        self.status.say(&chart);
        if let Some(hint) = go_on(stop, self.next_index()) {
            self.status.say(&hint);
        }
    }
}

/// What the closing lines are about.
pub(crate) struct Closing<'a> {
    pub branch: &'a str,
    pub metric: &'a str,
    /// Every record of the branch, in order.
    pub records: &'a [Record],
    /// How many of them this session added.
    pub new: usize,
    pub tsv: &'a Path,
    pub stop: Stop,
}

/// The closing lines, without the chart's and the hint's.
pub(crate) fn summary_text(c: &Closing) -> String {
    let mut all = Counts::default();
    c.records.iter().for_each(|r| all.add(r));
    let mut here = Counts::default();
    c.records[c.records.len() - c.new..]
        .iter()
        .for_each(|r| here.add(r));
    let mut head = format!("{}: {}", c.branch, logged(c.records));
    if here.total() < all.total() {
        head.push_str(&format!(", {} of them in this session", here.total()));
    }
    let mut counts = format!("experiments: {all}");
    if here.total() < all.total() {
        counts.push_str(&format!(" (this session: {here})"));
    }
    let mut out = vec![head, counts];
    let baseline = c
        .records
        .iter()
        .find(|r| is_baseline(r))
        .and_then(|r| r.metric);
    let best = c
        .records
        .iter()
        .rev()
        .find(|r| r.status == Status::Keep && r.metric.is_some());
    if let Some(best) = best {
        let value = best.metric.unwrap_or(f64::NAN);
        let against = match baseline {
            Some(b) if !is_baseline(best) => format!("; baseline {b:.6}, {:+.6}", value - b),
            _ => String::new(),
        };
        out.push(format!(
            "best {} {value:.6} at {} (#{}{against}): {}",
            c.metric,
            short(&best.commit),
            best.index,
            best.description
        ));
        if let Some(floor) = best.metrics.get("entropy_floor_bpb") {
            out.push(format!(
                "entropy floor {floor:.6} bits per byte: the best is {:.6} above it",
                value - floor
            ));
        }
    }
    let rows = rows(c.records, best);
    out.push(String::new());
    out.push(table(&rows, best, c.metric));
    out.push(if rows.len() < c.records.len() {
        format!(
            "({} of {} rows; all in {})",
            rows.len(),
            c.records.len(),
            c.tsv.display()
        )
    } else {
        format!("(all in {})", c.tsv.display())
    });
    if c.stop == Stop::Interrupted {
        out.push("stopped by the user".to_string());
    }
    out.join("\n")
}

/// How to go on, after a stop that a second run can go on from.
fn go_on(stop: Stop, next: u64) -> Option<String> {
    match stop {
        Stop::Limit | Stop::Interrupted => Some(format!(
            "run the same command to continue (it resumes at #{next})"
        )),
        Stop::NothingToPropose => None,
    }
}

/// The best row when it is not among the last few, then the last few.
fn rows<'a>(records: &'a [Record], best: Option<&'a Record>) -> Vec<&'a Record> {
    let last = &records[records.len().saturating_sub(LAST_ROWS)..];
    let mut rows: Vec<&Record> = Vec::new();
    if let Some(best) = best.filter(|b| !last.iter().any(|r| r.index == b.index)) {
        rows.push(best);
    }
    rows.extend(last);
    rows
}

/// The rows aligned under a header, the best marked.
fn table(rows: &[&Record], best: Option<&Record>, metric: &str) -> String {
    let mut out = format!(
        "{:<6} {:<8} {:>12} {:>9} {:>8}  {:<11} description",
        "#", "commit", metric, "memory_gb", "time", "status"
    );
    let best_index = best.map(|b| b.index);
    for r in rows.iter().copied() {
        let value = r
            .metric
            .map(|m| format!("{m:.6}"))
            .unwrap_or_else(|| "-".into());
        let mark = if Some(r.index) == best_index {
            "  <- best"
        } else {
            ""
        };
        out.push_str(&format!(
            "\n{:<6} {:<8} {value:>12} {:>9.1} {:>8}  {:<11} {}{mark}",
            format!("#{}", r.index),
            r.short_commit(),
            r.memory_gb,
            clock(std::time::Duration::from_secs_f64(r.wall_seconds.max(0.0))),
            r.status.as_str(),
            r.description
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::tests::record;

    fn history(n: u64) -> Vec<Record> {
        let mut records = vec![record(0, Status::Keep, Some(2.0), "baseline")];
        for i in 1..=n {
            records.push(match i {
                3 => record(i, Status::Keep, Some(1.5), "good 1.5"),
                7 => record(i, Status::Crash, None, "crash"),
                _ => record(i, Status::Discard, Some(2.0 + i as f64 / 10.0), "worse"),
            });
        }
        records
    }

    fn closing<'a>(records: &'a [Record], new: usize, stop: Stop) -> Closing<'a> {
        Closing {
            branch: "swarmlab/main",
            metric: "loss",
            records,
            new,
            tsv: Path::new("/track/results.tsv"),
            stop,
        }
    }

    #[test]
    fn a_long_history_shows_the_best_and_the_last_rows() {
        let records = history(12);
        insta::assert_snapshot!(summary_text(&closing(&records, 4, Stop::Limit)), @r"
        swarmlab/main: the baseline and 12 experiments, 4 of them in this session
        experiments: 1 kept, 10 discarded, 1 failed (this session: 0 kept, 4 discarded)
        best loss 1.500000 at 0000003 (#3; baseline 2.000000, -0.500000): good 1.5

        #      commit           loss memory_gb     time  status      description
        #3     0000003      1.500000       0.1     1.2s  keep        good 1.5  <- best
        #8     0000008      2.800000       0.1     1.2s  discard     worse
        #9     0000009      2.900000       0.1     1.2s  discard     worse
        #10    000000a      3.000000       0.1     1.2s  discard     worse
        #11    000000b      3.100000       0.1     1.2s  discard     worse
        #12    000000c      3.200000       0.1     1.2s  discard     worse
        (6 of 13 rows; all in /track/results.tsv)
        ");
    }

    #[test]
    fn an_interrupted_session_counts_the_interrupted_run() {
        let mut records = history(2);
        records.push(record(3, Status::Interrupted, None, "slow"));
        insta::assert_snapshot!(summary_text(&closing(&records, 4, Stop::Interrupted)), @r"
        swarmlab/main: the baseline and 3 experiments
        experiments: 0 kept, 2 discarded, 1 interrupted
        best loss 2.000000 at 0000000 (#0): baseline

        #      commit           loss memory_gb     time  status      description
        #0     0000000      2.000000       0.1     1.2s  keep        baseline  <- best
        #1     0000001      2.100000       0.1     1.2s  discard     worse
        #2     0000002      2.200000       0.1     1.2s  discard     worse
        #3     0000003             -       0.1     1.2s  interrupted slow
        (all in /track/results.tsv)
        stopped by the user
        ");
        assert_eq!(
            go_on(Stop::Interrupted, 4).as_deref(),
            Some("run the same command to continue (it resumes at #4)")
        );
        assert_eq!(go_on(Stop::NothingToPropose, 4), None);
    }
}
