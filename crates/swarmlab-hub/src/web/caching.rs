//! How answers may be cached, decided in one place for the API and the pages. A successful
//! read that carried no credentials (no bearer token, no session cookie) can hold nothing
//! but the public record, so on a hub whose reads are public browsers and proxies may keep
//! it for `anonymous.max_age`. An answer to a request with credentials may hold private
//! things (a pending submission, a form's CSRF token): `private, no-store`. Everything else
//! (errors, writes, a closed hub's answers) is `no-store`. Every answer varies by the
//! credentials, so a cache never hands an anonymous copy to someone signed in. An answer
//! that says how it is cached itself (the compiled-in assets, the event stream) keeps that.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::session::session_token;
use crate::HubConfig;

/// Whether anonymous answers may be cached, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Caching {
    /// `None`: nothing is public (a closed hub, or a local run's pages).
    public_max_age: Option<Duration>,
}

impl Caching {
    /// A hub's: public for `anonymous.max_age` where its reads are public.
    pub fn for_hub(config: &HubConfig) -> Caching {
        Caching {
            public_max_age: config.public_read.then_some(config.anonymous.max_age),
        }
    }

    /// Nothing cached: a local run's pages, which change with every experiment.
    pub fn none() -> Caching {
        Caching {
            public_max_age: None,
        }
    }

    /// The `Cache-Control` of an answer, `success`ful or not, to a request that was a
    /// `read` (GET or HEAD) or not and carried `credentials` or not.
    fn header(&self, read: bool, credentials: bool, success: bool) -> String {
        match self.public_max_age {
            _ if credentials => "private, no-store".to_string(),
            Some(age) if read && success => format!("public, max-age={}", age.as_secs()),
            _ => "no-store".to_string(),
        }
    }
}

/// Sets `Cache-Control` and `Vary` on every answer that did not set its own.
pub async fn cache_control(
    State(caching): State<Caching>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let credentials =
        headers.contains_key(header::AUTHORIZATION) || session_token(headers).is_some();
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    let mut response = next.run(request).await;
    if response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    let value = caching.header(read, credentials, response.status().is_success());
    if let Ok(value) = HeaderValue::from_str(&value) {
        let out = response.headers_mut();
        out.insert(header::CACHE_CONTROL, value);
        out.insert(
            header::VARY,
            HeaderValue::from_static("Authorization, Cookie"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_successful_anonymous_read_of_a_public_hub_is_public() {
        let public = Caching {
            public_max_age: Some(Duration::from_secs(10)),
        };
        assert_eq!(public.header(true, false, true), "public, max-age=10");
        assert_eq!(public.header(true, true, true), "private, no-store");
        assert_eq!(public.header(true, false, false), "no-store");
        assert_eq!(public.header(false, false, true), "no-store");
        let closed = Caching::none();
        assert_eq!(closed.header(true, false, true), "no-store");
        assert_eq!(closed.header(true, true, true), "private, no-store");
    }
}
