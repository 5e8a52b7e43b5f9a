//! The verifiers a ledger has enrolled, as an audit replays them (`audit.rs`): which key each
//! verifier held and whether it was suspended, entry by entry, and the check of one signed
//! report against that. It reads no store: everything comes from the ledger's own entries
//! (`verifier_enrolled`, `verifier_suspended`, `verifier_reinstated`), which the store writes
//! into every track's ledger (`store/roster.rs`).

use std::collections::HashMap;

use swarmlab_proto::signing::{self, VerifyingKey};
use swarmlab_proto::Measurements;

use super::audit::AuditError;

/// What became of one signed report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Its signature verifies against the key of a verifier enrolled and not suspended.
    Verified,
    /// It predates the verifier keys of a ledger begun before they were recorded: nothing to
    /// check it against.
    Unchecked,
}

/// One enrolled verifier: its key, where it was enrolled, and where it was suspended if it
/// is now.
struct Enrolled {
    key: VerifyingKey,
    line: usize,
    suspended_at: Option<usize>,
}

/// The verifiers known so far, by id.
pub struct Roster {
    verifiers: HashMap<String, Enrolled>,
    /// Whether every report must be checked from here on: from the start in a ledger of
    /// format 2 or later, from its first enrolment in one of format 1.
    recording: bool,
}

impl Roster {
    /// The roster of a ledger of `format` (its `track_created` entry's).
    pub fn new(format: u32) -> Roster {
        Roster {
            verifiers: HashMap::new(),
            recording: format >= 2,
        }
    }

    /// Enrols `verifier` with `public_key` at `line`; a verifier is enrolled once.
    pub fn enroll(
        &mut self,
        line: usize,
        verifier: &str,
        public_key: &str,
    ) -> Result<(), AuditError> {
        let standing = |why: &str| standing(line, verifier, why);
        let key = signing::parse_public_key(public_key)
            .map_err(|e| standing(&format!("enrolled with a bad key: {e}")))?;
        if let Some(known) = self.verifiers.get(verifier) {
            return Err(standing(&format!(
                "already enrolled at line {}",
                known.line
            )));
        }
        self.verifiers.insert(
            verifier.to_string(),
            Enrolled {
                key,
                line,
                suspended_at: None,
            },
        );
        self.recording = true;
        Ok(())
    }

    /// Suspends `verifier` at `line`, once [`Roster::check`] passed the canary report it is
    /// suspended on (so it was not suspended already). In a ledger that does not record keys
    /// yet the verifier may be unknown; then there is nothing to suspend.
    pub fn suspend(&mut self, line: usize, verifier: &str) -> Result<(), AuditError> {
        match self.verifiers.get_mut(verifier) {
            Some(enrolled) => {
                enrolled.suspended_at = Some(line);
                Ok(())
            }
            None if !self.recording => Ok(()),
            None => Err(standing(line, verifier, "suspended but never enrolled")),
        }
    }

    /// Lifts the suspension of `verifier` at `line`.
    pub fn reinstate(&mut self, line: usize, verifier: &str) -> Result<(), AuditError> {
        match self.verifiers.get_mut(verifier) {
            Some(enrolled) if enrolled.suspended_at.is_some() => {
                enrolled.suspended_at = None;
                Ok(())
            }
            Some(_) => Err(standing(line, verifier, "reinstated but not suspended")),
            None => Err(standing(line, verifier, "reinstated but never enrolled")),
        }
    }

    /// Checks the report `measurements`, signed `signature`, that entry `line` counts: its
    /// verifier (the one the measurements name, the one whose key the hub checked) must be
    /// enrolled and not suspended, and the signature must verify over the report's bytes.
    pub fn check(
        &self,
        line: usize,
        measurements: &Measurements,
        signature: &str,
    ) -> Result<Checked, AuditError> {
        let verifier = &measurements.verifier_id;
        let Some(enrolled) = self.verifiers.get(verifier) else {
            if self.recording {
                return Err(AuditError::UnknownVerifier {
                    line,
                    verifier: verifier.clone(),
                });
            }
            return Ok(Checked::Unchecked);
        };
        if let Some(suspended_at) = enrolled.suspended_at {
            return Err(AuditError::SuspendedVerifier {
                line,
                verifier: verifier.clone(),
                suspended_at,
            });
        }
        signing::verify(&enrolled.key, &measurements.signed_bytes(), signature).map_err(|_| {
            AuditError::ForgedReport {
                line,
                verifier: verifier.clone(),
                enrolled_at: enrolled.line,
            }
        })?;
        Ok(Checked::Verified)
    }
}

fn standing(line: usize, verifier: &str, why: &str) -> AuditError {
    AuditError::Standing {
        line,
        verifier: verifier.to_string(),
        why: why.to_string(),
    }
}

#[cfg(test)]
mod tests {
    //! Ledgers built and sealed here as a hub would (or as a hub that lies would: the hub's
    //! key signs whatever it is given), audited offline.

    use super::*;
    use crate::domain::audit::{audit, AuditReport};
    use crate::domain::test_ledger::{head_move, sealed};
    use swarmlab_core::Goal;
    use swarmlab_proto::signing::SigningKey;
    use swarmlab_proto::{EventBody, Rule, RunOutcome, SignedFault};

    const HUB: [u8; 32] = [1; 32];

    fn rule() -> Rule {
        Rule {
            goal: Goal::Minimize,
            alpha: 0.05,
            min_delta: 0.0,
            reruns: 3,
            max_reruns: None,
        }
    }

    /// Verifier `v1`'s key, `v2`'s, and a key no ledger enrols.
    fn key(verifier: &str) -> SigningKey {
        let seed = match verifier {
            "v1" => 11,
            "v2" => 12,
            _ => 99,
        };
        signing::signing_key(&[seed; 32])
    }

    fn measured(verifier: &str, job_id: i64, outcome: RunOutcome) -> Measurements {
        Measurements {
            job_id,
            verifier_id: verifier.into(),
            hardware_class: "cpu".into(),
            outcome,
            candidate: vec![0.5, 0.51, 0.49],
            head: vec![1.0, 1.01, 0.99],
            detail: None,
            unsandboxed: false,
            pairs: None,
        }
    }

    /// A report of `verifier` signed with `signer`'s key.
    fn signed_by(signer: &str, m: &Measurements) -> String {
        signing::sign(&key(signer), &m.signed_bytes())
    }

    fn created(format: u32) -> EventBody {
        EventBody::TrackCreated {
            baseline: "b0".into(),
            metric: "loss".into(),
            rule: rule(),
            editable: vec!["a".into()],
            format,
        }
    }

    fn enrolled(verifier: &str) -> EventBody {
        EventBody::VerifierEnrolled {
            verifier: verifier.into(),
            public_key: signing::public_key_hex(&key(verifier)),
        }
    }

    fn verdict(m: Measurements, signature: String) -> EventBody {
        EventBody::Verdict {
            verdict_id: 1,
            submission_id: 1,
            candidate: "c1".into(),
            base: "b0".into(),
            decision: "accept".into(),
            reason: None,
            p_value: None,
            rule: rule(),
            measurements: m,
            verifier_signature: signature,
            prior: Vec::new(),
        }
    }

    /// `v1`'s genuine report on job 1, as its verdict.
    fn genuine() -> EventBody {
        let m = measured("v1", 1, RunOutcome::Ok);
        let signature = signed_by("v1", &m);
        verdict(m, signature)
    }

    /// `verifier` suspended on its own signed (wrong) canary report.
    fn suspended(verifier: &str) -> EventBody {
        let m = measured(verifier, 50, RunOutcome::Ok);
        EventBody::VerifierSuspended {
            verifier: verifier.into(),
            canary_job: 50,
            expected: "reject".into(),
            decision: "accept".into(),
            verifier_signature: signed_by(verifier, &m),
            measurements: m,
            rechecked_verdicts: vec![],
        }
    }

    fn audited(events: Vec<EventBody>) -> Result<AuditReport, AuditError> {
        let hub = signing::signing_key(&HUB);
        audit(&sealed(&hub, events), &hub.verifying_key())
    }

    #[test]
    fn a_genuine_ledger_audits_with_every_verifier_signature_checked() {
        let report = audited(vec![
            created(2),
            enrolled("v1"),
            enrolled("v2"),
            genuine(),
            head_move(3),
        ])
        .unwrap();
        assert_eq!(
            (report.verifiers, report.signatures, report.unchecked),
            (2, 1, 0)
        );
        assert_eq!(report.head, "c1");
        assert_eq!(
            report.signatures_line(),
            "1 verifier signature checked against 2 enrolled keys"
        );
    }

    #[test]
    fn a_report_signed_with_another_key_is_a_forgery() {
        let m = measured("v1", 1, RunOutcome::Ok);
        for signer in ["v2", "nobody"] {
            let forged = verdict(m.clone(), signed_by(signer, &m));
            assert_eq!(
                audited(vec![created(2), enrolled("v1"), enrolled("v2"), forged]),
                Err(AuditError::ForgedReport {
                    line: 4,
                    verifier: "v1".into(),
                    enrolled_at: 2
                })
            );
        }
        let unsigned = verdict(m, "00".repeat(64));
        assert!(matches!(
            audited(vec![created(2), enrolled("v1"), unsigned]),
            Err(AuditError::ForgedReport { line: 3, .. })
        ));
    }

    #[test]
    fn a_measured_value_altered_after_signing_is_caught() {
        let mut m = measured("v1", 1, RunOutcome::Ok);
        let signature = signed_by("v1", &m);
        // Still a clear win, so only the signature can tell.
        m.candidate[2] = 0.48;
        let altered = verdict(m, signature);
        let err = audited(vec![created(2), enrolled("v1"), altered, head_move(2)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: the report of `v1` does not verify against the key enrolled at line 2: \
             it was forged or altered after signing"
        );
    }

    #[test]
    fn a_report_of_a_suspended_verifier_fails_until_it_is_reinstated() {
        let err =
            audited(vec![created(2), enrolled("v1"), suspended("v1"), genuine()]).unwrap_err();
        assert_eq!(
            err,
            AuditError::SuspendedVerifier {
                line: 4,
                verifier: "v1".into(),
                suspended_at: 3
            }
        );
        assert_eq!(
            err.to_string(),
            "line 4: a report signed by `v1`, suspended at line 3 and not reinstated"
        );
        let report = audited(vec![
            created(2),
            enrolled("v1"),
            suspended("v1"),
            EventBody::VerifierReinstated {
                verifier: "v1".into(),
            },
            genuine(),
        ])
        .unwrap();
        // The canary report of the suspension and the verdict.
        assert_eq!((report.signatures, report.suspensions), (2, 1));
    }

    #[test]
    fn a_report_of_a_verifier_never_enrolled_fails() {
        let err = audited(vec![created(2), enrolled("v2"), genuine()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: a report signed by `v1`, a verifier this ledger never enrolled"
        );
        // Before any enrolment too: a ledger of format 2 records keys from its start.
        assert!(matches!(
            audited(vec![created(2), genuine()]),
            Err(AuditError::UnknownVerifier { line: 2, .. })
        ));
    }

    #[test]
    fn an_old_ledger_counts_reports_before_its_first_enrolment_as_unchecked() {
        let report = audited(vec![created(1), genuine(), enrolled("v1"), genuine()]).unwrap();
        assert_eq!((report.signatures, report.unchecked), (1, 1));
        // Once it records keys, an unknown verifier fails as in a new ledger.
        assert!(matches!(
            audited(vec![created(1), enrolled("v2"), genuine()]),
            Err(AuditError::UnknownVerifier { line: 3, .. })
        ));
    }

    #[test]
    fn a_faults_signature_is_checked_too() {
        let fault = |verifier: &str, signer: &str| {
            let m = Measurements {
                candidate: vec![],
                head: vec![],
                ..measured(verifier, 7, RunOutcome::VerifierFault)
            };
            SignedFault {
                verifier_signature: signed_by(signer, &m),
                measurements: m,
            }
        };
        let unverifiable = |faults| EventBody::Unverifiable {
            submission_id: 1,
            candidate: "c1".into(),
            base: "b0".into(),
            after: 2,
            faults,
        };
        let good = unverifiable(vec![fault("v1", "v1"), fault("v2", "v2")]);
        let report = audited(vec![created(2), enrolled("v1"), enrolled("v2"), good]).unwrap();
        assert_eq!((report.unverifiable, report.signatures), (1, 2));
        let forged = unverifiable(vec![fault("v1", "v1"), fault("v2", "v1")]);
        assert!(matches!(
            audited(vec![created(2), enrolled("v1"), enrolled("v2"), forged]),
            Err(AuditError::ForgedReport { line: 4, ref verifier, .. }) if verifier == "v2"
        ));
    }

    #[test]
    fn standing_entries_must_follow_each_other() {
        let reinstated = EventBody::VerifierReinstated {
            verifier: "v1".into(),
        };
        for (events, why) in [
            (
                vec![created(2), enrolled("v1"), enrolled("v1")],
                "verifier `v1` already enrolled at line 2",
            ),
            (
                vec![created(2), enrolled("v1"), reinstated.clone()],
                "verifier `v1` reinstated but not suspended",
            ),
            (
                vec![created(2), reinstated],
                "verifier `v1` reinstated but never enrolled",
            ),
            (
                vec![created(2), suspended("v1")],
                "a report signed by `v1`, a verifier this ledger never enrolled",
            ),
            (
                // Its canary report came while it was suspended.
                vec![created(2), enrolled("v1"), suspended("v1"), suspended("v1")],
                "a report signed by `v1`, suspended at line 3 and not reinstated",
            ),
        ] {
            let err = audited(events).unwrap_err().to_string();
            assert!(err.ends_with(why), "{err}");
        }
        let mut on_anothers = suspended("v2");
        if let EventBody::VerifierSuspended { verifier, .. } = &mut on_anothers {
            *verifier = "v1".into();
        }
        let err = audited(vec![
            created(2),
            enrolled("v1"),
            enrolled("v2"),
            on_anothers,
        ]);
        assert_eq!(
            err.unwrap_err().to_string(),
            "line 4: verifier `v1` is suspended on another verifier's report"
        );
        let bad_key = EventBody::VerifierEnrolled {
            verifier: "v1".into(),
            public_key: "not hex".into(),
        };
        assert!(matches!(
            audited(vec![created(2), bad_key]),
            Err(AuditError::Standing { line: 2, .. })
        ));
    }
}
