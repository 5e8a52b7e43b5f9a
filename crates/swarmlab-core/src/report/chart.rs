//! `progress.svg`, the autoresearch progress chart: experiment number across, the metric up;
//! discarded experiments as small grey dots, kept ones as larger green dots labelled with what
//! they changed, the running best as a green step line, and failures (no metric) as red
//! crosses in a strip under the axis, so they are seen without stretching the scale.
//!
//! The y range spans the best value seen and the worst kept one (normally the baseline), plus a
//! margin; worse outliers are drawn at the edge as triangles. The output is standalone SVG 1.1
//! with one element per record, and takes time linear in the number of records. Every point
//! carries a class (`kept`, `discarded`, `failed`) and a `<title>` for hover and for tests.

use std::collections::HashSet;
use std::fmt::{self, Write};

use super::history::{value, History, Outcome, Step};
use super::scale::Ticks;
use super::{format_delta, format_relative, format_value, truncate};
use crate::{Goal, Record, Status};

const WIDTH: f64 = 1200.0;
const HEIGHT: f64 = 640.0;
const PLOT_LEFT: f64 = 90.0;
const PLOT_RIGHT: f64 = WIDTH - 40.0;
const PLOT_TOP: f64 = 84.0;
const PLOT_BOTTOM: f64 = HEIGHT - 84.0;
/// The strip under the x axis where failures are marked.
const FAILURE_Y: f64 = PLOT_BOTTOM + 12.0;
/// Labels of kept points stay below the subtitle.
const LABEL_TOP: f64 = 64.0;

/// Past this many kept points only the biggest improvements are labelled.
const MAX_LABELS: usize = 30;
const LABEL_CHARS: usize = 48;
const LABEL_FONT: f64 = 10.0;
/// Average advance of a sans-serif character, in font sizes, to fit labels in the canvas.
const CHAR_WIDTH: f64 = 0.58;
const LABEL_ANGLE: f64 = 30.0;
/// Descriptions in hover titles are cut here, so a huge description cannot bloat the file.
const TITLE_CHARS: usize = 200;

const GREEN: &str = "#2ca02c";
const DARK_GREEN: &str = "#1a6e1a";
const GREY: &str = "#9a9a9a";
const RED: &str = "#d62728";
const GRID: &str = "#e6e6e6";
const INK: &str = "#222222";
const MUTED: &str = "#666666";

/// The progress chart of `records` (in experiment order) as a standalone SVG document.
pub fn progress_svg(records: &[Record], metric_name: &str, goal: Goal, title: &str) -> String {
    let history = History::new(records, goal);
    let chart = Chart::new(&history, metric_name, title);
    let mut out = String::with_capacity(8192 + records.len() * 160);
    chart
        .render(&mut out)
        .expect("writing to a String never fails");
    out
}

/// A linear map from data values to canvas pixels.
struct Axis {
    lo: f64,
    hi: f64,
    px_lo: f64,
    px_hi: f64,
}

impl Axis {
    fn px(&self, v: f64) -> f64 {
        self.px_lo + (v - self.lo) / (self.hi - self.lo) * (self.px_hi - self.px_lo)
    }
}

/// Where a point with a metric lands: inside the plot, or clamped to its top or bottom edge.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Inside(f64),
    Above,
    Below,
}

struct Chart<'a> {
    history: &'a History<'a>,
    metric_name: &'a str,
    title: &'a str,
    x: Axis,
    /// `None` when no record has a metric: there is no scale to draw.
    y: Option<Axis>,
}

impl<'a> Chart<'a> {
    fn new(history: &'a History<'a>, metric_name: &'a str, title: &'a str) -> Self {
        let indices = history.records.iter().map(|r| r.index as f64);
        let first = indices.clone().fold(f64::INFINITY, f64::min);
        let last = indices.fold(f64::NEG_INFINITY, f64::max);
        let (first, last) = if first <= last {
            (first, last)
        } else {
            (0.0, 0.0)
        };
        let pad = ((last - first) * 0.02).max(0.5);
        let x = Axis {
            lo: first - pad,
            hi: last + pad,
            px_lo: PLOT_LEFT,
            px_hi: PLOT_RIGHT,
        };
        let y = y_range(history).map(|(lo, hi)| Axis {
            lo,
            hi,
            px_lo: PLOT_BOTTOM,
            px_hi: PLOT_TOP,
        });
        Chart {
            history,
            metric_name,
            title,
            x,
            y,
        }
    }

    fn render(&self, out: &mut String) -> fmt::Result {
        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif">"#
        )?;
        writeln!(out, "<title>{}</title>", escape(&self.heading()))?;
        writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#)?;
        self.render_header(out)?;
        self.render_axes(out)?;
        self.render_points(out)?;
        self.render_labels(out)?;
        self.render_legend(out)?;
        writeln!(out, "</svg>")
    }

    /// "<title>: N experiments, K kept, 2 crashed".
    fn heading(&self) -> String {
        let records = self.history.records;
        let count = |status| records.iter().filter(|r| r.status == status).count();
        let mut heading = format!(
            "{}: {} experiment{}, {} kept",
            self.title,
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

    fn render_header(&self, out: &mut String) -> fmt::Result {
        writeln!(
            out,
            r#"<text x="{PLOT_LEFT}" y="34" font-size="20" font-weight="bold" fill="{INK}">{}</text>"#,
            escape(&self.heading())
        )?;
        let direction = match self.history.goal {
            Goal::Minimize => "lower is better",
            Goal::Maximize => "higher is better",
        };
        let mut subtitle = format!("{} ({direction})", self.metric_name);
        match (self.history.baseline(), self.history.best()) {
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
        writeln!(
            out,
            r#"<text x="{PLOT_LEFT}" y="56" font-size="13" fill="{MUTED}">{}</text>"#,
            escape(&subtitle)
        )
    }

    fn render_axes(&self, out: &mut String) -> fmt::Result {
        writeln!(out, r#"<g stroke="{GRID}" stroke-width="1">"#)?;
        let x_ticks = Ticks::new(self.x.lo, self.x.hi, 12, 1.0);
        for &t in &x_ticks.values {
            let px = self.x.px(t);
            writeln!(
                out,
                r#"<line x1="{px:.1}" y1="{PLOT_TOP}" x2="{px:.1}" y2="{PLOT_BOTTOM}"/>"#
            )?;
        }
        let y_ticks = self.y.as_ref().map(|y| (y, Ticks::new(y.lo, y.hi, 8, 0.0)));
        if let Some((y, ticks)) = &y_ticks {
            for &t in &ticks.values {
                let py = y.px(t);
                writeln!(
                    out,
                    r#"<line x1="{PLOT_LEFT}" y1="{py:.1}" x2="{PLOT_RIGHT}" y2="{py:.1}"/>"#
                )?;
            }
        }
        writeln!(out, "</g>")?;

        writeln!(
            out,
            r##"<path d="M{PLOT_LEFT} {PLOT_TOP}V{PLOT_BOTTOM}H{PLOT_RIGHT}" fill="none" stroke="#444444" stroke-width="1"/>"##
        )?;
        writeln!(
            out,
            r#"<g font-size="12" fill="{MUTED}" text-anchor="middle">"#
        )?;
        for &t in &x_ticks.values {
            let px = self.x.px(t);
            writeln!(
                out,
                r#"<text x="{px:.1}" y="{}">{}</text>"#,
                PLOT_BOTTOM + 32.0,
                x_ticks.label(t)
            )?;
        }
        writeln!(out, "</g>")?;
        if let Some((y, ticks)) = &y_ticks {
            writeln!(
                out,
                r#"<g font-size="12" fill="{MUTED}" text-anchor="end">"#
            )?;
            for &t in &ticks.values {
                let py = y.px(t) + 4.0;
                writeln!(
                    out,
                    r#"<text x="{}" y="{py:.1}">{}</text>"#,
                    PLOT_LEFT - 8.0,
                    ticks.label(t)
                )?;
            }
            writeln!(out, "</g>")?;
        } else {
            let message = if self.history.records.is_empty() {
                "no experiments yet"
            } else {
                "no experiment has a metric yet"
            };
            writeln!(
                out,
                r#"<text x="{}" y="{}" font-size="16" fill="{MUTED}" text-anchor="middle">{message}</text>"#,
                (PLOT_LEFT + PLOT_RIGHT) / 2.0,
                (PLOT_TOP + PLOT_BOTTOM) / 2.0
            )?;
        }
        writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="14" fill="{INK}" text-anchor="middle">Experiment #</text>"#,
            (PLOT_LEFT + PLOT_RIGHT) / 2.0,
            HEIGHT - 24.0
        )?;
        let mid = (PLOT_TOP + PLOT_BOTTOM) / 2.0;
        writeln!(
            out,
            r#"<text x="24" y="{mid}" font-size="14" fill="{INK}" text-anchor="middle" transform="rotate(-90 24 {mid})">{}</text>"#,
            escape(self.metric_name)
        )
    }

    fn place(&self, value: f64) -> Place {
        match &self.y {
            Some(y) if value > y.hi => Place::Above,
            Some(y) if value < y.lo => Place::Below,
            Some(y) => Place::Inside(y.px(value)),
            None => Place::Below,
        }
    }

    fn render_points(&self, out: &mut String) -> fmt::Result {
        let records = self.history.records;
        let of = |outcome| records.iter().filter(move |r| Outcome::of(r) == outcome);

        writeln!(out, r#"<g fill="{GREY}" fill-opacity="0.6">"#)?;
        for record in of(Outcome::Discarded) {
            self.marker(out, record, "discarded", 3.0)?;
        }
        writeln!(out, "</g>")?;

        self.render_best_line(out)?;

        writeln!(
            out,
            r#"<g fill="{GREEN}" stroke="{DARK_GREEN}" stroke-width="1">"#
        )?;
        for record in of(Outcome::Kept) {
            self.marker(out, record, "kept", 5.5)?;
        }
        writeln!(out, "</g>")?;

        writeln!(out, r#"<g fill="none" stroke="{RED}" stroke-width="1.6">"#)?;
        for record in of(Outcome::Failed) {
            let px = self.x.px(record.index as f64);
            let y = FAILURE_Y;
            write!(
                out,
                r#"<path class="failed" d="M{:.1} {:.1}l7 7m0 -7l-7 7">"#,
                px - 3.5,
                y - 3.5
            )?;
            writeln!(
                out,
                "<title>{}</title></path>",
                escape(&point_title(record, self.metric_name))
            )?;
        }
        writeln!(out, "</g>")
    }

    /// A dot for a point inside the plot, a triangle at the edge for one beyond it.
    fn marker(&self, out: &mut String, record: &Record, class: &str, r: f64) -> fmt::Result {
        let px = self.x.px(record.index as f64);
        let metric = value(record).expect("points have a finite metric");
        let title = escape(&point_title(record, self.metric_name));
        let (tip, dy) = match self.place(metric) {
            Place::Inside(py) => {
                return writeln!(
                    out,
                    r#"<circle class="{class}" cx="{px:.1}" cy="{py:.1}" r="{r}"><title>{title}</title></circle>"#
                );
            }
            Place::Above => (PLOT_TOP, 7.0),
            Place::Below => (PLOT_BOTTOM, -7.0),
        };
        // The tip points outwards, at the edge the value lies beyond.
        writeln!(
            out,
            r#"<path class="{class} clamped" d="M{px:.1} {tip}l4 {dy}h-8z"><title>{title} (beyond the axis)</title></path>"#
        )
    }

    /// The running best: a step at each kept point, then flat to the last experiment.
    fn render_best_line(&self, out: &mut String) -> fmt::Result {
        let (Some(y), Some(first)) = (&self.y, self.history.steps.first()) else {
            return Ok(());
        };
        let x_of = |step: &Step| self.x.px(self.history.records[step.pos].index as f64);
        let y_of = |v: f64| y.px(v).clamp(PLOT_TOP, PLOT_BOTTOM);
        let mut d = format!("M{:.1} {:.1}", x_of(first), y_of(first.best));
        for step in &self.history.steps[1..] {
            let _ = write!(d, "H{:.1}V{:.1}", x_of(step), y_of(step.best));
        }
        let last = self
            .history
            .records
            .iter()
            .map(|r| r.index)
            .max()
            .unwrap_or(0);
        let _ = write!(d, "H{:.1}", self.x.px(last as f64));
        writeln!(
            out,
            r#"<path class="best" d="{d}" fill="none" stroke="{GREEN}" stroke-width="2" stroke-opacity="0.8" stroke-linejoin="round"/>"#
        )
    }

    fn render_labels(&self, out: &mut String) -> fmt::Result {
        if self.y.is_none() {
            return Ok(());
        }
        let steps = &self.history.steps;
        let labelled: HashSet<usize> = if steps.len() <= MAX_LABELS {
            steps.iter().map(|s| s.pos).collect()
        } else {
            let top = self.history.improvements().into_iter().take(MAX_LABELS - 1);
            top.chain(steps.first()).map(|s| s.pos).collect()
        };
        writeln!(out, r#"<g font-size="{LABEL_FONT}" fill="{DARK_GREEN}">"#)?;
        for step in steps.iter().filter(|s| labelled.contains(&s.pos)) {
            let record = &self.history.records[step.pos];
            let Place::Inside(py) = self.place(step.value) else {
                continue;
            };
            self.label(out, self.x.px(record.index as f64), py, &record.description)?;
        }
        writeln!(out, "</g>")
    }

    /// A kept point's description, angled up and to the right for minimize (down for
    /// maximize), away from the best line, cut to fit the canvas.
    fn label(&self, out: &mut String, px: f64, py: f64, description: &str) -> fmt::Result {
        let (sin, cos) = LABEL_ANGLE.to_radians().sin_cos();
        let up = self.history.goal == Goal::Minimize;
        let vertical = if up { py - LABEL_TOP } else { PLOT_BOTTOM - py } / sin;
        let right = (WIDTH - 6.0 - px) / cos;
        let room = vertical.min(right) - 8.0;
        let chars = (room / (LABEL_FONT * CHAR_WIDTH)).floor().max(0.0) as usize;
        if chars < 4 {
            return Ok(());
        }
        let text = escape(&truncate(description, chars.min(LABEL_CHARS)));
        let sy = if up { -1.0 } else { 1.0 };
        // Text stands on its baseline, so a label hanging below its point starts a line lower.
        let drop = if up { 0.0 } else { LABEL_FONT * 0.8 };
        let (x, y) = (px + 8.0 * cos, py + sy * 8.0 * sin + drop);
        // SVG rotates clockwise for positive angles, and y grows downwards.
        let angle = LABEL_ANGLE * sy;
        writeln!(
            out,
            r#"<text x="{x:.1}" y="{y:.1}" transform="rotate({angle} {x:.1} {y:.1})">{text}</text>"#
        )
    }

    fn render_legend(&self, out: &mut String) -> fmt::Result {
        let records = self.history.records;
        let failed = records.iter().any(|r| Outcome::of(r) == Outcome::Failed);
        let clamped = records.iter().any(|r| {
            Outcome::of(r) != Outcome::Failed
                && value(r).is_some_and(|v| !matches!(self.place(v), Place::Inside(_)))
        });
        let mut entries: Vec<(&str, String)> = vec![
            (
                "Kept",
                format!(r#"<circle r="5.5" fill="{GREEN}" stroke="{DARK_GREEN}"/>"#),
            ),
            (
                "Discarded",
                format!(r#"<circle r="3" fill="{GREY}" fill-opacity="0.6"/>"#),
            ),
            (
                "Running best",
                format!(r#"<path d="M-9 0H9" stroke="{GREEN}" stroke-width="2"/>"#),
            ),
        ];
        if failed {
            entries.push((
                "Failed (no metric)",
                format!(
                    r#"<path d="M-3.5 -3.5l7 7m0 -7l-7 7" stroke="{RED}" stroke-width="1.6"/>"#
                ),
            ));
        }
        if clamped {
            entries.push((
                "Beyond the axis",
                format!(r#"<path d="M0 -4l4 7h-8z" fill="{GREY}" fill-opacity="0.6"/>"#),
            ));
        }
        let (w, h) = (170.0, 12.0 + 20.0 * entries.len() as f64);
        let (x, y) = self.legend_corner(w, h);
        writeln!(
            out,
            r#"<g transform="translate({x} {y})" font-size="12" fill="{INK}">"#
        )?;
        writeln!(
            out,
            r##"<rect width="{w}" height="{h}" rx="4" fill="white" fill-opacity="0.9" stroke="#cccccc"/>"##
        )?;
        for (i, (text, symbol)) in entries.iter().enumerate() {
            let row = 16.0 + 20.0 * i as f64;
            writeln!(out, r#"<g transform="translate(20 {row})">{symbol}</g>"#)?;
            writeln!(out, r#"<text x="38" y="{}">{text}</text>"#, row + 4.0)?;
        }
        writeln!(out, "</g>")
    }

    /// The plot corner for a `w` by `h` legend that hides the fewest points, preferring the
    /// corner the best line leaves empty (below it for minimize, above it for maximize).
    fn legend_corner(&self, w: f64, h: f64) -> (f64, f64) {
        let (left, right) = (PLOT_LEFT + 10.0, PLOT_RIGHT - w - 10.0);
        let (top, bottom) = (PLOT_TOP + 10.0, PLOT_BOTTOM - h - 10.0);
        let corners = match self.history.goal {
            Goal::Minimize => [(left, bottom), (right, top), (right, bottom), (left, top)],
            Goal::Maximize => [(left, top), (right, bottom), (right, top), (left, bottom)],
        };
        let hidden = |&(x, y): &(f64, f64)| {
            self.history
                .records
                .iter()
                .filter_map(|r| {
                    let Place::Inside(py) = self.place(value(r)?) else {
                        return None;
                    };
                    let px = self.x.px(r.index as f64);
                    let inside = (x..=x + w).contains(&px) && (y..=y + h).contains(&py);
                    // A kept point hidden costs more than a discarded one.
                    inside.then_some(if r.status == Status::Keep { 10 } else { 1 })
                })
                .sum::<usize>()
        };
        corners
            .iter()
            .min_by_key(|&c| hidden(c))
            .copied()
            .expect("four corners")
    }
}

/// The y range to draw: from the best value seen to the worst kept one, with a margin that is
/// wider on the worse side so near-misses show. `None` when no record has a metric.
fn y_range(history: &History) -> Option<(f64, f64)> {
    let goal = history.goal;
    let worse = |a: f64, b: f64| if goal.improves(a, b) { b } else { a };
    let best = history.values().reduce(|a, b| goal.better(a, b))?;
    let worst = if history.steps.is_empty() {
        history.values().reduce(worse)?
    } else {
        history.steps.iter().map(|s| s.value).reduce(worse)?
    };
    let (mut lo, mut hi) = (best.min(worst), best.max(worst));
    let magnitude = lo.abs().max(hi.abs());
    if hi - lo <= magnitude * 1e-9 {
        let half = if magnitude > 0.0 {
            magnitude * 0.01
        } else {
            0.5
        };
        lo -= half;
        hi += half;
    }
    let span = hi - lo;
    let (below, above) = match goal {
        Goal::Minimize => (0.08, 0.15),
        Goal::Maximize => (0.15, 0.08),
    };
    let (lo, hi) = (lo - span * below, hi + span * above);
    (lo.is_finite() && hi.is_finite() && hi > lo).then_some((lo, hi))
}

/// The hover text of one record: "#12 discard: val_bpb 0.991234: description".
fn point_title(record: &Record, metric_name: &str) -> String {
    let mut title = format!("#{} {}", record.index, record.status);
    if let Some(v) = value(record) {
        let _ = write!(title, ": {metric_name} {}", format_value(v));
    }
    let _ = write!(title, ": {}", truncate(&record.description, TITLE_CHARS));
    title
}

/// `text` made safe for XML 1.0 content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters and these two non-characters are not allowed in XML 1.0.
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
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
            let d = classes(&doc, "best")[0]
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
        assert!(labels - 1 <= MAX_LABELS, "{labels} labels");
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
