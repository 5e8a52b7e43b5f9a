//! The claim a worker signs when it submits a candidate commit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// "This commit, on this parent, measured this on my machine", signed by the worker.
/// The claimed metrics are a hint for scheduling, never the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub track: String,
    /// The chain commit the candidate was built on (the head or a recent ancestor).
    pub parent: String,
    /// The candidate commit; the bundle must carry it.
    pub commit: String,
    pub metrics: BTreeMap<String, f64>,
    /// The idea this candidate tried, if it came from the queue.
    pub idea_id: Option<i64>,
    /// The submitting identity; must be the caller.
    pub worker_id: String,
    /// Unique per worker; a reused nonce is a replay.
    pub nonce: String,
}

impl Claim {
    /// The bytes the worker's signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        crate::canonical("swarmlab/claim/v1", self)
    }
}
