//! What an agent is told about the experiments so far: a compact summary of the history that
//! stays a bounded number of lines however many experiments ran, and duplicate detection by a
//! hash of a proposal's diff that ignores whitespace, context lines and headers.
//!
//! It only reads records; it must not decide what is kept or touch the worktree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use swarmlab_core::{Goal, Record, Status};

pub use swarmlab_core::diff_hash::{diff_hash_hex, normalised_diff_hash};

/// Default number of lines of [`summarize`].
pub const DEFAULT_SUMMARY_LINES: usize = 60;

/// Words that start a description but say little on their own ("increase lr ..."): the group
/// key takes the word after them too.
const VERBS: &[&str] = &[
    "add", "change", "decrease", "disable", "enable", "increase", "lower", "raise", "reduce",
    "remove", "replace", "scale", "set", "switch", "try", "tune", "use",
];

/// A summary of `history` for a prompt, at most `max_lines` lines (at least a few).
///
/// It lists the counts by status, the baseline and the best metric, every kept change in
/// order with its metric and its delta to the best before it, then the other experiments
/// grouped by the first word (or verb and object) of their description, largest groups first.
/// When the lines run out, the oldest kept changes and the smallest groups are elided with a
/// line saying how many.
pub fn summarize(history: &[Record], metric: &str, goal: Goal, max_lines: usize) -> String {
    let max_lines = max_lines.max(6);
    let measured: Vec<&Record> = history
        .iter()
        .filter(|r| r.status != Status::Interrupted)
        .collect();
    if measured.is_empty() {
        return "No experiments have run yet.\n".to_string();
    }
    let baseline = measured
        .iter()
        .find(|r| r.index == 0)
        .and_then(|b| b.metric);
    let mut lines = headline(&measured, baseline, metric, goal);
    let kept: Vec<&Record> = measured
        .iter()
        .copied()
        .filter(|r| r.status == Status::Keep && r.index > 0)
        .collect();
    let others: Vec<&Record> = measured
        .iter()
        .copied()
        .filter(|r| r.index > 0 && r.status != Status::Keep)
        .collect();
    let groups = group(&others, goal);
    // Share the remaining lines between kept changes and groups, each getting at least a few.
    let room = max_lines.saturating_sub(lines.len() + 2);
    let kept_room = if kept.is_empty() {
        0
    } else if groups.is_empty() {
        room
    } else {
        (room / 2).max(3).min(kept.len().max(1))
    };
    let group_room = room.saturating_sub(kept_room).max(2);
    if !kept.is_empty() {
        lines.extend(kept_lines(&kept, baseline, metric, kept_room));
    }
    if !groups.is_empty() {
        lines.extend(group_lines(&groups, group_room));
    }
    let mut out = String::new();
    for line in lines.iter().take(max_lines) {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The counts by status, then the baseline's metric and the best one.
fn headline(measured: &[&Record], baseline: Option<f64>, metric: &str, goal: Goal) -> Vec<String> {
    let mut lines = vec![format!("Experiments so far: {}", counts(measured))];
    let best = measured
        .iter()
        .filter(|r| r.status == Status::Keep)
        .filter_map(|r| r.metric.map(|m| (m, r.index)))
        .reduce(|a, b| if goal.improves(b.0, a.0) { b } else { a });
    match (baseline, best) {
        (Some(base), Some((best, index))) => lines.push(format!(
            "Baseline {metric}: {}; best: {} (#{index}, {} vs baseline)",
            number(base),
            number(best),
            delta(best - base)
        )),
        (None, Some((best, index))) => {
            lines.push(format!("Best {metric}: {} (#{index})", number(best)))
        }
        _ => {}
    }
    lines
}

/// The kept changes in order, each with its delta to the best before it; the oldest elided
/// past `room` lines.
fn kept_lines(kept: &[&Record], baseline: Option<f64>, metric: &str, room: usize) -> Vec<String> {
    let mut lines = vec![format!(
        "Kept, in order ({metric}, change vs the best before):"
    )];
    let mut shown = kept.len().min(room.max(1));
    if shown < kept.len() {
        // The elision line takes one of the lines.
        shown = shown.saturating_sub(1).max(1);
    }
    let skipped = kept.len() - shown;
    if skipped > 0 {
        lines.push(format!("  ... {skipped} earlier kept changes"));
    }
    let mut previous = baseline;
    for r in kept {
        let line = match (r.metric, previous) {
            (Some(m), Some(p)) => {
                format!(
                    "  #{} {} ({}) {}",
                    r.index,
                    number(m),
                    delta(m - p),
                    r.description
                )
            }
            (Some(m), None) => format!("  #{} {} {}", r.index, number(m), r.description),
            (None, _) => format!("  #{} {}", r.index, r.description),
        };
        if r.metric.is_some() {
            previous = r.metric;
        }
        if r.index >= kept[skipped].index {
            lines.push(line);
        }
    }
    lines
}

/// The groups tried without improvement, largest first; the smallest elided past `room`
/// lines.
fn group_lines(groups: &[Group<'_>], room: usize) -> Vec<String> {
    let mut lines = vec!["Tried without improvement, grouped by what was changed:".to_string()];
    let shown = groups.len().min(room);
    let shown = if shown < groups.len() {
        shown.saturating_sub(1)
    } else {
        shown
    };
    for g in &groups[..shown] {
        lines.push(g.line());
    }
    let rest = &groups[shown..];
    if !rest.is_empty() {
        let n: usize = rest.iter().map(|g| g.records.len()).sum();
        lines.push(format!(
            "  ... {} smaller groups ({n} experiments)",
            rest.len()
        ));
    }
    lines
}

/// "57 (5 kept, 40 discarded, 8 crash, 4 invalid)", baseline included in the total.
fn counts(records: &[&Record]) -> String {
    let mut by_status: BTreeMap<usize, (Status, usize)> = BTreeMap::new();
    for r in records {
        let order = Status::ALL.iter().position(|s| *s == r.status).unwrap_or(0);
        by_status.entry(order).or_insert((r.status, 0)).1 += 1;
    }
    let parts: Vec<String> = by_status
        .values()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    format!("{} ({})", records.len(), parts.join(", "))
}

/// Experiments that share a group key.
struct Group<'a> {
    key: String,
    records: Vec<&'a Record>,
    goal: Goal,
}

impl Group<'_> {
    fn line(&self) -> String {
        let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.records {
            *statuses.entry(r.status.as_str()).or_default() += 1;
        }
        let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let best = self
            .records
            .iter()
            .filter(|r| r.metric.is_some())
            .reduce(|a, b| match (a.metric, b.metric) {
                (Some(x), Some(y)) if self.goal.improves(y, x) => b,
                _ => a,
            });
        let last = self.records.last().expect("a group has a record");
        let mut line = format!(
            "  {} ×{}: {}",
            self.key,
            self.records.len(),
            statuses.join(", ")
        );
        if let Some(best) = best.and_then(|b| b.metric.map(|m| (b, m))) {
            let _ = write!(
                line,
                "; best {} #{} \"{}\"",
                number(best.1),
                best.0.index,
                clip(&best.0.description, 80)
            );
        }
        if best.is_none_or(|b| b.index != last.index) {
            let _ = write!(
                line,
                "; last #{} \"{}\"",
                last.index,
                clip(&last.description, 80)
            );
        }
        line
    }
}

/// Groups records by [`group_key`], largest groups first, then by first appearance.
fn group<'a>(records: &[&'a Record], goal: Goal) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    for r in records {
        let key = group_key(&r.description);
        match groups.iter_mut().find(|g| g.key == key) {
            Some(g) => g.records.push(r),
            None => groups.push(Group {
                key,
                records: vec![r],
                goal,
            }),
        }
    }
    // A stable sort keeps first-appearance order among groups of equal size.
    groups.sort_by_key(|g| std::cmp::Reverse(g.records.len()));
    groups
}

/// The knob or subject of a description: its first word, or its first two when the first is
/// a verb like "increase"; lowercase, punctuation trimmed.
pub fn group_key(description: &str) -> String {
    let words: Vec<String> = description
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '_')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .take(2)
        .collect();
    match words.as_slice() {
        [] => "(no description)".to_string(),
        [first, second] if VERBS.contains(&first.as_str()) => format!("{first} {second}"),
        [first, ..] => first.clone(),
    }
}

fn number(x: f64) -> String {
    format!("{x:.6}")
}

fn delta(d: f64) -> String {
    format!("{d:+.6}")
}

fn clip(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// The first experiment of `history` that tried the diff with this hash and was measured
/// (any status but `invalid` and `interrupted`), if any.
pub fn already_tried(history: &[Record], hash: u64) -> Option<&Record> {
    let wanted = diff_hash_hex(hash);
    history.iter().find(|r| {
        !matches!(r.status, Status::Invalid | Status::Interrupted)
            && r.diff_hash
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(&wanted))
    })
}

#[cfg(test)]
mod tests;
