//! `/submissions`: the submissions the viewer may see (everyone's for verifiers and
//! admins; on a public hub the decided ones, with a worker's own pending ones; on a closed
//! hub a worker's own), and `/submissions/{id}`: one submission's way from intake through
//! verification to its verdict, updated live. Who sees what is the API's rule
//! (`domain::roles`): a pending submission only its submitter, verifiers and admins; the
//! change and run log of one not on the chain, the same.

use std::sync::Arc;

use axum::extract::{Path, State};
use swarmlab_core::short;
use swarmlab_core::Goal;
use swarmlab_proto::Rule;

use super::super::html::{esc, put, url, value, when};
use super::super::layout::{pager, Page, Tab};
use super::super::session::{Params, Viewer};
use super::super::{page, PageError, PageResult, Web};
use super::chain::verdict_facts;
use super::{entry_href, reason_meaning, status, summary, track_href};
use crate::domain::roles::{may_see_change, submissions_visible_to, Reader};
use crate::store::views::{Paging, SubmissionFilter, SubmissionView};
use crate::HubError;

const PER_PAGE: u32 = 50;

pub async fn list(State(web): State<Arc<Web>>, viewer: Viewer, Params(q): Params) -> PageResult {
    let reader = viewer.reading("/submissions")?;
    let filter = submissions_visible_to(reader, web.hub()?.config().public_read);
    let paged = web
        .views
        .submissions_page(filter, Paging::new(q.page(), PER_PAGE))
        .await?;
    let (title, what) = match filter {
        SubmissionFilter::All => ("Submissions", ""),
        SubmissionFilter::Worker(_) => ("Your submissions", ""),
        SubmissionFilter::Decided(Some(_)) => {
            ("Submissions", ": yours, and everyone's decided ones")
        }
        SubmissionFilter::Decided(None) => (
            "Submissions",
            " decided so far (one waiting for its verdict shows to its submitter only)",
        ),
    };
    let now = web.now();
    let mut body = String::new();
    put(
        &mut body,
        format_args!(
            "<div class=\"head\"><div><h1>{title}</h1><p>{} submission{}{what}. Open one to follow it to its verdict.</p></div></div>\
             <section data-live=\"submissions\" aria-label=\"Submissions\">",
            paged.total,
            if paged.total == 1 { "" } else { "s" },
        ),
    );
    if paged.items.is_empty() {
        body.push_str("<p class=\"empty-note\">None yet. <code>swarmlab work</code> submits what beats the head.</p>");
    } else {
        body.push_str(
            "<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Track</th>\
             <th scope=\"col\">Status</th><th scope=\"col\" class=\"hide-small\">Worker</th><th scope=\"col\">Received</th>\
             </tr></thead><tbody>",
        );
        for s in &paged.items {
            put(
                &mut body,
                format_args!(
                    "<tr><td><a href=\"/submissions/{id}\">{id}</a></td><td><a href=\"{th}\">{track}</a></td>\
                     <td>{status}</td><td class=\"hide-small\">{worker}</td><td>{at}</td></tr>",
                    id = s.id,
                    th = esc(&track_href(&s.track)),
                    track = esc(&s.track),
                    status = status(&s.status, s.reason.as_deref()),
                    worker = esc(&s.worker.name),
                    at = when(now, s.received_ms),
                ),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str(&pager(paged.paging.page, paged.pages(), |p| {
        format!("/submissions?page={p}")
    }));
    body.push_str("</section>");
    Ok(page(
        Page::new("Submissions", &viewer, Tab::Submissions)
            .live("*")
            .body(body)
            .render(),
    ))
}

/// The steps a submission goes through, and how far this one got.
fn steps(v: &SubmissionView, now: i64) -> String {
    let info = &v.info;
    let status = info.status.as_str();
    let invalid = status == "invalid";
    let rejected_at_intake = status == "rejected" && v.jobs.is_empty();
    let leased = v.jobs.iter().find(|j| j.state == "leased");
    let (intake_class, intake_text) = if invalid || rejected_at_intake {
        (
            "failed",
            format!(
                "{}: {}",
                status,
                esc(info.reason.as_deref().unwrap_or("refused"))
            ),
        )
    } else {
        (
            "done",
            "signature, parent, paths and contents pass".to_string(),
        )
    };
    let (verify_class, verify_text) = match status {
        _ if invalid || rejected_at_intake => ("", "not verified".to_string()),
        "queued" => ("now", "waiting for a verifier".to_string()),
        "verifying" => (
            "now",
            match leased.and_then(|j| j.verifier.as_ref()) {
                Some(p) => format!("{} is re-running it", esc(&p.name)),
                None => "a verifier is re-running it".to_string(),
            },
        ),
        "reverify" => (
            "now",
            "won, but the head moved: rebasing to verify again".to_string(),
        ),
        _ => (
            "done",
            format!(
                "{} verdict{}",
                v.verdicts.len(),
                if v.verdicts.len() == 1 { "" } else { "s" }
            ),
        ),
    };
    let (verdict_class, verdict_text) = match status {
        "accepted" => (
            "done",
            match v.chain_seq {
                Some(seq) => format!(
                    "accepted: <a href=\"{}\">chain #{seq}</a>",
                    esc(&entry_href(&info.track, seq))
                ),
                None => "accepted".to_string(),
            } + &match info.disputed_by {
                Some(verdict) => format!(
                    "; <strong>disputed</strong>: a re-check rejected it (verdict {verdict})"
                ),
                None => String::new(),
            },
        ),
        "rejected" if !rejected_at_intake => (
            "failed",
            format!("rejected: {}", esc(info.reason.as_deref().unwrap_or(""))),
        ),
        _ if invalid || rejected_at_intake => ("", "—".to_string()),
        _ => ("", "pending".to_string()),
    };
    format!(
        "<ol class=\"steps\"><li class=\"done\"><strong>Received</strong>{received}</li>\
         <li class=\"{intake_class}\"><strong>Intake</strong>{intake_text}</li>\
         <li class=\"{verify_class}\"><strong>Verification</strong>{verify_text}</li>\
         <li class=\"{verdict_class}\"><strong>Verdict</strong>{verdict_text}</li></ol>",
        received = when(now, info.received_ms),
    )
}

pub async fn submission(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult {
    let here = format!("/submissions/{}", url(&id));
    let reader = viewer.reading(&here)?;
    let id: i64 = id
        .parse()
        .map_err(|_| PageError::not_found(format!("submission `{id}`")))?;
    let hub = web.hub()?;
    // The API's rule decides who may see it; others get the same 404 as a missing one.
    hub.submission(reader, id).await.map_err(|e| match e {
        HubError::NotFound(_) => PageError::not_found(format!("submission {id}")),
        other => other.into(),
    })?;
    let v = web
        .views
        .submission(id)
        .await?
        .ok_or_else(|| PageError::not_found(format!("submission {id}")))?;
    let s = summary(&web, &v.info.track).await?;
    let now = web.now();
    let info = &v.info;
    let mut body = String::new();
    put(
        &mut body,
        format_args!(
            "<p class=\"more\"><a href=\"/submissions\">← Submissions</a></p><div class=\"head\"><div>\
             <h1>Submission #{id}</h1><p>to <a href=\"{th}\">{track}</a> by <span title=\"{wid}\">{worker}</span></p>\
             </div></div><div data-live=\"submission\"><p class=\"status-line\" role=\"status\" aria-live=\"polite\">\
             Status: <span data-status=\"{raw}\">{status}</span></p>{steps}<div class=\"grid2\">",
            th = esc(&track_href(&info.track)),
            track = esc(&info.track),
            wid = esc(&v.submitter.id),
            worker = esc(&v.submitter.name),
            raw = esc(&info.status),
            status = status(&info.status, info.reason.as_deref()),
            steps = steps(&v, now),
        ),
    );
    if let Some(meaning) = info.reason.as_deref().and_then(reason_meaning) {
        let original = v.duplicate_of.map_or(String::new(), |o| {
            format!(" It repeats <a href=\"/submissions/{o}\">submission #{o}</a>.")
        });
        put(
            &mut body,
            format_args!(
                "<p class=\"reason\"><code>{}</code>: {}.{original}</p>",
                esc(info.reason.as_deref().unwrap_or_default()),
                esc(meaning)
            ),
        );
    }
    body.push_str("<section class=\"panel\" aria-labelledby=\"claim-h\"><h2 id=\"claim-h\">Candidate</h2><dl class=\"facts\">");
    body.push_str(&candidate_facts(&v));
    body.push_str("</dl></section><section class=\"panel\" aria-labelledby=\"ver-h\"><h2 id=\"ver-h\">Verification</h2>");
    let rule = hub.track(&info.track).await?.rule;
    body.push_str(&verification(&v, s.goal, &rule, now));
    body.push_str("</section></div>");
    body.push_str(&change(&web, reader, &v).await);
    body.push_str("</div>");
    Ok(page(
        Page::new(format!("Submission #{id}"), &viewer, Tab::Submissions)
            .track(&info.track)
            .live(&info.track)
            .body(body)
            .render(),
    ))
}

/// The submission's diff and the end of its run log, to a reader who may see them
/// ([`may_see_change`]); a note to anyone else.
async fn change(web: &Web, reader: Reader<'_>, v: &SubmissionView) -> String {
    let info = &v.info;
    let mut body = String::new();
    body.push_str("<section aria-labelledby=\"diff-h\"><h2 id=\"diff-h\">Diff</h2>");
    if !may_see_change(reader, &info.worker, &info.status) {
        body.push_str(
            "<p class=\"hint\">A change that did not enter the chain is shown to its submitter, \
             verifiers and maintainers only.</p></section>",
        );
        return body;
    }
    match web.code.diff(&info.track, &info.parent, &info.commit).await {
        Some(diff) => body.push_str(&diff),
        None => body.push_str(
            "<p class=\"hint\">The diff is not available: the hub keeps no objects of a submission its intake refused.</p>",
        ),
    }
    body.push_str("</section>");
    if !v.log_tail.is_empty() {
        put(
            &mut body,
            format_args!(
                "<section aria-labelledby=\"log-h\"><h2 id=\"log-h\">Run log <span class=\"hint\">(the worker's, its last lines)</span></h2>\
                 <pre class=\"log\">{}</pre></section>",
                esc(&v.log_tail)
            ),
        );
    }
    body
}

/// What the submission is: its commit, parent, rebased candidate, base, idea, claims and
/// ledger entries.
fn candidate_facts(v: &SubmissionView) -> String {
    let info = &v.info;
    let mut body = String::new();
    put(
        &mut body,
        format_args!(
            "<dt>Commit</dt><dd class=\"hash\">{}</dd><dt>Parent</dt><dd class=\"hash\">{}</dd>",
            esc(&info.commit),
            esc(&info.parent)
        ),
    );
    if let Some(c) = info.candidate.as_ref().filter(|c| **c != info.commit) {
        put(
            &mut body,
            format_args!("<dt>Rebased as</dt><dd class=\"hash\">{}</dd>", esc(c)),
        );
    }
    if let Some(base) = &info.base {
        put(
            &mut body,
            format_args!(
                "<dt>Verified against</dt><dd><code>{}</code></dd>",
                esc(short(base))
            ),
        );
    }
    if let Some((iid, text)) = &v.idea {
        put(
            &mut body,
            format_args!("<dt>Idea</dt><dd>#{iid}: {}</dd>", esc(text)),
        );
    }
    for (k, val) in &v.claimed {
        put(
            &mut body,
            format_args!(
                "<dt>Claimed {}</dt><dd>{} <span class=\"hint\">(the worker's own measurement: a hint, never the score)</span></dd>",
                esc(k),
                value(*val)
            ),
        );
    }
    for r in &v.ledger {
        put(
            &mut body,
            format_args!(
                "<dt>Ledger</dt><dd>{} #{} <span class=\"hash\">{}</span></dd>",
                esc(r.kind),
                r.seq,
                esc(&r.hash)
            ),
        );
    }
    body
}

/// Where its verification stands: the jobs still open and every verdict.
fn verification(v: &SubmissionView, goal: Goal, rule: &Rule, now: i64) -> String {
    let mut body = String::new();
    if v.verdicts.is_empty() && v.jobs.is_empty() {
        body.push_str("<p class=\"hint\">Nothing to verify: intake refused it.</p>");
    }
    for j in v.jobs.iter().filter(|j| j.state != "done") {
        put(
            &mut body,
            format_args!(
                "<p>Job #{} is {}{}.</p>",
                j.id,
                esc(&j.state),
                j.lease_deadline_ms.filter(|_| j.state == "leased").map_or(
                    String::new(),
                    |d| format!(" (lease until {})", super::super::html::time(d))
                )
            ),
        );
        if let Some((c, h)) = &j.partial {
            put(
                &mut body,
                format_args!(
                    "<p class=\"hint\">{} rerun{} reported so far; more were asked for.</p>",
                    c.len().min(h.len()),
                    if c.len().min(h.len()) == 1 { "" } else { "s" }
                ),
            );
        }
    }
    for verdict in &v.verdicts {
        put(
            &mut body,
            format_args!(
                "<h3>Verdict #{}</h3><dl class=\"facts\">{}</dl>",
                verdict.id,
                verdict_facts(verdict, goal, Some(rule), now)
            ),
        );
    }
    body
}
