//! [`Quota`]: how many of a worker's submissions wait for verification, against its cap,
//! and, for a worker with no accepted submission yet, how many of all such workers'
//! submissions wait, against the hub's pool for them. The cap's rule (BOINC's: it grows
//! with accepted work and shrinks with false claims and expired leases) and the pool are
//! [`QuotaConfig`](super::config::QuotaConfig)'s; the store keeps each worker's cap and
//! applies the rule in the transaction of what changes it.
//!
//! The pool is the stake: identities cost nothing to make, so what all the unproven ones
//! together may ask of verifiers is bounded, however many they are, and an identity leaves
//! the pool only by verified work that moved the head.

/// A worker's submissions waiting for verification and how many it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub waiting: u32,
    pub cap: u32,
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
    /// Refuses one more submission when the worker is at its cap, or the pool it is in is
    /// full, saying why.
    pub fn check(&self) -> Result<(), String> {
        if self.waiting >= self.cap {
            return Err(format!(
                "{} of your submissions are waiting for verification, as many as your quota allows; \
                 it grows as your submissions are accepted",
                self.waiting
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

    #[test]
    fn a_worker_is_refused_at_its_cap_or_when_the_unproven_pool_is_full() {
        let quota = |waiting, unproven| Quota {
            waiting,
            cap: 2,
            unproven,
        };
        assert!(quota(1, None).check().is_ok());
        assert!(quota(2, None).check().is_err());
        let pool = |waiting| Some(Pool { waiting, size: 16 });
        assert!(quota(0, pool(15)).check().is_ok());
        let full = quota(0, pool(16)).check().unwrap_err();
        assert!(full.contains("at most 16"), "{full}");
    }
}
