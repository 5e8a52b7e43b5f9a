//! Verifiers' faults on jobs: a fault gives the job back to the queue (its verifier may not
//! take it again) and keeps what the verifier signed; when `acceptance::gives_up` says
//! enough distinct verifiers faulted, the job ends and its submission is rejected as
//! `unverifiable`, its worker charged as for a false claim, with a ledger entry carrying
//! every fault. A re-check job given up leaves its submission's verdict as it is. The sweep
//! asks again about open jobs with faults, for when the hub has fewer verifiers than when
//! they faulted (one was suspended) or asks for fewer faults.

use sqlx::Row;
use swarmlab_proto::{EventBody, FaultInfo, Measurements, SignedFault};

use super::columns::to_json;
use super::jobs::job_from;
use super::{Store, StoreError, Tx};
use crate::domain::acceptance::{gives_up, VerdictReason};
use crate::domain::job::JobRecord;
use crate::domain::report::{Report, ReportOutcome};

impl Store {
    /// Records `report`, a fault on `job`: the job goes back to the queue, or, once enough
    /// distinct verifiers faulted, ends its submission as `unverifiable`.
    pub(super) async fn record_fault(
        &self,
        mut tx: Tx<'_>,
        job: &JobRecord,
        report: &Report,
        now: i64,
    ) -> Result<ReportOutcome, StoreError> {
        give_back(&mut tx, job, report, now).await?;
        let ended = self.give_up_if_due(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(match ended {
            true => ReportOutcome::Unverifiable {
                submission_id: job.submission_id,
            },
            false => ReportOutcome::Retry,
        })
    }

    /// Ends every open job that enough distinct verifiers faulted on, as the rule stands
    /// now. Returns the submissions whose jobs ended.
    pub async fn give_up_due(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "SELECT j.* FROM jobs j WHERE j.state = 'open' AND EXISTS \
             (SELECT 1 FROM job_leases l WHERE l.job_id = j.id AND l.outcome = 'fault') ORDER BY j.id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut ended = Vec::new();
        for row in rows {
            let job = job_from(&row)?;
            if self.give_up_if_due(&mut tx, &job, now).await? {
                ended.push(job.submission_id);
            }
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// Ends `job` if `acceptance::gives_up` says so; whether it did.
    async fn give_up_if_due(
        &self,
        tx: &mut Tx<'_>,
        job: &JobRecord,
        now: i64,
    ) -> Result<bool, StoreError> {
        let counts = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM job_leases WHERE job_id = $1 AND outcome = 'fault') AS faults, \
             (SELECT COUNT(*) FROM identities i WHERE i.role = 'verifier' AND NOT EXISTS \
              (SELECT 1 FROM verifier_standing s WHERE s.verifier = i.id AND s.suspended_ms IS NOT NULL)) AS verifiers",
        )
        .bind(job.id)
        .fetch_one(&mut **tx)
        .await?;
        let count = |name: &str| -> Result<u32, StoreError> {
            Ok(u32::try_from(counts.try_get::<i64, _>(name)?).unwrap_or(u32::MAX))
        };
        let (faults, verifiers) = (count("faults")?, count("verifiers")?);
        if !gives_up(faults, self.unverifiable_after, verifiers) {
            return Ok(false);
        }
        sqlx::query("UPDATE jobs SET state = 'done', verifier = NULL, lease_deadline_ms = NULL WHERE id = $1")
            .bind(job.id)
            .execute(&mut **tx)
            .await?;
        if job.recheck_of.is_none() {
            self.reject_unverifiable(tx, job, now).await?;
        }
        Ok(true)
    }

    /// Rejects the job's submission as `unverifiable` and appends its ledger entry.
    async fn reject_unverifiable(
        &self,
        tx: &mut Tx<'_>,
        job: &JobRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let reason = VerdictReason::Unverifiable;
        let ended = sqlx::query(
            "UPDATE submissions SET status = 'rejected', reason = $1 \
             WHERE id = $2 AND status IN ('queued', 'verifying') RETURNING worker",
        )
        .bind(reason.as_str())
        .bind(job.submission_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(ended) = ended else {
            return Ok(());
        };
        let worker: String = ended.try_get("worker")?;
        if reason.is_false_claim() {
            self.shrink_quota(tx, &worker, 1).await?;
        }
        let rows = sqlx::query(
            "SELECT measurements, signature FROM job_leases WHERE job_id = $1 AND outcome = 'fault' \
             ORDER BY fault_ms, verifier",
        )
        .bind(job.id)
        .fetch_all(&mut **tx)
        .await?;
        let mut faults = Vec::with_capacity(rows.len());
        for row in rows {
            let text: String = row.try_get("measurements")?;
            let measurements: Measurements = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("a fault on job {}: {e}", job.id)))?;
            faults.push(SignedFault {
                measurements,
                verifier_signature: row.try_get("signature")?,
            });
        }
        let event = EventBody::Unverifiable {
            submission_id: job.submission_id,
            candidate: job.candidate.clone(),
            base: job.base.clone(),
            after: self.unverifiable_after,
            faults,
        };
        self.append(tx, &job.track, now, event).await?;
        Ok(())
    }

    /// The faults verifiers reported on a submission's jobs, oldest first.
    pub async fn faults(&self, submission_id: i64) -> Result<Vec<FaultInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT l.verifier, l.fault_ms, l.measurements FROM job_leases l JOIN jobs j ON j.id = l.job_id \
             WHERE j.submission_id = $1 AND l.outcome = 'fault' ORDER BY l.fault_ms, l.verifier",
        )
        .bind(submission_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let detail = row
                    .try_get::<Option<String>, _>("measurements")?
                    .and_then(|text| serde_json::from_str::<Measurements>(&text).ok())
                    .and_then(|m| m.detail);
                Ok(FaultInfo {
                    verifier: row.try_get("verifier")?,
                    at_ms: row.try_get::<Option<i64>, _>("fault_ms")?.unwrap_or(0),
                    detail,
                })
            })
            .collect()
    }
}

/// A verifier's fault: what it signed is kept, it may not take the job again, and the job
/// goes back to the queue if it still holds it.
async fn give_back(
    tx: &mut Tx<'_>,
    job: &JobRecord,
    report: &Report,
    now: i64,
) -> Result<(), StoreError> {
    let verifier = report.verifier.as_str();
    sqlx::query(
        "UPDATE job_leases SET outcome = 'fault', fault_ms = $1, measurements = $2, signature = $3 \
         WHERE job_id = $4 AND verifier = $5",
    )
    .bind(now)
    .bind(to_json(&report.measurements))
    .bind(&report.signature)
    .bind(job.id)
    .bind(verifier)
    .execute(&mut **tx)
    .await?;
    if job.verifier.as_deref() == Some(verifier) {
        sqlx::query("UPDATE jobs SET state = 'open', verifier = NULL, lease_deadline_ms = NULL WHERE id = $1")
            .bind(job.id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE submissions SET status = 'queued' WHERE id = $1 AND status = 'verifying'",
        )
        .bind(job.submission_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
