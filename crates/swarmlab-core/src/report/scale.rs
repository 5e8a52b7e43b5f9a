//! The chart's one scale: a linear map from data values to canvas pixels, and axis ticks that
//! people read easily (values 1, 2 or 5 times a power of ten apart, labelled with just enough
//! decimals to tell them apart). It knows nothing of what is drawn.

/// A linear map from the data values `lo..=hi` to the pixels `px_lo..=px_hi` (which may run
/// backwards, as a y axis does); a range of one value maps to the middle.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) px_lo: f64,
    pub(super) px_hi: f64,
}

impl Axis {
    pub(super) fn px(&self, v: f64) -> f64 {
        if self.hi == self.lo {
            return (self.px_lo + self.px_hi) / 2.0;
        }
        self.px_lo + (v - self.lo) / (self.hi - self.lo) * (self.px_hi - self.px_lo)
    }
}

/// The tick values inside a range and how to print them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ticks {
    pub(super) step: f64,
    pub(super) values: Vec<f64>,
}

impl Ticks {
    /// About `target` ticks within `[lo, hi]`, never closer than `min_step`.
    pub(super) fn new(lo: f64, hi: f64, target: usize, min_step: f64) -> Ticks {
        let span = hi - lo;
        if !(lo.is_finite() && hi.is_finite()) {
            return Ticks {
                step: 1.0,
                values: Vec::new(),
            };
        }
        if span <= 0.0 {
            return Ticks {
                step: 1.0,
                values: vec![lo],
            };
        }
        let raw = span / target.max(1) as f64;
        let magnitude = 10f64.powf(raw.log10().floor());
        // The nice step nearest the raw one (cut-offs at the geometric means), so the count
        // stays near the target rather than always below it.
        let step = match raw / magnitude {
            n if n < 1.5 => magnitude,
            n if n < 3.2 => 2.0 * magnitude,
            n if n < 7.0 => 5.0 * magnitude,
            _ => 10.0 * magnitude,
        }
        .max(min_step);
        // Integer multiples of the step, so ticks carry no accumulated rounding error.
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        if last.saturating_sub(first) > 1000 {
            // Only reachable when the span is lost in the magnitude of the values.
            return Ticks {
                step,
                values: Vec::new(),
            };
        }
        let values = (first..=last).map(|k| k as f64 * step + 0.0).collect();
        Ticks { step, values }
    }

    /// `value` printed with the decimals the step needs.
    pub(super) fn label(&self, value: f64) -> String {
        let decimals = if self.step >= 1.0 {
            0
        } else {
            (-self.step.log10()).ceil() as usize
        };
        format!("{:.*}", decimals.min(15), value + 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_map_linearly_and_may_run_backwards() {
        let y = Axis {
            lo: 0.0,
            hi: 10.0,
            px_lo: 500.0,
            px_hi: 100.0,
        };
        assert_eq!(y.px(0.0), 500.0);
        assert_eq!(y.px(2.5), 400.0);
        assert_eq!(y.px(10.0), 100.0);
        let point = Axis {
            lo: 3.0,
            hi: 3.0,
            px_lo: 0.0,
            px_hi: 50.0,
        };
        assert_eq!(point.px(3.0), 25.0);
    }

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        let t = Ticks::new(0.0, 10.0, 5, 0.0);
        assert_eq!(t.step, 2.0);
        assert_eq!(t.values, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = Ticks::new(0.9712, 0.9981, 6, 0.0);
        assert_eq!(t.step, 0.005);
        assert_eq!(t.label(t.values[0]), "0.975");
        assert_eq!(t.values.len(), 5);
        let t = Ticks::new(-3.0, 47.0, 6, 0.0);
        assert_eq!(t.step, 10.0);
        assert_eq!(t.label(-0.0), "0");
        // The dashboard's ticks, from when it had its own scale.
        let t = Ticks::new(0.61, 1.02, 6, 0.0);
        assert!(
            t.values[0] >= 0.61 && t.values[t.values.len() - 1] <= 1.02,
            "{t:?}"
        );
        assert_eq!(t.label(0.7), "0.70");
    }

    #[test]
    fn min_step_keeps_integer_axes_integer() {
        let t = Ticks::new(-0.5, 2.5, 8, 1.0);
        assert_eq!(t.values, vec![0.0, 1.0, 2.0]);
        assert_eq!(t.label(2.0), "2");
    }

    #[test]
    fn empty_or_degenerate_ranges_do_not_panic() {
        assert_eq!(Ticks::new(1.0, 1.0, 5, 0.0).values, vec![1.0]);
        assert!(Ticks::new(f64::NAN, 1.0, 5, 0.0).values.is_empty());
        assert!(Ticks::new(0.0, f64::INFINITY, 5, 0.0).values.is_empty());
    }
}
