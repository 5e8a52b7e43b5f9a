//! `swarmlab report`'s two artefacts: `progress.svg`, the autoresearch progress chart, and a
//! markdown summary of a branch's experiments; the comparison of two runs (`--compare`); the
//! standings of a contest of programs (`swarmlab contest`); and
//! the [`chart`] that draws every progress chart, `progress.svg` and the dashboard's alike.
//!
//! All are pure functions of their input: nothing here reads `results.jsonl` or writes files,
//! that is the caller's job.

pub mod chart;
mod compare;
mod contest;
mod history;
mod progress;
mod scale;
mod summary;

pub use compare::{compare_markdown, compare_svg, compare_table, Run};
pub use contest::{contest_markdown, contest_svg, standings, Entry, Standing};
pub use progress::progress_svg;
pub use summary::summary_markdown;

/// A metric value as both artefacts print it: six decimals like results.tsv, or scientific
/// notation when six decimals would hide it or the number is huge.
pub fn format_value(value: f64) -> String {
    if value == 0.0 || (1e-5..1e9).contains(&value.abs()) {
        format!("{value:.6}")
    } else {
        format!("{value:.4e}")
    }
}

/// A signed difference between two metric values, in the same style as [`format_value`].
fn format_delta(delta: f64) -> String {
    if delta == 0.0 || (1e-5..1e9).contains(&delta.abs()) {
        format!("{delta:+.6}")
    } else {
        format!("{delta:+.4e}")
    }
}

/// The change from `from` to `to` as a signed percentage of `from`, or `n/a` from zero.
fn format_relative(from: f64, to: f64) -> String {
    if from == 0.0 {
        return "n/a".to_string();
    }
    format!("{:+.2}%", (to - from) / from.abs() * 100.0)
}

/// `text` cut to at most `max` characters, ending in `…` when it was cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_use_six_decimals_unless_tiny_or_huge() {
        assert_eq!(format_value(0.9979), "0.997900");
        assert_eq!(format_value(0.0), "0.000000");
        assert_eq!(format_value(0.0005), "0.000500");
        assert_eq!(format_value(1.5e-7), "1.5000e-7");
        assert_eq!(format_value(-2.5e12), "-2.5000e12");
        assert_eq!(format_delta(-0.0123), "-0.012300");
        assert_eq!(format_delta(0.5), "+0.500000");
        assert_eq!(format_relative(2.0, 1.5), "-25.00%");
        assert_eq!(format_relative(-2.0, -1.0), "+50.00%");
        assert_eq!(format_relative(0.0, 1.0), "n/a");
    }

    #[test]
    fn truncate_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("héllo wörld", 7), "héllo…");
        assert_eq!(truncate("abcdef", 3), "ab…");
    }
}
