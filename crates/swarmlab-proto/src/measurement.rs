//! What a verifier reports for one job: how the runs ended and the metric values measured.

use serde::{Deserialize, Serialize};

/// How a verifier's runs of a candidate ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// The runs finished and printed the metric.
    Ok,
    /// The candidate crashed: the submission's fault, final.
    Crash,
    /// The candidate overran its timeout: the submission's fault, final.
    Timeout,
    /// The verifier itself failed (sandbox, disk, device): the job is retried elsewhere.
    VerifierFault,
}

/// Signed measurements of the candidate and of the head, on one hardware class. A verifier
/// may report a prefix of its reruns; the hub answers whether to go on (sequential testing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    pub job_id: i64,
    pub verifier_id: String,
    pub hardware_class: String,
    pub outcome: RunOutcome,
    /// The metric of each rerun of the candidate.
    pub candidate: Vec<f64>,
    /// The metric of each rerun of the head, on the same hardware class.
    pub head: Vec<f64>,
    /// Free text for faults, crashes and timeouts.
    pub detail: Option<String>,
    /// The verifier ran the candidate outside any sandbox (`swarmlab verify --sandbox off`):
    /// trusted code only. Left out of the signed bytes when false, so that the reports of
    /// sandboxed verifiers sign as they always did.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unsandboxed: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Measurements {
    /// The bytes the verifier's signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        crate::canonical("swarmlab/measurements/v1", self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(unsandboxed: bool) -> Measurements {
        Measurements {
            job_id: 3,
            verifier_id: "v1".into(),
            hardware_class: "cpu-x2".into(),
            outcome: RunOutcome::Ok,
            candidate: vec![1.0],
            head: vec![2.0],
            detail: None,
            unsandboxed,
        }
    }

    #[test]
    fn a_sandboxed_report_signs_the_bytes_it_always_signed_and_an_unsandboxed_one_says_so() {
        let before = "swarmlab/measurements/v1\n{\"job_id\":3,\"verifier_id\":\"v1\",\
            \"hardware_class\":\"cpu-x2\",\"outcome\":\"ok\",\"candidate\":[1.0],\"head\":[2.0],\
            \"detail\":null}";
        assert_eq!(measured(false).signed_bytes(), before.as_bytes());
        let unsandboxed = String::from_utf8(measured(true).signed_bytes()).unwrap();
        assert!(
            unsandboxed.ends_with(",\"unsandboxed\":true}"),
            "{unsandboxed}"
        );
        let old: Measurements = serde_json::from_str(&before[before.find('{').unwrap()..]).unwrap();
        assert_eq!(old, measured(false));
    }
}
