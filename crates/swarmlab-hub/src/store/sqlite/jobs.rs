//! Verification jobs: created for queued submissions (and for re-checks of a suspended
//! verifier's verdicts), leased to verifiers who did not submit them and, for a re-check,
//! did not give the verdict re-checked. Reports are recorded in `verdicts.rs`; canary jobs
//! live apart, in `canaries.rs`.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use swarmlab_proto::JobLease;

use super::canaries;
use super::tracks::track_in;
use super::{next_id, SqliteStore, Tx};
use crate::store::{JobRecord, StoreError};

pub(super) fn job_from(row: &SqliteRow) -> Result<JobRecord, StoreError> {
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

pub(super) async fn lease(
    s: &SqliteStore,
    verifier: &str,
    now: i64,
    deadline: i64,
) -> Result<Option<JobLease>, StoreError> {
    let mut tx = s.pool().begin().await?;
    canaries::refuse_suspended(&mut tx, verifier).await?;
    let row = sqlx::query(
        "SELECT j.* FROM jobs j JOIN submissions s ON s.id = j.submission_id \
         WHERE (j.state = 'open' OR (j.state = 'leased' AND j.lease_deadline_ms <= $1)) \
         AND s.worker <> $2 \
         AND NOT EXISTS (SELECT 1 FROM job_leases l WHERE l.job_id = j.id AND l.verifier = $2 AND l.outcome = 'fault') \
         AND (j.recheck_of IS NULL OR NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.id = j.recheck_of AND v.verifier = $2)) \
         ORDER BY j.id LIMIT 1",
    )
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
    sqlx::query("UPDATE submissions SET status = 'verifying' WHERE id = $1 AND status = 'queued'")
        .bind(job.submission_id)
        .execute(&mut *tx)
        .await?;
    canaries::count_down(&mut tx, verifier).await?;
    let track = track_in(&mut tx, &job.track).await?;
    tx.commit().await?;
    Ok(Some(JobLease {
        job_id: job.id,
        track: job.track,
        candidate: job.candidate,
        base: job.base,
        metric: track.metric,
        goal: track.rule.goal.as_str().to_string(),
        reruns: track.rule.reruns.max(2),
        deadline_ms: deadline,
    }))
}

pub(super) async fn get(s: &SqliteStore, job_id: i64) -> Result<Option<JobRecord>, StoreError> {
    sqlx::query("SELECT * FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_optional(s.reader())
        .await?
        .map(|r| job_from(&r))
        .transpose()
}

pub(super) async fn held(s: &SqliteStore, job_id: i64, verifier: &str) -> Result<bool, StoreError> {
    Ok(
        sqlx::query("SELECT job_id FROM job_leases WHERE job_id = $1 AND verifier = $2")
            .bind(job_id)
            .bind(verifier)
            .fetch_optional(s.reader())
            .await?
            .is_some(),
    )
}
