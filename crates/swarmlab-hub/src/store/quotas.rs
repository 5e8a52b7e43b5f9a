//! Verification quotas: how many of a worker's submissions may wait for verification at
//! once. The rule is the configuration's ([`QuotaConfig`]); the store keeps each worker's
//! current cap (no row: the initial one), changed in the transaction of the verdict or the
//! lease expiry that changes it.

use sqlx::{Executor, Row, Sqlite};

use super::{Store, StoreError, Tx};
use crate::domain::config::QuotaConfig;
use crate::domain::quota::{Pool, Quota};

/// A worker's waiting submissions and cap, whether it has an accepted submission, and what
/// the workers without one have waiting, in one statement (waiting submissions are few:
/// quotas bound them).
async fn quota_on<'e>(
    db: impl Executor<'e, Database = Sqlite>,
    rule: &QuotaConfig,
    worker: &str,
) -> Result<Quota, StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM submissions WHERE worker = $1 AND status IN ('queued', 'verifying', 'reverify')) AS waiting, \
         (SELECT cap FROM quotas WHERE identity = $1) AS cap, \
         EXISTS (SELECT 1 FROM submissions WHERE worker = $1 AND status = 'accepted') AS proven, \
         (SELECT COUNT(*) FROM submissions s WHERE s.status IN ('queued', 'verifying', 'reverify') \
          AND NOT EXISTS (SELECT 1 FROM submissions a WHERE a.worker = s.worker AND a.status = 'accepted')) AS pooled",
    )
    .bind(worker)
    .fetch_one(db)
    .await?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    let waiting: i64 = row.try_get("waiting")?;
    let cap: Option<i64> = row.try_get("cap")?;
    let proven: bool = row.try_get("proven")?;
    let pooled: i64 = row.try_get("pooled")?;
    let unproven = (!proven && rule.unproven_pool > 0).then(|| Pool {
        waiting: count(pooled),
        size: rule.unproven_pool,
    });
    Ok(Quota {
        waiting: count(waiting),
        cap: cap.map_or(rule.start(), |c| u32::try_from(c).unwrap_or(1)),
        unproven,
    })
}

impl Store {
    /// A worker's submissions waiting for verification, and its cap.
    pub async fn quota(&self, worker: &str) -> Result<Quota, StoreError> {
        quota_on(&self.reader, &self.quota, worker).await
    }

    /// The quota as `tx` sees it.
    pub(super) async fn quota_in(
        &self,
        tx: &mut Tx<'_>,
        worker: &str,
    ) -> Result<Quota, StoreError> {
        quota_on(&mut **tx, &self.quota, worker).await
    }

    /// Sets `identity`'s cap to `change` of its current one.
    async fn change_cap(
        &self,
        tx: &mut Tx<'_>,
        identity: &str,
        change: impl FnOnce(u32) -> u32,
    ) -> Result<(), StoreError> {
        let cap = change(self.quota_in(tx, identity).await?.cap);
        sqlx::query(
            "INSERT INTO quotas (identity, cap) VALUES ($1, $2) ON CONFLICT (identity) DO UPDATE SET cap = excluded.cap",
        )
        .bind(identity)
        .bind(i64::from(cap))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// One of `worker`'s submissions was accepted.
    pub(super) async fn grow_quota(&self, tx: &mut Tx<'_>, worker: &str) -> Result<(), StoreError> {
        self.change_cap(tx, worker, |cap| self.quota.grown(cap))
            .await
    }

    /// `worker` made `times` false claims or let as many idea leases expire.
    pub(super) async fn shrink_quota(
        &self,
        tx: &mut Tx<'_>,
        worker: &str,
        times: u32,
    ) -> Result<(), StoreError> {
        self.change_cap(tx, worker, |cap| self.quota.shrunk(cap, times))
            .await
    }
}
