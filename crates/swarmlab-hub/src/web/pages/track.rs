//! `/tracks/{track}`: a track's progress — its stat tiles, what its verifiers and workers are
//! doing now and whether the swarm has converged (on a hub), the progress chart of every verified measurement with the chain as a step
//! line, and the latest chain entries.

use std::sync::Arc;

use axum::extract::{Path, State};
use swarmlab_core::short;
use swarmlab_proto::{ClientActivity, Role, VerificationCost};

use super::super::chart::{progress, ChartSpec};
use super::super::html::{elapsed, esc, put, url, value};
use super::super::layout::{Page, Tab};
use super::super::session::Viewer;
use super::super::{page, PageError, PageResult, Web};
use super::{
    chain_table, describe_rows, entry_href, experiment_href, label_points, stats, track_href,
};
use crate::domain::convergence::Convergence;
use crate::store::views::{Paging, Point, Progress};

/// Chain entries listed under the chart.
const LATEST: u32 = 8;

pub async fn track(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> PageResult {
    viewer.reader(&track_href(&name))?;
    let now = web.now();
    let mut progress_data = web
        .views
        .progress(&name, now)
        .await?
        .ok_or_else(|| PageError::not_found(format!("track `{name}`")))?;
    let goal = progress_data.summary.goal;
    label_points(&web, &name, goal, &mut progress_data.points).await;
    let s = &progress_data.summary;
    let latest = web.views.chain_page(&name, Paging::new(1, LATEST)).await?;
    let text = describe_rows(&web, &name, &latest.items).await;
    let goal_text = match s.goal {
        swarmlab_core::Goal::Minimize => "lower is better",
        swarmlab_core::Goal::Maximize => "higher is better",
    };
    let mut body = String::new();
    put(
        &mut body,
        format_args!(
            "<div class=\"head\" data-live=\"title\"><div><h1>{name}</h1><p><strong>{metric}</strong> · {goal_text} · \
             baseline <code>{baseline}</code> · head <code>{head}</code></p></div></div>",
            name = esc(&s.name),
            metric = esc(&s.metric),
            baseline = esc(short(&s.baseline)),
            head = esc(short(&s.head)),
        ),
    );
    body.push_str(&stats(s));
    if let Some(hub) = &web.hub {
        body.push_str(&cost_tiles(&hub.verification_cost(&name).await?));
        let converged = hub.convergence(&name).await?;
        body.push_str(&activity(
            &name,
            &hub.activities(&name).await?,
            converged.as_ref(),
            now,
        ));
    }
    body.push_str(&chart_figure(&name, &progress_data));
    put(
        &mut body,
        format_args!(
            "<section aria-labelledby=\"latest\" data-live=\"latest\"><h2 id=\"latest\">Latest on the chain</h2>{table}\
             <p class=\"more\"><a href=\"/tracks/{track}/chain\">All {n} chain entries →</a></p></section>",
            table = chain_table(
                &name,
                &s.metric,
                s.goal,
                &latest.items,
                &text,
                now,
                s.local
            ),
            track = esc(&url(&name)),
            n = latest.total,
        ),
    );
    Ok(page(
        Page::new(name.clone(), &viewer, Tab::Track)
            .track(&name)
            .live(&name)
            .body(body)
            .render(),
    ))
}

/// The progress chart of every verified measurement (of every experiment, on a local run)
/// with its key; a point links to its chain entry (its experiment).
fn chart_figure(name: &str, progress_data: &Progress) -> String {
    let s = &progress_data.summary;
    let href = |p: &Point| {
        if s.local {
            Some(experiment_href(name, p.x))
        } else {
            p.chain_seq.map(|seq| entry_href(name, seq))
        }
    };
    let x_noun = if s.local {
        "experiment"
    } else {
        "verification"
    };
    let svg = progress(
        &progress_data.points,
        &ChartSpec {
            metric: &s.metric,
            goal: s.goal,
            x_noun,
            reference: progress_data.reference.as_ref(),
            point_href: &href,
        },
    );
    let mut out = String::new();
    put(
        &mut out,
        format_args!(
            "<figure class=\"progress\" data-live=\"chart\">{svg}<figcaption>\
             <span class=\"key kept\">on the chain</span><span class=\"key rejected\">{not_kept}</span>\
             <span class=\"key step\">the chain's best</span><span class=\"key failed\">crashed or timed out</span>{reference}\
             </figcaption></figure>",
            not_kept = if s.local { "discarded" } else { "not on the chain" },
            reference = progress_data.reference.as_ref().map_or(String::new(), |r| format!(
                "<span class=\"key reference\">{}</span>",
                esc(&r.label)
            )),
        ),
    );
    out
}

/// What verification has cost the track: verifier device-seconds per accepted commit, and
/// the verifiers' share of all device-seconds (once a worker has said what it spent).
fn cost_tiles(c: &VerificationCost) -> String {
    let mut out = String::from("<dl class=\"stats\" data-live=\"cost\">");
    let per_commit = match c.verifier_s_per_accepted {
        Some(s) => format!(
            "{s:.1} s <small>verifier device-seconds per accepted commit ({total:.1} s over {n} verdict{plural})</small>",
            total = c.verifier_s,
            n = c.verdicts,
            plural = if c.verdicts == 1 { "" } else { "s" },
        ),
        None => format!(
            "— <small>no accepted commit yet ({:.1} s of verification so far)</small>",
            c.verifier_s
        ),
    };
    let share = match c.verifier_share {
        Some(share) => format!(
            "{pct:.1}% <small>of all device-seconds ({worker:.1} s of search reported by {n} submission{plural})</small>",
            pct = share * 100.0,
            worker = c.worker_s,
            n = c.reported_submissions,
            plural = if c.reported_submissions == 1 { "" } else { "s" },
        ),
        None => "— <small>no worker has said what its search cost</small>".to_string(),
    };
    for (label, html) in [
        ("Verification cost", per_commit),
        ("Verifiers' share", share),
    ] {
        put(
            &mut out,
            format_args!("<div class=\"stat\"><dt>{label}</dt><dd>{html}</dd></div>"),
        );
    }
    out.push_str("</dl>");
    out
}

/// What the verifiers and workers of the track say they are doing, and for how long (the
/// script counts on from there); first, when the swarm has converged, that it has and how
/// to go on.
fn activity(
    track: &str,
    all: &[ClientActivity],
    converged: Option<&Convergence>,
    now: i64,
) -> String {
    let mut out = String::from(
        "<section aria-labelledby=\"at-work\" data-live=\"activity\"><h2 id=\"at-work\">At work</h2>",
    );
    if let Some(c) = converged {
        put(
            &mut out,
            format_args!(
                "<p class=\"notice good converged\"><strong>Converged</strong> at head <code>{head}</code> \
                 (#{seq}{metric}): {workers} worker(s) have nothing left to propose on it and \
                 nothing waits for a verdict. <a href=\"/tracks/{track}/ideas\">Add an idea</a> \
                 to go on.</p>",
                head = esc(short(&c.head)),
                seq = c.seq,
                metric = c.value.map_or(String::new(), |v| format!(", {} {}", esc(&c.metric), value(v))),
                workers = c.workers,
                track = esc(&url(track)),
            ),
        );
    }
    if all.is_empty() {
        out.push_str(
            "<p class=\"hint\">No verifier or worker has said what it is doing lately.</p>",
        );
    } else {
        out.push_str("<ul class=\"plain activity\">");
        for a in all {
            let seconds = ((now - a.since_ms) / 1000).max(0);
            let role = match a.role {
                Role::Worker => "worker",
                Role::Verifier | Role::Admin => "verifier",
            };
            put(
                &mut out,
                format_args!(
                    "<li><strong>{name}</strong> <span class=\"hint\">{role}</span> {doing} <span class=\"hint\">for <span data-elapsed=\"{seconds}\">{shown}</span></span></li>",
                    name = esc(&a.name),
                    doing = esc(&a.doing),
                    shown = elapsed(seconds),
                ),
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    out
}
