//! `/tracks/{track}/leaderboard`: who moved the track — workers by the verified
//! improvement their head moves brought, idea authors by the moves credited to their ideas,
//! and verifiers by the verdicts they reached: the track's credit (`domain::credit`), the
//! numbers `GET /api/v1/tracks/{track}/credit` serves.

use std::sync::Arc;

use axum::extract::{Path, State};

use super::super::html::{esc, put, url, value};
use super::super::layout::{Page, Tab};
use super::super::session::Viewer;
use super::super::{page, PageResult, Web};
use super::summary;
use crate::store::views::Party;

fn who(p: &Party) -> String {
    format!("<span title=\"{}\">{}</span>", esc(&p.id), esc(&p.name))
}

fn table(caption: &str, heads: &[&str], rows: Vec<Vec<String>>, empty: &str) -> String {
    let mut out = format!("<section aria-label=\"{c}\"><h2>{c}</h2>", c = esc(caption));
    if rows.is_empty() {
        put(
            &mut out,
            format_args!("<p class=\"empty-note\">{empty}</p></section>"),
        );
        return out;
    }
    out.push_str(
        "<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\" class=\"num\">Rank</th>",
    );
    for (i, h) in heads.iter().enumerate() {
        let class = if i == 0 { "" } else { " class=\"num\"" };
        put(&mut out, format_args!("<th scope=\"col\"{class}>{h}</th>"));
    }
    out.push_str("</tr></thead><tbody>");
    for (rank, row) in rows.iter().enumerate() {
        put(
            &mut out,
            format_args!("<tr><td class=\"num\">{}</td>", rank + 1),
        );
        for (i, cell) in row.iter().enumerate() {
            let class = if i == 0 { "" } else { " class=\"num\"" };
            put(&mut out, format_args!("<td{class}>{cell}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></section>");
    out
}

pub async fn leaderboard(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> PageResult {
    viewer.reader(&format!("/tracks/{}/leaderboard", url(&name)))?;
    let s = summary(&web, &name).await?;
    let board = web.views.leaderboard(&name).await?;
    let mut body = String::new();
    put(
        &mut body,
        format_args!(
            "<div class=\"head\"><div><h1>Leaderboard of {name}</h1><p>Improvement is the verified gain in \
             {metric} ({goal} is better) of accepted commits: the verifier's measurement of the head minus \
             its measurement of the candidate. A head move's idea is credited when the submission \
             named it and its change was not already on the chain. The same numbers are served as \
             JSON at <code>{api}</code>.</p></div></div><div data-live=\"board\">",
            name = esc(&name),
            api = esc(&format!("/api/v1/tracks/{}/credit", url(&name))),
            metric = esc(&s.metric),
            goal = match s.goal {
                swarmlab_core::Goal::Minimize => "lower",
                swarmlab_core::Goal::Maximize => "higher",
            },
        ),
    );
    body.push_str(&table(
        "Contributors",
        &["Worker", "Improvement", "Accepted", "Submitted"],
        board
            .contributors
            .iter()
            .map(|r| {
                vec![
                    who(&r.party),
                    value(r.gain),
                    r.accepted.to_string(),
                    r.submissions.to_string(),
                ]
            })
            .collect(),
        "Nobody has submitted yet.",
    ));
    body.push_str(&table(
        "Ideas",
        &["Author", "Improvement", "Credited", "Ideas"],
        board
            .authors
            .iter()
            .map(|r| {
                vec![
                    who(&r.party),
                    value(r.gain),
                    r.fruitful.to_string(),
                    r.ideas.to_string(),
                ]
            })
            .collect(),
        "No ideas yet.",
    ));
    body.push_str(&table(
        "Verifiers",
        &["Verifier", "Verdicts", "Accepted", "Rejected"],
        board
            .verifiers
            .iter()
            .map(|r| {
                vec![
                    who(&r.party),
                    r.verdicts.to_string(),
                    r.accepted.to_string(),
                    r.rejected.to_string(),
                ]
            })
            .collect(),
        "No verdicts yet.",
    ));
    body.push_str("</div>");
    Ok(page(
        Page::new(format!("Leaderboard of {name}"), &viewer, Tab::Leaderboard)
            .track(&name)
            .live(&name)
            .body(body)
            .render(),
    ))
}
