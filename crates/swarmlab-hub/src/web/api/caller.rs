//! Who is calling: the bearer token resolves to an identity (401 when missing or unknown),
//! each route checks its action against the roles table (`domain::roles`, 403), and each
//! identity's requests draw on its token bucket (429). Unauthenticated routes draw on a
//! bucket per client address (an IPv6 address by its /64, which one host usually holds
//! whole).

use std::net::{IpAddr, SocketAddr};

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
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |c| source(c.0.ip()));
        if !state.limiter.allow(&format!("addr:{source}")) {
            return Err(HubError::RateLimited);
        }
        Ok(Anonymous { source })
    }
}

/// An address as a source: IPv4 whole, IPv6 by its /64 (an IPv4-mapped one as IPv4).
fn source(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_source_is_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(source(a), source(b));
        assert_eq!(source("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
        assert_eq!(source("10.0.0.1".parse().unwrap()), "10.0.0.1");
    }
}
