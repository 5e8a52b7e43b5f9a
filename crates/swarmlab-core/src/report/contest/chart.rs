//! `contest.svg`: every program's running best on one scale, in the progress charts' axes
//! (`compare`'s), one colour per program. Draws what it is given; ranks nothing.

use std::fmt::Write;

use super::{running_best, Entry};
use crate::report::compare::{escape, frame, open_svg, write_axes, LEFT};
use crate::report::scale::Axis;
use crate::Goal;

/// One colour per program (Okabe–Ito), told apart by people with the common colour blindnesses.
const COLOURS: [&str; 7] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000",
];

/// `contest.svg`: each run's running best as a thin line in its program's colour, and the
/// program's mean running best over its runs as a thick one, on one scale.
pub fn contest_svg(entries: &[Entry], metric: &str, goal: Goal, title: &str) -> String {
    let lines: Vec<Vec<Vec<(u64, f64)>>> = entries
        .iter()
        .map(|e| e.runs.iter().map(|r| running_best(r, goal)).collect())
        .collect();
    let last = entries
        .iter()
        .flat_map(|e| e.runs.iter().flat_map(|r| r.iter().map(|x| x.index)))
        .max()
        .unwrap_or(0)
        .max(1);
    let values: Vec<f64> = lines.iter().flatten().flatten().map(|(_, v)| *v).collect();
    let (x, y) = frame(last, &values);
    let mut out = open_svg(title);
    write_axes(&mut out, &x, &y, metric);
    let mut legend_x = LEFT;
    for (i, (entry, runs)) in entries.iter().zip(&lines).enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            out,
            r#"<g class="program" data-program="{}">"#,
            escape(entry.name)
        );
        for steps in runs {
            if let Some(d) = step_path(steps, last, &x, &y) {
                let _ = writeln!(
                    out,
                    r#"<path class="run" d="{d}" fill="none" stroke="{colour}" stroke-width="1" stroke-opacity="0.45"/>"#
                );
            }
        }
        if let Some(d) = step_path(&mean_line(runs, last), last, &x, &y) {
            let _ = writeln!(
                out,
                r#"<path class="mean" d="{d}" fill="none" stroke="{colour}" stroke-width="3"/>"#
            );
        }
        let text = escape(entry.name);
        let _ = writeln!(
            out,
            r##"<line x1="{legend_x}" y1="42" x2="{}" y2="42" stroke="{colour}" stroke-width="3"/><text x="{}" y="46" fill="#222222">{text}</text></g>"##,
            legend_x + 22.0,
            legend_x + 28.0,
        );
        legend_x += 44.0 + entry.name.chars().count() as f64 * 6.6;
    }
    let _ = writeln!(out, "</svg>");
    out
}

/// The mean over runs of the running best at each experiment number where every run has one.
fn mean_line(runs: &[Vec<(u64, f64)>], last: u64) -> Vec<(u64, f64)> {
    let mut line: Vec<(u64, f64)> = Vec::new();
    for n in 0..=last {
        let at: Vec<f64> = runs
            .iter()
            .filter_map(|steps| steps.iter().take_while(|(i, _)| *i <= n).last())
            .map(|(_, v)| *v)
            .collect();
        if at.len() < runs.len() || at.is_empty() {
            continue;
        }
        let m = at.iter().sum::<f64>() / at.len() as f64;
        if line.last().is_none_or(|(_, v)| *v != m) {
            line.push((n, m));
        }
    }
    line
}

fn step_path(steps: &[(u64, f64)], last: u64, x: &Axis, y: &Axis) -> Option<String> {
    let ((first, start), rest) = steps.split_first()?;
    let mut d = format!("M{:.1},{:.1}", x.px(*first as f64), y.px(*start));
    for (n, v) in rest {
        let _ = write!(d, " H{:.1} V{:.1}", x.px(*n as f64), y.px(*v));
    }
    let _ = write!(d, " H{:.1}", x.px(last as f64));
    Some(d)
}
