//! Who is calling: the bearer token resolves to an identity (401 when missing or unknown),
//! each route checks its action against the roles table (`domain::roles`, 403), and each
//! identity's requests draw on its token bucket (429). Unauthenticated routes draw on a
//! bucket per source address (`rate_limit::source`). A read of the public record
//! ([`ReadCaller`]) needs no token on a hub whose reads are public; such an anonymous
//! reader draws on its address's bucket of the `anonymous` limits.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::super::rate_limit::source_of;
use super::AppState;
use crate::domain::identity::Identity;
use crate::domain::roles::{self, Action, Reader};
use crate::HubError;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Identity);

impl Caller {
    /// Refuses (403) unless the caller may do `action` (`domain::roles`).
    pub fn require(&self, action: Action) -> Result<&Identity, HubError> {
        roles::require(&self.0, action)?;
        Ok(&self.0)
    }
}

/// The request's bearer token, if it sent one.
fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The identity behind `token`, drawing on its bucket.
async fn identified(state: &AppState, token: &str) -> Result<Identity, HubError> {
    let identity = state.hub.authenticate(token).await?;
    if !state.limiter.allow(&identity.id) {
        return Err(HubError::RateLimited);
    }
    Ok(identity)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, HubError> {
        let token = bearer(parts).ok_or(HubError::Unauthorized)?;
        Ok(Caller(identified(state, token).await?))
    }
}

/// A reader of the public record: an identity when the request carries a token (401 when
/// the hub does not know it, whatever the mode), else anyone, on a hub whose reads are
/// public (401 on one whose are not).
#[derive(Debug, Clone)]
pub enum ReadCaller {
    Signed(Identity),
    Anyone,
}

impl ReadCaller {
    /// Who reads, as the domain's visibility rules take it.
    pub fn reader(&self) -> Reader<'_> {
        match self {
            ReadCaller::Signed(identity) => Reader::Identity(identity),
            ReadCaller::Anyone => Reader::Anyone,
        }
    }
}

impl FromRequestParts<AppState> for ReadCaller {
    type Rejection = HubError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ReadCaller, HubError> {
        if let Some(token) = bearer(parts) {
            return Ok(ReadCaller::Signed(identified(state, token).await?));
        }
        if !state.hub.config().public_read {
            return Err(HubError::Unauthorized);
        }
        if !state.anonymous.allow(&source_of(parts)) {
            return Err(HubError::RateLimited);
        }
        Ok(ReadCaller::Anyone)
    }
}

/// An unauthenticated caller, rate limited by address.
#[derive(Debug, Clone)]
pub struct Anonymous {
    /// Where it calls from: an IPv4 address, or an IPv6 /64.
    pub source: String,
}

impl FromRequestParts<AppState> for Anonymous {
    type Rejection = HubError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Anonymous, HubError> {
        let source = source_of(parts);
        if !state.limiter.allow(&format!("addr:{source}")) {
            return Err(HubError::RateLimited);
        }
        Ok(Anonymous { source })
    }
}
