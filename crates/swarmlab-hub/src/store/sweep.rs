//! The sweep: expired idea and job leases go back to their queues in one transaction. Each
//! idea lease let expire costs its holder one from its quota; an expired canary job ends
//! without being handed to anyone else.

use sqlx::Row;

use super::canaries::expire_canary_jobs;
use super::{Store, StoreError};
use crate::domain::sweep::Swept;

impl Store {
    /// Returns expired idea and job leases to their queues.
    pub async fn sweep(&self, now: i64) -> Result<Swept, StoreError> {
        let mut tx = self.begin().await?;
        // Each idea lease let expire costs its holder one from its quota.
        let expired = sqlx::query(
            "SELECT lease_holder, COUNT(*) AS n FROM ideas WHERE state = 'leased' AND lease_deadline_ms <= $1 AND lease_holder IS NOT NULL GROUP BY lease_holder",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for row in expired {
            let holder: String = row.try_get("lease_holder")?;
            let times = u32::try_from(row.try_get::<i64, _>("n")?).unwrap_or(u32::MAX);
            self.shrink_quota(&mut tx, &holder, times).await?;
        }
        let ideas = sqlx::query(
            "UPDATE ideas SET state = 'open', lease_holder = NULL, lease_deadline_ms = NULL WHERE state = 'leased' AND lease_deadline_ms <= $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE submissions SET status = 'queued' WHERE status = 'verifying' AND id IN (SELECT submission_id FROM jobs WHERE state = 'leased' AND lease_deadline_ms <= $1)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let jobs = sqlx::query(
            "UPDATE jobs SET state = 'open', verifier = NULL, lease_deadline_ms = NULL WHERE state = 'leased' AND lease_deadline_ms <= $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        expire_canary_jobs(&mut tx, now).await?;
        tx.commit().await?;
        Ok(Swept { ideas, jobs })
    }
}
