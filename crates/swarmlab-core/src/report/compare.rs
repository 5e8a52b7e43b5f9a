//! Two runs of one track side by side (`swarmlab report --compare TAG1 TAG2`): one table of
//! what each found (experiments, keep rate, failures, baseline, best, its gain, the running
//! best at the same points of effort) and one chart of both running bests on one scale.
//!
//! Pure functions of the records, like the rest of the report; the caller reads and writes.

use std::fmt::Write;
use std::time::Duration;

use super::history::{value, History, Outcome};
use super::scale::{Axis, Ticks};
use super::{format_delta, format_relative, format_value};
use crate::{Goal, Record};

pub(super) const WIDTH: f64 = 760.0;
pub(super) const HEIGHT: f64 = 420.0;
pub(super) const LEFT: f64 = 78.0;
pub(super) const RIGHT: f64 = 24.0;
pub(super) const TOP: f64 = 64.0;
pub(super) const BOTTOM: f64 = 50.0;
/// One colour per run, told apart by people with the common colour blindnesses.
const COLOURS: [&str; 2] = ["#1f77b4", "#e66100"];

/// One run of the comparison: its tag and its records in order.
pub struct Run<'a> {
    pub tag: &'a str,
    pub records: &'a [Record],
}

/// What the table says about one run.
struct Facts {
    experiments: usize,
    kept: usize,
    failed: usize,
    baseline: Option<f64>,
    best: Option<(f64, u64)>,
    /// `(experiment number, running best)` at each kept experiment.
    steps: Vec<(u64, f64)>,
    /// Summed wall time of its runs.
    seconds: f64,
}

impl Facts {
    fn of(records: &[Record], goal: Goal) -> Facts {
        let history = History::new(records, goal);
        let experiments: Vec<&Record> = records.iter().filter(|r| r.index > 0).collect();
        Facts {
            experiments: experiments.len(),
            kept: experiments
                .iter()
                .filter(|r| Outcome::of(r) == Outcome::Kept)
                .count(),
            failed: experiments.iter().filter(|r| r.status.is_failure()).count(),
            baseline: history.baseline().map(|s| s.value),
            best: history
                .best()
                .map(|s| (s.value, history.records[s.pos].index)),
            steps: history
                .steps
                .iter()
                .map(|s| (history.records[s.pos].index, s.best))
                .collect(),
            seconds: records.iter().map(|r| r.wall_seconds.max(0.0)).sum::<f64>(),
        }
    }

    /// The running best once experiment `n` has run.
    fn best_by(&self, n: u64) -> Option<f64> {
        self.steps
            .iter()
            .take_while(|(index, _)| *index <= n)
            .last()
            .map(|(_, best)| *best)
    }
}

/// The table's rows: a name, then one cell per run.
fn rows(runs: &[Run], metric: &str, goal: Goal) -> Vec<Vec<String>> {
    let facts: Vec<Facts> = runs.iter().map(|r| Facts::of(r.records, goal)).collect();
    let mut rows = vec![std::iter::once(String::new())
        .chain(runs.iter().map(|r| r.tag.to_string()))
        .collect::<Vec<_>>()];
    let mut row = |name: String, cell: &dyn Fn(&Facts) -> String| {
        rows.push(
            std::iter::once(name)
                .chain(facts.iter().map(cell))
                .collect(),
        );
    };
    row("experiments".into(), &|f| f.experiments.to_string());
    row("kept".into(), &|f| {
        format!("{} ({})", f.kept, percent(f.kept, f.experiments))
    });
    row("failed".into(), &|f| {
        format!("{} ({})", f.failed, percent(f.failed, f.experiments))
    });
    row("run time".into(), &|f| {
        crate::spec::format_duration(Duration::from_secs_f64(f.seconds.round()))
    });
    row(format!("baseline {metric}"), &|f| {
        f.baseline.map_or("-".into(), format_value)
    });
    row(format!("best {metric}"), &|f| match f.best {
        Some((v, index)) => format!("{} (#{index})", format_value(v)),
        None => "-".into(),
    });
    row("best - baseline".into(), &|f| match (f.baseline, f.best) {
        (Some(b), Some((v, _))) => {
            format!("{} ({})", format_delta(v - b), format_relative(b, v))
        }
        _ => "-".into(),
    });
    let shorter = facts
        .iter()
        .map(|f| f.experiments as u64)
        .min()
        .unwrap_or(0);
    let mut marks: Vec<u64> = [shorter / 4, shorter / 2, shorter]
        .into_iter()
        .filter(|n| *n > 0)
        .collect();
    marks.dedup();
    for n in marks {
        row(format!("best by #{n}"), &|f| {
            f.best_by(n).map_or("-".into(), format_value)
        });
    }
    rows
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

/// The table as aligned markdown, readable as it is in a terminal.
pub fn compare_table(runs: &[Run], metric: &str, goal: Goal) -> String {
    let rows = rows(runs, metric, goal);
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
                .max(3)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| {
                if c == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    let mut out = line(&rows[0]);
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(c, w)| {
            let dashes = "-".repeat(w.saturating_sub(1));
            if c == 0 {
                format!("{dashes}-")
            } else {
                format!("{dashes}:")
            }
        })
        .collect();
    let _ = write!(out, "\n| {} |", rule.join(" | "));
    for row in &rows[1..] {
        let _ = write!(out, "\n{}", line(row));
    }
    out
}

/// The markdown file: a heading, the table, and what the chart shows.
pub fn compare_markdown(runs: &[Run], metric: &str, goal: Goal, title: &str) -> String {
    let better = match goal {
        Goal::Minimize => "lower",
        Goal::Maximize => "higher",
    };
    format!(
        "# {title}\n\n{metric}, {better} is better. Experiments are counted after the baseline; \
         \"best by #N\" is the running best once N experiments had run, the same effort for \
         both.\n\n{}\n",
        compare_table(runs, metric, goal)
    )
}

/// Both runs' points and running bests on one chart, one colour per run: kept points as
/// dots, discarded ones as faint dots, the running best as a step line to the run's end.
pub fn compare_svg(runs: &[Run], metric: &str, goal: Goal, title: &str) -> String {
    let facts: Vec<Facts> = runs.iter().map(|r| Facts::of(r.records, goal)).collect();
    let last = runs
        .iter()
        .flat_map(|r| r.records.iter().map(|x| x.index))
        .max()
        .unwrap_or(0)
        .max(1);
    // The scale spans the running bests (baselines included), so a wild discarded point
    // cannot flatten the lines that matter; points outside it are left out.
    let bests: Vec<f64> = facts
        .iter()
        .flat_map(|f| f.steps.iter().map(|(_, b)| *b))
        .collect();
    let (x, y) = frame(last, &bests);
    let mut out = open_svg(title);
    write_legend(&mut out, runs, &facts);
    write_axes(&mut out, &x, &y, metric);
    write_runs(&mut out, runs, &facts, &x, &y);
    let _ = writeln!(out, "</svg>");
    out
}

/// The axes of a chart of running bests: experiments 0 to `last` across, `values` up (higher
/// values up, as progress.svg draws them), with a margin.
pub(super) fn frame(last: u64, values: &[f64]) -> (Axis, Axis) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() {
        let margin = ((hi - lo) * 0.08).max(lo.abs() * 1e-6).max(1e-12);
        (lo - margin, hi + margin)
    } else {
        (0.0, 1.0)
    };
    let x = Axis {
        lo: 0.0,
        hi: last as f64,
        px_lo: LEFT,
        px_hi: WIDTH - RIGHT,
    };
    let y = Axis {
        lo,
        hi,
        px_lo: HEIGHT - BOTTOM,
        px_hi: TOP,
    };
    (x, y)
}

/// The start of a chart's SVG: the document, a white ground and the title.
pub(super) fn open_svg(title: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#,
        escape(title)
    );
    let _ = writeln!(
        out,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="24" font-size="15" font-weight="bold" fill="#222222">{}</text>"##,
        escape(title)
    );
    out
}

/// One legend entry per run, with its best.
fn write_legend(out: &mut String, runs: &[Run], facts: &[Facts]) {
    let mut legend_x = LEFT;
    for (i, (run, f)) in runs.iter().zip(facts).enumerate() {
        let best = f.best.map_or("no kept result".into(), |(v, n)| {
            format!("best {} (#{n})", format_value(v))
        });
        let text = format!("{}: {best}", run.tag);
        let _ = writeln!(
            out,
            r##"<g class="legend"><line x1="{legend_x}" y1="42" x2="{}" y2="42" stroke="{}" stroke-width="2.5"/><text x="{}" y="46" fill="#222222">{}</text></g>"##,
            legend_x + 22.0,
            COLOURS[i % 2],
            legend_x + 28.0,
            escape(&text)
        );
        legend_x += 40.0 + text.chars().count() as f64 * 6.6;
    }
}

/// The grid, the ticks and the axes' names.
pub(super) fn write_axes(out: &mut String, x: &Axis, y: &Axis, metric: &str) {
    let (lo, hi, last) = (y.lo, y.hi, x.hi);
    let ticks = Ticks::new(lo, hi, 6, 0.0);
    for v in &ticks.values {
        let py = y.px(*v);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#e6e6e6"/><text x="{}" y="{:.1}" text-anchor="end" fill="#666666">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            ticks.label(*v)
        );
    }
    let xticks = Ticks::new(0.0, last, 8, 1.0);
    for v in &xticks.values {
        let px = x.px(*v);
        let _ = writeln!(
            out,
            r##"<text x="{px:.1}" y="{}" text-anchor="middle" fill="#666666">{}</text>"##,
            HEIGHT - BOTTOM + 16.0,
            xticks.label(*v)
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#666666">experiment</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle" fill="#666666">{}</text>"##,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 10.0,
        (TOP + HEIGHT - BOTTOM) / 2.0,
        escape(metric)
    );
}

/// Each run's points within the scale and its running best as a step line.
fn write_runs(out: &mut String, runs: &[Run], facts: &[Facts], x: &Axis, y: &Axis) {
    let (lo, hi) = (y.lo, y.hi);
    let inside = |v: f64| v >= lo && v <= hi;
    for (i, (run, f)) in runs.iter().zip(facts).enumerate() {
        let colour = COLOURS[i % 2];
        let _ = writeln!(out, r#"<g class="run" data-tag="{}">"#, escape(run.tag));
        for record in run.records {
            let Some(v) = value(record).filter(|v| inside(*v)) else {
                continue;
            };
            let kept = Outcome::of(record) == Outcome::Kept;
            let (r, opacity, class) = if kept {
                (4.0, 1.0, "kept")
            } else {
                (2.5, 0.3, "discarded")
            };
            let _ = writeln!(
                out,
                r#"<circle class="{class}" cx="{:.1}" cy="{:.1}" r="{r}" fill="{colour}" fill-opacity="{opacity}"><title>{}: #{} {}</title></circle>"#,
                x.px(record.index as f64),
                y.px(v),
                escape(run.tag),
                record.index,
                format_value(v)
            );
        }
        if let Some(((first, start), end)) = f.steps.first().zip(run.records.last()) {
            let mut path = format!("M{:.1},{:.1}", x.px(*first as f64), y.px(*start));
            for (n, best) in &f.steps[1..] {
                let _ = write!(path, " H{:.1} V{:.1}", x.px(*n as f64), y.px(*best));
            }
            let _ = write!(path, " H{:.1}", x.px(end.index as f64));
            let _ = writeln!(
                out,
                r#"<path class="best" d="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>"#
            );
        }
        let _ = writeln!(out, "</g>");
    }
}

pub(super) fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::history::tests::record;
    use super::*;
    use crate::Status;

    fn runs() -> (Vec<Record>, Vec<Record>) {
        let a = vec![
            record(0, 0, Status::Keep, Some(2.0), "baseline"),
            record(1, 0, Status::Keep, Some(1.8), "a1"),
            record(2, 1, Status::Discard, Some(1.9), "a2"),
            record(3, 1, Status::Crash, None, "a3"),
            record(4, 1, Status::Keep, Some(1.5), "a4"),
        ];
        let b = vec![
            record(0, 0, Status::Keep, Some(2.0), "baseline"),
            record(1, 0, Status::Discard, Some(2.1), "b1"),
            record(2, 0, Status::Keep, Some(1.7), "b2"),
            record(3, 2, Status::Discard, Some(1.9), "b3"),
            record(4, 2, Status::Discard, Some(1.8), "b4"),
            record(5, 2, Status::Discard, Some(9.0), "b5"),
        ];
        (a, b)
    }

    #[test]
    fn the_table_sets_the_runs_side_by_side_at_equal_effort() {
        let (a, b) = runs();
        let runs = [
            Run {
                tag: "sweep",
                records: &a,
            },
            Run {
                tag: "agent",
                records: &b,
            },
        ];
        insta::assert_snapshot!(compare_table(&runs, "loss", Goal::Minimize), @r"
        |                 |               sweep |               agent |
        | --------------- | ------------------: | ------------------: |
        | experiments     |                   4 |                   5 |
        | kept            |             2 (50%) |             1 (20%) |
        | failed          |             1 (25%) |              0 (0%) |
        | run time        |                  5m |                  6m |
        | baseline loss   |            2.000000 |            2.000000 |
        | best loss       |       1.500000 (#4) |       1.700000 (#2) |
        | best - baseline | -0.500000 (-25.00%) | -0.300000 (-15.00%) |
        | best by #1      |            1.800000 |            2.000000 |
        | best by #2      |            1.800000 |            1.700000 |
        | best by #4      |            1.500000 |            1.700000 |
        ");
    }

    #[test]
    fn the_chart_draws_one_running_best_per_run_and_leaves_outliers_out() {
        let (a, b) = runs();
        let runs = [
            Run {
                tag: "sweep",
                records: &a,
            },
            Run {
                tag: "agent",
                records: &b,
            },
        ];
        let svg = compare_svg(&runs, "loss", Goal::Minimize, "toy: sweep vs agent");
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        let paths: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("best"))
            .collect();
        assert_eq!(paths.len(), 2);
        let kept = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("kept"))
            .count();
        assert_eq!(kept, 3 + 2);
        // b5's 9.0 lies far outside the running bests; it is not drawn.
        assert!(!svg.contains("#5 9.000000"), "{svg}");
        assert!(svg.contains("sweep: best 1.500000 (#4)"), "{svg}");
    }
}
