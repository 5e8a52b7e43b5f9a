//! `/`: every track at a glance — its head, how far it came since the baseline, and how
//! busy its swarm is.

use std::sync::Arc;

use axum::extract::State;
use swarmlab_core::report::chart::sparkline;

use super::super::html::{esc, put, value};
use super::super::layout::{Page, Tab};
use super::super::session::Viewer;
use super::super::{page, PageResult, Web};
use super::{change, track_href};
use crate::store::views::TrackSummary;

fn card(s: &TrackSummary) -> String {
    let mut out = String::new();
    let goal = match s.goal {
        swarmlab_core::Goal::Minimize => "lower is better",
        swarmlab_core::Goal::Maximize => "higher is better",
    };
    put(
        &mut out,
        format_args!(
            "<article class=\"card\" aria-labelledby=\"t-{id}\"><h2 id=\"t-{id}\"><a href=\"{href}\">{name}</a></h2>\
             <p class=\"metric\">{metric} · {goal}</p><div class=\"big\"><div><div class=\"now\">{now}</div>\
             <div class=\"since\">{since} <span class=\"hint\">since baseline</span></div></div>{spark}</div><dl>",
            id = esc(&s.name),
            href = esc(&track_href(&s.name)),
            name = esc(&s.name),
            metric = esc(&s.metric),
            now = s.head_value.map_or("—".to_string(), value),
            since = change(s.goal, s.baseline_value, s.head_value),
            spark = sparkline(&s.trend),
        ),
    );
    let mut item = |label: &str, v: u64| {
        put(
            &mut out,
            format_args!("<div><dt>{label}</dt><dd>{v}</dd></div>"),
        );
    };
    item("Improvements", s.chain_len.saturating_sub(1));
    if s.local {
        item("Experiments, last hour", s.experiments_per_hour);
    } else {
        item("Submissions, last hour", s.experiments_per_hour);
        item("Verifications, last hour", s.verifications_per_hour);
        item("Workers online", s.workers_online);
        item("Verifiers online", s.verifiers_online);
        item("Pending", s.pending);
    }
    out.push_str("</dl></article>");
    out
}

pub async fn overview(State(web): State<Arc<Web>>, viewer: Viewer) -> PageResult {
    viewer.reader("/")?;
    let tracks = web.views.summaries(web.now()).await?;
    let mut body = String::from("<div class=\"head\"><div><h1>Tracks</h1>");
    let workers: u64 = tracks.iter().map(|t| t.workers_online).sum();
    let verifiers: u64 = tracks.iter().map(|t| t.verifiers_online).sum();
    if web.is_local() {
        body.push_str("<p>A local run of the autoresearch loop.</p>");
    } else {
        put(
            &mut body,
            format_args!(
                "<p data-live=\"swarm\">{} track{} · {workers} worker{} and {verifiers} verifier{} online</p>",
                tracks.len(),
                if tracks.len() == 1 { "" } else { "s" },
                if workers == 1 { "" } else { "s" },
                if verifiers == 1 { "" } else { "s" },
            ),
        );
    }
    body.push_str("</div></div>");
    if tracks.is_empty() {
        body.push_str(
            "<p class=\"notice\">No tracks yet. A maintainer adds one with \
             <code>POST /api/v1/tracks</code> (a repository and its baseline).</p>",
        );
    }
    body.push_str("<section class=\"cards\" data-live=\"cards\" aria-label=\"Tracks\">");
    for t in &tracks {
        body.push_str(&card(t));
    }
    body.push_str("</section>");
    Ok(page(
        Page::new("Tracks", &viewer, Tab::Tracks)
            .live("*")
            .body(body)
            .render(),
    ))
}
