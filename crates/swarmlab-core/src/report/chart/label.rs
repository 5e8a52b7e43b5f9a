//! Which kept points are labelled with what they changed, and where the labels go: the
//! baseline and the biggest gains first, each angled away from the best line (rising for
//! minimize, falling for maximize), on the right of its point unless only the left has room
//! (near the right edge), cut to the room it has, and never over a label placed before it.
//!
//! It only places and writes labels; what a label says is the series'.

use std::cmp::Ordering;
use std::fmt::{self, Write};

use super::super::truncate;
use super::plot::{Place, Plot};
use super::{escape, kept_value, Point, Series, DARK_GREEN};
use crate::Goal;

const LABEL_CHARS: usize = 48;
const FONT: f64 = 10.0;
/// Average advance of a sans-serif character, in font sizes, to fit labels in the canvas.
const CHAR_WIDTH: f64 = 0.58;
const ANGLE: f64 = 30.0;
/// From a point's centre to its label.
const GAP: f64 = 8.0;

/// A placed label.
pub(super) struct Label {
    /// The point's index in the series.
    pub(super) index: usize,
    text: String,
    x: f64,
    y: f64,
    /// Degrees, clockwise.
    angle: f64,
    /// The text ends at (x, y), left of its point, rather than starting there.
    end: bool,
    /// The box the text covers: its centre, its reading direction and its half length and
    /// half height.
    centre: (f64, f64),
    direction: (f64, f64),
    half: (f64, f64),
}

impl Label {
    /// The label of the point at (`px`, `py`), or `None` when there is no room for four
    /// characters on either side.
    fn new(plot: &Plot, index: usize, px: f64, py: f64, text: &str, goal: Goal) -> Option<Label> {
        let (sin, cos) = ANGLE.to_radians().sin_cos();
        // The step line leaves a point level to the right and steps towards better values
        // later, and reaches it from worse values on the left: a label right of the point
        // heads to the worse side, away from the steps to come (rising for minimize, falling
        // for maximize), one left of it along the same slant to the better side.
        let rises = goal == Goal::Minimize;
        let (above, below) = ((py - plot.label_top) / sin, (plot.bottom - py) / sin);
        let right = (plot.width - 6.0 - px) / cos;
        let left = (px - plot.left) / cos;
        let fit = |room: f64| ((room - GAP) / (FONT * CHAR_WIDTH)).floor().max(0.0) as usize;
        let (on_right, on_left) = if rises {
            (fit(above.min(right)), fit(below.min(left)))
        } else {
            (fit(below.min(right)), fit(above.min(left)))
        };
        // The right is the natural side; the left only takes a label the right would cut to
        // less than three quarters of what the left can show (near the right edge).
        let wanted = text.chars().count().min(LABEL_CHARS);
        let (end, chars) = if 4 * on_right >= 3 * on_left.min(wanted) {
            (false, on_right)
        } else {
            (true, on_left)
        };
        if chars < 4 {
            return None;
        }
        let text = truncate(text, chars.min(LABEL_CHARS));
        // The reading direction, and the side of the point the label is on.
        let (dx, dy) = (cos, if rises { -sin } else { sin });
        let side = if end { -1.0 } else { 1.0 };
        // Text stands on its baseline, so a label hanging below its point starts a line lower.
        let drop = if !end && !rises { FONT * 0.8 } else { 0.0 };
        let (x, y) = (px + side * GAP * dx, py + side * GAP * dy + drop);
        let length = text.chars().count() as f64 * FONT * CHAR_WIDTH;
        // The glyphs stand from a little under the baseline to a little under a font size
        // above it; "above" is the reading direction turned a quarter anticlockwise.
        let (along, above) = (side * length / 2.0, 0.3 * FONT);
        Some(Label {
            index,
            text,
            x,
            y,
            angle: dy.signum() * ANGLE,
            end,
            centre: (x + along * dx + above * dy, y + along * dy - above * dx),
            direction: (dx, dy),
            half: (length / 2.0 + 1.0, 0.6 * FONT),
        })
    }

    /// Whether two labels' boxes meet: no axis of either box separates them.
    pub(super) fn overlaps(&self, other: &Label) -> bool {
        let axes = |l: &Label| [l.direction, (l.direction.1, -l.direction.0)];
        let reach = |l: &Label, (ax, ay): (f64, f64)| {
            let [(ux, uy), (vx, vy)] = axes(l);
            l.half.0 * (ux * ax + uy * ay).abs() + l.half.1 * (vx * ax + vy * ay).abs()
        };
        let (cx, cy) = (
            other.centre.0 - self.centre.0,
            other.centre.1 - self.centre.1,
        );
        axes(self)
            .into_iter()
            .chain(axes(other))
            .all(|axis| (cx * axis.0 + cy * axis.1).abs() < reach(self, axis) + reach(other, axis))
    }
}

/// The kept points in the order they claim a label: those without a gain (a baseline) in x
/// order, then the biggest gains, the earliest first on a tie.
pub(super) fn candidates(points: &[Point]) -> Vec<usize> {
    let mut kept: Vec<usize> = (0..points.len())
        .filter(|&i| kept_value(&points[i]).is_some())
        .collect();
    kept.sort_by(|&a, &b| match (points[a].gain, points[b].gain) {
        (None, None) => a.cmp(&b),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(ga), Some(gb)) => gb.total_cmp(&ga).then(a.cmp(&b)),
    });
    kept
}

/// At most `max` labels that fit and do not overlap, in the order of their points.
pub(super) fn place(plot: &Plot, series: &impl Series, goal: Goal, max: usize) -> Vec<Label> {
    if plot.y.is_none() {
        return Vec::new();
    }
    let points = series.points();
    let mut placed: Vec<Label> = Vec::new();
    for i in candidates(points) {
        if placed.len() == max {
            break;
        }
        let Some(text) = series.label(i).filter(|t| !t.trim().is_empty()) else {
            continue;
        };
        let value = kept_value(&points[i]).expect("candidates are kept points with a value");
        let Place::Inside(py) = plot.place(value) else {
            continue;
        };
        let px = plot.x.px(points[i].x as f64);
        let Some(label) = Label::new(plot, i, px, py, text, goal) else {
            continue;
        };
        if placed.iter().all(|l| !l.overlaps(&label)) {
            placed.push(label);
        }
    }
    placed.sort_unstable_by_key(|l| l.index);
    placed
}

pub(super) fn render(labels: &[Label], out: &mut String) -> fmt::Result {
    writeln!(
        out,
        r#"<g class="labels" font-size="{FONT}" fill="{DARK_GREEN}" stroke="white" stroke-width="3" stroke-linejoin="round" paint-order="stroke">"#
    )?;
    for l in labels {
        let anchor = if l.end { r#" text-anchor="end""# } else { "" };
        writeln!(
            out,
            r#"<text x="{x:.1}" y="{y:.1}"{anchor} transform="rotate({angle} {x:.1} {y:.1})">{}</text>"#,
            escape(&l.text),
            x = l.x,
            y = l.y,
            angle = l.angle,
        )?;
    }
    writeln!(out, "</g>")
}
