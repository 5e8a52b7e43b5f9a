//! Rate limits: a token bucket per key (an identity, or a source address before
//! authentication and for anonymous readers), refilled by the hub's clock; and what a
//! source address is ([`source`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

use crate::domain::clock::Clock;
use crate::domain::config::RateLimitConfig;

/// Token buckets keyed by identity.
pub struct RateLimiter {
    config: RateLimitConfig,
    clock: Arc<dyn Clock>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at_ms: i64,
}

impl RateLimiter {
    /// Buckets of `config.burst` tokens refilled at `config.per_second`.
    pub fn new(config: RateLimitConfig, clock: Arc<dyn Clock>) -> RateLimiter {
        RateLimiter {
            config,
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket; false when it is empty.
    pub fn allow(&self, key: &str) -> bool {
        let now = self.clock.now_ms();
        let burst = f64::from(self.config.burst);
        // A poisoned lock only means another request panicked mid-update; the map is fine.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, b| now - b.at_ms < 3_600_000);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            at_ms: now,
        });
        let elapsed = (now - bucket.at_ms).max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * self.config.per_second).min(burst);
        bucket.at_ms = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Where a request comes from, as rate limits count it: an IPv4 address whole, an IPv6
/// address by its /64 (which one host usually holds whole; an IPv4-mapped one as IPv4).
pub fn source(ip: IpAddr) -> String {
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

/// The [`source`] of a request (`unknown` when the server was not told the peer).
pub fn source_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| source(c.0.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::ManualClock;

    #[test]
    fn an_ipv6_source_is_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(source(a), source(b));
        assert_eq!(source("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
        assert_eq!(source("10.0.0.1".parse().unwrap()), "10.0.0.1");
    }

    #[test]
    fn a_bucket_empties_and_refills_with_the_clock() {
        let clock = Arc::new(ManualClock::new(0));
        let limiter = RateLimiter::new(
            RateLimitConfig {
                burst: 2,
                per_second: 1.0,
            },
            clock.clone(),
        );
        assert!(limiter.allow("a") && limiter.allow("a"));
        assert!(!limiter.allow("a"));
        assert!(limiter.allow("b"));
        clock.advance(1000);
        assert!(limiter.allow("a"));
        assert!(!limiter.allow("a"));
    }
}
