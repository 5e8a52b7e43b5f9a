//! Who is calling: the bearer token resolves to an identity (401 when missing or unknown),
//! each route checks its action against the roles table (`domain::roles`, 403), and each
//! identity's requests draw on its token bucket (429). Unauthenticated routes draw on a
//! bucket per client address.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::AppState;
use crate::domain::identity::Identity;
use crate::domain::roles::{self, Action};
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, HubError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(HubError::Unauthorized)?;
        let identity = state.hub.authenticate(token.trim()).await?;
        if !state.limiter.allow(&identity.id) {
            return Err(HubError::RateLimited);
        }
        Ok(Caller(identity))
    }
}

/// An unauthenticated caller, rate limited by address.
#[derive(Debug, Clone, Copy)]
pub struct Anonymous;

impl FromRequestParts<AppState> for Anonymous {
    type Rejection = HubError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Anonymous, HubError> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".to_string());
        if !state.limiter.allow(&format!("addr:{addr}")) {
            return Err(HubError::RateLimited);
        }
        Ok(Anonymous)
    }
}
