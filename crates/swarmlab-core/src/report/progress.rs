//! `progress.svg`, the autoresearch progress chart of a run: its records as the shared
//! [`Chart`] draws them in a file. Here is what the records say on it: the heading counts them
//! by status, the subtitle gives baseline → best, a point's title its number, status, metric
//! and description, and kept experiments claim labels by their gain on what they were measured
//! against, as the summary ranks them.
//!
//! Drawing is the chart's; nothing here writes SVG.

use std::fmt::Write;

use super::chart::{Chart, Frame, Point, Series};
use super::history::{value, History, Outcome};
use super::{format_delta, format_relative, format_value, truncate};
use crate::{Goal, Record, Status};

/// Descriptions in hover titles are cut here, so a huge description cannot bloat the file.
const TITLE_CHARS: usize = 200;

/// The progress chart of `records` (in experiment order) as a standalone SVG document.
pub fn progress_svg(records: &[Record], metric_name: &str, goal: Goal, title: &str) -> String {
    let history = History::new(records, goal);
    let heading = heading(&history, title);
    let subtitle = subtitle(&history, metric_name);
    Chart {
        frame: Frame::File {
            subtitle: &subtitle,
        },
        title: &heading,
        description: None,
        metric: metric_name,
        goal,
        noun: "experiment",
        reference: None,
    }
    .svg(&Experiments::new(&history, metric_name))
}

/// A run's records as the chart's series.
struct Experiments<'a> {
    records: &'a [Record],
    metric_name: &'a str,
    points: Vec<Point>,
}

impl<'a> Experiments<'a> {
    fn new(history: &History<'a>, metric_name: &'a str) -> Self {
        let mut points: Vec<Point> = history
            .records
            .iter()
            .map(|record| {
                let outcome = Outcome::of(record);
                Point {
                    x: record.index,
                    value: value(record).filter(|_| outcome != Outcome::Failed),
                    kept: outcome == Outcome::Kept,
                    gain: None,
                }
            })
            .collect();
        for step in &history.steps {
            points[step.pos].gain = step.reference.map(|_| history.gain(step));
        }
        Experiments {
            records: history.records,
            metric_name,
            points,
        }
    }
}

impl Series for Experiments<'_> {
    fn points(&self) -> &[Point] {
        &self.points
    }

    /// "#12 discard: val_bpb 0.991234: description".
    fn title(&self, i: usize) -> String {
        let record = &self.records[i];
        let mut title = format!("#{} {}", record.index, record.status);
        if let Some(v) = value(record) {
            let _ = write!(title, ": {} {}", self.metric_name, format_value(v));
        }
        let _ = write!(title, ": {}", truncate(&record.description, TITLE_CHARS));
        title
    }

    fn label(&self, i: usize) -> Option<&str> {
        Some(&self.records[i].description)
    }
}

/// "<title>: N experiments, K kept, 2 crashed".
fn heading(history: &History, title: &str) -> String {
    let records = history.records;
    let count = |status| records.iter().filter(|r| r.status == status).count();
    let mut heading = format!(
        "{title}: {} experiment{}, {} kept",
        records.len(),
        if records.len() == 1 { "" } else { "s" },
        count(Status::Keep)
    );
    for status in Status::ALL {
        let n = count(status);
        let word = match status {
            Status::Keep | Status::Discard => continue,
            Status::Crash => "crashed",
            Status::Timeout => "timed out",
            Status::NoMetric => "without metric",
            Status::NonFinite => "non-finite",
            Status::Invalid => "invalid",
            Status::Interrupted => "interrupted",
        };
        if n > 0 {
            let _ = write!(heading, ", {n} {word}");
        }
    }
    heading
}

/// "val_bpb (lower is better) · baseline 0.998000 → best 0.984915 (-0.013085, -1.31%)".
fn subtitle(history: &History, metric_name: &str) -> String {
    let direction = match history.goal {
        Goal::Minimize => "lower is better",
        Goal::Maximize => "higher is better",
    };
    let mut subtitle = format!("{metric_name} ({direction})");
    match (history.baseline(), history.best()) {
        (Some(base), Some(best)) => {
            let _ = write!(
                subtitle,
                " · baseline {} → best {} ({}, {})",
                format_value(base.value),
                format_value(best.value),
                format_delta(best.value - base.value),
                format_relative(base.value, best.value)
            );
        }
        _ => subtitle.push_str(" · no kept experiment with a metric yet"),
    }
    subtitle
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::FILE_LABELS;
    use crate::report::history::tests::record;

    /// A deterministic run of `n` experiments after a baseline: mostly discarded, a few kept,
    /// some crashes and a timeout, one far outlier.
    fn run(n: u64, goal: Goal) -> Vec<Record> {
        let sign = if goal == Goal::Minimize { 1.0 } else { -1.0 };
        let mut records = vec![record(0, 0, Status::Keep, Some(sign * 0.998), "baseline")];
        let mut best = (0, 0.998);
        let mut seed: u64 = 42;
        for i in 1..=n {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (seed >> 11) as f64 / (1u64 << 53) as f64;
            let (status, metric) = match seed % 11 {
                0 => (Status::Crash, None),
                1 if i % 3 == 0 => (Status::Timeout, None),
                _ if i == 7 => (Status::Discard, Some(1.9)),
                _ if noise < 0.18 => (Status::Keep, Some(best.1 - 0.0005 - noise * 0.01)),
                _ => (Status::Discard, Some(best.1 + noise * 0.012 - 0.001)),
            };
            let metric = metric.map(|m| {
                if status == Status::Discard {
                    m.max(best.1)
                } else {
                    m
                }
            });
            let description = match status {
                Status::Keep => format!(
                    "idea {i}: raise matrix lr to {:.3} and warm up longer",
                    noise
                ),
                _ => format!("idea {i}: try something"),
            };
            records.push(record(
                i,
                best.0,
                status,
                metric.map(|m| sign * m),
                &description,
            ));
            if let (Status::Keep, Some(m)) = (status, metric) {
                best = (i, m);
            }
        }
        records
    }

    fn classes<'d>(doc: &'d roxmltree::Document, class: &str) -> Vec<roxmltree::Node<'d, 'd>> {
        doc.descendants()
            .filter(|n| {
                n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|t| t == class))
            })
            .collect()
    }

    fn title_of(node: roxmltree::Node) -> String {
        let title = node
            .children()
            .find(|c| c.has_tag_name("title"))
            .expect("a point has a title");
        title.text().unwrap_or_default().to_string()
    }

    #[test]
    fn markers_match_the_records_and_parse_as_svg() {
        let records = run(60, Goal::Minimize);
        let svg = progress_svg(&records, "val_bpb", Goal::Minimize, "nanochat");
        let doc = roxmltree::Document::parse(&svg).expect("valid XML");
        let root = doc.root_element();
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        assert_eq!(root.attribute("viewBox"), Some("0 0 1200 640"));

        let count = |status: Status| records.iter().filter(|r| r.status == status).count();
        let kept = classes(&doc, "kept");
        assert_eq!(kept.len(), count(Status::Keep));
        assert_eq!(classes(&doc, "discarded").len(), count(Status::Discard));
        assert_eq!(
            classes(&doc, "failed").len(),
            count(Status::Crash) + count(Status::Timeout)
        );
        assert!(count(Status::Crash) > 0 && count(Status::Keep) > 3);

        // The outlier at #7 is clamped to the top edge instead of stretching the scale.
        let clamped = classes(&doc, "clamped");
        let outlier = clamped
            .iter()
            .find(|n| title_of(**n).starts_with("#7 discard: val_bpb 1.9"));
        assert!(outlier.is_some());
        assert!(clamped.len() < 20, "{} clamped", clamped.len());
        assert!(title_of(kept[0]).starts_with("#0 keep: val_bpb 0.998000: baseline"));

        let heading = format!(
            "nanochat: 61 experiments, {} kept, {} crashed, {} timed out",
            count(Status::Keep),
            count(Status::Crash),
            count(Status::Timeout)
        );
        assert!(svg.contains(&heading), "{heading}");
    }

    #[test]
    fn best_line_steps_down_for_minimize_and_up_for_maximize() {
        for goal in [Goal::Minimize, Goal::Maximize] {
            let svg = progress_svg(&run(40, goal), "score", goal, "t");
            let doc = roxmltree::Document::parse(&svg).expect("valid XML");
            let d = classes(&doc, "step")[0]
                .attribute("d")
                .expect("a path")
                .to_string();
            let ys: Vec<f64> = d
                .split('V')
                .skip(1)
                .map(|s| {
                    s.split('H')
                        .next()
                        .and_then(|v| v.parse().ok())
                        .expect("a number")
                })
                .collect();
            let start: f64 = d[1..]
                .split(&[' ', 'H'])
                .nth(1)
                .and_then(|v| v.parse().ok())
                .expect("y");
            assert!(ys.len() > 2);
            // Pixels grow downwards: better is lower on the canvas for minimize.
            match goal {
                Goal::Minimize => {
                    assert!(ys.iter().all(|&y| y >= start) && ys[ys.len() - 1] > start)
                }
                Goal::Maximize => {
                    assert!(ys.iter().all(|&y| y <= start) && ys[ys.len() - 1] < start)
                }
            }
        }
    }

    #[test]
    fn descriptions_are_escaped() {
        let nasty = "a<b && c>\"d\" 'e' \u{7}bell </text>\u{FFFF}";
        let records = [
            record(0, 0, Status::Keep, Some(1.0), "baseline"),
            record(1, 0, Status::Keep, Some(0.5), nasty),
        ];
        let svg = progress_svg(&records, "loss<&>", Goal::Minimize, "t&t");
        let doc = roxmltree::Document::parse(&svg).expect("valid XML");
        let kept = classes(&doc, "kept");
        assert_eq!(
            title_of(kept[1]),
            "#1 keep: loss<&> 0.500000: a<b && c>\"d\" 'e'  bell </text> "
        );
        let label = doc
            .descendants()
            .find(|n| n.text() == Some("a<b && c>\"d\" 'e'  bell </text> "));
        assert!(label.is_some(), "the kept point is labelled in full");
    }

    #[test]
    fn degenerate_inputs_render_valid_svg() {
        let cases: Vec<Vec<Record>> = vec![
            vec![],
            vec![record(0, 0, Status::Keep, Some(1.0), "baseline")],
            vec![
                record(0, 0, Status::Crash, None, "baseline"),
                record(1, 0, Status::Timeout, None, "x"),
            ],
            (0..5)
                .map(|i| {
                    record(
                        i,
                        0,
                        if i == 0 {
                            Status::Keep
                        } else {
                            Status::Discard
                        },
                        Some(0.0),
                        "",
                    )
                })
                .collect(),
            (0..5)
                .map(|i| record(i, 0, Status::Discard, Some(3.0), ""))
                .collect(),
            vec![
                record(0, 0, Status::Keep, Some(f64::NAN), "baseline"),
                record(1, 0, Status::Discard, Some(f64::INFINITY), "overflowed"),
                record(2, 0, Status::Keep, Some(1e300), "huge"),
                record(3, 0, Status::Keep, Some(-1e300), "huge"),
            ],
        ];
        for records in cases {
            for goal in [Goal::Minimize, Goal::Maximize] {
                let svg = progress_svg(&records, "m", goal, "t");
                let doc = roxmltree::Document::parse(&svg).expect("valid XML");
                let points = ["kept", "discarded", "failed"]
                    .iter()
                    .map(|c| classes(&doc, c).len());
                assert_eq!(points.sum::<usize>(), records.len());
                assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
            }
        }
    }

    #[test]
    fn ten_thousand_records_stay_compact_and_labels_are_capped() {
        let records = run(10_000, Goal::Minimize);
        let svg = progress_svg(&records, "val_bpb", Goal::Minimize, "long run");
        let doc = roxmltree::Document::parse(&svg).expect("valid XML");
        let points: usize = ["kept", "discarded", "failed"]
            .iter()
            .map(|c| classes(&doc, c).len())
            .sum();
        assert_eq!(points, records.len());
        assert!(svg.len() < 200 * records.len(), "{} bytes", svg.len());
        let labels = doc
            .descendants()
            .filter(|n| {
                n.has_tag_name("text")
                    && n.attribute("transform")
                        .is_some_and(|t| t.starts_with("rotate("))
            })
            .count();
        // The y-axis title is the one rotated text that is not a label.
        assert!(labels - 1 <= FILE_LABELS, "{labels} labels");
    }

    /// Writes an example chart to look at: `cargo test -p swarmlab-core write_example -- --ignored`.
    #[test]
    #[ignore]
    fn write_example() {
        let dir = std::env::temp_dir();
        let records = run(60, Goal::Minimize);
        let svg = progress_svg(&records, "val_bpb", Goal::Minimize, "nanochat");
        std::fs::write(dir.join("report-example.svg"), svg).expect("write the example");
        let records = run(60, Goal::Maximize);
        let svg = progress_svg(&records, "accuracy", Goal::Maximize, "nanochat");
        std::fs::write(dir.join("report-example-max.svg"), svg).expect("write the example");
    }
}
