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
    /// Wall seconds of the worker's experiments on the track since its previous submission:
    /// what the search cost, against which the hub weighs what verification costs. Signed
    /// when given; absent (and then absent from the signed bytes too) in the claims of
    /// workers that do not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent_s: Option<f64>,
}

impl Claim {
    /// The bytes the worker's signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        crate::canonical("swarmlab/claim/v1", self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(spent_s: Option<f64>) -> Claim {
        Claim {
            track: "toy".into(),
            parent: "p".into(),
            commit: "c".into(),
            metrics: BTreeMap::from([("loss".to_string(), 0.9)]),
            idea_id: None,
            worker_id: "w".into(),
            nonce: "n".into(),
            spent_s,
        }
    }

    #[test]
    fn a_claim_without_spent_seconds_signs_the_bytes_it_always_signed_and_one_with_signs_them() {
        let old = r#"{"track":"toy","parent":"p","commit":"c","metrics":{"loss":0.9},"idea_id":null,"worker_id":"w","nonce":"n"}"#;
        let parsed: Claim = serde_json::from_str(old).unwrap();
        assert_eq!(parsed, claim(None));
        assert_eq!(
            parsed.signed_bytes(),
            format!("swarmlab/claim/v1\n{old}").into_bytes()
        );
        let spent = String::from_utf8(claim(Some(12.5)).signed_bytes()).unwrap();
        assert!(
            spent.ends_with(r#","nonce":"n","spent_s":12.5}"#),
            "{spent}"
        );
    }
}
