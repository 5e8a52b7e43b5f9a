//! The ledger: every submission, verdict, head move, suspension and promotion of a track as
//! a hash-chained entry signed by the hub. [`seal`] makes the next entry; the store calls it
//! inside the transaction of the change the entry records, with the key only the store
//! holds. `audit.rs` checks an exported ledger offline.

use swarmlab_proto::ledger::GENESIS;
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{EventBody, LedgerEntry};

/// Builds the next entry after `prev` (the previous entry's hash and seq), hashed and signed.
pub fn seal(
    key: &SigningKey,
    track: &str,
    prev: Option<(u64, &str)>,
    at_ms: i64,
    event: EventBody,
) -> LedgerEntry {
    let (seq, prev) = match prev {
        Some((seq, hash)) => (seq + 1, hash.to_string()),
        None => (0, GENESIS.to_string()),
    };
    let mut entry = LedgerEntry {
        seq,
        track: track.to_string(),
        at_ms,
        prev,
        event,
        hash: String::new(),
        signature: String::new(),
    };
    entry.hash = entry.compute_hash();
    entry.signature = sign_hash(key, &entry.hash);
    entry
}

fn sign_hash(key: &SigningKey, hash: &str) -> String {
    signing::sign(key, &hex::decode(hash).unwrap_or_default())
}
