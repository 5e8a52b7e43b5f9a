//! What a verifier reports for one job: how the runs ended, the metric values measured, and
//! how the reruns were made (their seeds, their budget, the machine's load during each), which
//! tells the hub whether it may pair them.

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
    /// How the reruns were made: `candidate[i]` and `head[i]` are a pair. Absent in reports
    /// of verifiers that predate it (and then absent from the signed bytes too): the hub
    /// does not pair their reruns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<Pairs>,
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Measurements {
    /// The bytes the verifier's signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        crate::canonical("swarmlab/measurements/v1", self)
    }

    /// Reruns of each side that were measured: the number of complete pairs.
    pub fn reruns(&self) -> usize {
        self.candidate.len().min(self.head.len())
    }
}

/// The conditions of the rerun pairs: pair `i` ran the candidate and the head one right after
/// the other (in alternating order), with the same seed `seeds[i]`, under the same budget, so
/// that they differ by the change and share the machine's load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pairs {
    /// The seed of each pair, in order.
    pub seeds: Vec<u64>,
    /// What both sides' budget counts. With `steps` or `tokens` a run does the same work on
    /// any load; with `time` it does what the machine allowed.
    pub budget: BudgetKind,
    /// What the verifier saw of its machine during each pair's runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<PairLoad>,
}

/// What a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetKind {
    Time,
    Steps,
    Tokens,
}

impl BudgetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetKind::Time => "time",
            BudgetKind::Steps => "steps",
            BudgetKind::Tokens => "tokens",
        }
    }
}

/// The load during one pair's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairLoad {
    pub candidate: RunLoad,
    pub head: RunLoad,
}

/// The machine's load during one run, as the verifier saw it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunLoad {
    /// Seconds the run took, scoring included.
    pub wall_s: f64,
    /// CPU seconds the run's processes used (user and system).
    pub cpu_s: f64,
    /// The one-minute load average when the run ended (`/proc/loadavg`).
    pub load_avg: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(pairs: Option<Pairs>) -> Measurements {
        Measurements {
            job_id: 3,
            verifier_id: "v".into(),
            hardware_class: "cpu".into(),
            outcome: RunOutcome::Ok,
            candidate: vec![1.0, 2.0],
            head: vec![1.5, 2.5],
            detail: None,
            unsandboxed: false,
            pairs,
        }
    }

    #[test]
    fn measurements_without_pairs_sign_the_bytes_they_always_signed() {
        let old = r#"{"job_id":3,"verifier_id":"v","hardware_class":"cpu","outcome":"ok","candidate":[1.0,2.0],"head":[1.5,2.5],"detail":null}"#;
        let parsed: Measurements = serde_json::from_str(old).unwrap();
        assert_eq!(parsed, measured(None));
        let mut expected = b"swarmlab/measurements/v1\n".to_vec();
        expected.extend_from_slice(old.as_bytes());
        assert_eq!(parsed.signed_bytes(), expected);
    }

    #[test]
    fn pairs_are_signed_and_read_back() {
        let run = RunLoad {
            wall_s: 12.5,
            cpu_s: 24.0,
            load_avg: 2.25,
        };
        let m = measured(Some(Pairs {
            seeds: vec![7, 8],
            budget: BudgetKind::Steps,
            load: vec![PairLoad {
                candidate: run,
                head: run,
            }],
        }));
        let text = serde_json::to_string(&m).unwrap();
        assert!(
            text.contains(r#""pairs":{"seeds":[7,8],"budget":"steps""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Measurements>(&text).unwrap(), m);
        assert_ne!(m.signed_bytes(), measured(None).signed_bytes());
        assert_eq!(m.reruns(), 2);
    }

    fn sandboxed(unsandboxed: bool) -> Measurements {
        Measurements {
            job_id: 3,
            verifier_id: "v1".into(),
            hardware_class: "cpu-x2".into(),
            outcome: RunOutcome::Ok,
            candidate: vec![1.0],
            head: vec![2.0],
            detail: None,
            unsandboxed,
            pairs: None,
        }
    }

    #[test]
    fn a_sandboxed_report_signs_the_bytes_it_always_signed_and_an_unsandboxed_one_says_so() {
        let before = "swarmlab/measurements/v1\n{\"job_id\":3,\"verifier_id\":\"v1\",\
            \"hardware_class\":\"cpu-x2\",\"outcome\":\"ok\",\"candidate\":[1.0],\"head\":[2.0],\
            \"detail\":null}";
        assert_eq!(sandboxed(false).signed_bytes(), before.as_bytes());
        let unsandboxed = String::from_utf8(sandboxed(true).signed_bytes()).unwrap();
        assert!(
            unsandboxed.ends_with(",\"unsandboxed\":true}"),
            "{unsandboxed}"
        );
        let old: Measurements = serde_json::from_str(&before[before.find('{').unwrap()..]).unwrap();
        assert_eq!(old, sandboxed(false));
    }
}
