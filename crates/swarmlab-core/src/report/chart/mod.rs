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
mod spark;
#[cfg(test)]
mod tests;

use std::fmt::{self, Write};

use self::label::Label;
use super::scale::{Axis, Ticks};
use crate::Goal;

pub use spark::sparkline;

/// Past this many kept points a page's chart draws only the first, the last and the labelled.
pub const MAX_KEPT_DOTS: usize = 400;
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
    /// The canvas: width and height.
    fn size(self) -> (f64, f64) {
        match self {
            Frame::File { .. } => (1200.0, 640.0),
            Frame::Page => (960.0, 400.0),
        }
    }

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

    /// Discarded points one by one, each with its title; on a page, when there are more than
    /// the plot has pixel columns, the two extremes of each column as one path of dots.
    fn render_discarded(&self, plot: &Plot, series: &impl Series, out: &mut String) -> fmt::Result {
        let points = series.points();
        let count = points.iter().filter_map(discarded_value).count();
        writeln!(out, r#"<g fill="{GREY}" fill-opacity="0.6">"#)?;
        if self.frame.thin() && count > plot.columns() {
            render_dots(plot, points, out)?;
        } else {
            for (i, p) in points.iter().enumerate() {
                if discarded_value(p).is_some() {
                    plot.marker(out, p, &series.title(i), None)?;
                }
            }
        }
        writeln!(out, "</g>")
    }

    /// The running best: a step at each kept point, then flat to the last point. Steps within
    /// half a pixel of each other merge; the line looks the same.
    fn render_best_line(&self, plot: &Plot, points: &[Point], out: &mut String) -> fmt::Result {
        let Some(y) = &plot.y else {
            return Ok(());
        };
        let mut kept = points
            .iter()
            .filter_map(|p| Some((plot.x.px(p.x as f64), kept_value(p)?)));
        let Some((mut px, mut best)) = kept.next() else {
            return Ok(());
        };
        let y_of = |v: f64| y.px(v).clamp(plot.top, plot.bottom);
        let mut drawn = y_of(best);
        let mut level = drawn;
        let mut d = format!("M{px:.1} {drawn:.1}");
        for (nx, v) in kept {
            best = self.goal.better(best, v);
            if nx - px >= 0.5 {
                if level != drawn {
                    write!(d, "V{level:.1}")?;
                }
                px = nx;
                drawn = y_of(best);
                write!(d, "H{px:.1}V{drawn:.1}")?;
            }
            level = y_of(best);
        }
        if level != drawn {
            write!(d, "V{level:.1}")?;
        }
        let last = points.iter().map(|p| p.x).max().unwrap_or(0);
        write!(d, "H{:.1}", plot.x.px(last as f64))?;
        writeln!(
            out,
            r#"<path class="step" d="{d}" fill="none" stroke="{GREEN}" stroke-width="2" stroke-opacity="0.8" stroke-linejoin="round"/>"#
        )
    }

    /// Kept points, linked when the series links them; on a page past [`MAX_KEPT_DOTS`] only
    /// the first, the last and the labelled, as the step line already shows the rest.
    fn render_kept(
        &self,
        plot: &Plot,
        series: &impl Series,
        labels: &[Label],
        out: &mut String,
    ) -> fmt::Result {
        let points = series.points();
        let kept: Vec<usize> = (0..points.len())
            .filter(|&i| kept_value(&points[i]).is_some())
            .collect();
        let all = !self.frame.thin() || kept.len() <= MAX_KEPT_DOTS;
        writeln!(
            out,
            r#"<g fill="{GREEN}" stroke="{DARK_GREEN}" stroke-width="1">"#
        )?;
        for (k, &i) in kept.iter().enumerate() {
            let labelled = labels.binary_search_by_key(&i, |l| l.index).is_ok();
            if !all && k != 0 && k != kept.len() - 1 && !labelled {
                continue;
            }
            let link = series.link(i);
            plot.marker(out, &points[i], &series.title(i), link.as_ref())?;
        }
        writeln!(out, "</g>")
    }

    /// Failures as crosses under the axis; on a page, one per pixel column.
    fn render_failed(&self, plot: &Plot, series: &impl Series, out: &mut String) -> fmt::Result {
        let y = plot.bottom + 12.0;
        let mut last_px = f64::NEG_INFINITY;
        writeln!(out, r#"<g fill="none" stroke="{RED}" stroke-width="1.6">"#)?;
        for (i, p) in series.points().iter().enumerate() {
            if value(p).is_some() {
                continue;
            }
            let px = plot.x.px(p.x as f64);
            if self.frame.thin() && px - last_px < 1.0 {
                continue;
            }
            last_px = px;
            writeln!(
                out,
                r#"<path class="failed" d="M{:.1} {:.1}l7 7m0 -7l-7 7"><title>{}</title></path>"#,
                px - 3.5,
                y - 3.5,
                escape(&series.title(i))
            )?;
        }
        writeln!(out, "</g>")
    }
}

/// The crowded discarded points as dots, the lowest and highest of each pixel column.
fn render_dots(plot: &Plot, points: &[Point], out: &mut String) -> fmt::Result {
    let Some(y) = &plot.y else {
        return Ok(());
    };
    let py = |v: f64| y.px(v).clamp(plot.top, plot.bottom);
    let mut d = String::with_capacity(plot.columns() * 28);
    let mut dots = |column: i64, lo: f64, hi: f64| {
        let x = column as f64 + 0.5;
        let _ = write!(d, "M{x:.1} {:.1}h0", py(lo));
        if hi > lo {
            let _ = write!(d, "M{x:.1} {:.1}h0", py(hi));
        }
    };
    let mut column: Option<(i64, f64, f64)> = None;
    for p in points {
        let Some(v) = discarded_value(p) else {
            continue;
        };
        let c = plot.x.px(p.x as f64).floor() as i64;
        column = match column {
            Some((cc, lo, hi)) if cc == c => Some((c, lo.min(v), hi.max(v))),
            Some((cc, lo, hi)) => {
                dots(cc, lo, hi);
                Some((c, v, v))
            }
            None => Some((c, v, v)),
        };
    }
    if let Some((c, lo, hi)) = column {
        dots(c, lo, hi);
    }
    writeln!(
        out,
        r#"<path class="dots" d="{d}" fill="none" stroke="{GREY}" stroke-opacity="0.6" stroke-width="5" stroke-linecap="round"/>"#
    )
}

/// Where a point with a metric lands: inside the plot, or clamped to its top or bottom edge.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Inside(f64),
    Above,
    Below,
}

/// The canvas of one chart: its size, the plot's edges in pixels, and the two axes.
struct Plot {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    /// Labels of kept points stay below this (under a file's heading).
    label_top: f64,
    x: Axis,
    /// `None` when no point has a metric: there is no scale to draw.
    y: Option<Axis>,
}

impl Plot {
    fn new(chart: &Chart, points: &[Point]) -> Plot {
        let (width, height) = chart.frame.size();
        let (top, label_top) = match chart.frame {
            Frame::File { .. } => (84.0, 64.0),
            Frame::Page => (20.0, 4.0),
        };
        let (left, right, bottom) = (80.0, width - 32.0, height - 60.0);
        let first = points.iter().map(|p| p.x).min().unwrap_or(0) as f64;
        let last = points.iter().map(|p| p.x).max().unwrap_or(0) as f64;
        let pad = ((last - first) * 0.02).max(0.5);
        let x = Axis {
            lo: first - pad,
            hi: last + pad,
            px_lo: left,
            px_hi: right,
        };
        let reference = chart.reference.map(|r| r.value);
        let y = y_range(points, chart.goal, reference).map(|(lo, hi)| Axis {
            lo,
            hi,
            px_lo: bottom,
            px_hi: top,
        });
        Plot {
            width,
            height,
            left,
            right,
            top,
            bottom,
            label_top,
            x,
            y,
        }
    }

    /// The plot's width in whole pixels: how many distinct x positions it can show.
    fn columns(&self) -> usize {
        (self.right - self.left) as usize
    }

    fn place(&self, value: f64) -> Place {
        match &self.y {
            Some(y) if value > y.hi => Place::Above,
            Some(y) if value < y.lo => Place::Below,
            Some(y) => Place::Inside(y.px(value)),
            None => Place::Below,
        }
    }

    /// A kept or discarded point: a dot inside the plot, a triangle at the edge beyond it.
    /// With a link, the marker and its title are the link, in a group that carries the class.
    fn marker(
        &self,
        out: &mut String,
        point: &Point,
        title: &str,
        link: Option<&Link>,
    ) -> fmt::Result {
        let (class, r) = if point.kept {
            ("kept", 5.5)
        } else {
            ("discarded", 3.0)
        };
        let px = self.x.px(point.x as f64);
        let place = self.place(value(point).expect("a marker has a value"));
        let (tag, clamped, note) = match place {
            Place::Inside(_) => ("circle", "", ""),
            _ => ("path", " clamped", " (beyond the axis)"),
        };
        match link {
            None => write!(out, r#"<{tag} class="{class}{clamped}" "#)?,
            Some(link) => write!(
                out,
                r#"<g class="{class}{clamped}"><a href="{}" class="pt" data-seq="{}"><{tag} "#,
                escape(&link.href),
                link.seq
            )?,
        }
        match place {
            Place::Inside(py) => write!(out, r#"cx="{px:.1}" cy="{py:.1}" r="{r}""#)?,
            // The tip points outwards, at the edge the value lies beyond.
            Place::Above => write!(out, r#"d="M{px:.1} {}l4 7h-8z""#, self.top)?,
            Place::Below => write!(out, r#"d="M{px:.1} {}l4 -7h-8z""#, self.bottom)?,
        }
        let title = escape(title);
        match link {
            None => writeln!(out, "><title>{title}{note}</title></{tag}>"),
            Some(_) => writeln!(out, "/><title>{title}{note}</title></a></g>"),
        }
    }
}

/// The y range to draw: from the best value seen to the worst kept one (and the reference),
/// with a margin that is wider on the worse side so near-misses show. `None` when no point
/// has a metric.
fn y_range(points: &[Point], goal: Goal, reference: Option<f64>) -> Option<(f64, f64)> {
    let values = || points.iter().filter_map(value);
    let worse = |a: f64, b: f64| if goal.improves(a, b) { b } else { a };
    let best = values().reduce(|a, b| goal.better(a, b))?;
    let worst = points
        .iter()
        .filter_map(kept_value)
        .reduce(worse)
        .or_else(|| values().reduce(worse))?;
    let (mut lo, mut hi) = (best.min(worst), best.max(worst));
    if let Some(r) = reference.filter(|r| r.is_finite()) {
        (lo, hi) = (lo.min(r), hi.max(r));
    }
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
