//! The progress chart, drawn on the server as inline SVG so it shows without JavaScript:
//! every verified measurement as a dot (rejected grey, on the chain green), the chain as a
//! step line, crashes as red marks under the axis, and the entropy floor or target as a
//! dashed line when the track declares one. The biggest steps are labelled.
//!
//! Big series are thinned to the plot's resolution (at most two rejected dots per pixel
//! column, chain dots only while they stay legible), so the chart costs the same to send
//! and draw at ten thousand chain entries as at ten. The step line is never thinned.

use swarmlab_core::Goal;

use super::html::{esc, put, value};
use crate::store::views::{gain, Point, Reference};

const W: f64 = 960.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 58.0;
/// Chain dots are drawn one by one up to this many; beyond, the step line speaks.
pub const MAX_KEPT_DOTS: usize = 400;
/// Labelled chain steps.
const MAX_LABELS: usize = 8;
const LABEL_CHARS: usize = 34;
/// The average advance of a label's character, in the chart's units (11.5 px sans-serif).
const CHAR_WIDTH: f64 = 6.4;

/// What the chart is of.
pub struct ChartSpec<'a> {
    pub metric: &'a str,
    pub goal: Goal,
    /// `verification` on a hub, `experiment` in a local run.
    pub x_noun: &'a str,
    pub reference: Option<&'a Reference>,
    /// Where a kept point's link goes: the chain entry's page.
    pub entry_href: &'a dyn Fn(i64) -> String,
}

struct Scale {
    lo: f64,
    hi: f64,
    px_lo: f64,
    px_hi: f64,
}

impl Scale {
    fn px(&self, v: f64) -> f64 {
        if self.hi == self.lo {
            return (self.px_lo + self.px_hi) / 2.0;
        }
        self.px_lo + (v - self.lo) / (self.hi - self.lo) * (self.px_hi - self.px_lo)
    }
}

/// Round tick values covering `lo..=hi`, about `n` of them.
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

/// A tick label with as many decimals as the step needs.
fn tick_label(t: f64, step: f64) -> String {
    if step >= 1.0 || t == 0.0 {
        return format!("{t:.0}");
    }
    let decimals = (-step.log10()).ceil().clamp(0.0, 8.0) as usize;
    if t.abs() < 1e-3 || t.abs() >= 1e6 {
        value(t)
    } else {
        format!("{t:.decimals$}")
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// The chart of `points` (baseline first, then in x order) as an inline `<svg>`.
pub fn progress(points: &[Point], spec: &ChartSpec) -> String {
    let measured: Vec<&Point> = points.iter().filter(|p| p.value.is_some()).collect();
    let kept: Vec<&Point> = measured.iter().copied().filter(|p| p.kept).collect();
    let x_max = points.iter().map(|p| p.x).max().unwrap_or(0).max(1) as f64;
    let mut values: Vec<f64> = measured.iter().filter_map(|p| p.value).collect();
    values.extend(spec.reference.map(|r| r.value));
    let mut out = String::with_capacity(16_384);
    let desc = describe(points, &kept, spec);
    put(
        &mut out,
        format_args!(
            "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"chart-title chart-desc\" preserveAspectRatio=\"xMidYMid meet\">\
             <title id=\"chart-title\">Progress of {metric}</title><desc id=\"chart-desc\">{desc}</desc>",
            metric = esc(spec.metric),
            desc = esc(&desc),
        ),
    );
    let (lo, hi) = match (
        values.iter().copied().reduce(f64::min),
        values.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) => {
            let pad = ((hi - lo) * 0.08).max(hi.abs().max(1e-9) * 1e-3);
            (lo - pad, hi + pad)
        }
        _ => {
            put(
                &mut out,
                format_args!(
                    "<text x=\"{}\" y=\"{}\" class=\"empty\" text-anchor=\"middle\">No verified measurements yet</text></svg>",
                    W / 2.0,
                    H / 2.0
                ),
            );
            return out;
        }
    };
    let x = Scale {
        lo: 0.0,
        hi: x_max,
        px_lo: LEFT,
        px_hi: W - RIGHT,
    };
    let y = Scale {
        lo,
        hi,
        px_lo: H - BOTTOM,
        px_hi: TOP,
    };
    axes(&mut out, &x, &y, spec);
    if let Some(r) = spec.reference {
        let py = y.px(r.value);
        put(
            &mut out,
            format_args!(
                "<g class=\"reference\"><line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} {}</text></g>",
                W - RIGHT,
                W - RIGHT - 4.0,
                py - 6.0,
                esc(&r.label),
                value(r.value)
            ),
        );
    }
    rejected(&mut out, &measured, &x, &y, spec.x_noun);
    failures(&mut out, points, &x);
    step_line(&mut out, &kept, x_max, &x, &y);
    kept_dots(&mut out, &kept, &x, &y, spec);
    out.push_str("</svg>");
    out
}

fn describe(points: &[Point], kept: &[&Point], spec: &ChartSpec) -> String {
    let n = points.iter().filter(|p| p.x > 0).count();
    let mut text = format!(
        "{n} {}s, {} on the chain.",
        spec.x_noun,
        kept.len().saturating_sub(1)
    );
    if let (Some(first), Some(last)) = (
        kept.first().and_then(|p| p.value),
        kept.last().and_then(|p| p.value),
    ) {
        text.push_str(&format!(
            " {} went from {} to {} ({} is better).",
            spec.metric,
            value(first),
            value(last),
            match spec.goal {
                Goal::Minimize => "lower",
                Goal::Maximize => "higher",
            }
        ));
    }
    text
}

fn axes(out: &mut String, x: &Scale, y: &Scale, spec: &ChartSpec) {
    out.push_str("<g class=\"grid\">");
    let y_ticks = ticks(y.lo, y.hi, 6);
    let y_step = if y_ticks.len() > 1 {
        y_ticks[1] - y_ticks[0]
    } else {
        1.0
    };
    for t in &y_ticks {
        let py = y.px(*t);
        put(
            out,
            format_args!(
                "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                W - RIGHT,
                LEFT - 8.0,
                py + 4.0,
                tick_label(*t, y_step)
            ),
        );
    }
    for t in ticks(0.0, x.hi, 8) {
        let px = x.px(t);
        put(
            out,
            format_args!(
                "<text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{t:.0}</text>",
                H - BOTTOM + 30.0
            ),
        );
    }
    put(
        out,
        format_args!(
            "</g><g class=\"axis-label\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} number</text>\
             <text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{} ({})</text></g>",
            (LEFT + W - RIGHT) / 2.0,
            H - 8.0,
            esc(spec.x_noun),
            (TOP + H - BOTTOM) / 2.0,
            esc(spec.metric),
            match spec.goal {
                Goal::Minimize => "lower is better",
                Goal::Maximize => "higher is better",
            }
        ),
    );
}

/// Rejected measurements: one dot each, with its tooltip, while they fit; when crowded, the
/// two extremes of each pixel column, as one path of dots.
fn rejected(out: &mut String, measured: &[&Point], x: &Scale, y: &Scale, noun: &str) {
    let others: Vec<&Point> = measured.iter().copied().filter(|p| !p.kept).collect();
    let columns = (x.px_hi - x.px_lo) as usize;
    out.push_str("<g class=\"rejected\">");
    if others.len() <= columns {
        for p in &others {
            let v = p.value.unwrap_or_default();
            put(
                out,
                format_args!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"><title>{} #{}: {} (not kept)</title></circle>",
                    x.px(p.x as f64),
                    y.px(v),
                    esc(noun),
                    p.x,
                    value(v)
                ),
            );
        }
    } else {
        let mut d = String::with_capacity(columns * 28);
        let mut dot = |px: f64, v: f64| put(&mut d, format_args!("M{px:.1} {:.1}h0", y.px(v)));
        let mut column: Option<(i64, f64, f64)> = None;
        for p in &others {
            let c = x.px(p.x as f64).floor() as i64;
            let v = p.value.unwrap_or_default();
            column = match column {
                Some((cc, lo, hi)) if cc == c => Some((c, lo.min(v), hi.max(v))),
                Some((cc, lo, hi)) => {
                    dot(cc as f64 + 0.5, lo);
                    if hi > lo {
                        dot(cc as f64 + 0.5, hi);
                    }
                    Some((c, v, v))
                }
                None => Some((c, v, v)),
            };
        }
        if let Some((c, lo, hi)) = column {
            dot(c as f64 + 0.5, lo);
            if hi > lo {
                dot(c as f64 + 0.5, hi);
            }
        }
        put(out, format_args!("<path class=\"dots\" d=\"{d}\"/>"));
    }
    out.push_str("</g>");
}

/// Crashes and timeouts: marks in a strip under the axis, one per pixel column.
fn failures(out: &mut String, points: &[Point], x: &Scale) {
    let mut last_px = -1.0;
    let base = H - BOTTOM + 12.0;
    out.push_str("<g class=\"failed\">");
    for p in points.iter().filter(|p| p.value.is_none() && p.x > 0) {
        let px = x.px(p.x as f64);
        if px - last_px < 1.0 {
            continue;
        }
        last_px = px;
        put(
            out,
            format_args!(
                "<path d=\"M{:.1} {:.1}l6 6m0 -6l-6 6\"><title>#{}: crashed or timed out</title></path>",
                px - 3.0,
                base - 3.0,
                p.x
            ),
        );
    }
    out.push_str("</g>");
}

fn step_line(out: &mut String, kept: &[&Point], x_max: f64, x: &Scale, y: &Scale) {
    let Some(first) = kept.first() else {
        return;
    };
    let mut d = String::with_capacity(kept.len().min(2_000) * 16);
    let (mut px, mut py) = (x.px(first.x as f64), y.px(first.value.unwrap_or_default()));
    put(&mut d, format_args!("M{px:.1} {py:.1}"));
    // Steps that land in the same half pixel merge into one: the line looks the same.
    for p in &kept[1..] {
        let (nx, ny) = (x.px(p.x as f64), y.px(p.value.unwrap_or_default()));
        if nx - px >= 0.5 {
            put(&mut d, format_args!("V{py:.1}H{nx:.1}"));
            px = nx;
        }
        py = ny;
    }
    put(&mut d, format_args!("V{py:.1}H{:.1}", x.px(x_max)));
    put(out, format_args!("<path class=\"step\" d=\"{d}\"/>"));
}

/// Which kept points the chart may label: the biggest steps, a few more than it will
/// label, so a caller can name just these.
pub fn label_candidates(points: &[Point], goal: Goal) -> Vec<usize> {
    let kept: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].kept && points[i].value.is_some())
        .collect();
    let mut steps: Vec<(f64, usize)> = kept
        .windows(2)
        .filter_map(|w| Some((gain(goal, points[w[0]].value?, points[w[1]].value?), w[1])))
        .collect();
    steps.sort_by(|a, b| b.0.total_cmp(&a.0));
    steps.truncate(MAX_LABELS * 4);
    steps.into_iter().map(|(_, i)| i).collect()
}

/// Chain dots (all of them while legible, else the labelled ones) and the labels of the
/// biggest steps.
/// Where a chain point's label goes: its text, anchor and position, and the box it covers.
struct Label {
    text: String,
    anchor: &'static str,
    x: f64,
    y: f64,
    /// left, right, top, bottom.
    area: (f64, f64, f64, f64),
}

impl Label {
    fn new(p: &Point, x: &Scale, y: &Scale, goal: Goal) -> Label {
        let (px, py) = (x.px(p.x as f64), y.px(p.value.unwrap_or_default()));
        let text = cut(p.label.as_deref().unwrap_or(""), LABEL_CHARS);
        let width = text.chars().count() as f64 * CHAR_WIDTH;
        // The step line leaves a point level to the right and reaches it from the previous
        // level on the left: a label right of the point goes on the side away from the
        // next steps, a label left of it on the side away from the previous one.
        let anchor = if px + 6.0 + width > W - RIGHT {
            "end"
        } else {
            "start"
        };
        let above = (anchor == "start") == (goal == Goal::Minimize);
        let (lx, ly) = (
            px + if anchor == "end" { -6.0 } else { 6.0 },
            py + if above { -10.0 } else { 18.0 },
        );
        let (left, right) = if anchor == "end" {
            (lx - width, lx)
        } else {
            (lx, lx + width)
        };
        Label {
            text,
            anchor,
            x: lx,
            y: ly,
            area: (left, right, ly - 12.0, ly + 4.0),
        }
    }

    fn overlaps(&self, other: &Label) -> bool {
        let (a, b) = (self.area, other.area);
        a.0 < b.1 && b.0 < a.1 && a.2 < b.3 && b.2 < a.3
    }
}

/// Chain dots (all of them while legible, else the labelled ones) and the labels of the
/// biggest steps, placed so that none overlaps another.
fn kept_dots(out: &mut String, kept: &[&Point], x: &Scale, y: &Scale, spec: &ChartSpec) {
    let mut steps: Vec<(f64, usize)> = kept
        .windows(2)
        .enumerate()
        .filter_map(|(i, w)| Some((gain(spec.goal, w[0].value?, w[1].value?), i + 1)))
        .collect();
    steps.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut labels: Vec<(usize, Label)> = Vec::new();
    for (_, i) in steps {
        if labels.len() == MAX_LABELS {
            break;
        }
        if kept[i].label.as_deref().is_none_or(str::is_empty) {
            continue;
        }
        let label = Label::new(kept[i], x, y, spec.goal);
        if labels.iter().all(|(_, l)| !l.overlaps(&label)) {
            labels.push((i, label));
        }
    }
    labels.sort_unstable_by_key(|(i, _)| *i);
    out.push_str("<g class=\"kept\">");
    let all = kept.len() <= MAX_KEPT_DOTS;
    for (i, p) in kept.iter().enumerate() {
        let labelled = labels.binary_search_by_key(&i, |(j, _)| *j).is_ok();
        if !all && i != 0 && i != kept.len() - 1 && !labelled {
            continue;
        }
        let v = p.value.unwrap_or_default();
        let seq = p.chain_seq.unwrap_or(0);
        let what = p.label.as_deref().unwrap_or("");
        put(
            out,
            format_args!(
                "<a href=\"{href}\" class=\"pt\" data-seq=\"{seq}\"><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\"/>\
                 <title>chain #{seq}: {} — {}</title></a>",
                x.px(p.x as f64),
                y.px(v),
                value(v),
                esc(what),
                href = esc(&(spec.entry_href)(seq)),
            ),
        );
    }
    out.push_str("</g><g class=\"labels\">");
    for (_, l) in &labels {
        put(
            out,
            format_args!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{}</text>",
                l.x,
                l.y,
                l.anchor,
                esc(&l.text)
            ),
        );
    }
    out.push_str("</g>");
}

/// A small trend line for the overview, `values` in order.
pub fn sparkline(values: &[f64]) -> String {
    const SW: f64 = 160.0;
    const SH: f64 = 36.0;
    if values.len() < 2 {
        return String::new();
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let y = Scale {
        lo,
        hi,
        px_lo: SH - 3.0,
        px_hi: 3.0,
    };
    let x = Scale {
        lo: 0.0,
        hi: (values.len() - 1) as f64,
        px_lo: 2.0,
        px_hi: SW - 2.0,
    };
    let mut d = String::new();
    for (i, v) in values.iter().enumerate() {
        let (px, py) = (x.px(i as f64), y.px(*v));
        if i == 0 {
            put(&mut d, format_args!("M{px:.1} {py:.1}"));
        } else {
            put(&mut d, format_args!("H{px:.1}V{py:.1}"));
        }
    }
    format!(
        "<svg class=\"spark\" viewBox=\"0 0 {SW} {SH}\" aria-hidden=\"true\" focusable=\"false\"><path d=\"{d}\"/></svg>"
    )
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
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(0.61, 1.02, 6);
        assert!(
            t.first().unwrap() >= &0.61 && t.last().unwrap() <= &1.02,
            "{t:?}"
        );
        assert_eq!(tick_label(0.7, 0.05), "0.70");
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
        let href = |seq: i64| format!("/tracks/toy/chain/{seq}");
        let svg = progress(
            &points,
            &ChartSpec {
                metric: "loss",
                goal: Goal::Minimize,
                x_noun: "verification",
                reference: Some(&reference),
                entry_href: &href,
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
        let href = |seq: i64| format!("/c/{seq}");
        let svg = progress(
            &points,
            &ChartSpec {
                metric: "loss",
                goal: Goal::Minimize,
                x_noun: "verification",
                reference: None,
                entry_href: &href,
            },
        );
        let dots = svg.matches("<circle").count();
        assert!(dots < 2_000, "{dots} dots");
        assert!(svg.contains("data-seq=\"1\""));
    }
}
