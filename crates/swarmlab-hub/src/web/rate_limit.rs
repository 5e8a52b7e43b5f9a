//! Per-identity rate limits: a token bucket per key (an identity, or an address before
//! authentication), refilled by the hub's clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::ManualClock;

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
