//! Verification jobs: one per queued submission (and per re-check of a suspended verifier's
//! verdict), leased to a verifier who did not submit it, with a deadline that heartbeats push
//! back; an expired lease returns the job to the queue. Now and then a verifier is handed a
//! canary instead (`canary.rs`), which nothing in the lease tells apart. What a verifier
//! reports on a job is `report.rs`.

use swarmlab_proto::{JobLease, LeaseDeadline};

use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::{blocking, Hub};
use super::identity::Identity;
use super::roles::{require, Action};

/// A verification job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: i64,
    pub submission_id: i64,
    pub track: String,
    pub candidate: String,
    pub base: String,
    /// `open`, `leased` or `done`.
    pub state: String,
    pub verifier: Option<String>,
    pub lease_deadline_ms: Option<i64>,
    /// A canary job: the canary it tests its verifier with (`submission_id` is the canary's
    /// submission, whose claim it carries).
    pub canary_id: Option<i64>,
    /// A re-check: the verdict (of a suspended verifier) this job verifies again.
    pub recheck_of: Option<i64>,
}

impl Hub {
    /// Leases the oldest open verification job the caller did not submit, or a canary when
    /// the caller is due one.
    pub async fn lease_job(&self, caller: &Identity) -> Result<Option<JobLease>, HubError> {
        require(caller, Action::LeaseJob)?;
        let (now, deadline) = self.lease_from_now(self.config.job_lease);
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
        require(caller, Action::HeartbeatJob)?;
        let (now, deadline) = self.lease_from_now(self.config.job_lease);
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
        require(caller, Action::FetchJob)?;
        let job = self.job(job_id).await?;
        if !self.store.held_job(job_id, &caller.id).await? {
            return Err(HubError::Forbidden(format!(
                "job {job_id} was never leased to you"
            )));
        }
        let repo = self.repo(&job.track)?;
        let config = self.config.clone();
        let refname = super::track::commit_ref(&job.candidate);
        blocking(move || super::chain::bundle(&repo, &refname, &config)).await
    }

    /// A job, a canary job included; not found when there is none.
    pub(crate) async fn job(&self, job_id: i64) -> Result<JobRecord, HubError> {
        self.store
            .job(job_id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("job {job_id}")))
    }
}
