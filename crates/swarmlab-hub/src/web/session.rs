//! Who is looking: a bearer token pasted once into `/login` lives in an HttpOnly,
//! SameSite=Strict cookie and is checked like the API's on every request; without one, a
//! viewer reads the hub's public record where its reads are public ([`Viewer::Public`]) and
//! is sent to sign in where they are not. Forms carry a CSRF token derived from the
//! session's token and a secret of this server process, and a form whose `Origin` is
//! another site is refused, so another site can neither read a page nor post a form as the
//! viewer.

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::html::esc;
use super::layout::{Page, Tab};
use super::rate_limit::source_of;
use super::{page, see_other, PageError, PageResult, Web};
use crate::domain::identity::Identity;
use crate::domain::roles::Reader;
use crate::HubError;

/// The session cookie.
pub const COOKIE: &str = "swarmlab_session";
/// A session lasts this long in the browser (the token itself does not expire).
const MAX_AGE_SECONDS: u64 = 30 * 24 * 3600;

/// The viewer of a page.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// A local run's dashboard: the machine's owner, read-only.
    Local,
    /// Nobody signed in, on a hub that asks readers to sign in.
    Anonymous,
    /// Nobody signed in, on a hub whose reads are public: sees what anyone may.
    Public,
    /// A signed-in identity and its form token.
    Signed(Signed),
}

/// A signed-in identity.
#[derive(Debug, Clone)]
pub struct Signed {
    pub identity: Identity,
    /// The CSRF token its forms carry.
    pub csrf: String,
}

impl Viewer {
    /// The signed-in identity, `None` for a viewer who may read without one (a local
    /// run's, which may read everything a local run has, or anyone on a hub whose reads
    /// are public), or a redirect to sign in and come back to `here`.
    pub fn reader(&self, here: &str) -> Result<Option<&Signed>, PageError> {
        match self {
            Viewer::Local | Viewer::Public => Ok(None),
            Viewer::Anonymous => Err(PageError::sign_in(here)),
            Viewer::Signed(s) => Ok(Some(s)),
        }
    }

    /// Who reads a page that exists only on a hub, as the domain's visibility rules take
    /// it, or a redirect to sign in and come back to `here`.
    pub fn reading(&self, here: &str) -> Result<Reader<'_>, PageError> {
        match self {
            Viewer::Public => Ok(Reader::Anyone),
            Viewer::Signed(s) => Ok(Reader::Identity(&s.identity)),
            Viewer::Anonymous => Err(PageError::sign_in(here)),
            Viewer::Local => Err(PageError::not_found("page")),
        }
    }

    /// The signed-in identity, for pages that exist only on a hub.
    pub fn signed(&self, here: &str) -> Result<&Signed, PageError> {
        match self {
            Viewer::Signed(s) => Ok(s),
            _ => Err(PageError::sign_in(here)),
        }
    }

    /// A form this signed-in viewer posted from this dashboard ([`check_form`]), and its
    /// fields.
    pub fn posted(
        &self,
        here: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(&Signed, Form), PageError> {
        let me = self.signed(here)?;
        let form = Form::parse(body);
        check_form(headers, me, &form)?;
        Ok((me, form))
    }
}

/// The CSRF token of a session token.
fn csrf_for(web: &Web, token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"swarmlab/csrf/v1\n");
    h.update(web.csrf_secret);
    h.update(token.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The session token in the request's cookies, if any.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<Arc<Web>> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Viewer, PageError> {
        let Some(hub) = &web.hub else {
            return Ok(Viewer::Local);
        };
        let nobody = if hub.config().public_read {
            Viewer::Public
        } else {
            Viewer::Anonymous
        };
        let viewer = match session_token(&parts.headers) {
            Some(token) => match hub.authenticate(&token).await {
                Ok(identity) => Viewer::Signed(Signed {
                    csrf: csrf_for(web, &token),
                    identity,
                }),
                Err(HubError::Unauthorized) => nobody,
                Err(e) => return Err(e.into()),
            },
            None => nobody,
        };
        // An identity draws on its own bucket, anyone else on its address's.
        let allowed = match &viewer {
            Viewer::Signed(s) => web.limiter.as_ref().is_none_or(|l| l.allow(&s.identity.id)),
            _ => web
                .anonymous
                .as_ref()
                .is_none_or(|l| l.allow(&source_of(parts))),
        };
        if !allowed {
            return Err(HubError::RateLimited.into());
        }
        Ok(viewer)
    }
}

/// A posted form's fields, or a query string's.
pub struct Form(pub Vec<(String, String)>);

/// The query string's parameters.
pub struct Params(pub Form);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Params, Self::Rejection> {
        Ok(Params(Form::parse(
            parts.uri.query().unwrap_or_default().as_bytes(),
        )))
    }
}

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A page number (1 when absent or not a number).
    pub fn page(&self) -> u32 {
        self.get("page").parse().unwrap_or(1).max(1)
    }
}

/// Refuses a form that did not come from this dashboard: a missing or wrong CSRF token, or
/// an `Origin` other than the host it was posted to.
fn check_form(headers: &HeaderMap, me: &Signed, form: &Form) -> Result<(), PageError> {
    same_origin(headers)?;
    let sent = form.get("csrf");
    // Both are hex of a fixed length; compare without an early exit anyway.
    let same = sent.len() == me.csrf.len()
        && sent
            .bytes()
            .zip(me.csrf.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "this form has expired or came from elsewhere; reload the page and try again",
        ));
    }
    Ok(())
}

fn same_origin(headers: &HeaderMap) -> Result<(), PageError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    if origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "this form was posted from another site",
        ))
    }
}

/// Where to go after signing in: a path on this site, never another site.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

fn login_page(viewer: &Viewer, next: &str, problem: Option<&str>) -> String {
    let mut body = String::from("<section class=\"narrow\"><h1>Sign in</h1>");
    if let Some(problem) = problem {
        body.push_str(&format!(
            "<p class=\"notice bad\" role=\"alert\">{}</p>",
            esc(problem)
        ));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/login\" class=\"stack\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label for=\"token\">Bearer token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" \
          spellcheck=\"false\" required placeholder=\"slh_…\" aria-describedby=\"token-help\">\
         <p id=\"token-help\" class=\"hint\">The token the hub gave you: <code>swarmlab hub admin-token</code> \
          for maintainers, registration for workers. It stays in an HttpOnly cookie on this browser; \
          the hub keeps only its hash.</p>\
         <button type=\"submit\">Sign in</button></form></section>",
        esc(safe_next(next))
    ));
    Page::new("Sign in", viewer, Tab::None).body(body).render()
}

pub async fn login_form(viewer: Viewer, Params(q): Params) -> PageResult {
    let next = match q.get("next") {
        "" => "/".to_string(),
        next => next.to_string(),
    };
    if matches!(viewer, Viewer::Signed(_)) {
        return Ok(see_other(safe_next(&next)));
    }
    Ok(page(login_page(&viewer, &next, None)))
}

pub async fn login(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> PageResult {
    same_origin(&headers)?;
    let form = Form::parse(&body);
    let next = safe_next(form.get("next")).to_string();
    let token = form.get("token").trim();
    match web.hub()?.authenticate(token).await {
        Ok(_) => {
            let mut response = see_other(&next);
            let cookie = format!(
                "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={MAX_AGE_SECONDS}"
            );
            let value = HeaderValue::from_str(&cookie)
                .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, "that is not a token"))?;
            response.headers_mut().insert(header::SET_COOKIE, value);
            Ok(response)
        }
        Err(HubError::Unauthorized) => {
            let body = login_page(
                &Viewer::Anonymous,
                &next,
                Some("The hub does not know that token."),
            );
            Ok((StatusCode::UNAUTHORIZED, page(body)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn logout(viewer: Viewer, headers: HeaderMap, body: axum::body::Bytes) -> PageResult {
    viewer.posted("/", &headers, &body)?;
    let mut response: Response = see_other("/login");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("swarmlab_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; swarmlab_session=slh_abc; x=1"),
        );
        assert_eq!(session_token(&headers).as_deref(), Some("slh_abc"));
        assert_eq!(session_token(&HeaderMap::new()), None);
    }

    #[test]
    fn only_same_site_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/tracks/toy"), "/tracks/toy");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil"), "/");
    }

    #[test]
    fn a_form_from_another_origin_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("hub:7878"));
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://hub:7878"));
        assert!(same_origin(&headers).is_ok());
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(same_origin(&headers).is_err());
    }
}
