//! The web layer: the JSON API under `/api/v1` ([`api`], its callers and its error codes),
//! the dashboard at `/` (this module and its pages), server-sent events, sessions, rate
//! limits ([`rate_limit`]) and the [`server`] that binds them ([`embedded`]: one served
//! inside another program, as `swarmlab demo` does). It authenticates, parses, renders and
//! answers; what may be done and what it means is the domain's: every change is a call to
//! [`Hub`], every page reads the store's read side ([`Views`]), and nothing here touches the
//! store's writer.
//!
//! The dashboard: server-rendered HTML pages of the hub's tracks, chains, ideas,
//! leaderboards and submissions, with server-sent events that keep them moving. Every page
//! works without JavaScript (the progress chart is SVG drawn on the server); the one small
//! script only swaps in fresh parts of the page when an event says something changed, and
//! shows tooltips.
//!
//! Pages show nothing the JSON API would not show the same viewer: on a hub whose reads are
//! public (`public_read`, the default) anyone may read its public record without signing
//! in, rate limited by source address and cacheable for a short while ([`caching`]);
//! otherwise reading needs a signed-in identity (a bearer token pasted once into `/login`,
//! kept in an HttpOnly, SameSite=Strict cookie). Pending submissions are visible to their
//! submitter, verifiers and admins only, every write needs a signed-in identity, and every
//! form carries a per-session CSRF token. The same pages serve a local run's
//! `results.jsonl` ([`local`]), read-only and without sign-in.
//!
//! This module renders; it decides nothing. Writes go through [`Hub`] like the API's.

pub mod api;
mod assets;
mod caching;
mod chart;
mod code;
pub mod embedded;
mod html;
mod layout;
pub mod local;
mod pages;
pub mod rate_limit;
pub mod server;
mod session;
mod sse;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::domain::clock::Clock;
use crate::domain::event::Events;
use crate::store::{StoreError, Views};
use crate::{Hub, HubError};
use caching::{cache_control, Caching};
use rate_limit::RateLimiter;

pub use code::Code;

/// Largest form body a page accepts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// What every page handler gets.
pub struct Web {
    pub(crate) views: Arc<dyn Views>,
    /// `None` for a local run: read-only, nobody signs in.
    pub(crate) hub: Option<Arc<Hub>>,
    pub(crate) events: Events,
    pub(crate) code: Arc<Code>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Signed-in viewers' buckets, by identity (shared with the API).
    pub(crate) limiter: Option<Arc<RateLimiter>>,
    /// Anonymous viewers' buckets, by source address (shared with the API).
    pub(crate) anonymous: Option<Arc<RateLimiter>>,
    /// How answers may be cached.
    pub(crate) caching: Caching,
    /// Signs CSRF tokens; fresh each start, so a form left open across a restart is refused.
    pub(crate) csrf_secret: [u8; 32],
}

impl Web {
    /// The dashboard of a hub, drawing on the API's rate limiters: `limiter` for
    /// identities, `anonymous` for anonymous readers.
    pub fn for_hub(
        hub: Arc<Hub>,
        limiter: Arc<RateLimiter>,
        anonymous: Arc<RateLimiter>,
    ) -> Result<Web, HubError> {
        Ok(Web {
            views: hub.reader(),
            events: hub.events().clone(),
            code: Arc::new(Code::hub(hub.config().data_dir.join("tracks"))),
            clock: hub.clock.clone(),
            limiter: Some(limiter),
            anonymous: Some(anonymous),
            caching: Caching::for_hub(hub.config()),
            csrf_secret: crate::domain::hub::random_bytes::<32>()?,
            hub: Some(hub),
        })
    }

    /// Whether this is a local run's dashboard.
    pub fn is_local(&self) -> bool {
        self.hub.is_none()
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The hub behind the pages; a local run's dashboard has none, so a page that acts on
    /// it is not there.
    pub(crate) fn hub(&self) -> Result<&Hub, PageError> {
        self.hub
            .as_deref()
            .ok_or_else(|| PageError::not_found("page"))
    }
}

/// Why a page could not be shown; rendered as an HTML page with the matching status, or
/// a redirect to the sign-in page.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
    /// Where to send the browser instead (`303 See Other`).
    pub location: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
            location: None,
        }
    }

    pub fn not_found(what: impl Into<String>) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, format!("{} not found", what.into()))
    }

    /// To the sign-in page, coming back to `next` afterwards.
    pub fn sign_in(next: &str) -> PageError {
        PageError {
            status: StatusCode::SEE_OTHER,
            message: String::new(),
            location: Some(format!("/login?next={}", html::url(next))),
        }
    }
}

impl From<HubError> for PageError {
    fn from(e: HubError) -> PageError {
        let (status, _) = e.status();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            eprintln!("swarmlab hub: internal error: {e}");
            "internal error; see the hub's log".to_string()
        } else {
            e.to_string()
        };
        PageError::new(status, message)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> PageError {
        HubError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let Some(location) = &self.location {
            return see_other(location);
        }
        let body = layout::error_page(self.status, &self.message);
        // An error is never kept: the same page may work a moment later.
        let mut response = (
            self.status,
            [(header::CACHE_CONTROL, "no-store")],
            page_headers(),
            body,
        )
            .into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// What a page handler returns.
pub type PageResult = Result<Response, PageError>;

/// The headers of every HTML page: a policy that lets the page load nothing but this
/// server's own stylesheet and script. How long it may be cached is [`caching`]'s.
fn page_headers() -> [(header::HeaderName, &'static str); 4] {
    [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ]
}

/// An HTML page with status 200.
pub(crate) fn page(body: String) -> Response {
    (page_headers(), body).into_response()
}

/// `303 See Other` to `location`: where a form sends the browser after it did its work.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Adds `Server-Timing` with the time the server spent on the response (the bench reads it).
async fn timing(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let mut response = next.run(request).await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        response.headers_mut().insert("server-timing", v);
    }
    response
}

/// The dashboard's routes over `web`; a hub's adds sign-in, forms and hub-only pages.
pub fn router(web: Arc<Web>) -> Router {
    let caching = web.caching;
    use pages::*;
    let mut router = Router::new()
        .route("/", get(overview::overview))
        .route("/tracks/{track}", get(track::track))
        .route("/tracks/{track}/chain", get(chain::chain))
        .route("/tracks/{track}/chain/{seq}", get(chain::entry))
        .route("/events", get(sse::events))
        .route("/assets/{file}", get(assets::asset));
    if web.is_local() {
        router = router.route(
            "/tracks/{track}/experiments/{n}",
            get(experiment::experiment),
        );
    } else {
        router = router
            .route("/login", get(session::login_form).post(session::login))
            .route("/logout", post(session::logout))
            .route("/tracks/{track}/promote", post(chain::promote))
            .route(
                "/tracks/{track}/ideas",
                get(ideas::ideas).post(ideas::add_idea),
            )
            .route("/tracks/{track}/leaderboard", get(board::leaderboard))
            .route("/submissions", get(submissions::list))
            .route("/submissions/{id}", get(submissions::submission));
    }
    router
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(from_fn_with_state(caching, cache_control))
        .layer(from_fn(timing))
        .with_state(web)
}

/// The HTML answer for a path no route knows.
pub fn not_found() -> Response {
    PageError::not_found("page").into_response()
}
