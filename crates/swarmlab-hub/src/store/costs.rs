//! What the verification cost of a track is computed from (`domain/verify_cost.rs`): the
//! measurements of its verdicts, the commits its chain gained, and the search seconds its
//! workers' claims gave; and the price of verifying one more submission on a track, which
//! the quota charges (`quotas.rs`). Reads only.

use sqlx::{AnyConnection, Row};
use swarmlab_proto::Measurements;

use super::tracks::track_from;
use super::{Dialect, Store, StoreError};
use crate::domain::verify_cost::{run_duration, tally, CostInputs, Price};

/// The measured verdicts a price is the mean of, the latest first: the price follows what a
/// track costs now, and a submission's transaction reads a bounded number of reports.
const PRICE_WINDOW: i64 = 200;

/// The measurements of the latest `limit` verdicts on `track` (all of them when `None`).
async fn reports(
    conn: &mut AnyConnection,
    track: &str,
    limit: Option<i64>,
) -> Result<Vec<Measurements>, StoreError> {
    let rows = sqlx::query(
        "SELECT v.id, v.measurements FROM verdicts v JOIN jobs j ON j.id = v.job_id \
         WHERE j.track = $1 ORDER BY v.id DESC LIMIT $2",
    )
    .bind(track)
    .bind(limit.unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            let text: String = row.try_get("measurements")?;
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("verdict {id}: measurements: {e}")))
        })
        .collect()
}

/// Everything [`tally`] needs of `track`.
async fn inputs_on(
    conn: &mut AnyConnection,
    dialect: Dialect,
    track: &str,
    limit: Option<i64>,
) -> Result<CostInputs, StoreError> {
    let reports = reports(conn, track, limit).await?;
    let accepted: i64 = sqlx::query("SELECT COUNT(*) AS n FROM chain WHERE track = $1")
        .bind(track)
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
    let spent_s = match dialect {
        Dialect::Sqlite => "json_extract(claim_json, '$.spent_s')",
        Dialect::Postgres => "(claim_json::jsonb ->> 'spent_s')",
    };
    let spent = sqlx::query(&format!(
        "SELECT CAST({spent_s} AS DOUBLE PRECISION) AS s FROM submissions \
         WHERE track = $1 AND {spent_s} IS NOT NULL"
    ))
    .bind(track)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| row.try_get::<f64, _>("s"))
    .collect::<Result<Vec<f64>, _>>()?;
    Ok(CostInputs {
        reports,
        // The baseline is where the chain starts, not a commit verification bought.
        accepted: u64::try_from(accepted - 1).unwrap_or(0),
        spent,
    })
}

/// What verifying one more submission on `track` is expected to cost.
pub(super) async fn price_on(
    conn: &mut AnyConnection,
    dialect: Dialect,
    track: &str,
) -> Result<Price, StoreError> {
    let row = sqlx::query("SELECT * FROM tracks WHERE name = $1")
        .bind(track)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("track `{track}`")))?;
    let record = track_from(&row)?;
    let recent = tally(
        track,
        &inputs_on(conn, dialect, track, Some(PRICE_WINDOW)).await?,
    );
    Ok(Price::of(
        &recent,
        &record.rule,
        run_duration(&record.spec_toml),
    ))
}

impl Store {
    /// What the verification cost of `track` is computed from, every verdict counted.
    pub async fn cost_inputs(&self, track: &str) -> Result<CostInputs, StoreError> {
        let mut conn = self.reader.acquire().await?;
        inputs_on(&mut conn, self.dialect, track, None).await
    }
}
