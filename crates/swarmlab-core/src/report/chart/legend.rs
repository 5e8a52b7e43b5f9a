//! The legend a chart file draws inside its plot, in the corner that hides the fewest points.
//! A page gives its own key beside the chart and draws none.

use std::fmt::{self, Write};

use super::plot::{Place, Plot};
use super::{kept_value, value, Point, DARK_GREEN, GREEN, GREY, INK, RED};
use crate::Goal;

pub(super) fn render(plot: &Plot, points: &[Point], goal: Goal, out: &mut String) -> fmt::Result {
    let failed = points.iter().any(|p| value(p).is_none());
    let clamped = points
        .iter()
        .filter_map(value)
        .any(|v| !matches!(plot.place(v), Place::Inside(_)));
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
            format!(r#"<path d="M-3.5 -3.5l7 7m0 -7l-7 7" stroke="{RED}" stroke-width="1.6"/>"#),
        ));
    }
    if clamped {
        entries.push((
            "Beyond the axis",
            format!(r#"<path d="M0 -4l4 7h-8z" fill="{GREY}" fill-opacity="0.6"/>"#),
        ));
    }
    let (w, h) = (170.0, 12.0 + 20.0 * entries.len() as f64);
    let (x, y) = corner(plot, points, goal, w, h);
    writeln!(
        out,
        r#"<g class="legend" transform="translate({x} {y})" font-size="12" fill="{INK}">"#
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
fn corner(plot: &Plot, points: &[Point], goal: Goal, w: f64, h: f64) -> (f64, f64) {
    let (left, right) = (plot.left + 10.0, plot.right - w - 10.0);
    let (top, bottom) = (plot.top + 10.0, plot.bottom - h - 10.0);
    let corners = match goal {
        Goal::Minimize => [(left, bottom), (right, top), (right, bottom), (left, top)],
        Goal::Maximize => [(left, top), (right, bottom), (right, top), (left, bottom)],
    };
    let hidden = |&(x, y): &(f64, f64)| {
        points
            .iter()
            .filter_map(|p| {
                let Place::Inside(py) = plot.place(value(p)?) else {
                    return None;
                };
                let px = plot.x.px(p.x as f64);
                let inside = (x..=x + w).contains(&px) && (y..=y + h).contains(&py);
                // A kept point hidden costs more than a discarded one.
                inside.then_some(if kept_value(p).is_some() { 10 } else { 1 })
            })
            .sum::<usize>()
    };
    corners
        .iter()
        .min_by_key(|&c| hidden(c))
        .copied()
        .expect("four corners")
}
