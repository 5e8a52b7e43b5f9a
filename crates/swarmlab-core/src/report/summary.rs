//! `summary.md`: a branch's experiments in a few lines of markdown: counts per status, keep
//! rate, baseline and best, the overall improvement, the ten biggest steps, and wall time.
//!
//! The text depends on the records alone (no clock, no locale), so it can be snapshot-tested.

use std::fmt::{self, Write};

use super::history::History;
use super::{format_delta, format_relative, format_value, truncate};
use crate::{Goal, Record, Status};

/// How many of the biggest improvements the table lists.
const TOP: usize = 10;
/// Descriptions in the table are cut here to keep rows on one screen line.
const DESCRIPTION_CHARS: usize = 100;

/// The markdown summary of `records` (in experiment order).
pub fn summary_markdown(records: &[Record], metric_name: &str, goal: Goal, title: &str) -> String {
    let mut out = String::new();
    render(&mut out, &History::new(records, goal), metric_name, title)
        .expect("writing to a String never fails");
    out
}

fn render(out: &mut String, history: &History, metric_name: &str, title: &str) -> fmt::Result {
    writeln!(out, "# {}\n", one_line(title))?;
    if history.records.is_empty() {
        return writeln!(out, "No experiments yet.");
    }
    let direction = match history.goal {
        Goal::Minimize => "lower is better",
        Goal::Maximize => "higher is better",
    };
    writeln!(out, "Metric: `{}` ({direction}).\n", one_line(metric_name))?;
    counts(out, history.records)?;
    baseline_and_best(out, history)?;
    wall_time(out, history.records)?;
    top_improvements(out, history, metric_name)
}

/// The experiments by status, and the keep rate after the baseline.
fn counts(out: &mut String, records: &[Record]) -> fmt::Result {
    let count = |status| records.iter().filter(|r| r.status == status).count();
    let counts: Vec<String> = Status::ALL
        .iter()
        .map(|&s| (s, count(s)))
        .filter(|&(_, n)| n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    writeln!(
        out,
        "- Experiments: {} ({})",
        records.len(),
        counts.join(", ")
    )?;
    // The baseline is kept by definition, so the rate is over the experiments after it.
    let after = records.len() - 1;
    let kept_after = records[1..]
        .iter()
        .filter(|r| r.status == Status::Keep)
        .count();
    if after > 0 {
        let rate = kept_after as f64 / after as f64 * 100.0;
        writeln!(
            out,
            "- Keep rate: {rate:.1}% ({kept_after} of {after} after the baseline)"
        )?;
    }
    Ok(())
}

/// The baseline, the best and the improvement between them.
fn baseline_and_best(out: &mut String, history: &History) -> fmt::Result {
    let records = history.records;
    match (history.baseline(), history.best()) {
        (Some(base), Some(best)) => {
            let base_record = &records[base.pos];
            let best_record = &records[best.pos];
            writeln!(
                out,
                "- Baseline: {} (#{} `{}`)",
                format_value(base.value),
                base_record.index,
                base_record.short_commit()
            )?;
            writeln!(
                out,
                "- Best: {} (#{} `{}`): {}",
                format_value(best.value),
                best_record.index,
                best_record.short_commit(),
                one_line(&best_record.description)
            )?;
            writeln!(
                out,
                "- Improvement: {} ({})",
                format_delta(best.value - base.value),
                format_relative(base.value, best.value)
            )?;
        }
        _ => writeln!(out, "- Baseline: no kept experiment has a metric yet")?,
    }
    Ok(())
}

/// The total and mean wall time of the runs that recorded one.
fn wall_time(out: &mut String, records: &[Record]) -> fmt::Result {
    let ran: Vec<f64> = records
        .iter()
        .map(|r| r.wall_seconds)
        .filter(|s| s.is_finite() && *s > 0.0)
        .collect();
    let total: f64 = ran.iter().sum();
    if ran.is_empty() {
        writeln!(out, "- Wall time: none recorded")?;
    } else {
        writeln!(
            out,
            "- Wall time: {} total, {} mean over {} run{}",
            duration(total),
            duration(total / ran.len() as f64),
            ran.len(),
            if ran.len() == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}

/// The biggest steps of the kept chain, as a table.
fn top_improvements(out: &mut String, history: &History, metric_name: &str) -> fmt::Result {
    let records = history.records;
    let improvements = history.improvements();
    writeln!(out, "\n## Top improvements\n")?;
    if improvements.is_empty() {
        return writeln!(out, "No experiment was kept after the baseline.");
    }
    writeln!(
        out,
        "| # | commit | {} | delta | description |",
        table_cell(metric_name)
    )?;
    writeln!(out, "|---:|---|---:|---:|---|")?;
    for step in improvements.into_iter().take(TOP) {
        let record = &records[step.pos];
        writeln!(
            out,
            "| {} | `{}` | {} | {} | {} |",
            record.index,
            record.short_commit(),
            format_value(step.value),
            step.delta().map_or_else(|| "n/a".to_string(), format_delta),
            table_cell(&truncate(&record.description, DESCRIPTION_CHARS))
        )?;
    }
    Ok(())
}

/// `text` with line breaks flattened, so it cannot break the markdown structure.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` safe inside a table cell: one line, pipes escaped.
fn table_cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

/// A wall time as people read it: `42.0s`, `5m 12s`, `3h 05m`.
fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let whole = seconds.round() as u64;
    if whole < 3600 {
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else {
        format!("{}h {:02}m", whole / 3600, whole % 3600 / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::history::tests::record;

    fn records() -> Vec<Record> {
        let mut records = vec![
            record(0, 0, Status::Keep, Some(0.9979), "baseline"),
            record(1, 0, Status::Discard, Some(0.9990), "increase depth to 10"),
            record(2, 0, Status::Keep, Some(0.9912), "raise matrix lr to 0.04"),
            record(3, 2, Status::Crash, None, "double the batch size"),
            record(
                4,
                2,
                Status::Keep,
                Some(0.9870),
                "swap relu² for | gelu |\nwith a newline",
            ),
            record(5, 4, Status::Timeout, None, "deeper and wider"),
            record(6, 4, Status::Invalid, None, "edit prepare.py"),
            record(7, 4, Status::Keep, Some(0.9865), "small tweak"),
        ];
        for (r, wall) in records
            .iter_mut()
            .zip([300.0, 310.0, 305.0, 12.5, 300.0, 900.0, 0.0, 301.0])
        {
            r.wall_seconds = wall;
        }
        records
    }

    #[test]
    fn summary_of_a_small_run() {
        let text = summary_markdown(&records(), "val_bpb", Goal::Minimize, "nanochat / mar5");
        let expected = "\
# nanochat / mar5

Metric: `val_bpb` (lower is better).

- Experiments: 8 (4 keep, 1 discard, 1 crash, 1 timeout, 1 invalid)
- Keep rate: 42.9% (3 of 7 after the baseline)
- Baseline: 0.997900 (#0 `c000000`)
- Best: 0.986500 (#7 `c000007`): small tweak
- Improvement: -0.011400 (-1.14%)
- Wall time: 40m 29s total, 5m 47s mean over 7 runs

## Top improvements

| # | commit | val_bpb | delta | description |
|---:|---|---:|---:|---|
| 2 | `c000002` | 0.991200 | -0.006700 | raise matrix lr to 0.04 |
| 4 | `c000004` | 0.987000 | -0.004200 | swap relu² for \\| gelu \\| with a newline |
| 7 | `c000007` | 0.986500 | -0.000500 | small tweak |
";
        assert_eq!(text, expected);
    }

    #[test]
    fn maximize_reports_gains_upwards() {
        let records = [
            record(0, 0, Status::Keep, Some(50.0), "baseline"),
            record(1, 0, Status::Keep, Some(60.0), "more data"),
            record(2, 1, Status::Discard, Some(55.0), "less data"),
        ];
        let text = summary_markdown(&records, "acc", Goal::Maximize, "t");
        assert!(
            text.contains("- Best: 60.000000 (#1 `c000001`): more data\n"),
            "{text}"
        );
        assert!(
            text.contains("- Improvement: +10.000000 (+20.00%)\n"),
            "{text}"
        );
        assert!(
            text.contains("| 1 | `c000001` | 60.000000 | +10.000000 | more data |\n"),
            "{text}"
        );
    }

    #[test]
    fn empty_and_failed_runs_say_so() {
        assert_eq!(
            summary_markdown(&[], "val_bpb", Goal::Minimize, "t"),
            "# t\n\nNo experiments yet.\n"
        );
        let records = [record(0, 0, Status::Crash, None, "baseline")];
        let text = summary_markdown(&records, "val_bpb", Goal::Minimize, "t");
        assert!(text.contains("- Experiments: 1 (1 crash)\n"), "{text}");
        assert!(
            text.contains("- Baseline: no kept experiment has a metric yet\n"),
            "{text}"
        );
        assert!(
            text.ends_with("No experiment was kept after the baseline.\n"),
            "{text}"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(42.04), "42.0s");
        assert_eq!(duration(312.0), "5m 12s");
        assert_eq!(duration(3.0 * 3600.0 + 5.0 * 60.0 + 20.0), "3h 05m");
    }
}
