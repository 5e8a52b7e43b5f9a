//! Leases: ideas to workers and verification jobs to verifiers, each with a deadline that
//! heartbeats push back. An expired lease returns its item to the queue, at the next lease
//! (on read) or at the periodic sweep. Verifier reports land here too: a verifier's fault
//! is retried on another verifier, a submission's fault is final, and the first decisive
//! report of a job wins. A candidate rejected although its worker claimed a clear gain is
//! rejected as `not_reproduced`, not `not_better`.

use swarmlab_core::Goal;
use swarmlab_proto::{
    signing, HeadNoise, IdeaInfo, JobLease, LeaseDeadline, ReportRequest, ReportResponse, Role,
    Rule, RunOutcome,
};

use crate::event::{EventKind, HubEvent};
use crate::stats::mean_var;
use crate::store::{Identity, Report, ReportKind, ReportOutcome, Swept};
use crate::verdict::{decide, effective_reruns, Decision};
use crate::{Hub, HubError};

fn require(caller: &Identity, role: Role) -> Result<(), HubError> {
    if caller.role == role {
        Ok(())
    } else {
        Err(HubError::Forbidden(format!(
            "this needs the {} role",
            role.as_str()
        )))
    }
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whether a rejected candidate failed to reproduce its claim: the worker claimed the metric
/// better than the head's measured mean by more than `min_delta`, and the candidate's
/// measured mean is not. The means are of the reruns the rule looked at.
fn unreproduced(claimed: f64, candidate: &[f64], head: &[f64], rule: &Rule) -> bool {
    let n = candidate.len().min(head.len()).min(effective_reruns(rule));
    if n == 0 {
        return false;
    }
    let mean = |xs: &[f64]| xs[..n].iter().sum::<f64>() / n as f64;
    let head = mean(head);
    let gain = |value: f64| match rule.goal {
        Goal::Minimize => head - value,
        Goal::Maximize => value - head,
    };
    gain(claimed) > rule.min_delta && gain(mean(candidate)) <= rule.min_delta
}

impl Hub {
    fn idea_deadline(&self) -> (i64, i64) {
        let now = self.now();
        (now, now.saturating_add(millis(self.config.idea_lease)))
    }

    fn job_deadline(&self) -> (i64, i64) {
        let now = self.now();
        (now, now.saturating_add(millis(self.config.job_lease)))
    }

    /// Leases the oldest open idea of a track to a worker; `None` when the queue is empty.
    pub async fn lease_idea(
        &self,
        caller: &Identity,
        track: &str,
    ) -> Result<Option<IdeaInfo>, HubError> {
        require(caller, Role::Worker)?;
        let (now, deadline) = self.idea_deadline();
        let leased = self
            .store
            .lease_idea(track, &caller.id, now, deadline)
            .await?;
        if leased.is_some() {
            self.publish(HubEvent::new(EventKind::Idea, track));
        }
        Ok(leased)
    }

    /// Extends the caller's lease on an idea.
    pub async fn heartbeat_idea(
        &self,
        caller: &Identity,
        id: i64,
    ) -> Result<LeaseDeadline, HubError> {
        let (now, deadline) = self.idea_deadline();
        self.store
            .heartbeat_idea(id, &caller.id, now, deadline)
            .await?;
        Ok(LeaseDeadline {
            deadline_ms: deadline,
        })
    }

    /// Marks the caller's leased idea done.
    pub async fn finish_idea(&self, caller: &Identity, id: i64) -> Result<(), HubError> {
        Ok(self.store.finish_idea(id, &caller.id, self.now()).await?)
    }

    /// Leases the oldest open verification job the caller did not submit, or a canary when
    /// the caller is due one.
    pub async fn lease_job(&self, caller: &Identity) -> Result<Option<JobLease>, HubError> {
        require(caller, Role::Verifier)?;
        let (now, deadline) = self.job_deadline();
        if let Some(canary) = self.lease_canary(caller, now, deadline).await? {
            return Ok(Some(canary));
        }
        let lease = self.store.lease_job(&caller.id, now, deadline).await?;
        if let Some(lease) = &lease {
            self.publish(HubEvent::new(EventKind::Lease, &lease.track));
        }
        Ok(lease)
    }

    /// Extends the caller's lease on a job.
    pub async fn heartbeat_job(
        &self,
        caller: &Identity,
        job_id: i64,
    ) -> Result<LeaseDeadline, HubError> {
        require(caller, Role::Verifier)?;
        let (now, deadline) = self.job_deadline();
        self.store
            .heartbeat_job(job_id, &caller.id, now, deadline)
            .await?;
        Ok(LeaseDeadline {
            deadline_ms: deadline,
        })
    }

    /// The candidate of a job (with its history) as a git bundle, for a verifier that
    /// leased it.
    pub async fn job_bundle(&self, caller: &Identity, job_id: i64) -> Result<Vec<u8>, HubError> {
        require(caller, Role::Verifier)?;
        let job = self
            .store
            .job(job_id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("job {job_id}")))?;
        if !self.store.held_job(job_id, &caller.id).await? {
            return Err(HubError::Forbidden(format!(
                "job {job_id} was never leased to you"
            )));
        }
        let repo = self.repo(&job.track)?;
        let config = self.config.clone();
        let refname = crate::track::commit_ref(&job.candidate);
        crate::hub::blocking(move || crate::chain::bundle(&repo, &refname, &config)).await
    }

    /// Records a verifier's signed measurements and applies the acceptance rule.
    pub async fn report(
        &self,
        caller: &Identity,
        job_id: i64,
        req: ReportRequest,
    ) -> Result<ReportResponse, HubError> {
        require(caller, Role::Verifier)?;
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
            .map_err(|e| HubError::BadRequest(format!("measurements: {e}")))?;
        let job = self
            .store
            .job(job_id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("job {job_id}")))?;
        let track = self
            .store
            .track(&job.track)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("track `{}`", job.track)))?;
        let (kind, p) = match m.outcome {
            RunOutcome::VerifierFault => (ReportKind::Fault, None),
            RunOutcome::Crash | RunOutcome::Timeout => {
                let reason = if m.outcome == RunOutcome::Crash {
                    "crash"
                } else {
                    "timeout"
                };
                (
                    ReportKind::Reject {
                        reason: reason.into(),
                        p_value: None,
                    },
                    None,
                )
            }
            RunOutcome::Ok => {
                let values = m.candidate.iter().chain(&m.head);
                if m.candidate.is_empty()
                    || m.head.is_empty()
                    || values.clone().any(|v| !v.is_finite())
                {
                    return Err(HubError::BadRequest(
                        "measurements need finite values for both candidate and head".into(),
                    ));
                }
                match decide(&m.candidate, &m.head, &track.rule) {
                    Decision::Accept { p_value } => (ReportKind::Accept { p_value }, Some(p_value)),
                    Decision::Reject { p_value } => {
                        // The verifier never saw the claim; the hub holds it up to the
                        // measurements only now.
                        let claim = self.store.claim(job.submission_id).await?;
                        let claimed = claim.and_then(|c| c.metrics.get(&track.metric).copied());
                        let reason = match claimed {
                            Some(claimed)
                                if unreproduced(claimed, &m.candidate, &m.head, &track.rule) =>
                            {
                                "not_reproduced"
                            }
                            _ => "not_better",
                        };
                        (
                            ReportKind::Reject {
                                reason: reason.into(),
                                p_value: Some(p_value),
                            },
                            Some(p_value),
                        )
                    }
                    Decision::Continue { p_value } => (ReportKind::Continue, p_value),
                }
            }
        };
        let report = Report {
            job_id,
            verifier: caller.id.clone(),
            measurements: req.measurements.clone(),
            signature: req.signature.clone(),
            kind,
        };
        let outcome = self.store.record_report(&report, self.now()).await?;
        let event = |kind| HubEvent::new(kind, &job.track).about(job.submission_id);
        // A canary's verdict is nobody's business: no event names its submission.
        if job.canary_id.is_none() {
            self.publish(event(EventKind::Verdict));
        }
        if matches!(outcome, ReportOutcome::Accepted { .. }) {
            self.publish(event(EventKind::Head));
        }
        let (decision, reason) = match outcome {
            ReportOutcome::Continued => ("continue", None),
            ReportOutcome::Retry => ("retry", None),
            ReportOutcome::Rejected(reason) => ("rejected", Some(reason)),
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
            reason,
            p_value: p,
        })
    }

    /// How the current head's metric spreads between reruns, per hardware class, from the
    /// head reruns of every decisive report against it.
    pub async fn noise(&self, track: &str) -> Result<Vec<HeadNoise>, HubError> {
        let head = self
            .store
            .track(track)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("track `{track}`")))?
            .head;
        let runs = self.store.head_runs(track, &head).await?;
        Ok(runs
            .into_iter()
            .filter(|r| !r.values.is_empty())
            .map(|r| {
                let n = r.values.len();
                let (mean, sd) = match mean_var(&r.values) {
                    Some((mean, var)) => (mean, Some(var.sqrt())),
                    None => (r.values[0], None),
                };
                HeadNoise {
                    hardware_class: r.hardware_class,
                    commit: head.clone(),
                    n: u32::try_from(n).unwrap_or(u32::MAX),
                    mean,
                    sd,
                }
            })
            .collect())
    }

    /// Returns expired leases to their queues and re-queues winners that lost the race for
    /// the head. The server runs it periodically; tests call it after moving the clock.
    pub async fn sweep(&self) -> Result<Swept, HubError> {
        let swept = self.store.sweep(self.now()).await?;
        if swept != Swept::default() {
            // Hub-wide: the sweep does not say which tracks it touched.
            self.publish(HubEvent::new(EventKind::Lease, ""));
        }
        self.reverify_pending().await?;
        Ok(swept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(goal: Goal, min_delta: f64) -> Rule {
        Rule {
            goal,
            alpha: 0.05,
            min_delta,
            reruns: 3,
        }
    }

    #[test]
    fn a_claimed_gain_the_measurements_lack_is_not_reproduced() {
        let head = [1.0, 1.02, 0.98];
        let r = rule(Goal::Minimize, 0.01);
        // Claimed 0.9 against a head at 1.0; measured at 1.0: not reproduced.
        assert!(unreproduced(0.9, &[1.01, 0.99, 1.0], &head, &r));
        // Measured 0.995: a gain, but not above min_delta either.
        assert!(unreproduced(0.9, &[0.995, 0.995, 0.995], &head, &r));
        // Measured 0.98: better by more than min_delta, merely not significant.
        assert!(!unreproduced(0.9, &[0.98, 0.98, 0.98], &head, &r));
        // A claim no better than the head claimed nothing to reproduce.
        assert!(!unreproduced(0.995, &[1.1, 1.1, 1.1], &head, &r));
        // Maximising flips the direction.
        let r = rule(Goal::Maximize, 0.0);
        assert!(unreproduced(1.2, &[0.9, 0.9, 0.9], &head, &r));
        assert!(!unreproduced(0.8, &[0.9, 0.9, 0.9], &head, &r));
        // Only the reruns the rule looks at count.
        assert!(unreproduced(1.2, &[0.9, 0.9, 0.9, 5.0], &head, &r));
    }
}
