//! A verifier's standing: how many real jobs until its next canary, and whether it is
//! suspended (`verifier_standing`). A suspended verifier gets no work and its reports are
//! refused; suspending it gives its leased jobs back to the queue and turns every verdict it
//! gave within the re-check window into a new job for someone else (`jobs.recheck_of`). A
//! maintainer reinstates it. The ledgers learn both through `roster.rs`.

use sqlx::Row;
use swarmlab_proto::EventBody;

use super::columns::next_id;
use super::{Store, StoreError, Tx};

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

impl Store {
    /// Suspends `verifier`: its leased jobs go back to the queue, and each verdict it gave within
    /// the re-check window that is not being re-checked yet becomes a new job. Returns the ids of
    /// those verdicts.
    pub(super) async fn suspend(
        &self,
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
        .bind(now.saturating_sub(self.recheck_window_ms))
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

    /// Why `verifier` is suspended, if it is.
    pub async fn suspension(&self, verifier: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query(
            "SELECT suspended_reason FROM verifier_standing WHERE verifier = $1 AND suspended_ms IS NOT NULL",
        )
        .bind(verifier)
        .fetch_optional(&self.reader)
        .await?
        .map(|row| row.try_get::<Option<String>, _>("suspended_reason"))
        .transpose()?
        .map(Option::unwrap_or_default))
    }

    /// Lifts a verifier's suspension, with a `verifier_reinstated` entry in every track's
    /// ledger that enrolled it, and its enrolment in those created while it was suspended.
    pub async fn reinstate(&self, verifier: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE verifier_standing SET suspended_ms = NULL, suspended_reason = NULL \
         WHERE verifier = $1 AND suspended_ms IS NOT NULL",
        )
        .bind(verifier)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound(format!(
                "suspended verifier `{verifier}`"
            )));
        }
        let event = EventBody::VerifierReinstated {
            verifier: verifier.to_string(),
        };
        self.tell_ledgers(&mut tx, verifier, now, &event).await?;
        self.enroll_verifiers(&mut tx, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
