//! A verifier's report on a leased job: the hub checks who signed which measurements,
//! judges them by the track's rule (`acceptance.rs`, the only place a verdict is reached)
//! with the noise of earlier reports on the same head and hardware class (`prior.rs`),
//! has the store record the judgement, and answers the verifier. The first decisive report
//! of a job wins; a verifier's fault is retried on another verifier, until enough distinct
//! verifiers faulted and the submission ends `unverifiable` (`acceptance::gives_up`).

use swarmlab_proto::{signing, Measurements, ReportRequest, ReportResponse, RunOutcome};

use super::acceptance::{judge, Judgement, Pairing, VerdictReason};
use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::Hub;
use super::identity::Identity;
use super::job::JobRecord;
use super::prior::Prior;
use super::roles::{require, Action};

/// A verifier's signed report, judged.
#[derive(Debug, Clone)]
pub struct Report {
    pub job_id: i64,
    pub verifier: String,
    pub measurements: Measurements,
    pub signature: String,
    pub judgement: Judgement,
    /// The earlier verdicts whose reruns the test could pool (`prior.rs`), cited by the
    /// verdict's ledger entry so that an audit decides as the hub did.
    pub prior: Vec<i64>,
}

/// What recording a report did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportOutcome {
    Continued,
    Retry,
    Rejected(VerdictReason),
    /// Enough distinct verifiers faulted: the job ended, and its submission (unless the job
    /// was a re-check) was rejected as `unverifiable`.
    Unverifiable {
        submission_id: i64,
    },
    /// The head moved to the candidate.
    Accepted {
        head: String,
    },
    /// The candidate won but the head had moved: it must be rebased and verified again.
    Reverify {
        submission_id: i64,
    },
    /// Decided, and recorded without moving anything: a canary job, or a re-check of a
    /// submission already on the chain. The verifier is answered as for any job.
    Recorded {
        accepted: bool,
        reason: Option<VerdictReason>,
    },
}

impl Hub {
    /// Records a verifier's signed measurements and applies the acceptance rule.
    pub async fn report(
        &self,
        caller: &Identity,
        job_id: i64,
        req: ReportRequest,
    ) -> Result<ReportResponse, HubError> {
        require(caller, Action::Report)?;
        check_signed(caller, job_id, &req)?;
        let job = self.job(job_id).await?;
        let track = self.track(&job.track).await?;
        let m = &req.measurements;
        // The verifier never saw the claim; acceptance holds it up to the measurements.
        let claimed = match m.outcome {
            RunOutcome::Ok => self
                .store
                .claim(job.submission_id)
                .await?
                .and_then(|c| c.metrics.get(&track.metric).copied()),
            _ => None,
        };
        let prior = match m.outcome {
            RunOutcome::Ok => {
                let earlier = self
                    .store
                    .earlier_reports(&job.track, &job.base, job.id)
                    .await?;
                Prior::of(
                    &m.hardware_class,
                    Pairing::of(m),
                    earlier.iter().map(|(id, m)| (*id, m)),
                )
            }
            _ => None,
        };
        let judgement = judge(m, &track.rule, claimed, prior.as_ref())?;
        let report = Report {
            job_id,
            verifier: caller.id.clone(),
            measurements: req.measurements.clone(),
            signature: req.signature.clone(),
            judgement,
            prior: prior.map(|p| p.verdicts).unwrap_or_default(),
        };
        let outcome = self.store.record_report(&report, self.now()).await?;
        self.announce(&job, &outcome);
        let (decision, reason) = match outcome {
            ReportOutcome::Continued => ("continue", None),
            ReportOutcome::Retry => ("retry", None),
            ReportOutcome::Rejected(reason) => ("rejected", Some(reason)),
            ReportOutcome::Unverifiable { .. } => ("rejected", Some(VerdictReason::Unverifiable)),
            ReportOutcome::Accepted { .. } => ("accepted", None),
            ReportOutcome::Recorded { accepted, reason } => {
                (if accepted { "accepted" } else { "rejected" }, reason)
            }
            ReportOutcome::Reverify { .. } => {
                self.reverify_pending().await?;
                ("reverify", None)
            }
        };
        Ok(ReportResponse {
            decision: decision.into(),
            reason: reason.map(|r| r.as_str().to_string()),
            p_value: judgement.p_value(),
            reruns: u32::try_from(req.measurements.reruns()).ok(),
        })
    }

    /// Tells listeners what a report changed.
    fn announce(&self, job: &JobRecord, outcome: &ReportOutcome) {
        let event = |kind| HubEvent::new(kind, &job.track).about(job.submission_id);
        // A canary's verdict is nobody's business: no event names its submission.
        if job.canary_id.is_none() {
            self.publish(event(EventKind::Verdict));
        }
        if matches!(outcome, ReportOutcome::Accepted { .. }) {
            self.publish(event(EventKind::Head));
        }
    }
}

/// Refuses measurements that name another job or verifier, lack a hardware class, or are
/// not signed by the caller's key.
fn check_signed(caller: &Identity, job_id: i64, req: &ReportRequest) -> Result<(), HubError> {
    let m = &req.measurements;
    if m.job_id != job_id || m.verifier_id != caller.id {
        return Err(HubError::BadRequest(
            "the measurements name another job or verifier".into(),
        ));
    }
    let class = &m.hardware_class;
    if class.trim().is_empty() || class.len() > 100 {
        return Err(HubError::BadRequest(
            "measurements need a hardware_class of 1 to 100 characters".into(),
        ));
    }
    let key = caller
        .public_key
        .as_deref()
        .and_then(|k| signing::parse_public_key(k).ok())
        .ok_or_else(|| HubError::Forbidden("this verifier has no signing key".into()))?;
    signing::verify(&key, &m.signed_bytes(), &req.signature)
        .map_err(|e| HubError::BadRequest(format!("measurements: {e}")))
}
