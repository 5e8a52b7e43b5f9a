//! The sparkline: a small trend line of values in order, with no axes, for an overview where
//! a full chart would not fit. Styled by the page (class `spark`).

use std::fmt::Write;

use super::super::scale::Axis;

const WIDTH: f64 = 160.0;
const HEIGHT: f64 = 36.0;

/// The trend of `values` as an inline `<svg>`; empty under two values.
pub fn sparkline(values: &[f64]) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let y = Axis {
        lo,
        hi,
        px_lo: HEIGHT - 3.0,
        px_hi: 3.0,
    };
    let x = Axis {
        lo: 0.0,
        hi: (values.len() - 1) as f64,
        px_lo: 2.0,
        px_hi: WIDTH - 2.0,
    };
    let mut d = String::new();
    for (i, v) in values.iter().enumerate() {
        let (px, py) = (x.px(i as f64), y.px(*v));
        let _ = if i == 0 {
            write!(d, "M{px:.1} {py:.1}")
        } else {
            write!(d, "H{px:.1}V{py:.1}")
        };
    }
    format!(
        r#"<svg class="spark" viewBox="0 0 {WIDTH} {HEIGHT}" aria-hidden="true" focusable="false"><path d="{d}"/></svg>"#
    )
}
