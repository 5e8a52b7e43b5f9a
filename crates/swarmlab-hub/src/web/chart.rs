//! The track page's progress chart: a track's measurements, as the views give them, handed to
//! the shared chart of [`swarmlab_core::report::chart`] with the hub's words for their titles
//! and links to chain entries. Scales, thinning, labels and the SVG itself are core's;
//! nothing here draws.

use swarmlab_core::report::chart::{self, Chart, Frame, Link, Series};
use swarmlab_core::Goal;

use super::html::value;
use crate::store::views::{Point, Reference};

/// What the chart is of.
pub struct ChartSpec<'a> {
    pub metric: &'a str,
    pub goal: Goal,
    /// `verification` on a hub, `experiment` in a local run.
    pub x_noun: &'a str,
    pub reference: Option<&'a Reference>,
    /// Where a point's link goes, if anywhere: a kept point's chain entry on a hub, every
    /// experiment's own page in a local run.
    pub point_href: &'a dyn Fn(&Point) -> Option<String>,
}

/// The chart of `points` (baseline first, then in x order) as an inline `<svg>`.
pub fn progress(points: &[Point], spec: &ChartSpec) -> String {
    let series = Measurements::new(points, spec);
    let title = format!("Progress of {}", spec.metric);
    let description = describe(points, spec);
    let reference = spec
        .reference
        .map(|r| (format!("{} {}", r.label, value(r.value)), r.value));
    Chart {
        frame: Frame::Page,
        title: &title,
        description: Some(&description),
        metric: spec.metric,
        goal: spec.goal,
        noun: spec.x_noun,
        reference: reference.as_ref().map(|(text, value)| chart::Reference {
            text,
            value: *value,
        }),
    }
    .svg(&series)
}

/// The kept points of `points` whose labels the chart asks for: all of them while it draws
/// every chain dot, else those it may label.
pub fn labels_wanted(points: &[Point], goal: Goal) -> Vec<usize> {
    let skip = unmeasured_baseline(points);
    Frame::Page
        .named_points(&chart_points(&points[skip..], goal))
        .into_iter()
        .map(|i| i + skip)
        .collect()
}

/// 1 when `points` starts with a baseline not measured yet: it is waiting, not failed, and
/// the chart leaves it out.
fn unmeasured_baseline(points: &[Point]) -> usize {
    usize::from(
        points
            .first()
            .is_some_and(|p| p.x == 0 && p.value.is_none()),
    )
}

/// The chart's points: kept ones gain on the chain entry before them.
fn chart_points(points: &[Point], goal: Goal) -> Vec<chart::Point> {
    let mut previous = None;
    points
        .iter()
        .map(|p| {
            let gain = match (p.kept, p.value) {
                (true, Some(v)) => previous.replace(v).map(|from| goal.gain(from, v)),
                _ => None,
            };
            chart::Point {
                x: p.x,
                value: p.value,
                kept: p.kept,
                gain,
            }
        })
        .collect()
}

/// A track's measurements as the chart's series.
struct Measurements<'a> {
    points: &'a [Point],
    chart: Vec<chart::Point>,
    spec: &'a ChartSpec<'a>,
}

impl<'a> Measurements<'a> {
    fn new(points: &'a [Point], spec: &'a ChartSpec<'a>) -> Self {
        let points = &points[unmeasured_baseline(points)..];
        Measurements {
            points,
            chart: chart_points(points, spec.goal),
            spec,
        }
    }
}

impl Series for Measurements<'_> {
    fn points(&self) -> &[chart::Point] {
        &self.chart
    }

    fn title(&self, i: usize) -> String {
        let p = &self.points[i];
        match (p.value, p.kept) {
            // A local run's chain is numbered by experiment: one number is enough there.
            (Some(v), true) => format!(
                "{} #{}{}: {} — {}",
                self.spec.x_noun,
                p.x,
                p.chain_seq
                    .filter(|&seq| seq != p.x as i64)
                    .map_or(String::new(), |seq| format!(", chain #{seq}")),
                value(v),
                p.label.as_deref().unwrap_or("")
            ),
            (Some(v), false) => format!("{} #{}: {} (not kept)", self.spec.x_noun, p.x, value(v)),
            (None, _) => format!("#{}: crashed or timed out", p.x),
        }
    }

    fn label(&self, i: usize) -> Option<&str> {
        self.points[i].label.as_deref()
    }

    fn link(&self, i: usize) -> Option<Link> {
        let p = &self.points[i];
        Some(Link {
            href: (self.spec.point_href)(p)?,
            seq: p.chain_seq.unwrap_or(p.x as i64),
        })
    }
}

/// The chart's text alternative: "40 verifications, 6 on the chain. loss went from 1.3000
/// to 1.0500 (lower is better)."
fn describe(points: &[Point], spec: &ChartSpec) -> String {
    let n = points.iter().filter(|p| p.x > 0).count();
    let kept: Vec<f64> = points
        .iter()
        .filter(|p| p.kept)
        .filter_map(|p| p.value)
        .collect();
    let mut text = format!(
        "{n} {}s, {} on the chain.",
        spec.x_noun,
        kept.len().saturating_sub(1)
    );
    if let (Some(first), Some(last)) = (kept.first(), kept.last()) {
        text.push_str(&format!(
            " {} went from {} to {} ({} is better).",
            spec.metric,
            value(*first),
            value(*last),
            match spec.goal {
                Goal::Minimize => "lower",
                Goal::Maximize => "higher",
            }
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: u64, v: Option<f64>, kept: bool, seq: Option<i64>) -> Point {
        Point {
            x,
            value: v,
            sigma: None,
            kept,
            chain_seq: seq,
            commit: format!("c{x}"),
            at_ms: 0,
            label: Some(format!("<b>step {x}</b>")),
        }
    }

    #[test]
    fn every_chain_point_is_drawn_linked_and_labels_are_escaped() {
        let points = vec![
            point(0, Some(1.0), true, Some(0)),
            point(1, Some(1.1), false, None),
            point(2, Some(0.9), true, Some(1)),
            point(3, None, false, None),
            point(4, Some(0.7), true, Some(2)),
        ];
        let reference = Reference {
            label: "floor".into(),
            value: 0.5,
        };
        let href = |p: &Point| p.chain_seq.map(|seq| format!("/tracks/toy/chain/{seq}"));
        let svg = progress(
            &points,
            &ChartSpec {
                metric: "loss",
                goal: Goal::Minimize,
                x_noun: "verification",
                reference: Some(&reference),
                point_href: &href,
            },
        );
        assert_eq!(svg.matches("class=\"pt\"").count(), 3, "{svg}");
        assert!(svg.contains("href=\"/tracks/toy/chain/2\""));
        assert!(svg.contains("class=\"step\""));
        assert!(svg.contains("floor 0.5000"));
        assert!(svg.contains("crashed or timed out"));
        assert!(!svg.contains("<b>"), "labels must be escaped");
        assert!(svg.contains("&lt;b&gt;step 4&lt;/b&gt;"));
    }

    #[test]
    fn a_crowded_series_is_thinned_but_keeps_its_chain_line() {
        let mut points = vec![point(0, Some(1.0), true, Some(0))];
        for i in 1..20_000u64 {
            points.push(point(i, Some(1.0 + (i % 7) as f64 * 0.01), false, None));
        }
        points.push(point(20_000, Some(0.5), true, Some(1)));
        let href = |p: &Point| p.chain_seq.map(|seq| format!("/c/{seq}"));
        let svg = progress(
            &points,
            &ChartSpec {
                metric: "loss",
                goal: Goal::Minimize,
                x_noun: "verification",
                reference: None,
                point_href: &href,
            },
        );
        let dots = svg.matches("<circle").count();
        assert!(dots < 2_000, "{dots} dots");
        assert!(svg.contains("data-seq=\"1\""));
    }

    #[test]
    fn a_baseline_not_measured_yet_is_not_a_failure() {
        let points = vec![point(0, None, true, Some(0)), point(1, None, false, None)];
        let href = |p: &Point| p.chain_seq.map(|seq| format!("/c/{seq}"));
        let spec = ChartSpec {
            metric: "loss",
            goal: Goal::Minimize,
            x_noun: "verification",
            reference: None,
            point_href: &href,
        };
        let svg = progress(&points, &spec);
        assert_eq!(svg.matches("class=\"failed\"").count(), 1, "{svg}");
        assert!(svg.contains("#1: crashed or timed out"));
        assert!(svg.contains("no verification has a metric yet"));
    }

    #[test]
    fn labels_are_wanted_for_every_drawn_chain_point_and_indexed_as_given() {
        let mut points = vec![point(0, None, true, Some(0))];
        points.extend((1..=3).map(|x| point(x, Some(1.0 - x as f64 * 0.1), true, Some(x as i64))));
        assert_eq!(labels_wanted(&points, Goal::Minimize), vec![1, 2, 3]);
        let many: Vec<Point> = (0..1_000)
            .map(|x| point(x, Some(1000.0 - x as f64), true, Some(x as i64)))
            .collect();
        let wanted = labels_wanted(&many, Goal::Minimize);
        assert!(wanted.len() < 100, "{} wanted", wanted.len());
        assert!(wanted.contains(&0) && wanted.contains(&999));
    }

    /// Writes an example chart to look at: `cargo test -p swarmlab-hub write_example -- --ignored`.
    #[test]
    #[ignore]
    fn write_example() {
        let mut points = vec![point(0, Some(1.30), true, Some(0))];
        points[0].label = Some("baseline".into());
        let (mut head, mut seq, mut seed) = (1.30, 0, 7u64);
        for x in 1..=80u64 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (seed >> 11) as f64 / (1u64 << 53) as f64;
            let (value, kept) = match seed % 13 {
                0 => (None, false),
                _ if x == 9 => (Some(2.4), false),
                _ if noise < 0.15 => (Some(head - 0.01 - noise * 0.1), true),
                _ => (Some(head + noise * 0.08 - 0.005), false),
            };
            if let (true, Some(v)) = (kept, value) {
                (seq, head) = (seq + 1, v);
            }
            let mut p = point(x, value, kept, kept.then_some(seq));
            p.label =
                kept.then(|| format!("step {x}: widen the MLP to {} and warm up longer", 64 + x));
            points.push(p);
        }
        let reference = Reference {
            label: "entropy floor".into(),
            value: 0.95,
        };
        let href = |p: &Point| p.chain_seq.map(|seq| format!("/tracks/toy/chain/{seq}"));
        let spec = ChartSpec {
            metric: "loss",
            goal: Goal::Minimize,
            x_noun: "verification",
            reference: Some(&reference),
            point_href: &href,
        };
        let svg = progress(&points, &spec);
        std::fs::write(std::env::temp_dir().join("hub-example.svg"), svg)
            .expect("write the example");
    }
}
