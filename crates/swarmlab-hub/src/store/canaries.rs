//! Canaries: decided submissions whose right verdict a maintainer knows, handed to verifiers
//! as jobs of their own (`canary_jobs`, numbered from the jobs' counter). A verifier whose
//! measurements decide one the other way (`acceptance::canary_passed`) is suspended in the
//! same transaction (`standing.rs`), with a ledger entry that says so.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use swarmlab_proto::{CanaryInfo, EventBody, JobLease};

use super::columns::{next_id, to_json};
use super::jobs::{job_from, job_lease};
use super::standing::refuse_suspended;
use super::tracks::track_in;
use super::{Store, StoreError, Tx};
use crate::domain::acceptance::{canary_passed, Judgement};
use crate::domain::canary::{Canary, Expect};
use crate::domain::job::JobRecord;
use crate::domain::report::{Report, ReportOutcome};

fn expect_from(text: &str) -> Result<Expect, StoreError> {
    Expect::parse(text).ok_or_else(|| StoreError::Corrupt(format!("canary expects `{text}`")))
}

fn canary_from(row: &AnyRow) -> Result<Canary, StoreError> {
    Ok(Canary {
        id: row.try_get("id")?,
        track: row.try_get("track")?,
        submission_id: row.try_get("submission_id")?,
        candidate: row.try_get("candidate")?,
        base: row.try_get("base")?,
        expect: expect_from(&row.try_get::<String, _>("expect")?)?,
    })
}

fn info_from(row: &AnyRow) -> Result<CanaryInfo, StoreError> {
    let count = |name: &str| -> Result<u32, StoreError> {
        Ok(u32::try_from(row.try_get::<i64, _>(name)?).unwrap_or(u32::MAX))
    };
    Ok(CanaryInfo {
        id: row.try_get("id")?,
        track: row.try_get("track")?,
        submission_id: row.try_get("submission_id")?,
        expect: row.try_get("expect")?,
        note: row.try_get("note")?,
        checks: count("checks")?,
        failures: count("failures")?,
        created_ms: row.try_get("created_ms")?,
    })
}

const INFO: &str = "SELECT c.*, \
    (SELECT COUNT(*) FROM canary_jobs j WHERE j.canary_id = c.id AND j.passed IS NOT NULL) AS checks, \
    (SELECT COUNT(*) FROM canary_jobs j WHERE j.canary_id = c.id AND j.passed = FALSE) AS failures \
    FROM canaries c";

/// A canary job as a job: what a verifier may fetch and report on.
pub(super) async fn canary_job<'e>(
    db: impl Executor<'e, Database = Any>,
    job_id: i64,
) -> Result<Option<JobRecord>, StoreError> {
    // The columns of a job's row: a canary job is never a re-check.
    let row = sqlx::query(
        "SELECT j.id, j.canary_id, j.track, j.candidate, j.base, j.state, j.verifier, j.lease_deadline_ms, \
         c.submission_id, CAST(NULL AS BIGINT) AS recheck_of \
         FROM canary_jobs j JOIN canaries c ON c.id = j.canary_id WHERE j.id = $1",
    )
    .bind(job_id)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(JobRecord {
        canary_id: Some(row.try_get("canary_id")?),
        ..job_from(&row)?
    }))
}

/// Ends canary jobs whose lease expired; they are not handed to anyone else.
pub(super) async fn expire_canary_jobs(tx: &mut Tx<'_>, now: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE canary_jobs SET state = 'done', decision = 'expired', decided_ms = $1 \
         WHERE state = 'leased' AND lease_deadline_ms <= $1",
    )
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

impl Store {
    /// Makes a decided submission a canary that verifiers should decide as `expect` says.
    pub async fn add_canary(
        &self,
        submission_id: i64,
        expect: Expect,
        note: &str,
        by: &str,
        now: i64,
    ) -> Result<CanaryInfo, StoreError> {
        let mut tx = self.begin().await?;
        // Only a submission that was verified has a candidate and a base a verifier can run.
        let row = sqlx::query(
            "SELECT s.track, s.candidate, s.base FROM submissions s \
             WHERE s.id = $1 AND s.candidate IS NOT NULL AND s.base IS NOT NULL \
             AND EXISTS (SELECT 1 FROM verdicts v WHERE v.submission_id = s.id)",
        )
        .bind(submission_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "verified submission {submission_id} (a canary is made of a submission a verifier decided)"
            ))
        })?;
        let id = next_id(&mut tx, "canary").await?;
        sqlx::query(
            "INSERT INTO canaries (id, track, submission_id, candidate, base, expect, note, added_by, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(row.try_get::<String, _>("track")?)
        .bind(submission_id)
        .bind(row.try_get::<String, _>("candidate")?)
        .bind(row.try_get::<String, _>("base")?)
        .bind(expect.as_str())
        .bind(note)
        .bind(by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let info = sqlx::query(&format!("{INFO} WHERE c.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let info = info_from(&info)?;
        tx.commit().await?;
        Ok(info)
    }

    /// Every active canary, with how verifiers fared on it.
    pub async fn canaries(&self) -> Result<Vec<CanaryInfo>, StoreError> {
        sqlx::query(&format!("{INFO} WHERE c.retired_ms IS NULL ORDER BY c.id"))
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(info_from)
            .collect()
    }

    /// The canary `verifier` is due, if it is due one: the `pick`-th (modulo their number)
    /// of the canaries it did not submit.
    pub async fn canary_due(
        &self,
        verifier: &str,
        pick: u64,
    ) -> Result<Option<Canary>, StoreError> {
        let countdown =
            sqlx::query("SELECT jobs_until_canary FROM verifier_standing WHERE verifier = $1")
                .bind(verifier)
                .fetch_optional(&self.reader)
                .await?;
        if let Some(row) = countdown {
            if row.try_get::<i64, _>("jobs_until_canary")? > 0 {
                return Ok(None);
            }
        }
        let canaries = sqlx::query(
            "SELECT c.* FROM canaries c JOIN submissions s ON s.id = c.submission_id \
         WHERE c.retired_ms IS NULL AND s.worker <> $1 ORDER BY c.id",
        )
        .bind(verifier)
        .fetch_all(&self.reader)
        .await?;
        if canaries.is_empty() {
            return Ok(None);
        }
        let index = usize::try_from(pick % canaries.len() as u64).unwrap_or(0);
        canary_from(&canaries[index]).map(Some)
    }

    /// Leases `canary` to `verifier` as a job of `candidate` (the canary's tree under a
    /// fresh commit); its next canary comes after `next` real jobs.
    #[allow(clippy::too_many_arguments)]
    pub async fn lease_canary(
        &self,
        verifier: &str,
        canary: &Canary,
        candidate: &str,
        now: i64,
        deadline: i64,
        next: u32,
    ) -> Result<JobLease, StoreError> {
        let mut tx = self.begin().await?;
        refuse_suspended(&mut tx, verifier).await?;
        let id = next_id(&mut tx, "job").await?;
        sqlx::query(
            "INSERT INTO canary_jobs (id, canary_id, track, candidate, base, verifier, state, lease_deadline_ms, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, 'leased', $7, $8)",
        )
        .bind(id)
        .bind(canary.id)
        .bind(&canary.track)
        .bind(candidate)
        .bind(&canary.base)
        .bind(verifier)
        .bind(deadline)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO verifier_standing (verifier, jobs_until_canary) VALUES ($1, $2) \
         ON CONFLICT (verifier) DO UPDATE SET jobs_until_canary = $2",
        )
        .bind(verifier)
        .bind(i64::from(next))
        .execute(&mut *tx)
        .await?;
        let track = track_in(&mut tx, &canary.track).await?;
        tx.commit().await?;
        Ok(job_lease(
            id,
            &track,
            candidate.to_string(),
            canary.base.clone(),
            deadline,
        ))
    }

    /// Records a report on canary job `report.job_id`, inside `tx`; `NotFound` when there is
    /// none. A wrong verdict suspends the verifier in the same transaction.
    pub(super) async fn record_canary_report(
        &self,
        mut tx: Tx<'_>,
        report: &Report,
        now: i64,
    ) -> Result<ReportOutcome, StoreError> {
        let row = sqlx::query(
            "SELECT j.verifier, j.state, c.expect FROM canary_jobs j JOIN canaries c ON c.id = j.canary_id WHERE j.id = $1",
        )
        .bind(report.job_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("job {}", report.job_id)))?;
        if row.try_get::<String, _>("verifier")? != report.verifier {
            return Err(StoreError::Forbidden(format!(
                "job {} was never leased to you",
                report.job_id
            )));
        }
        if row.try_get::<String, _>("state")? == "done" {
            return Err(StoreError::Conflict(format!(
                "job {} is already decided",
                report.job_id
            )));
        }
        let expect = expect_from(&row.try_get::<String, _>("expect")?)?;
        let verdict = match &report.judgement {
            Judgement::Continue { .. } => {
                sqlx::query("UPDATE canary_jobs SET partial = $1 WHERE id = $2")
                    .bind(to_json(&report.measurements))
                    .bind(report.job_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(ReportOutcome::Continued);
            }
            Judgement::Fault => None,
            Judgement::Verdict(verdict) => Some(*verdict),
        };
        let decision = verdict.map_or("fault", |v| v.decision());
        let passed = verdict.map(|v| canary_passed(&v, expect));
        sqlx::query(
            "UPDATE canary_jobs SET state = 'done', lease_deadline_ms = NULL, decision = $1, passed = $2, \
             measurements = $3, decided_ms = $4 WHERE id = $5",
        )
        .bind(decision)
        .bind(passed)
        .bind(to_json(&report.measurements))
        .bind(now)
        .bind(report.job_id)
        .execute(&mut *tx)
        .await?;
        if passed == Some(false) {
            let why = format!(
                "decided canary job {} `{decision}` where `{}` was right",
                report.job_id,
                expect.as_str()
            );
            let rechecked = self.suspend(&mut tx, &report.verifier, &why, now).await?;
            let event = EventBody::VerifierSuspended {
                verifier: report.verifier.clone(),
                canary_job: report.job_id,
                expected: expect.as_str().to_string(),
                decision: decision.to_string(),
                measurements: report.measurements.clone(),
                verifier_signature: report.signature.clone(),
                rechecked_verdicts: rechecked,
            };
            self.tell_ledgers(&mut tx, &report.verifier, now, &event)
                .await?;
        }
        tx.commit().await?;
        Ok(match verdict {
            None => ReportOutcome::Retry,
            Some(verdict) => ReportOutcome::Recorded {
                accepted: verdict.reason().is_none(),
                reason: verdict.reason(),
            },
        })
    }
}
