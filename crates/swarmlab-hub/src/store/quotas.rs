//! Verification quotas: how much verification a worker's waiting submissions may ask for at
//! once, each priced at what verifying a submission on its track is expected to cost
//! (`costs.rs`). The rule is the configuration's ([`QuotaConfig`]); the store keeps each
//! worker's current cap (no row: the initial one), changed in the transaction of the verdict
//! or the lease expiry that changes it.

use sqlx::{AnyConnection, Row};

use super::columns::flag;
use super::costs::price_on;
use super::{Dialect, Store, StoreError, Tx};
use crate::domain::config::QuotaConfig;
use crate::domain::quota::{Pool, Quota};

/// A worker's waiting submissions, what verifying them is expected to cost, its cap, and
/// whether it has an accepted submission, and what the workers without one have waiting;
/// priced for one more submission on `track` (waiting submissions are few: quotas bound
/// them, so pricing each of their tracks is a handful of reads).
async fn quota_on(
    conn: &mut AnyConnection,
    dialect: Dialect,
    rule: &QuotaConfig,
    worker: &str,
    track: &str,
) -> Result<Quota, StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT cap FROM quotas WHERE identity = $1) AS cap, \
         EXISTS (SELECT 1 FROM submissions WHERE worker = $1 AND status = 'accepted') AS proven, \
         (SELECT COUNT(*) FROM submissions s WHERE s.status IN ('queued', 'verifying', 'reverify') \
          AND NOT EXISTS (SELECT 1 FROM submissions a WHERE a.worker = s.worker AND a.status = 'accepted')) AS pooled",
    )
    .bind(worker)
    .fetch_one(&mut *conn)
    .await?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    let cap: Option<i64> = row.try_get("cap")?;
    let proven = flag(&row, "proven")?;
    let pooled: i64 = row.try_get("pooled")?;
    let by_track = sqlx::query(
        "SELECT track, COUNT(*) AS n FROM submissions WHERE worker = $1 \
         AND status IN ('queued', 'verifying', 'reverify') GROUP BY track ORDER BY track",
    )
    .bind(worker)
    .fetch_all(&mut *conn)
    .await?;
    let (mut waiting, mut waiting_s) = (0u32, 0.0);
    for row in by_track {
        let on: String = row.try_get("track")?;
        let n = count(row.try_get("n")?);
        waiting = waiting.saturating_add(n);
        waiting_s += f64::from(n) * price_on(conn, dialect, &on).await?.seconds;
    }
    let unproven = (!proven && rule.unproven_pool > 0).then(|| Pool {
        waiting: count(pooled),
        size: rule.unproven_pool,
    });
    Ok(Quota {
        waiting,
        waiting_s,
        cap: cap.map_or(rule.start(), |c| u32::try_from(c).unwrap_or(1)),
        price: price_on(conn, dialect, track).await?,
        unproven,
    })
}

impl Store {
    /// A worker's waiting submissions and what they are expected to cost, and its cap,
    /// priced for one more submission on `track`.
    pub async fn quota(&self, worker: &str, track: &str) -> Result<Quota, StoreError> {
        let mut conn = self.reader.acquire().await?;
        quota_on(&mut conn, self.dialect, &self.quota, worker, track).await
    }

    /// The quota as `tx` sees it.
    pub(super) async fn quota_in(
        &self,
        tx: &mut Tx<'_>,
        worker: &str,
        track: &str,
    ) -> Result<Quota, StoreError> {
        quota_on(tx, self.dialect, &self.quota, worker, track).await
    }

    /// A worker's cap as `tx` sees it (no row: the initial one).
    async fn cap_in(&self, tx: &mut Tx<'_>, identity: &str) -> Result<u32, StoreError> {
        let cap: Option<i64> = sqlx::query("SELECT cap FROM quotas WHERE identity = $1")
            .bind(identity)
            .fetch_optional(&mut **tx)
            .await?
            .map(|row| row.try_get("cap"))
            .transpose()?;
        Ok(cap.map_or(self.quota.start(), |c| u32::try_from(c).unwrap_or(1)))
    }

    /// Sets `identity`'s cap to `change` of its current one.
    async fn change_cap(
        &self,
        tx: &mut Tx<'_>,
        identity: &str,
        change: impl FnOnce(u32) -> u32,
    ) -> Result<(), StoreError> {
        let cap = change(self.cap_in(tx, identity).await?);
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
