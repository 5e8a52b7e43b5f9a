//! Recording a verifier's report: partial measurements, a fault, or a verdict that
//! rejects the submission or moves the head by compare-and-swap on the parent. A verdict
//! keeps the head's reruns per hardware class, the sample the noise is estimated from.
//! A re-check of a submission already on the chain moves nothing: a rejecting one marks the
//! submission disputed. Reports on canary jobs are recorded in `canaries.rs`.

use sqlx::Row;
use swarmlab_proto::EventBody;

use super::canaries;
use super::jobs::job_from;
use super::ledger::append;
use super::quotas;
use super::tracks::{snapshot_in, track_in};
use super::{next_id, to_json, SqliteStore};
use crate::store::{HeadRuns, Report, ReportKind, ReportOutcome, StoreError};

/// Rejections that make a claim false: the worker said it was better and it was not, or it
/// did not even run. Each costs the worker one from its quota.
const FALSE_CLAIMS: &[&str] = &["not_better", "not_reproduced", "crash", "timeout"];

pub(super) async fn record_report(
    s: &SqliteStore,
    report: &Report,
    now: i64,
) -> Result<ReportOutcome, StoreError> {
    let mut tx = s.pool().begin().await?;
    canaries::refuse_suspended(&mut tx, &report.verifier).await?;
    let job = sqlx::query("SELECT * FROM jobs WHERE id = $1")
        .bind(report.job_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(job) = job else {
        return canaries::record_report(s, tx, report, now).await;
    };
    let job = job_from(&job)?;
    if job.state == "done" {
        return Err(StoreError::Conflict(format!(
            "job {} is already decided",
            job.id
        )));
    }
    let held = sqlx::query("SELECT outcome FROM job_leases WHERE job_id = $1 AND verifier = $2")
        .bind(job.id)
        .bind(&report.verifier)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(held) = held else {
        return Err(StoreError::Forbidden(format!(
            "job {} was never leased to you",
            job.id
        )));
    };
    if held.try_get::<Option<String>, _>("outcome")?.as_deref() == Some("fault") {
        return Err(StoreError::Conflict(format!(
            "you reported a fault on job {}; it was reissued",
            job.id
        )));
    }
    let (decision, reason, p_value) = match &report.kind {
        ReportKind::Continue => {
            sqlx::query("UPDATE jobs SET partial = $1 WHERE id = $2")
                .bind(to_json(&report.measurements))
                .bind(job.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(ReportOutcome::Continued);
        }
        ReportKind::Fault => {
            sqlx::query(
                "UPDATE job_leases SET outcome = 'fault' WHERE job_id = $1 AND verifier = $2",
            )
            .bind(job.id)
            .bind(&report.verifier)
            .execute(&mut *tx)
            .await?;
            if job.verifier.as_deref() == Some(report.verifier.as_str()) {
                sqlx::query("UPDATE jobs SET state = 'open', verifier = NULL, lease_deadline_ms = NULL WHERE id = $1")
                    .bind(job.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE submissions SET status = 'queued' WHERE id = $1 AND status = 'verifying'")
                    .bind(job.submission_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            return Ok(ReportOutcome::Retry);
        }
        ReportKind::Reject { reason, p_value } => ("reject", Some(reason.clone()), *p_value),
        ReportKind::Accept { p_value } => ("accept", None, Some(*p_value)),
    };
    let track = track_in(&mut tx, &job.track).await?;
    let verdict_id = next_id(&mut tx, "verdict").await?;
    sqlx::query(
        "INSERT INTO verdicts (id, job_id, submission_id, verifier, decision, reason, p_value, measurements, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(verdict_id)
    .bind(job.id)
    .bind(job.submission_id)
    .bind(&report.verifier)
    .bind(decision)
    .bind(&reason)
    .bind(p_value)
    .bind(to_json(&report.measurements))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // The head's reruns measure the base this job was verified against, whatever the head
    // is now.
    let head: Vec<f64> = report
        .measurements
        .head
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    sqlx::query(
        "INSERT INTO head_measurements (track, commit_id, hardware_class, verdict_id, rerun, value) \
         SELECT $1, $2, $3, $4, key, value FROM json_each($5)",
    )
    .bind(&job.track)
    .bind(&job.base)
    .bind(&report.measurements.hardware_class)
    .bind(verdict_id)
    .bind(to_json(&head))
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE jobs SET state = 'done', lease_deadline_ms = NULL WHERE id = $1")
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
    let event = EventBody::Verdict {
        verdict_id,
        submission_id: job.submission_id,
        candidate: job.candidate.clone(),
        base: job.base.clone(),
        decision: decision.to_string(),
        reason: reason.clone(),
        p_value,
        rule: track.rule,
        measurements: report.measurements.clone(),
        verifier_signature: report.signature.clone(),
    };
    let verdict_seq = append(s, &mut tx, &job.track, now, event).await?;
    // The track's new state, for the cache once the head move is committed.
    let mut moved_track = None;
    let submission = sqlx::query("SELECT worker, status FROM submissions WHERE id = $1")
        .bind(job.submission_id)
        .fetch_one(&mut *tx)
        .await?;
    let worker: String = submission.try_get("worker")?;
    let on_chain = submission.try_get::<String, _>("status")? == "accepted";
    let outcome = if job.recheck_of.is_some() && on_chain {
        if reason.is_some() {
            sqlx::query("UPDATE submissions SET disputed_by = $1 WHERE id = $2")
                .bind(verdict_id)
                .bind(job.submission_id)
                .execute(&mut *tx)
                .await?;
        }
        ReportOutcome::Recorded {
            accepted: reason.is_none(),
            reason,
        }
    } else if let Some(reason) = reason {
        sqlx::query("UPDATE submissions SET status = 'rejected', reason = $1 WHERE id = $2")
            .bind(&reason)
            .bind(job.submission_id)
            .execute(&mut *tx)
            .await?;
        // A re-check does not charge the worker twice for one claim.
        if FALSE_CLAIMS.contains(&reason.as_str()) && job.recheck_of.is_none() {
            quotas::shrink(s, &mut tx, &worker, 1).await?;
        }
        ReportOutcome::Rejected(reason)
    } else {
        // Compare-and-swap on the parent: the head moves only from the commit measured.
        let moved = sqlx::query("UPDATE tracks SET head = $1 WHERE name = $2 AND head = $3")
            .bind(&job.candidate)
            .bind(&job.track)
            .bind(&job.base)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved == 1 {
            let seq: i64 = sqlx::query("SELECT MAX(seq) AS m FROM chain WHERE track = $1")
                .bind(&job.track)
                .fetch_one(&mut *tx)
                .await?
                .try_get("m")?;
            sqlx::query("INSERT INTO chain (track, seq, commit_id, parent, submission_id, at_ms) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&job.track)
                .bind(seq + 1)
                .bind(&job.candidate)
                .bind(&job.base)
                .bind(job.submission_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE submissions SET status = 'accepted', reason = NULL WHERE id = $1")
                .bind(job.submission_id)
                .execute(&mut *tx)
                .await?;
            let event = EventBody::HeadMove {
                from: job.base.clone(),
                to: job.candidate.clone(),
                submission_id: job.submission_id,
                verdict_seq,
            };
            append(s, &mut tx, &job.track, now, event).await?;
            moved_track = snapshot_in(&mut tx, &job.track).await?;
            quotas::grow(s, &mut tx, &worker).await?;
            ReportOutcome::Accepted {
                head: job.candidate.clone(),
            }
        } else {
            sqlx::query("UPDATE submissions SET status = 'reverify' WHERE id = $1")
                .bind(job.submission_id)
                .execute(&mut *tx)
                .await?;
            ReportOutcome::Reverify {
                submission_id: job.submission_id,
            }
        }
    };
    tx.commit().await?;
    if let Some(moved) = moved_track {
        s.tracks.put(moved);
    }
    Ok(outcome)
}

pub(super) async fn head_runs(
    s: &SqliteStore,
    track: &str,
    commit: &str,
) -> Result<Vec<HeadRuns>, StoreError> {
    let rows = sqlx::query(
        "SELECT hardware_class, value FROM head_measurements WHERE track = $1 AND commit_id = $2 \
         ORDER BY hardware_class, verdict_id, rerun",
    )
    .bind(track)
    .bind(commit)
    .fetch_all(s.reader())
    .await?;
    let mut out: Vec<HeadRuns> = Vec::new();
    for row in rows {
        let class: String = row.try_get("hardware_class")?;
        let value: f64 = row.try_get("value")?;
        match out.last_mut() {
            Some(runs) if runs.hardware_class == class => runs.values.push(value),
            _ => out.push(HeadRuns {
                hardware_class: class,
                values: vec![value],
            }),
        }
    }
    Ok(out)
}
