//! [`Quota`]: what verifying a worker's waiting submissions is expected to cost, against
//! its allowance: `cap` verifications at the price of one on the track it submits to (the
//! measured mean cost of a verdict there, or its reruns at its budget: [`Price`]). On one
//! track that is `cap` submissions waiting; across tracks a waiting submission on a costly
//! track leaves less room on a cheap one. And, for a worker with no accepted submission
//! yet, how many of all such workers' submissions wait, against the hub's pool for them. The cap's rule (BOINC's: it grows
//! with accepted work and shrinks with false claims and expired leases) and the pool are
//! [`QuotaConfig`](super::config::QuotaConfig)'s; the store keeps each worker's cap and
//! applies the rule in the transaction of what changes it.
//!
//! The pool is the stake: identities cost nothing to make, so what all the unproven ones
//! together may ask of verifiers is bounded, however many they are, and an identity leaves
//! the pool only by verified work that moved the head.

use super::verify_cost::Price;

/// A worker's submissions waiting for verification, what verifying them is expected to cost,
/// and how many verifications its cap allows, priced for one more submission.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub waiting: u32,
    /// Device-seconds verifying the waiting submissions is expected to cost, each at its
    /// track's [`Price`].
    pub waiting_s: f64,
    pub cap: u32,
    /// What verifying the submission asked for is expected to cost, on its track.
    pub price: Price,
    /// For a worker with no accepted submission: the waiting submissions of all such
    /// workers, and the pool they share (none when the pool is unbounded).
    pub unproven: Option<Pool>,
}

/// What workers without an accepted submission have waiting, and may have, together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub waiting: u32,
    pub size: u32,
}

impl Quota {
    /// Device-seconds of verification the worker may have waiting: `cap` submissions at
    /// the price of the one asked for.
    pub fn allowance_s(&self) -> f64 {
        f64::from(self.cap) * self.price.seconds
    }

    /// Refuses one more submission when verifying it and the waiting ones would cost more
    /// than the allowance, or the pool the worker is in is full, saying why.
    pub fn check(&self) -> Result<(), String> {
        let asked = self.waiting_s + self.price.seconds;
        let allowance = self.allowance_s();
        // The sum of equal prices must not be refused by its rounding.
        if asked > allowance * (1.0 + 1e-9) {
            return Err(format!(
                "verifying your {waiting} waiting submission{s} is expected to cost {waiting_s:.1} \
                 device-seconds and this one {price:.1} more, over your allowance of \
                 {allowance:.1} device-seconds ({cap} verification{caps} at {price:.1} each on this \
                 track: {basis}); it grows as your submissions are accepted",
                waiting = self.waiting,
                s = if self.waiting == 1 { "" } else { "s" },
                waiting_s = self.waiting_s,
                price = self.price.seconds,
                cap = self.cap,
                caps = if self.cap == 1 { "" } else { "s" },
                basis = self.price.explain(),
            ));
        }
        match self.unproven {
            Some(pool) if pool.waiting >= pool.size => Err(format!(
                "the hub verifies at most {} submissions at a time from workers with no accepted \
                 submission yet, and that many are waiting; try again later (an accepted submission \
                 takes you out of this pool)",
                pool.size
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::verify_cost::Basis;

    fn price(seconds: f64) -> Price {
        Price {
            seconds,
            basis: Basis::Measured { verdicts: 4 },
        }
    }

    #[test]
    fn a_worker_is_refused_over_its_allowance_or_when_the_unproven_pool_is_full() {
        let quota = |waiting, waiting_s, unproven| Quota {
            waiting,
            waiting_s,
            cap: 2,
            price: price(0.1),
            unproven,
        };
        assert!(quota(1, 0.1, None).check().is_ok());
        let over = quota(2, 0.2, None).check().unwrap_err();
        assert!(
            over.contains("expected to cost 0.2 device-seconds and this one 0.1 more")
                && over.contains("allowance of 0.2 device-seconds (2 verifications at 0.1 each")
                && over.contains("mean of 4 measured verdicts"),
            "{over}"
        );
        // One waiting submission of a track that costs ten times as much fills the room.
        assert!(quota(1, 1.0, None).check().is_err());
        let pool = |waiting| Some(Pool { waiting, size: 16 });
        assert!(quota(0, 0.0, pool(15)).check().is_ok());
        let full = quota(0, 0.0, pool(16)).check().unwrap_err();
        assert!(full.contains("at most 16"), "{full}");
    }
}
