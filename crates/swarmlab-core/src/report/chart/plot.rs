//! Where things land on a chart's canvas: its size, the plot's edges in pixels, the two axes,
//! and the y range: from the best value seen to the worst kept one (and the reference), with a
//! margin. It draws nothing.

use super::super::scale::Axis;
use super::{kept_value, value, Chart, Frame, Point};
use crate::Goal;

/// Where a point with a metric lands: inside the plot, or clamped to its top or bottom edge.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Place {
    Inside(f64),
    Above,
    Below,
}

/// The canvas of one chart: its size, the plot's edges in pixels, and the two axes.
pub(super) struct Plot {
    pub(super) width: f64,
    pub(super) height: f64,
    pub(super) left: f64,
    pub(super) right: f64,
    pub(super) top: f64,
    pub(super) bottom: f64,
    /// Labels of kept points stay below this (under a file's heading).
    pub(super) label_top: f64,
    pub(super) x: Axis,
    /// `None` when no point has a metric: there is no scale to draw.
    pub(super) y: Option<Axis>,
}

impl Plot {
    pub(super) fn new(chart: &Chart, points: &[Point]) -> Plot {
        // A file keeps room for its heading above the plot.
        let (width, height, top, label_top) = match chart.frame {
            Frame::File { .. } => (1200.0, 640.0, 84.0, 64.0),
            Frame::Page => (960.0, 400.0, 20.0, 4.0),
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
    pub(super) fn columns(&self) -> usize {
        (self.right - self.left) as usize
    }

    pub(super) fn place(&self, value: f64) -> Place {
        match &self.y {
            Some(y) if value > y.hi => Place::Above,
            Some(y) if value < y.lo => Place::Below,
            Some(y) => Place::Inside(y.px(value)),
            None => Place::Below,
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
