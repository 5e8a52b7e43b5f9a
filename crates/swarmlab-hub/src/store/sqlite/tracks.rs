//! Tracks and their verified chains. The head moves only in a verdict's transaction
//! (`verdicts.rs`).

use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use swarmlab_core::Goal;
use swarmlab_proto::{ChainEntry, EventBody, Rule};

use super::ledger::append;
use super::{json_list, to_json, SqliteStore, Tx};
use crate::store::{StoreError, TrackRecord};

pub(super) fn track_from(row: &SqliteRow) -> Result<TrackRecord, StoreError> {
    let goal = match row.try_get::<String, _>("goal")?.as_str() {
        "minimize" => Goal::Minimize,
        "maximize" => Goal::Maximize,
        other => return Err(StoreError::Corrupt(format!("goal `{other}`"))),
    };
    Ok(TrackRecord {
        name: row.try_get("name")?,
        baseline: row.try_get("baseline")?,
        head: row.try_get("head")?,
        metric: row.try_get("metric")?,
        rule: Rule {
            goal,
            alpha: row.try_get("alpha")?,
            min_delta: row.try_get("min_delta")?,
            reruns: u32::try_from(row.try_get::<i64, _>("reruns")?)
                .map_err(|_| StoreError::Corrupt("reruns".into()))?,
        },
        editable: json_list(&row.try_get::<String, _>("editable")?)?,
        spec_toml: row.try_get("spec_toml")?,
    })
}

pub(super) async fn track_in(tx: &mut Tx<'_>, name: &str) -> Result<TrackRecord, StoreError> {
    let row = sqlx::query("SELECT * FROM tracks WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("track `{name}`")))?;
    track_from(&row)
}

pub(super) async fn create(
    s: &SqliteStore,
    track: &TrackRecord,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = s.pool.begin().await?;
    let exists = sqlx::query("SELECT name FROM tracks WHERE name = $1")
        .bind(&track.name)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Err(StoreError::Conflict(format!(
            "track `{}` already exists",
            track.name
        )));
    }
    sqlx::query(
        "INSERT INTO tracks (name, baseline, head, metric, goal, reruns, alpha, min_delta, editable, spec_toml, created_ms) VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&track.name)
    .bind(&track.baseline)
    .bind(&track.metric)
    .bind(track.rule.goal.as_str())
    .bind(i64::from(track.rule.reruns))
    .bind(track.rule.alpha)
    .bind(track.rule.min_delta)
    .bind(to_json(&track.editable))
    .bind(&track.spec_toml)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO chain (track, seq, commit_id, parent, submission_id, at_ms) VALUES ($1, 0, $2, NULL, NULL, $3)")
        .bind(&track.name)
        .bind(&track.baseline)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let event = EventBody::TrackCreated {
        baseline: track.baseline.clone(),
        metric: track.metric.clone(),
        rule: track.rule,
        editable: track.editable.clone(),
    };
    append(s, &mut tx, &track.name, now, event).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn get(s: &SqliteStore, name: &str) -> Result<Option<TrackRecord>, StoreError> {
    sqlx::query("SELECT * FROM tracks WHERE name = $1")
        .bind(name)
        .fetch_optional(&s.pool)
        .await?
        .map(|r| track_from(&r))
        .transpose()
}

pub(super) async fn list(s: &SqliteStore) -> Result<Vec<TrackRecord>, StoreError> {
    sqlx::query("SELECT * FROM tracks ORDER BY name")
        .fetch_all(&s.pool)
        .await?
        .iter()
        .map(track_from)
        .collect()
}

pub(super) async fn chain(s: &SqliteStore, track: &str) -> Result<Vec<ChainEntry>, StoreError> {
    sqlx::query("SELECT * FROM chain WHERE track = $1 ORDER BY seq")
        .bind(track)
        .fetch_all(&s.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ChainEntry {
                seq: r.try_get("seq")?,
                commit: r.try_get("commit_id")?,
                parent: r.try_get("parent")?,
                submission_id: r.try_get("submission_id")?,
                at_ms: r.try_get("at_ms")?,
            })
        })
        .collect()
}
