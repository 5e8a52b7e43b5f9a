//! The pages, one module each; what they share is here: a track's stat tiles, the chain
//! table, and the labels of chain commits.

pub mod board;
pub mod chain;
pub mod experiment;
pub mod ideas;
pub mod overview;
pub mod submissions;
pub mod track;

use std::collections::HashMap;

use swarmlab_core::{short, Goal};

use super::chart::labels_wanted;
use super::html::{badge, delta, esc, percent, put, url, value, when};
use super::{PageError, Web};
use crate::domain::acceptance::VerdictReason;
use crate::domain::intake_reason::IntakeReason;
use crate::store::views::{ChainRow, Point, TrackSummary};

/// The link to a track's page.
pub fn track_href(track: &str) -> String {
    format!("/tracks/{}", url(track))
}

/// The link to a chain entry's page.
pub fn entry_href(track: &str, seq: i64) -> String {
    format!("/tracks/{}/chain/{seq}", url(track))
}

/// The link to a local run's experiment page.
pub fn experiment_href(track: &str, index: u64) -> String {
    format!("/tracks/{}/experiments/{index}", url(track))
}

/// A track's summary, or 404.
pub async fn summary(web: &Web, track: &str) -> Result<TrackSummary, PageError> {
    web.views
        .summary(track, web.now())
        .await?
        .ok_or_else(|| PageError::not_found(format!("track `{track}`")))
}

/// `better` or `worse`, for a change in the goal's direction.
pub fn tone(goal: Goal, change: f64) -> &'static str {
    match goal.gain(0.0, change) {
        g if g > 0.0 => "better",
        g if g < 0.0 => "worse",
        _ => "",
    }
}

/// "−0.1234 (−12.3%)" coloured by whether it is better.
pub fn change(goal: Goal, from: Option<f64>, to: Option<f64>) -> String {
    match (from, to) {
        (Some(from), Some(to)) => {
            let d = to - from;
            let pct = percent(from, to).map_or(String::new(), |p| format!(" ({p})"));
            format!("<span class=\"{}\">{}{pct}</span>", tone(goal, d), delta(d))
        }
        _ => "<span class=\"hint\">not measured yet</span>".to_string(),
    }
}

fn maybe(v: Option<f64>) -> String {
    v.map_or("—".to_string(), value)
}

/// A track's stat tiles.
pub fn stats(s: &TrackSummary) -> String {
    let noun = if s.local {
        "Experiments"
    } else {
        "Submissions"
    };
    let mut out = String::from("<dl class=\"stats\" data-live=\"stats\">");
    let mut tile = |label: &str, html: String| {
        put(
            &mut out,
            format_args!("<div class=\"stat\"><dt>{label}</dt><dd>{html}</dd></div>"),
        );
    };
    tile("Head", maybe(s.head_value));
    let since = match (s.baseline_value, s.head_value) {
        (Some(from), Some(to)) => format!(
            "<span class=\"{}\">{}<span class=\"pct\">{}</span></span>",
            tone(s.goal, to - from),
            delta(to - from),
            percent(from, to).unwrap_or_default()
        ),
        _ => "—".to_string(),
    };
    tile("Since baseline", since);
    // The baseline is where the chain starts, not one of its improvements.
    let improvements = s.chain_len.saturating_sub(1);
    tile(
        "Chain",
        format!(
            "{improvements} <small>improvement{} on the baseline</small>",
            if improvements == 1 { "" } else { "s" }
        ),
    );
    // Counts over the last hour, not rates: a run of a minute shows what it did.
    tile(
        &format!("{noun}, last hour"),
        s.experiments_per_hour.to_string(),
    );
    if !s.local {
        tile(
            "Verifications, last hour",
            s.verifications_per_hour.to_string(),
        );
        tile("Workers online", s.workers_online.to_string());
        tile("Verifiers online", s.verifiers_online.to_string());
        tile("Pending", s.pending.to_string());
    }
    out.push_str("</dl>");
    out
}

/// Fills the labels of kept points that have none with their commits' subject lines: all
/// of them while the chart draws every chain dot, else those it may label.
pub async fn label_points(web: &Web, track: &str, goal: Goal, points: &mut [Point]) {
    let wanted: Vec<usize> = labels_wanted(points, goal)
        .into_iter()
        .filter(|&i| points[i].label.is_none())
        .collect();
    if wanted.is_empty() {
        return;
    }
    let commits: Vec<String> = wanted.iter().map(|&i| points[i].commit.clone()).collect();
    let subjects = web.code.subjects(track, &commits).await;
    for i in wanted {
        points[i].label = subjects.get(&points[i].commit).cloned();
    }
}

/// What a chain entry changed: the local description, else the commit's subject, else
/// the idea it tried.
pub async fn describe_rows(web: &Web, track: &str, rows: &[ChainRow]) -> HashMap<i64, String> {
    let commits: Vec<String> = rows
        .iter()
        .filter(|r| r.description.is_none())
        .map(|r| r.commit.clone())
        .collect();
    let subjects = if commits.is_empty() {
        HashMap::new()
    } else {
        web.code.subjects(track, &commits).await
    };
    rows.iter()
        .map(|r| {
            let text = r
                .description
                .clone()
                .or_else(|| subjects.get(&r.commit).cloned())
                .or_else(|| r.idea.as_ref().map(|i| i.1.clone()))
                .unwrap_or_else(|| {
                    if r.seq == 0 {
                        "baseline".into()
                    } else {
                        String::new()
                    }
                });
            (r.seq, text)
        })
        .collect()
}

/// The chain as a table, newest first.
pub fn chain_table(
    track: &str,
    metric: &str,
    goal: Goal,
    rows: &[ChainRow],
    text: &HashMap<i64, String>,
    now: i64,
    local: bool,
) -> String {
    if rows.is_empty() {
        return "<p class=\"empty-note\">The chain is empty.</p>".to_string();
    }
    let mut out = String::from("<div class=\"table-wrap\"><table><thead><tr>");
    put(
        &mut out,
        format_args!(
            "<th scope=\"col\">#</th><th scope=\"col\">Change</th><th scope=\"col\" class=\"num\">{}</th>\
             <th scope=\"col\" class=\"num\">Δ</th><th scope=\"col\" class=\"hide-small\">{}</th>\
             <th scope=\"col\" class=\"hide-small\">{}</th><th scope=\"col\">When</th></tr></thead><tbody>",
            esc(metric),
            if local { "Proposer" } else { "Submitted by" },
            if local { "Commit" } else { "Verified by" },
        ),
    );
    for r in rows {
        let href = match u64::try_from(r.seq) {
            Ok(index) if local => experiment_href(track, index),
            _ => entry_href(track, r.seq),
        };
        let who = r.submitter.as_ref().map_or(String::new(), |p| {
            format!("<span title=\"{}\">{}</span>", esc(&p.id), esc(&p.name))
        });
        let verified = match &r.verdict {
            Some(v) => format!(
                "{}{}",
                esc(&v.verifier.name),
                v.p_value.map_or(String::new(), |p| format!(
                    " <span class=\"hint\">p={}</span>",
                    super::html::p_value(p)
                ))
            ),
            None if local => format!("<code>{}</code>", esc(short(&r.commit))),
            None => String::new(),
        };
        let main = if r.on_main {
            " <span class=\"badge main\" title=\"main points here\">main</span>"
        } else {
            ""
        };
        put(
            &mut out,
            format_args!(
                "<tr><td><a href=\"{href}\">{seq}</a></td><td class=\"change\"><a href=\"{href}\">{text}</a>{main}</td>\
                 <td class=\"num\">{v}</td><td class=\"num {tone}\">{d}</td><td class=\"hide-small\">{who}</td>\
                 <td class=\"hide-small\">{verified}</td><td>{at}</td></tr>",
                href = esc(&href),
                seq = r.seq,
                text = esc(text.get(&r.seq).map_or("", String::as_str)),
                v = maybe(r.value),
                tone = r.delta.map_or("", |d| tone(goal, d)),
                d = r.delta.map_or("—".to_string(), delta),
                at = if r.at_ms > 0 { when(now, r.at_ms) } else { String::new() },
            ),
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

/// The status badge of a submission, with its reason and, on hover, what the reason means.
pub fn status(status: &str, reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!(
            "{} <span class=\"hint\" title=\"{}\">{}</span>",
            badge(status),
            esc(reason_meaning(r).unwrap_or_default()),
            esc(r)
        ),
        None => badge(status),
    }
}

/// What a recorded reason code means, whether intake or a verdict gave it.
pub fn reason_meaning(code: &str) -> Option<&'static str> {
    VerdictReason::ALL
        .into_iter()
        .find(|r| r.as_str() == code)
        .map(VerdictReason::explanation)
        .or_else(|| IntakeReason::parse(code).map(IntakeReason::explanation))
}

#[cfg(test)]
mod tests {
    use swarmlab_core::change::ChangeRefusal;

    use super::*;

    #[test]
    fn every_reason_a_submission_can_have_is_explained() {
        let intake = [
            "wrong_worker",
            "wrong_track",
            "bad_signature",
            "bundle_too_large",
            "too_many_objects",
            "inflated_too_large",
            "too_costly",
            "log_too_large",
            "bad_commit_id",
            "missing_metric",
            "replay",
            "parent_unknown",
            "stale",
            "rebase_conflict",
            "duplicate",
        ];
        let codes = intake
            .into_iter()
            .chain(ChangeRefusal::ALL.map(ChangeRefusal::as_str))
            .chain(VerdictReason::ALL.map(VerdictReason::as_str));
        for code in codes {
            let meaning = reason_meaning(code).unwrap_or_else(|| panic!("{code} is unexplained"));
            assert!(meaning.len() > 20, "{code}: {meaning}");
        }
        assert_eq!(reason_meaning("no_such_reason"), None);
        assert!(
            status("rejected", Some("not_better")).contains("title=\"the verifier&#39;s reruns")
        );
    }
}
