//! `/tracks/{track}/ideas`: the idea queue, newest first, filterable by state, with a form
//! to add one for a signed-in viewer. Idea texts are whatever people typed: shown escaped, never as markup.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use swarmlab_proto::NewIdea;

use super::super::html::{badge, esc, put, url, when};
use super::super::layout::{pager, Page, Tab};
use super::super::session::{Params, Viewer};
use super::super::{page, see_other, PageResult, Web};
use super::summary;
use crate::store::views::{IdeaCounts, IdeaRow, Paging};

const PER_PAGE: u32 = 50;

pub async fn ideas(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path(name): Path<String>,
    Params(q): Params,
) -> PageResult {
    let here = format!("/tracks/{}/ideas", url(&name));
    let me = viewer.reader(&here)?;
    summary(&web, &name).await?;
    let state = match q.get("state") {
        s @ ("open" | "leased" | "done") => Some(s),
        _ => None,
    };
    let (paged, counts) = web
        .views
        .ideas_page(&name, state, Paging::new(q.page(), PER_PAGE))
        .await?;
    let now = web.now();
    let mut body = String::new();
    put(
        &mut body,
        format_args!(
            "<div class=\"head\"><div><h1>Ideas for {name}</h1><p>Workers lease the oldest open idea; \
             near-duplicates are flagged. A worker running the built-in sweep tries an idea written as knob \
             settings (<code>lr = 0.02, width = 128</code>) as written; agents read any text.</p></div></div>",
            name = esc(&name)
        ),
    );
    if let Ok(id) = q.get("added").parse::<i64>() {
        put(
            &mut body,
            format_args!(
                "<p class=\"notice good\" role=\"status\">Idea <a href=\"#idea-{id}\">#{id}</a> is in the queue.</p>"
            ),
        );
    }
    body.push_str(&match me {
        Some(me) => add_form(&here, &me.csrf),
        None => format!(
            "<p class=\"hint\"><a href=\"/login?next={}\">Sign in</a> to add an idea.</p>",
            esc(&url(&here))
        ),
    });
    body.push_str(&filters(&here, state, &counts));
    body.push_str("</ul><section data-live=\"ideas\" aria-label=\"Ideas\">");
    body.push_str(&idea_table(&paged.items, now));
    let filter = state.map_or(String::new(), |s| format!("state={s}&"));
    body.push_str(&pager(paged.paging.page, paged.pages(), |p| {
        format!("{here}?{filter}page={p}")
    }));
    body.push_str("</section>");
    Ok(page(
        Page::new(format!("Ideas for {name}"), &viewer, Tab::Ideas)
            .track(&name)
            .live(&name)
            .body(body)
            .render(),
    ))
}

pub async fn add_idea(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> PageResult {
    let here = format!("/tracks/{}/ideas", url(&name));
    let (me, form) = viewer.posted(&here, &headers, &body)?;
    let tags = form
        .get("tags")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .take(10)
        .map(|t| t.chars().take(40).collect())
        .collect();
    let idea = web
        .hub()?
        .add_idea(
            &me.identity,
            &name,
            &NewIdea {
                text: form.get("text").to_string(),
                tags,
                source: None,
            },
        )
        .await?;
    Ok(see_other(&format!(
        "{here}?added={}#idea-{}",
        idea.id, idea.id
    )))
}

/// The form that adds an idea, for a signed-in viewer.
fn add_form(here: &str, csrf: &str) -> String {
    format!(
        "<section class=\"panel\" aria-labelledby=\"add-h\"><h2 id=\"add-h\">Add an idea</h2>\
         <form method=\"post\" action=\"{here}\" class=\"stack\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"idea-text\">What should someone try?</label>\
         <textarea id=\"idea-text\" name=\"text\" required maxlength=\"10000\" \
          placeholder=\"Replace layer norm with RMSNorm in every block\"></textarea>\
         <label for=\"idea-tags\">Tags <span class=\"hint\">(optional, comma separated)</span></label>\
         <input id=\"idea-tags\" name=\"tags\" type=\"text\" placeholder=\"architecture, normalisation\">\
         <button type=\"submit\">Add idea</button></form></section>",
        here = esc(here),
        csrf = esc(csrf),
    )
}

/// The state filter's links, each with its count; the current one marked.
fn filters(here: &str, state: Option<&str>, counts: &IdeaCounts) -> String {
    let mut body = String::new();
    body.push_str("<ul class=\"filters\" aria-label=\"Filter by state\">");
    let all = counts.open + counts.leased + counts.done;
    for (key, label, n) in [
        (None, "All", all),
        (Some("open"), "Open", counts.open),
        (Some("leased"), "Leased", counts.leased),
        (Some("done"), "Done", counts.done),
    ] {
        let href = match key {
            Some(k) => format!("{here}?state={k}"),
            None => here.to_string(),
        };
        let current = if key == state {
            " aria-current=\"page\""
        } else {
            ""
        };
        put(
            &mut body,
            format_args!(
                "<li><a href=\"{}\"{current}>{label} <span>{n}</span></a></li>",
                esc(&href)
            ),
        );
    }
    body
}

/// The ideas as a table, or a note that there are none.
fn idea_table(items: &[IdeaRow], now: i64) -> String {
    let mut body = String::new();
    if items.is_empty() {
        body.push_str("<p class=\"empty-note\">No ideas here yet.</p>");
    } else {
        body.push_str(
            "<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Idea</th>\
             <th scope=\"col\">State</th><th scope=\"col\" class=\"num\">Tried</th>\
             <th scope=\"col\" class=\"hide-small\">Author</th><th scope=\"col\">Added</th></tr></thead><tbody>",
        );
        for idea in items {
            let mut notes = String::new();
            for tag in &idea.tags {
                put(
                    &mut notes,
                    format_args!("<span class=\"tag\">{}</span>", esc(tag)),
                );
            }
            if let (Some(dup), Some(sim)) = (idea.duplicate_of, idea.similarity) {
                put(
                    &mut notes,
                    format_args!(
                        "<span class=\"hint\">near duplicate of <a href=\"#idea-{dup}\">#{dup}</a> ({:.0}% alike)</span>",
                        sim * 100.0
                    ),
                );
            }
            if let Some(source) = &idea.source {
                put(
                    &mut notes,
                    format_args!(
                        "<blockquote class=\"idea-source\">{}<footer>from <cite>{}</cite></footer></blockquote>",
                        esc(&source.passage),
                        esc(&source.document)
                    ),
                );
            }
            let holder = idea
                .lease_holder
                .as_ref()
                .filter(|_| idea.state == "leased")
                .map_or(String::new(), |p| {
                    format!(" <span class=\"hint\">by {}</span>", esc(&p.name))
                });
            put(
                &mut body,
                format_args!(
                    "<tr id=\"idea-{id}\"><td>{id}</td><td><p class=\"idea-text\">{text}</p>{notes}</td>\
                     <td>{state}{holder}</td><td class=\"num\">{tried}{accepted}</td>\
                     <td class=\"hide-small\"><span title=\"{aid}\">{author}</span></td><td>{at}</td></tr>",
                    id = idea.id,
                    text = esc(&idea.text),
                    state = badge(&idea.state),
                    tried = idea.tried,
                    accepted = if idea.accepted > 0 {
                        format!(" <span class=\"better\">({} kept)</span>", idea.accepted)
                    } else {
                        String::new()
                    },
                    aid = esc(&idea.author.id),
                    author = esc(&idea.author.name),
                    at = when(now, idea.created_ms),
                ),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    body
}
