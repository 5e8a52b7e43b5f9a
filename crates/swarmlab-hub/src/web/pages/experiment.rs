//! `/tracks/{track}/experiments/{n}`: one experiment of a local run, whatever became of
//! it — kept, discarded, crashed, timed out or refused — with what it measured against the
//! experiment it started from, why it ended as it did, the end of its log and its diff.

use std::sync::Arc;

use axum::extract::{Path, State};
use swarmlab_core::{Record, Status};

use super::super::html::{badge, elapsed, esc, put, value, when};
use super::super::layout::{Page, Tab};
use super::super::session::Viewer;
use super::super::{page, PageError, PageResult, Web};
use super::{change, experiment_href, summary, track_href};
use crate::store::views::{Experiment, LogTail};

/// What an experiment's status means, in a sentence.
pub fn status_meaning(status: Status) -> &'static str {
    match status {
        Status::Keep => "better than the best before it: the branch moved to it",
        Status::Discard => {
            "it ran and printed its metric, which was not better: the branch was reset"
        }
        Status::Crash => "the program exited with an error or was killed by a signal",
        Status::Timeout => "the program ran past the track's hard timeout and was killed",
        Status::NoMetric => "the program exited cleanly but printed no metric",
        Status::NonFinite => "the program printed a metric that is NaN or infinite",
        Status::Invalid => {
            "the proposal changed files outside the editable ones; it was reverted and never ran"
        }
        Status::Interrupted => "swarmlab was stopped while it ran",
    }
}

pub async fn experiment(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path((name, number)): Path<(String, String)>,
) -> PageResult {
    let index: u64 = number
        .parse()
        .map_err(|_| PageError::not_found(format!("experiment `{number}`")))?;
    let s = summary(&web, &name).await?;
    let Experiment {
        record: r,
        parent,
        log_tail,
    } = web
        .views
        .experiment(&name, index)
        .await?
        .ok_or_else(|| PageError::not_found(format!("experiment {index} of `{name}`")))?;
    let now = web.now();
    let mut body = String::new();
    put(
        &mut body,
        format_args!(
            "<p class=\"more\"><a href=\"{back}\">← {name}</a></p>\
             <div class=\"head\"><div><h1>#{index} {what}</h1><p>{badge} {meaning}</p></div></div>",
            back = esc(&track_href(&name)),
            name = esc(&name),
            what = esc(&r.description),
            badge = badge(r.status.as_str()),
            meaning = esc(status_meaning(r.status)),
        ),
    );
    body.push_str(
        "<div class=\"grid2\"><section class=\"panel\" aria-labelledby=\"run-h\"><h2 id=\"run-h\">Run</h2><dl class=\"facts\">",
    );
    body.push_str(&facts(&r, parent.as_ref(), &s.metric, s.goal, &name, now));
    body.push_str("</dl></section>");
    body.push_str(&log_panel(&r, log_tail.as_ref()));
    body.push_str("</div>");
    body.push_str("<section aria-labelledby=\"diff-h\"><h2 id=\"diff-h\">Diff</h2>");
    let diff = if r.parent.is_empty() || r.commit == r.parent {
        None
    } else {
        web.code.diff(&name, &r.parent, &r.commit).await
    };
    match diff {
        Some(diff) => body.push_str(&diff),
        None if r.parent.is_empty() => {
            body.push_str("<p class=\"hint\">The baseline is where the run started.</p>");
        }
        None if r.commit == r.parent => body.push_str(
            "<p class=\"hint\">Nothing of this proposal was committed: it was refused before it ran.</p>",
        ),
        None => body.push_str(
            "<p class=\"hint\">The commit is no longer in the repository (git's garbage collection \
             removes reset commits).</p>",
        ),
    }
    body.push_str("</section>");
    Ok(page(
        Page::new(format!("#{index} · {name}"), &viewer, Tab::Track)
            .track(&name)
            .live(&name)
            .body(body)
            .render(),
    ))
}

/// The facts of a run: its value against where it started, how it ran, and its note.
fn facts(
    r: &Record,
    parent: Option<&Record>,
    metric: &str,
    goal: swarmlab_core::Goal,
    track: &str,
    now: i64,
) -> String {
    let mut out = String::new();
    let mut fact = |term: &str, html: String| {
        put(&mut out, format_args!("<dt>{term}</dt><dd>{html}</dd>"));
    };
    fact(
        metric,
        match r.metric {
            Some(v) => format!(
                "{}{} <span class=\"hint\">printed by this run's own program; nobody else verified it</span>",
                value(v),
                parent.map_or(String::new(), |p| format!(
                    " {}",
                    change(goal, p.metric, Some(v))
                ))
            ),
            None => "—".into(),
        },
    );
    if let Some(p) = parent {
        fact(
            "Started from",
            format!(
                "<a href=\"{}\">#{}</a> {}",
                esc(&experiment_href(track, p.index)),
                p.index,
                p.metric.map_or(String::new(), value)
            ),
        );
    }
    fact(
        "Commit",
        format!("<span class=\"hash\">{}</span>", esc(&r.commit)),
    );
    fact("Proposer", esc(&r.proposer).to_string());
    if !r.exit.is_empty() {
        fact("Exit", format!("<code>{}</code>", esc(&r.exit)));
    }
    fact(
        "Time",
        format!(
            "{} <span class=\"hint\">started {}</span>",
            elapsed(r.wall_seconds.round() as i64),
            when(now, super::super::local::started_ms(r))
        ),
    );
    fact("Memory", format!("{:.2} GB", r.memory_gb));
    fact("Seed", r.seed.to_string());
    fact(
        "Change",
        format!(
            "{} file{}, +{} −{}",
            r.diff.files,
            if r.diff.files == 1 { "" } else { "s" },
            r.diff.insertions,
            r.diff.deletions
        ),
    );
    if let Some(note) = &r.note {
        fact("Note", format!("<pre class=\"note\">{}</pre>", esc(note)));
    }
    out
}

/// The end of the run's log, or why there is none.
fn log_panel(r: &Record, tail: Option<&LogTail>) -> String {
    let mut out = String::from(
        "<section class=\"panel\" aria-labelledby=\"log-h\"><h2 id=\"log-h\">Log</h2>",
    );
    match tail {
        Some(t) => {
            put(
                &mut out,
                format_args!("<p class=\"hint\"><code>{}</code>", esc(&r.log)),
            );
            if t.skipped > 0 {
                put(
                    &mut out,
                    format_args!(", its last part ({} bytes before it left out)", t.skipped),
                );
            }
            put(
                &mut out,
                format_args!("</p><pre class=\"log\">{}</pre>", esc(&t.text)),
            );
        }
        None if r.log.is_empty() => {
            out.push_str("<p class=\"hint\">Nothing ran, so there is no log.</p>")
        }
        None => put(
            &mut out,
            format_args!(
                "<p class=\"hint\">The log <code>{}</code> is no longer there.</p>",
                esc(&r.log)
            ),
        ),
    }
    out.push_str("</section>");
    out
}
