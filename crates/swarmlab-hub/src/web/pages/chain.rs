//! `/tracks/{track}/chain`: the verified chain, newest first, a page at a time; and
//! `/tracks/{track}/chain/{seq}`: one entry with its verdict (reruns, σ, p-value, verifier,
//! ledger hashes) and its diff, where a maintainer can promote it to `main`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use swarmlab_core::short;

use super::super::html::{badge, delta, esc, p_value, percent, put, url, value, when};
use super::super::layout::{pager, Page, Tab};
use super::super::session::{Params, Signed, Viewer};
use super::super::{page, see_other, PageError, PageResult, Web};
use super::{chain_table, describe_rows, entry_href, experiment_href, summary, tone};
use crate::domain::acceptance::{reruns_asked, reruns_cap};
use crate::domain::roles::{may, Action};
use crate::store::views::{mean_sigma, ChainRow, LedgerRef, Paging, TrackSummary, VerdictView};

/// Chain entries per page.
const PER_PAGE: u32 = 50;

pub async fn chain(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path(name): Path<String>,
    Params(q): Params,
) -> PageResult {
    let here = format!("/tracks/{}/chain", url(&name));
    viewer.reader(&here)?;
    let s = summary(&web, &name).await?;
    let paged = web
        .views
        .chain_page(&name, Paging::new(q.page(), PER_PAGE))
        .await?;
    let text = describe_rows(&web, &name, &paged.items).await;
    let mut body = String::new();
    put(
        &mut body,
        format_args!(
            "<div class=\"head\" data-live=\"title\"><div><h1>Chain of {name}</h1><p>The baseline and {n} improvement{plural}, each {what}. \
             Newest first.</p></div></div><section data-live=\"chain\" aria-label=\"Chain entries\">{table}{pager}</section>",
            name = esc(&name),
            // The baseline starts the chain; it improves on nothing.
            n = paged.total.saturating_sub(1),
            plural = if paged.total == 2 { "" } else { "s" },
            what = if s.local {
                "better than the one before it"
            } else {
                "verified to beat the one before it"
            },
            table = chain_table(
                &name,
                &s.metric,
                s.goal,
                &paged.items,
                &text,
                web.now(),
                s.local
            ),
            pager = pager(paged.paging.page, paged.pages(), |p| format!("{here}?page={p}")),
        ),
    );
    Ok(page(
        Page::new(format!("Chain of {name}"), &viewer, Tab::Chain)
            .track(&name)
            .live(&name)
            .body(body)
            .render(),
    ))
}

fn ledger_list(refs: &[LedgerRef]) -> String {
    if refs.is_empty() {
        return String::new();
    }
    let mut out = String::from("<dt>Ledger</dt><dd><ul class=\"plain\">");
    for r in refs {
        put(
            &mut out,
            format_args!(
                "<li>{} #{}: <span class=\"hash\">{}</span></li>",
                esc(r.kind),
                r.seq,
                esc(&r.hash)
            ),
        );
    }
    out.push_str("</ul></dd>");
    out
}

fn values(xs: &[f64]) -> String {
    xs.iter().map(|v| value(*v)).collect::<Vec<_>>().join(", ")
}

fn mean_pm(xs: &[f64]) -> String {
    match mean_sigma(xs) {
        Some((m, Some(s))) => format!("{} <span class=\"hint\">± {}</span>", value(m), value(s)),
        Some((m, None)) => value(m),
        None => "—".into(),
    }
}

/// What the verifier saw of its machine during each pair: wall and CPU seconds of the
/// candidate's and the head's run, and the load average as each ended.
fn load(pairs: Option<&swarmlab_proto::Pairs>) -> String {
    let Some(pairs) = pairs.filter(|p| !p.load.is_empty()) else {
        return String::new();
    };
    let run = |r: &swarmlab_proto::RunLoad| {
        format!(
            "{:.1}s ({:.1} CPU s, load {:.2})",
            r.wall_s, r.cpu_s, r.load_avg
        )
    };
    let mut out = String::from("<dt>Load</dt><dd><ol class=\"plain load\">");
    for pair in &pairs.load {
        put(
            &mut out,
            format_args!(
                "<li>candidate {} · head {}</li>",
                run(&pair.candidate),
                run(&pair.head)
            ),
        );
    }
    out.push_str("</ol></dd>");
    out
}

/// A verdict's facts, as a definition list's items.
pub fn verdict_facts(
    v: &VerdictView,
    goal: swarmlab_core::Goal,
    rule: Option<&swarmlab_proto::Rule>,
    now: i64,
) -> String {
    let mut out = String::new();
    let improvement = match (mean_sigma(&v.candidate), mean_sigma(&v.head)) {
        (Some((c, _)), Some((h, _))) => format!(
            "<span class=\"{}\">{}{}</span>",
            tone(goal, c - h),
            delta(c - h),
            percent(h, c).map_or(String::new(), |p| format!(" ({p})"))
        ),
        _ => "—".into(),
    };
    put(
        &mut out,
        format_args!(
            "<dt>Decision</dt><dd>{decision}{reason}</dd><dt>Verifier</dt><dd><span title=\"{vid}\">{vname}</span> \
             <span class=\"hint\">on {hw}</span>{unsandboxed}</dd><dt>Reruns</dt><dd>{nc} of the candidate, {nh} of the head{asked}{pairing}</dd>{load}\
             <dt>Candidate</dt><dd>{cand}<div class=\"values\">{cvals}</div></dd>\
             <dt>Head</dt><dd>{head}<div class=\"values\">{hvals}</div></dd><dt>Improvement</dt><dd>{improvement}</dd>\
             <dt>p-value</dt><dd>{p}{rule}</dd><dt>Decided</dt><dd>{at}</dd>",
            decision = badge(&v.decision),
            reason = v
                .reason
                .as_deref()
                .map_or(String::new(), |r| format!(" <span class=\"hint\">{}</span>", esc(r))),
            vid = esc(&v.verifier.id),
            vname = esc(&v.verifier.name),
            hw = esc(&v.hardware_class),
            unsandboxed = if v.unsandboxed {
                " <span class=\"badge bad\" title=\"this verifier ran the candidate outside any sandbox (--sandbox off)\">unsandboxed</span>"
            } else {
                ""
            },
            nc = v.candidate.len(),
            nh = v.head.len(),
            asked = rule.map_or(String::new(), |r| format!(
                " <span class=\"hint\">({} asked for, up to {} while promising)</span>",
                reruns_asked(r),
                reruns_cap(r)
            )),
            pairing = v.pairs.as_ref().map_or(String::new(), |p| format!(
                "<div class=\"hint\">in pairs, one seed each ({}), on a budget of {}</div>",
                p.seeds
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                p.budget.as_str()
            )),
            load = load(v.pairs.as_ref()),
            cand = mean_pm(&v.candidate),
            cvals = values(&v.candidate),
            head = mean_pm(&v.head),
            hvals = values(&v.head),
            p = v.p_value.map_or("—".into(), p_value),
            rule = rule.map_or(String::new(), |r| format!(
                " <span class=\"hint\">one-sided {} test; accept below α = {} over {} looks with min Δ = {}</span>",
                if v.pairs.is_some() { "paired t" } else { "Welch" },
                r.alpha,
                reruns_cap(r) - 1,
                value(r.min_delta)
            )),
            at = when(now, v.at_ms),
        ),
    );
    if let Some(l) = &v.ledger {
        out.push_str(&ledger_list(std::slice::from_ref(l)));
    }
    out
}

pub async fn entry(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path((name, seq)): Path<(String, String)>,
    Params(q): Params,
) -> PageResult {
    let here = format!("/tracks/{}/chain/{}", url(&name), url(&seq));
    let me = viewer.reader(&here)?;
    let seq: i64 = seq
        .parse()
        .map_err(|_| PageError::not_found(format!("chain entry `{seq}`")))?;
    if web.is_local() {
        // A local run numbers its chain by experiment, and every experiment has its page.
        let index =
            u64::try_from(seq).map_err(|_| PageError::not_found(format!("chain entry `{seq}`")))?;
        return Ok(see_other(&experiment_href(&name, index)));
    }
    let s = summary(&web, &name).await?;
    let row = web
        .views
        .chain_entry(&name, seq)
        .await?
        .ok_or_else(|| PageError::not_found(format!("chain entry {seq} of `{name}`")))?;
    let text = describe_rows(&web, &name, std::slice::from_ref(&row)).await;
    let now = web.now();
    let rule = match &web.hub {
        Some(hub) => Some(hub.track(&name).await?.rule),
        None => None,
    };
    let mut body = String::new();
    if q.get("promoted") == "1" {
        body.push_str(
            "<p class=\"notice good\" role=\"status\">Promoted: <code>main</code> now points at this commit.</p>",
        );
    }
    put(
        &mut body,
        format_args!(
            "<p class=\"more\"><a href=\"/tracks/{t}/chain\">← Chain of {name}</a></p>\
             <div class=\"head\"><div><h1>#{seq} {title}</h1><p><code>{commit}</code>{main}</p></div></div>",
            t = esc(&url(&name)),
            name = esc(&name),
            title = esc(text.get(&seq).map_or("", String::as_str)),
            commit = esc(&row.commit),
            main = if row.on_main {
                " <span class=\"badge main\">main</span>"
            } else {
                ""
            },
        ),
    );
    body.push_str("<div class=\"grid2\" data-live=\"entry\"><section class=\"panel\" aria-labelledby=\"commit-h\"><h2 id=\"commit-h\">Commit</h2><dl class=\"facts\">");
    body.push_str(&commit_facts(&row, &s, &name, now));
    body.push_str(&ledger_list(&row.ledger));
    body.push_str("</dl></section>");
    match &row.verdict {
        Some(v) => put(
            &mut body,
            format_args!(
                "<section class=\"panel\" aria-labelledby=\"verdict-h\"><h2 id=\"verdict-h\">Verification</h2>\
                 <dl class=\"facts\">{}</dl></section>",
                verdict_facts(v, s.goal, rule.as_ref(), now)
            ),
        ),
        None if seq == 0 => body.push_str(
            "<section class=\"panel\"><h2>Baseline</h2><p>The chain starts here; every later entry was \
             measured against its parent.</p></section>",
        ),
        None => body.push_str(
            "<section class=\"panel\"><h2>Verification</h2><p>No verification is recorded for this \
             entry.</p></section>",
        ),
    }
    body.push_str("</div>");
    if let Some(hub_viewer) = me {
        body.push_str(&promote_panel(hub_viewer, &row, &name, seq));
    }
    body.push_str("<section aria-labelledby=\"diff-h\"><h2 id=\"diff-h\">Diff</h2>");
    match &row.parent {
        None => body.push_str("<p class=\"hint\">The baseline has no parent on the chain.</p>"),
        Some(parent) => match web.code.diff(&name, parent, &row.commit).await {
            Some(diff) => body.push_str(&diff),
            None => body.push_str("<p class=\"hint\">The diff is not available here.</p>"),
        },
    }
    body.push_str("</section>");
    Ok(page(
        Page::new(format!("#{seq} · {name}"), &viewer, Tab::Chain)
            .track(&name)
            .live(&name)
            .body(body)
            .render(),
    ))
}

pub async fn promote(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> PageResult {
    let here = format!("/tracks/{}/chain", url(&name));
    let (me, form) = viewer.posted(&here, &headers, &body)?;
    let done = web
        .hub()?
        .promote(&me.identity, &name, form.get("commit"))
        .await?;
    let seq = i64::try_from(done.chain_seq).unwrap_or_default();
    Ok(see_other(&format!("{}?promoted=1", entry_href(&name, seq))))
}

/// The facts of a chain entry's commit: its parent, value, submitter, submission, idea and
/// when it was accepted (the ledger entries follow).
fn commit_facts(row: &ChainRow, s: &TrackSummary, name: &str, now: i64) -> String {
    let seq = row.seq;
    let mut body = String::new();
    put(
        &mut body,
        format_args!(
            "<dt>Commit</dt><dd class=\"hash\">{}</dd>",
            esc(&row.commit)
        ),
    );
    if let Some(parent) = &row.parent {
        put(
            &mut body,
            format_args!(
                "<dt>Parent</dt><dd><a href=\"{}\">#{}</a> <span class=\"hash\">{}</span></dd>",
                esc(&entry_href(name, seq - 1)),
                seq - 1,
                esc(short(parent))
            ),
        );
    }
    if let Some(v) = row.value {
        put(
            &mut body,
            format_args!(
                "<dt>{}</dt><dd>{}{}</dd>",
                esc(&s.metric),
                value(v),
                row.delta.map_or(String::new(), |d| format!(
                    " <span class=\"{}\">({})</span>",
                    tone(s.goal, d),
                    delta(d)
                ))
            ),
        );
    }
    if let Some(p) = &row.submitter {
        put(
            &mut body,
            format_args!(
                "<dt>{}</dt><dd><span title=\"{}\">{}</span></dd>",
                if s.local { "Proposer" } else { "Submitted by" },
                esc(&p.id),
                esc(&p.name)
            ),
        );
    }
    if let Some(id) = row.submission_id {
        put(
            &mut body,
            format_args!("<dt>Submission</dt><dd><a href=\"/submissions/{id}\">#{id}</a></dd>"),
        );
    }
    if let Some((id, idea)) = &row.idea {
        put(
            &mut body,
            format_args!("<dt>Idea</dt><dd>#{id}: {}</dd>", esc(idea)),
        );
    }
    if row.at_ms > 0 {
        put(
            &mut body,
            format_args!(
                "<dt>{}</dt><dd>{}</dd>",
                if s.local { "Run" } else { "Accepted" },
                when(now, row.at_ms)
            ),
        );
    }
    body
}

/// The panel that says where `main` is and, for a maintainer, promotes this entry to it.
fn promote_panel(hub_viewer: &Signed, row: &ChainRow, name: &str, seq: i64) -> String {
    let mut body = String::new();
    body.push_str("<section class=\"panel\" aria-labelledby=\"main-h\" data-live=\"promote\"><h2 id=\"main-h\">Main</h2>");
    if row.on_main {
        body.push_str("<p><code>main</code> points at this commit.</p>");
    } else if may(&hub_viewer.identity, Action::Promote) {
        put(
            &mut body,
            format_args!(
                "<form method=\"post\" action=\"/tracks/{t}/promote\" class=\"stack\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"commit\" value=\"{commit}\">\
                 <p>Move the track's <code>main</code> to this verified commit. The ledger records who did.</p>\
                 <button type=\"submit\" class=\"danger\">Promote #{seq} to main</button></form>",
                t = esc(&url(name)),
                csrf = esc(&hub_viewer.csrf),
                commit = esc(&row.commit),
            ),
        );
    } else {
        body.push_str(
            "<p class=\"hint\">Maintainers (admins) promote verified commits to <code>main</code>.</p>",
        );
    }
    body.push_str("</section>");
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::views::Party;

    fn verdict(unsandboxed: bool) -> VerdictView {
        VerdictView {
            id: 1,
            verifier: Party::unnamed("v1"),
            decision: "accept".into(),
            reason: None,
            p_value: Some(1e-4),
            hardware_class: "cpu-x2".into(),
            unsandboxed,
            pairs: None,
            candidate: vec![1.0, 1.1],
            head: vec![2.0, 2.1],
            at_ms: 0,
            ledger: None,
        }
    }

    #[test]
    fn a_verdict_of_an_unsandboxed_verifier_says_so() {
        let goal = swarmlab_core::Goal::Minimize;
        assert!(verdict_facts(&verdict(true), goal, None, 0).contains(">unsandboxed</span>"));
        assert!(!verdict_facts(&verdict(false), goal, None, 0).contains("unsandboxed"));
    }
}
