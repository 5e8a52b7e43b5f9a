//! Canaries: decided submissions whose right verdict a maintainer knows, handed to verifiers
//! as jobs of their own (`canary_jobs`, numbered from the jobs' counter). A verifier whose
//! measurements decide one the other way is suspended in the same transaction: its leased
//! jobs go back to the queue and every verdict it gave within the re-check window becomes a
//! new job for someone else (`jobs.recheck_of`), with a ledger entry that says so.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use swarmlab_proto::{CanaryInfo, EventBody, JobLease};

use super::ledger::append;
use super::tracks::track_in;
use super::{next_id, to_json, SqliteStore, Tx};
use crate::store::{Canary, JobRecord, Report, ReportKind, ReportOutcome, StoreError};

const EXPECTATIONS: &[&str] = &["accept", "reject"];

fn canary_from(row: &SqliteRow) -> Result<Canary, StoreError> {
    Ok(Canary {
        id: row.try_get("id")?,
        track: row.try_get("track")?,
        submission_id: row.try_get("submission_id")?,
        candidate: row.try_get("candidate")?,
        base: row.try_get("base")?,
        expect: row.try_get("expect")?,
    })
}

fn info_from(row: &SqliteRow) -> Result<CanaryInfo, StoreError> {
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

pub(super) async fn add(
    s: &SqliteStore,
    submission_id: i64,
    expect: &str,
    note: &str,
    by: &str,
    now: i64,
) -> Result<CanaryInfo, StoreError> {
    if !EXPECTATIONS.contains(&expect) {
        return Err(StoreError::Conflict(format!(
            "a canary expects `accept` or `reject`, not `{expect}`"
        )));
    }
    let mut tx = s.pool().begin().await?;
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
    .bind(expect)
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

pub(super) async fn list(s: &SqliteStore) -> Result<Vec<CanaryInfo>, StoreError> {
    sqlx::query(&format!("{INFO} WHERE c.retired_ms IS NULL ORDER BY c.id"))
        .fetch_all(s.reader())
        .await?
        .iter()
        .map(info_from)
        .collect()
}

pub(super) async fn due(
    s: &SqliteStore,
    verifier: &str,
    pick: u64,
) -> Result<Option<Canary>, StoreError> {
    let countdown =
        sqlx::query("SELECT jobs_until_canary FROM verifier_standing WHERE verifier = $1")
            .bind(verifier)
            .fetch_optional(s.reader())
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
    .fetch_all(s.reader())
    .await?;
    if canaries.is_empty() {
        return Ok(None);
    }
    let index = usize::try_from(pick % canaries.len() as u64).unwrap_or(0);
    canary_from(&canaries[index]).map(Some)
}

/// Refuses a suspended verifier, inside the transaction that would give it work.
pub(super) async fn refuse_suspended(tx: &mut Tx<'_>, verifier: &str) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT suspended_reason FROM verifier_standing WHERE verifier = $1 AND suspended_ms IS NOT NULL",
    )
    .bind(verifier)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(row) => Err(StoreError::Forbidden(format!(
            "this verifier is suspended ({}); a maintainer can reinstate it",
            row.try_get::<Option<String>, _>("suspended_reason")?
                .unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

/// One real job leased: one fewer before the verifier's next canary.
pub(super) async fn count_down(tx: &mut Tx<'_>, verifier: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO verifier_standing (verifier, jobs_until_canary) VALUES ($1, 0) \
         ON CONFLICT (verifier) DO UPDATE SET jobs_until_canary = \
         CASE WHEN verifier_standing.jobs_until_canary > 0 THEN verifier_standing.jobs_until_canary - 1 ELSE 0 END",
    )
    .bind(verifier)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn lease(
    s: &SqliteStore,
    verifier: &str,
    canary: &Canary,
    candidate: &str,
    now: i64,
    deadline: i64,
    next: u32,
) -> Result<JobLease, StoreError> {
    let mut tx = s.pool().begin().await?;
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
    Ok(JobLease {
        job_id: id,
        track: canary.track.clone(),
        candidate: candidate.to_string(),
        base: canary.base.clone(),
        metric: track.metric,
        goal: track.rule.goal.as_str().to_string(),
        reruns: track.rule.reruns.max(2),
        deadline_ms: deadline,
    })
}

/// A canary job as a job: what a verifier may fetch and report on.
pub(super) async fn job(s: &SqliteStore, job_id: i64) -> Result<Option<JobRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT j.*, c.submission_id FROM canary_jobs j JOIN canaries c ON c.id = j.canary_id WHERE j.id = $1",
    )
    .bind(job_id)
    .fetch_optional(s.reader())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(JobRecord {
        id: row.try_get("id")?,
        submission_id: row.try_get("submission_id")?,
        track: row.try_get("track")?,
        candidate: row.try_get("candidate")?,
        base: row.try_get("base")?,
        state: row.try_get("state")?,
        verifier: Some(row.try_get("verifier")?),
        lease_deadline_ms: row.try_get("lease_deadline_ms")?,
        canary_id: Some(row.try_get("canary_id")?),
        recheck_of: None,
    }))
}

/// Records a report on canary job `report.job_id`; `NotFound` when there is none.
pub(super) async fn record_report(
    s: &SqliteStore,
    mut tx: Tx<'_>,
    report: &Report,
    now: i64,
) -> Result<ReportOutcome, StoreError> {
    let row = sqlx::query(
        "SELECT j.*, c.expect FROM canary_jobs j JOIN canaries c ON c.id = j.canary_id WHERE j.id = $1",
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
    let expect: String = row.try_get("expect")?;
    let (decision, reason) = match &report.kind {
        ReportKind::Continue => {
            sqlx::query("UPDATE canary_jobs SET partial = $1 WHERE id = $2")
                .bind(to_json(&report.measurements))
                .bind(report.job_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(ReportOutcome::Continued);
        }
        ReportKind::Fault => ("fault", None),
        ReportKind::Reject { reason, .. } => ("reject", Some(reason.clone())),
        ReportKind::Accept { .. } => ("accept", None),
    };
    let passed = (decision != "fault").then_some(decision == expect);
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
        let track: String = row.try_get("track")?;
        let why = format!(
            "decided canary job {} `{decision}` where `{expect}` was right",
            report.job_id
        );
        let rechecked = suspend(s, &mut tx, &report.verifier, &why, now).await?;
        let event = EventBody::VerifierSuspended {
            verifier: report.verifier.clone(),
            canary_job: report.job_id,
            expected: expect,
            decision: decision.to_string(),
            measurements: report.measurements.clone(),
            verifier_signature: report.signature.clone(),
            rechecked_verdicts: rechecked,
        };
        append(s, &mut tx, &track, now, event).await?;
    }
    tx.commit().await?;
    Ok(match decision {
        "fault" => ReportOutcome::Retry,
        _ => ReportOutcome::Recorded {
            accepted: decision == "accept",
            reason,
        },
    })
}

/// Suspends `verifier`: its leased jobs go back to the queue, and each verdict it gave within
/// the re-check window that is not being re-checked yet becomes a new job. Returns the ids of
/// those verdicts.
async fn suspend(
    s: &SqliteStore,
    tx: &mut Tx<'_>,
    verifier: &str,
    why: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    sqlx::query(
        "INSERT INTO verifier_standing (verifier, jobs_until_canary, suspended_ms, suspended_reason) \
         VALUES ($1, 0, $2, $3) \
         ON CONFLICT (verifier) DO UPDATE SET suspended_ms = $2, suspended_reason = $3",
    )
    .bind(verifier)
    .bind(now)
    .bind(why)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE submissions SET status = 'queued' WHERE status = 'verifying' AND id IN \
         (SELECT submission_id FROM jobs WHERE verifier = $1 AND state = 'leased')",
    )
    .bind(verifier)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE jobs SET state = 'open', verifier = NULL, lease_deadline_ms = NULL \
         WHERE verifier = $1 AND state = 'leased'",
    )
    .bind(verifier)
    .execute(&mut **tx)
    .await?;
    let verdicts = sqlx::query(
        "SELECT v.id, j.submission_id, j.track, j.candidate, j.base FROM verdicts v \
         JOIN jobs j ON j.id = v.job_id \
         WHERE v.verifier = $1 AND v.at_ms >= $2 \
         AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.recheck_of = v.id) ORDER BY v.id",
    )
    .bind(verifier)
    .bind(now.saturating_sub(s.recheck_window_ms))
    .fetch_all(&mut **tx)
    .await?;
    let mut rechecked = Vec::with_capacity(verdicts.len());
    for v in verdicts {
        let verdict: i64 = v.try_get("id")?;
        let id = next_id(tx, "job").await?;
        sqlx::query(
            "INSERT INTO jobs (id, submission_id, track, candidate, base, state, created_ms, recheck_of) \
             VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)",
        )
        .bind(id)
        .bind(v.try_get::<i64, _>("submission_id")?)
        .bind(v.try_get::<String, _>("track")?)
        .bind(v.try_get::<String, _>("candidate")?)
        .bind(v.try_get::<String, _>("base")?)
        .bind(now)
        .bind(verdict)
        .execute(&mut **tx)
        .await?;
        rechecked.push(verdict);
    }
    Ok(rechecked)
}

pub(super) async fn suspension(
    s: &SqliteStore,
    verifier: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query(
        "SELECT suspended_reason FROM verifier_standing WHERE verifier = $1 AND suspended_ms IS NOT NULL",
    )
    .bind(verifier)
    .fetch_optional(s.reader())
    .await?
    .map(|row| row.try_get::<Option<String>, _>("suspended_reason"))
    .transpose()?
    .map(Option::unwrap_or_default))
}

pub(super) async fn reinstate(s: &SqliteStore, verifier: &str) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE verifier_standing SET suspended_ms = NULL, suspended_reason = NULL \
         WHERE verifier = $1 AND suspended_ms IS NOT NULL",
    )
    .bind(verifier)
    .execute(s.pool())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(StoreError::NotFound(format!(
            "suspended verifier `{verifier}`"
        )));
    }
    Ok(())
}

/// Ends canary jobs whose lease expired; they are not handed to anyone else.
pub(super) async fn expire(tx: &mut Tx<'_>, now: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE canary_jobs SET state = 'done', decision = 'expired', decided_ms = $1 \
         WHERE state = 'leased' AND lease_deadline_ms <= $1",
    )
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}
