//! [`Quota`]: how many of a worker's submissions wait for verification, against its cap.
//! The cap's rule (BOINC's: it grows with accepted work and shrinks with false claims and
//! expired leases) is [`QuotaConfig`](super::config::QuotaConfig)'s; the store keeps each
//! worker's cap and applies the rule in the transaction of what changes it.

/// A worker's submissions waiting for verification and how many it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub waiting: u32,
    pub cap: u32,
}

impl Quota {
    /// Refuses one more submission when the worker is at its cap, saying why.
    pub fn check(&self) -> Result<(), String> {
        if self.waiting < self.cap {
            return Ok(());
        }
        Err(format!(
            "{} of your submissions are waiting for verification, as many as your quota allows; \
             it grows as your submissions are accepted",
            self.waiting
        ))
    }
}
