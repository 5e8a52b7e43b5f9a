//! The frame every page shares: document head, the header with its navigation and who is
//! signed in, the main landmark, pagination, and the error page.

use axum::http::StatusCode;

use super::assets;
use super::html::{esc, put, url};
use super::session::Viewer;

/// Which navigation item a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    None,
    Tracks,
    Track,
    Chain,
    Ideas,
    Leaderboard,
    Submissions,
}

/// A page being put together.
pub struct Page<'a> {
    title: String,
    viewer: &'a Viewer,
    tab: Tab,
    track: Option<&'a str>,
    /// The track whose events refresh this page (`*` for every track).
    live: Option<String>,
    body: String,
    /// Without the viewer's corner: for error pages, which do not know who is looking.
    bare: bool,
}

impl<'a> Page<'a> {
    pub fn new(title: impl Into<String>, viewer: &'a Viewer, tab: Tab) -> Page<'a> {
        Page {
            title: title.into(),
            viewer,
            tab,
            track: None,
            live: None,
            body: String::new(),
            bare: false,
        }
    }

    /// The page is about `track`: its navigation shows.
    pub fn track(mut self, track: &'a str) -> Page<'a> {
        self.track = Some(track);
        self
    }

    /// Parts marked `data-live` refresh when `topic` (a track, or `*`) has events.
    pub fn live(mut self, topic: &str) -> Page<'a> {
        self.live = Some(topic.to_string());
        self
    }

    pub fn body(mut self, body: String) -> Page<'a> {
        self.body = body;
        self
    }

    pub fn render(self) -> String {
        let mut out = String::with_capacity(self.body.len() + 4096);
        put(
            &mut out,
            format_args!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>{} · swarmlab</title><link rel=\"icon\" href=\"data:,\">\
                 <link rel=\"stylesheet\" href=\"{}\"><script src=\"{}\" defer></script></head>",
                esc(&self.title),
                assets::href("style.css"),
                assets::href("app.js"),
            ),
        );
        match &self.live {
            Some(topic) => put(
                &mut out,
                format_args!("<body data-events=\"/events?track={}\">", esc(&url(topic))),
            ),
            None => out.push_str("<body>"),
        }
        out.push_str(
            "<a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"top\"><div class=\"bar\">\
             <a class=\"brand\" href=\"/\"><span class=\"mark\" aria-hidden=\"true\"></span>swarmlab</a>\
             <nav class=\"global\" aria-label=\"Site\">",
        );
        let local = matches!(self.viewer, Viewer::Local);
        self.link(&mut out, "/", "Tracks", Tab::Tracks);
        if matches!(self.viewer, Viewer::Signed(_) | Viewer::Public) {
            self.link(&mut out, "/submissions", "Submissions", Tab::Submissions);
        }
        out.push_str("</nav><div class=\"who\">");
        if self.live.is_some() {
            out.push_str(
                "<span class=\"live\" data-live-status hidden title=\"This page updates as the swarm works\">live</span>",
            );
        }
        match self.viewer {
            _ if self.bare => {}
            Viewer::Local => out.push_str("<span class=\"role\">local run</span>"),
            Viewer::Anonymous | Viewer::Public => out.push_str("<a href=\"/login\">Sign in</a>"),
            Viewer::Signed(s) => put(
                &mut out,
                format_args!(
                    "<span class=\"name\">{}</span> <span class=\"role\">{}</span>\
                     <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                     <button class=\"link\" type=\"submit\">Sign out</button></form>",
                    esc(&s.identity.name),
                    s.identity.role.as_str(),
                    esc(&s.csrf)
                ),
            ),
        }
        out.push_str("</div></div>");
        if let Some(track) = self.track {
            let base = format!("/tracks/{}", url(track));
            put(
                &mut out,
                format_args!(
                    "<nav class=\"tabs\" aria-label=\"Track {}\"><span class=\"track-name\">{}</span>",
                    esc(track),
                    esc(track)
                ),
            );
            self.link(&mut out, &base, "Progress", Tab::Track);
            self.link(&mut out, &format!("{base}/chain"), "Chain", Tab::Chain);
            if !local {
                self.link(&mut out, &format!("{base}/ideas"), "Ideas", Tab::Ideas);
                self.link(
                    &mut out,
                    &format!("{base}/leaderboard"),
                    "Leaderboard",
                    Tab::Leaderboard,
                );
            }
            out.push_str("</nav>");
        }
        out.push_str("</header><main id=\"main\" tabindex=\"-1\">");
        out.push_str(&self.body);
        out.push_str(if local {
            "</main><footer><p>swarmlab · a local run</p></footer></body></html>"
        } else {
            "</main><footer><p>swarmlab · verified autoresearch · \
             <a href=\"/api/v1/openapi.json\">API</a></p></footer></body></html>"
        });
        out
    }

    fn link(&self, out: &mut String, href: &str, text: &str, tab: Tab) {
        let current = if self.tab == tab {
            " aria-current=\"page\""
        } else {
            ""
        };
        put(
            out,
            format_args!("<a href=\"{}\"{current}>{text}</a>", esc(href)),
        );
    }
}

/// Page links for a list of `pages` pages, `page` being shown; `href(n)` is page n's link.
pub fn pager(page: u32, pages: u32, href: impl Fn(u32) -> String) -> String {
    if pages <= 1 {
        return String::new();
    }
    let mut out = String::from("<nav class=\"pager\" aria-label=\"Pages\">");
    if page > 1 {
        put(
            &mut out,
            format_args!(
                "<a href=\"{}\" rel=\"prev\">← Newer</a>",
                esc(&href(page - 1))
            ),
        );
    }
    put(
        &mut out,
        format_args!("<span>Page {page} of {pages}</span>"),
    );
    if page < pages {
        put(
            &mut out,
            format_args!(
                "<a href=\"{}\" rel=\"next\">Older →</a>",
                esc(&href(page + 1))
            ),
        );
    }
    out.push_str("</nav>");
    out
}

/// The page shown for an error.
pub fn error_page(status: StatusCode, message: &str) -> String {
    let title = status.canonical_reason().unwrap_or("Error");
    let mut page = Page::new(title, &Viewer::Anonymous, Tab::None);
    page.bare = true;
    page.body(format!(
        "<section class=\"narrow\"><h1>{}</h1><p class=\"notice bad\" role=\"alert\">{}</p>\
             <p><a href=\"/\">Back to the tracks</a></p></section>",
        esc(title),
        esc(message)
    ))
    .render()
}
