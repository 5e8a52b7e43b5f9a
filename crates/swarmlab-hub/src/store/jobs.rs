//! Verification jobs: created for queued submissions (and for re-checks of a suspended
//! verifier's verdicts), leased to verifiers who did not submit them and, for a re-check,
//! did not give the verdict re-checked. Reports are recorded in `verdicts.rs`; canary jobs
//! live apart, in `canaries.rs`, but share the jobs' ids, so reading a job or extending its
//! lease looks there too: a verifier must not tell the two apart.

use sqlx::any::AnyRow;
use sqlx::Row;
use swarmlab_proto::JobLease;

use super::canaries::canary_job;
use super::columns::next_id;
use super::heartbeats::Leased;
use super::standing::{count_down, refuse_suspended};
use super::tracks::track_in;
use super::{Store, StoreError, Tx};
use crate::domain::acceptance::{reruns_asked, reruns_cap};
use crate::domain::job::JobRecord;
use crate::domain::track::TrackRecord;

pub(super) fn job_from(row: &AnyRow) -> Result<JobRecord, StoreError> {
    Ok(JobRecord {
        id: row.try_get("id")?,
        submission_id: row.try_get("submission_id")?,
        track: row.try_get("track")?,
        candidate: row.try_get("candidate")?,
        base: row.try_get("base")?,
        state: row.try_get("state")?,
        verifier: row.try_get("verifier")?,
        lease_deadline_ms: row.try_get("lease_deadline_ms")?,
        canary_id: None,
        recheck_of: row.try_get("recheck_of")?,
    })
}

/// What a verifier is told of a job it leased: what to run and how often, never the claim.
pub(super) fn job_lease(
    id: i64,
    track: &TrackRecord,
    candidate: String,
    base: String,
    deadline: i64,
) -> JobLease {
    JobLease {
        job_id: id,
        track: track.name.clone(),
        candidate,
        base,
        metric: track.metric.clone(),
        goal: track.rule.goal.as_str().to_string(),
        reruns: reruns_asked(&track.rule),
        max_reruns: Some(reruns_cap(&track.rule)),
        deadline_ms: deadline,
    }
}

pub(super) async fn insert_job(
    tx: &mut Tx<'_>,
    submission_id: i64,
    track: &str,
    candidate: &str,
    base: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let id = next_id(tx, "job").await?;
    sqlx::query(
        "INSERT INTO jobs (id, submission_id, track, candidate, base, state, created_ms) VALUES ($1, $2, $3, $4, $5, 'open', $6)",
    )
    .bind(id)
    .bind(submission_id)
    .bind(track)
    .bind(candidate)
    .bind(base)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// The oldest open job (an expired lease counts as open) that `verifier` did not submit, has
/// not faulted on and, for a re-check, did not give the verdict of.
const NEXT_JOB: &str = "SELECT j.* FROM jobs j JOIN submissions s ON s.id = j.submission_id \
     WHERE (j.state = 'open' OR (j.state = 'leased' AND j.lease_deadline_ms <= $1)) \
     AND s.worker <> $2 \
     AND NOT EXISTS (SELECT 1 FROM job_leases l WHERE l.job_id = j.id AND l.verifier = $2 AND l.outcome = 'fault') \
     AND (j.recheck_of IS NULL OR NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.id = j.recheck_of AND v.verifier = $2)) \
     ORDER BY j.id LIMIT 1";

impl Store {
    /// The oldest open job that `verifier` may take, leased to it.
    pub async fn lease_job(
        &self,
        verifier: &str,
        now: i64,
        deadline: i64,
    ) -> Result<Option<JobLease>, StoreError> {
        let mut tx = self.begin().await?;
        refuse_suspended(&mut tx, verifier).await?;
        let row = sqlx::query(NEXT_JOB)
            .bind(now)
            .bind(verifier)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let job = job_from(&row)?;
        sqlx::query(
            "UPDATE jobs SET state = 'leased', verifier = $1, lease_deadline_ms = $2 WHERE id = $3",
        )
        .bind(verifier)
        .bind(deadline)
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO job_leases (job_id, verifier, leased_ms) VALUES ($1, $2, $3) ON CONFLICT (job_id, verifier) DO NOTHING",
        )
        .bind(job.id)
        .bind(verifier)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // A re-check leaves a decided submission as it is.
        sqlx::query(
            "UPDATE submissions SET status = 'verifying' WHERE id = $1 AND status = 'queued'",
        )
        .bind(job.submission_id)
        .execute(&mut *tx)
        .await?;
        count_down(&mut tx, verifier).await?;
        let track = track_in(&mut tx, &job.track).await?;
        tx.commit().await?;
        Ok(Some(job_lease(
            job.id,
            &track,
            job.candidate,
            job.base,
            deadline,
        )))
    }

    /// Extends `verifier`'s live lease on a job (or a canary job) to `deadline`.
    pub async fn heartbeat_job(
        &self,
        job_id: i64,
        verifier: &str,
        now: i64,
        deadline: i64,
    ) -> Result<(), StoreError> {
        let job = self
            .heartbeats
            .extend(&self.pool, Leased::Job, job_id, verifier, now, deadline)
            .await;
        match job {
            Err(StoreError::Conflict(why)) => {
                // Job ids are shared with canary jobs, which a verifier must not tell apart.
                self.heartbeats
                    .extend(
                        &self.pool,
                        Leased::CanaryJob,
                        job_id,
                        verifier,
                        now,
                        deadline,
                    )
                    .await
                    .map_err(|_| StoreError::Conflict(why))
            }
            other => other,
        }
    }

    /// A job, or a canary job as a job: what a verifier may fetch and report on.
    pub async fn job(&self, job_id: i64) -> Result<Option<JobRecord>, StoreError> {
        let job = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(&self.reader)
            .await?
            .map(|r| job_from(&r))
            .transpose()?;
        match job {
            Some(job) => Ok(Some(job)),
            None => canary_job(&self.reader, job_id).await,
        }
    }

    /// Whether `verifier` ever held a lease on the job.
    pub async fn held_job(&self, job_id: i64, verifier: &str) -> Result<bool, StoreError> {
        let held = sqlx::query("SELECT job_id FROM job_leases WHERE job_id = $1 AND verifier = $2")
            .bind(job_id)
            .bind(verifier)
            .fetch_optional(&self.reader)
            .await?
            .is_some();
        Ok(held
            || canary_job(&self.reader, job_id)
                .await?
                .is_some_and(|job| job.verifier.as_deref() == Some(verifier)))
    }
}
