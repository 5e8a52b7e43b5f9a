//! The wire between the hub, its workers and its verifiers: request and response bodies,
//! the signed claim of a worker, the signed measurements of a verifier, the ledger's events,
//! and the exact bytes that each signature covers.
//!
//! Nothing here does I/O: it is shared by the hub, `swarmlab work` and `swarmlab verify`, and
//! by anyone who audits a ledger offline.

pub mod api;
pub mod claim;
pub mod credit;
pub mod ledger;
pub mod measurement;
pub mod signing;

pub use api::*;
pub use claim::Claim;
pub use credit::{Credit, CreditedIdea, HeadMoveCredit, PartyCredit, TrackCredit};
pub use ledger::{EventBody, LedgerEntry, Rule, SignedFault};
pub use measurement::{BudgetKind, Measurements, PairLoad, Pairs, RunLoad, RunOutcome};
pub use signing::{SignatureError, SigningKey, VerifyingKey};

/// The version of the JSON API; every route lives under `/api/{API_VERSION}`.
pub const API_VERSION: &str = "v1";

/// Domain-separated canonical bytes of a value: a tag line, then its JSON with fields in
/// declaration order and maps sorted. Signatures cover these bytes, never a re-encoding
/// chosen by the sender.
pub(crate) fn canonical<T: serde::Serialize>(tag: &str, value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(tag.as_bytes());
    out.push(b'\n');
    // Serialising plain data with string keys into memory cannot fail.
    let json = serde_json::to_vec(value).expect("wire types serialise to JSON");
    out.extend_from_slice(&json);
    out
}
