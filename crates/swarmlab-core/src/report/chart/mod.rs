//! The progress chart, the one every view of progress draws: `progress.svg` from a run's
//! records, and the track page of the dashboard, on a hub or over a local run. Point number
//! across, the metric up; discarded points as small grey dots, kept ones as larger green dots
//! labelled with what they changed, the running best as a green step line, failures (no
//! metric) as red crosses in a strip under the axis, so they are seen without stretching the
//! scale, and a dashed reference line (an entropy floor, a target) when there is one.
//!
//! The y range spans the best value seen and the worst kept one (and the reference), plus a
//! margin; worse outliers are drawn at the edge as triangles. Every point drawn carries a class
//! (`kept`, `discarded`, `failed`, and `clamped` at the edge) and a `<title>`, for hover and for
//! tests. The [`Frame`] says where the chart goes: a file of its own explains itself (heading,
//! legend) and draws one element per point; a page's chart thins crowded points to the plot's
//! resolution, so it costs the same to send at ten thousand points as at ten, and links kept
//! points to their pages. Colours are presentation attributes, so a page's stylesheet may
//! restyle them; sizes are fixed here, because labels are fitted to them.
//!
//! The chart decides how to draw, never what the data says: which points are kept, what their
//! titles say and where they link are the [`Series`]' answers. Nothing here reads files or
//! knows a hub.

mod label;
mod legend;
mod marks;
mod plot;
mod spark;
#[cfg(test)]
mod tests;

use std::fmt::{self, Write};

use self::plot::Plot;
use super::scale::Ticks;
use crate::Goal;

pub use spark::sparkline;

/// Past this many kept points a page's chart draws only the first, the last and the labelled.
const MAX_KEPT_DOTS: usize = 400;
/// The most kept points labelled in a file and on a page.
pub(super) const FILE_LABELS: usize = 30;
const PAGE_LABELS: usize = 8;

const GREEN: &str = "#2ca02c";
const DARK_GREEN: &str = "#1a6e1a";
const GREY: &str = "#9a9a9a";
const RED: &str = "#d62728";
const PURPLE: &str = "#7a3fd1";
const GRID: &str = "#e6e6e6";
const INK: &str = "#222222";
const MUTED: &str = "#666666";

/// A progress chart: what it is of, and where it goes.
pub struct Chart<'a> {
    pub frame: Frame<'a>,
    /// The chart's accessible name, and its heading in a file.
    pub title: &'a str,
    /// A longer text alternative, for screen readers.
    pub description: Option<&'a str>,
    pub metric: &'a str,
    pub goal: Goal,
    /// What one point is (`experiment`, `verification`): names the x axis and an empty chart.
    pub noun: &'a str,
    /// A line the metric cannot cross (an entropy floor) or a target, drawn dashed.
    pub reference: Option<Reference<'a>>,
}

/// Where a chart goes, which decides how it explains itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Frame<'a> {
    /// A standalone SVG file (`progress.svg`): the title and this subtitle drawn above the plot,
    /// a legend inside it, every point its own element with its title.
    File { subtitle: &'a str },
    /// An `<svg>` element in a page that gives the heading and the key around it: crowded
    /// points thinned to the plot's resolution, kept points linked.
    Page,
}

impl Frame<'_> {
    fn max_labels(self) -> usize {
        match self {
            Frame::File { .. } => FILE_LABELS,
            Frame::Page => PAGE_LABELS,
        }
    }

    fn thin(self) -> bool {
        self == Frame::Page
    }

    /// The kept points whose text (title, label) a chart in this frame asks its series for:
    /// those it draws and those it may label, so that a series that looks text up slowly
    /// (commit subjects from git) looks up just these.
    pub fn named_points(self, points: &[Point]) -> Vec<usize> {
        let kept: Vec<usize> = (0..points.len())
            .filter(|&i| kept_value(&points[i]).is_some())
            .collect();
        if !self.thin() || kept.len() <= MAX_KEPT_DOTS {
            return kept;
        }
        let mut named = label::candidates(points);
        named.truncate(self.max_labels() * 4);
        named.extend(kept.first());
        named.extend(kept.last());
        named.sort_unstable();
        named.dedup();
        named
    }
}

/// A dashed horizontal line with its text (`entropy floor 1.0200`), drawn as given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reference<'a> {
    pub text: &'a str,
    pub value: f64,
}

/// One measurement: where it goes and what became of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Its number (experiment or verification); points come in this order.
    pub x: u64,
    /// The metric; `None` (or not finite) when there is none: a failure.
    pub value: Option<f64>,
    /// Kept: it moved the best (or the chain) forward.
    pub kept: bool,
    /// For a kept point, how much it improved on what it was measured against, positive
    /// when better whatever the goal: the biggest gains are labelled first. `None` for a
    /// baseline, which is labelled before any gain.
    pub gain: Option<f64>,
}

/// Where a kept point links: its page, and its place on the chain (`data-seq`).
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub href: String,
    pub seq: i64,
}

/// What a chart draws: its points, and the text of each, asked for only for the points
/// drawn, so a series of a hundred thousand builds no text it does not show.
pub trait Series {
    fn points(&self) -> &[Point];
    /// The hover text of point `i`.
    fn title(&self, i: usize) -> String;
    /// What kept point `i` changed, drawn beside it when there is room.
    fn label(&self, i: usize) -> Option<&str>;
    /// The page kept point `i` links to, if any.
    fn link(&self, _i: usize) -> Option<Link> {
        None
    }
}

/// A point's metric when it has a finite one.
fn value(point: &Point) -> Option<f64> {
    point.value.filter(|v| v.is_finite())
}

/// A kept point's metric; a kept point without one is drawn as a failure.
fn kept_value(point: &Point) -> Option<f64> {
    value(point).filter(|_| point.kept)
}

/// A discarded point's metric.
fn discarded_value(point: &Point) -> Option<f64> {
    value(point).filter(|_| !point.kept)
}

impl Chart<'_> {
    /// The chart of `series` as SVG: a document for [`Frame::File`], an element for a page.
    pub fn svg(&self, series: &impl Series) -> String {
        let points = series.points();
        let plot = Plot::new(self, points);
        let mut out = String::with_capacity(8192 + points.len().min(20_000) * 160);
        self.render(&plot, series, &mut out)
            .expect("writing to a String never fails");
        out
    }

    fn render(&self, plot: &Plot, series: &impl Series, out: &mut String) -> fmt::Result {
        let (w, h) = (plot.width, plot.height);
        let size = match self.frame {
            Frame::File { .. } => {
                writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
                format!(r#" width="{w}" height="{h}""#)
            }
            Frame::Page => String::new(),
        };
        let labelled_by = match self.description {
            Some(_) => "chart-title chart-desc",
            None => "chart-title",
        };
        writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" class="chart"{size} viewBox="0 0 {w} {h}" role="img" aria-labelledby="{labelled_by}" font-family="Helvetica, Arial, sans-serif">"#
        )?;
        writeln!(
            out,
            r#"<title id="chart-title">{}</title>"#,
            escape(self.title)
        )?;
        if let Some(description) = self.description {
            writeln!(
                out,
                r#"<desc id="chart-desc">{}</desc>"#,
                escape(description)
            )?;
        }
        writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#)?;
        if let Frame::File { subtitle } = self.frame {
            writeln!(
                out,
                r#"<text x="{}" y="34" font-size="20" font-weight="bold" fill="{INK}">{}</text>"#,
                plot.left,
                escape(self.title)
            )?;
            writeln!(
                out,
                r#"<text x="{}" y="56" font-size="13" fill="{MUTED}">{}</text>"#,
                plot.left,
                escape(subtitle)
            )?;
        }
        self.render_axes(plot, series.points(), out)?;
        self.render_reference(plot, out)?;
        self.render_discarded(plot, series, out)?;
        self.render_best_line(plot, series.points(), out)?;
        let labels = label::place(plot, series, self.goal, self.frame.max_labels());
        self.render_kept(plot, series, &labels, out)?;
        self.render_failed(plot, series, out)?;
        label::render(&labels, out)?;
        if let Frame::File { .. } = self.frame {
            legend::render(plot, series.points(), self.goal, out)?;
        }
        writeln!(out, "</svg>")
    }

    fn render_axes(&self, plot: &Plot, points: &[Point], out: &mut String) -> fmt::Result {
        let x_ticks = Ticks::new(
            plot.x.lo,
            plot.x.hi,
            ((plot.right - plot.left) / 90.0).round() as usize,
            1.0,
        );
        let y_ticks = plot.y.as_ref().map(|y| {
            let target = ((plot.bottom - plot.top) / 60.0).round() as usize;
            (y, Ticks::new(y.lo, y.hi, target, 0.0))
        });
        writeln!(out, r#"<g class="grid" stroke="{GRID}" stroke-width="1">"#)?;
        for &t in &x_ticks.values {
            let px = plot.x.px(t);
            writeln!(
                out,
                r#"<line x1="{px:.1}" y1="{}" x2="{px:.1}" y2="{}"/>"#,
                plot.top, plot.bottom
            )?;
        }
        if let Some((y, ticks)) = &y_ticks {
            for &t in &ticks.values {
                let py = y.px(t);
                writeln!(
                    out,
                    r#"<line x1="{}" y1="{py:.1}" x2="{}" y2="{py:.1}"/>"#,
                    plot.left, plot.right
                )?;
            }
        }
        writeln!(out, "</g>")?;
        writeln!(
            out,
            r##"<path class="axis" d="M{} {}V{}H{}" fill="none" stroke="#444444" stroke-width="1"/>"##,
            plot.left, plot.top, plot.bottom, plot.right
        )?;
        writeln!(
            out,
            r#"<g class="ticks" font-size="12" fill="{MUTED}" text-anchor="middle">"#
        )?;
        for &t in &x_ticks.values {
            writeln!(
                out,
                r#"<text x="{:.1}" y="{}">{}</text>"#,
                plot.x.px(t),
                plot.bottom + 30.0,
                x_ticks.label(t)
            )?;
        }
        writeln!(out, "</g>")?;
        if let Some((y, ticks)) = &y_ticks {
            writeln!(
                out,
                r#"<g class="ticks" font-size="12" fill="{MUTED}" text-anchor="end">"#
            )?;
            for &t in &ticks.values {
                writeln!(
                    out,
                    r#"<text x="{}" y="{:.1}">{}</text>"#,
                    plot.left - 8.0,
                    y.px(t) + 4.0,
                    ticks.label(t)
                )?;
            }
            writeln!(out, "</g>")?;
        } else {
            let message = if points.is_empty() {
                format!("no {}s yet", self.noun)
            } else {
                format!("no {} has a metric yet", self.noun)
            };
            writeln!(
                out,
                r#"<text class="empty" x="{}" y="{}" font-size="16" fill="{MUTED}" text-anchor="middle">{}</text>"#,
                (plot.left + plot.right) / 2.0,
                (plot.top + plot.bottom) / 2.0,
                escape(&message)
            )?;
        }
        let direction = match self.goal {
            Goal::Minimize => "lower is better",
            Goal::Maximize => "higher is better",
        };
        let mid = (plot.top + plot.bottom) / 2.0;
        writeln!(
            out,
            r#"<g class="axis-label" font-size="14" fill="{INK}" text-anchor="middle"><text x="{}" y="{}">{} number</text>"#,
            (plot.left + plot.right) / 2.0,
            plot.height - 10.0,
            escape(self.noun)
        )?;
        writeln!(
            out,
            r#"<text x="20" y="{mid}" transform="rotate(-90 20 {mid})">{} ({direction})</text></g>"#,
            escape(self.metric)
        )
    }

    fn render_reference(&self, plot: &Plot, out: &mut String) -> fmt::Result {
        let (Some(reference), Some(y)) = (&self.reference, &plot.y) else {
            return Ok(());
        };
        if !reference.value.is_finite() {
            return Ok(());
        }
        let py = y.px(reference.value);
        writeln!(
            out,
            r#"<g class="reference" stroke="{PURPLE}" fill="{PURPLE}"><line x1="{}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke-width="1.5" stroke-dasharray="6 5"/>"#,
            plot.left, plot.right
        )?;
        // Its text goes at the left end, where the baseline is far from any floor or target.
        writeln!(
            out,
            r#"<text x="{}" y="{:.1}" font-size="12" font-weight="600" stroke="white" stroke-width="4" paint-order="stroke">{}</text></g>"#,
            plot.left + 6.0,
            py - 6.0,
            escape(reference.text)
        )
    }
}

/// `text` made safe for XML 1.0 content and attribute values, in a file or in HTML.
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
