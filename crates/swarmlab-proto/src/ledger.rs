//! The ledger's events as they are exported, one JSON object per line, and the bytes that
//! chain them: each entry carries the hash of the previous one and the hub's signature over
//! its own hash.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use swarmlab_core::Goal;

use crate::{Credit, Measurements};

/// The `prev` of a track's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The format of the ledgers a hub writes now, recorded in each track's first entry. Format 3
/// records the idea each submission named and credits every head move
/// ([`EventBody::HeadMove`]'s `credit`), so an audit checks every move's credit whole.
/// Format 2 enrols every verifier's key ([`EventBody::VerifierEnrolled`]) before any report
/// of its can appear, so an audit checks every verifier signature. Format 1 (the field
/// absent) is a ledger begun before verifier keys were recorded: its reports up to its first
/// verifier entry cannot be checked.
pub const FORMAT: u32 = 3;

fn format_one() -> u32 {
    1
}

fn is_format_one(format: &u32) -> bool {
    *format == 1
}

/// The acceptance rule in force for a verdict, copied into it so an audit needs nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// `minimize` or `maximize`.
    pub goal: Goal,
    pub alpha: f64,
    pub min_delta: f64,
    /// Reruns of each side asked for at first.
    pub reruns: u32,
    /// Reruns of each side the sequential test may go on to while the evidence is promising
    /// but not decisive. Absent in rules recorded before it existed: then `reruns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_reruns: Option<u32>,
}

/// What happened. Internally tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A track was added; its head starts at the baseline.
    TrackCreated {
        baseline: String,
        metric: String,
        rule: Rule,
        editable: Vec<String>,
        /// The ledger's [`FORMAT`]; absent (and then 1) in ledgers begun before formats.
        #[serde(default = "format_one", skip_serializing_if = "is_format_one")]
        format: u32,
    },
    /// A verifier may report from here on: reports that `verifier` signs verify against
    /// `public_key`. Every track's ledger enrols every verifier in good standing: when the
    /// verifier is created, when the track is, or when a verifier suspended before the track
    /// existed is reinstated.
    VerifierEnrolled {
        verifier: String,
        /// ed25519, 64 hex digits.
        public_key: String,
    },
    /// A maintainer let a suspended verifier report again, with the key it was enrolled with.
    VerifierReinstated { verifier: String },
    /// A submission went through intake: `status` is `queued`, `invalid` or `rejected`.
    Submission {
        submission_id: i64,
        worker: String,
        parent: String,
        commit: String,
        diff_hash: String,
        status: String,
        reason: Option<String>,
        claim_signature: String,
        /// The idea of the track's queue the worker's signed claim named. Absent when it
        /// named none, and in entries written before ledgers recorded it (format 3).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idea_id: Option<i64>,
    },
    /// A verifier's report decided a job.
    Verdict {
        verdict_id: i64,
        submission_id: i64,
        candidate: String,
        base: String,
        /// `accept` or `reject`.
        decision: String,
        reason: Option<String>,
        p_value: Option<f64>,
        rule: Rule,
        measurements: Measurements,
        verifier_signature: String,
        /// The earlier verdicts (by `verdict_id`, on the same base and hardware class) whose
        /// reruns the test could pool with these measurements' own, when the F-test let it.
        /// Absent when there were none, as in entries written before pooling existed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        prior: Vec<i64>,
    },
    /// A submission ended `rejected` as `unverifiable`: `faults` distinct verifiers (as many
    /// as the hub's `unverifiable_after`, or every verifier it had) reported a fault on its
    /// job, each signed by its verifier.
    Unverifiable {
        submission_id: i64,
        candidate: String,
        base: String,
        /// How many distinct verifiers' faults the hub asked for.
        after: u32,
        faults: Vec<SignedFault>,
    },
    /// The head moved from `from` to `to` on the strength of the verdict at `verdict_seq`.
    HeadMove {
        from: String,
        to: String,
        submission_id: i64,
        verdict_seq: u64,
        /// Who the move is credited to. Absent in entries written before ledgers recorded
        /// credit (format 3), whose bytes are unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credit: Option<Credit>,
    },
    /// A verifier decided a canary (a submission whose right verdict is known) the other way:
    /// it may take no more jobs, and the verdicts it gave recently are verified again. Written
    /// to every track's ledger that enrolled the verifier: none of them may hold a report of
    /// it until a [`EventBody::VerifierReinstated`].
    VerifierSuspended {
        verifier: String,
        canary_job: i64,
        /// `accept` or `reject`: what the canary should get, and what the verifier's
        /// measurements gave.
        expected: String,
        decision: String,
        measurements: Measurements,
        verifier_signature: String,
        /// Ids of the verifier's verdicts (any track) queued to be verified again.
        rechecked_verdicts: Vec<i64>,
    },
    /// A maintainer moved the track's `main` to `commit`, the chain's entry `chain_seq`.
    Promotion {
        commit: String,
        chain_seq: u64,
        /// The admin who promoted it.
        by: String,
    },
}

/// A verifier's fault report as it signed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedFault {
    pub measurements: Measurements,
    pub verifier_signature: String,
}

/// One exported line of a track's ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub seq: u64,
    pub track: String,
    pub at_ms: i64,
    /// The `hash` of the previous entry, [`GENESIS`] for the first.
    pub prev: String,
    pub event: EventBody,
    /// SHA-256 (hex) of [`LedgerEntry::hashed_bytes`].
    pub hash: String,
    /// The hub's ed25519 signature (hex) over the hash's 32 bytes.
    pub signature: String,
}

#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    track: &'a str,
    at_ms: i64,
    prev: &'a str,
    event: &'a EventBody,
}

impl LedgerEntry {
    /// The bytes the entry's hash covers: everything but the hash and the signature.
    pub fn hashed_bytes(&self) -> Vec<u8> {
        crate::canonical(
            "swarmlab/ledger/v1",
            &Hashed {
                seq: self.seq,
                track: &self.track,
                at_ms: self.at_ms,
                prev: &self.prev,
                event: &self.event,
            },
        )
    }

    /// SHA-256 of [`LedgerEntry::hashed_bytes`], as 64 hex digits.
    pub fn compute_hash(&self) -> String {
        hex::encode(Sha256::digest(self.hashed_bytes()))
    }

    /// The entry as its exported line (without the newline).
    pub fn to_line(&self) -> String {
        // Plain data with string keys always serialises.
        serde_json::to_string(self).expect("ledger entries serialise to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_track_created_before_formats_reads_as_format_one_and_keeps_its_bytes() {
        let old = r#"{"kind":"track_created","baseline":"b0","metric":"loss","rule":{"goal":"minimize","alpha":0.05,"min_delta":0.0,"reruns":3},"editable":["a"]}"#;
        let event: EventBody = serde_json::from_str(old).unwrap();
        assert!(matches!(event, EventBody::TrackCreated { format: 1, .. }));
        assert_eq!(serde_json::to_string(&event).unwrap(), old);
        let EventBody::TrackCreated {
            baseline,
            metric,
            rule,
            editable,
            ..
        } = event
        else {
            unreachable!()
        };
        let now = EventBody::TrackCreated {
            baseline,
            metric,
            rule,
            editable,
            format: FORMAT,
        };
        let text = serde_json::to_string(&now).unwrap();
        assert!(text.ends_with(r#""editable":["a"],"format":3}"#), "{text}");
    }

    #[test]
    fn head_moves_and_submissions_from_before_credit_keep_their_bytes() {
        for old in [
            r#"{"kind":"head_move","from":"b0","to":"c1","submission_id":1,"verdict_seq":3}"#,
            r#"{"kind":"submission","submission_id":1,"worker":"w","parent":"b0","commit":"c1","diff_hash":"00","status":"queued","reason":null,"claim_signature":"s"}"#,
        ] {
            let event: EventBody = serde_json::from_str(old).unwrap();
            assert!(matches!(
                event,
                EventBody::HeadMove { credit: None, .. }
                    | EventBody::Submission { idea_id: None, .. }
            ));
            assert_eq!(serde_json::to_string(&event).unwrap(), old);
        }
        let credited = EventBody::HeadMove {
            from: "b0".into(),
            to: "c1".into(),
            submission_id: 1,
            verdict_seq: 3,
            credit: Some(Credit {
                finder: "w".into(),
                verifiers: vec!["v".into()],
                gain: 0.25,
                idea: Some(crate::CreditedIdea {
                    id: 4,
                    author: "a".into(),
                }),
            }),
        };
        let text = serde_json::to_string(&credited).unwrap();
        assert!(
            text.ends_with(r#""credit":{"finder":"w","verifiers":["v"],"gain":0.25,"idea":{"id":4,"author":"a"}}}"#),
            "{text}"
        );
    }
}
