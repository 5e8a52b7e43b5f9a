//! The idea queue: adding (with near-duplicate flagging), reading, leasing and finishing.
//! Heartbeats and expiry are in `leases.rs`.

use sqlx::Row;
use swarmlab_proto::IdeaInfo;

use super::tracks::track_in;
use super::{json_list, next_id, to_json, SqliteStore, Tx};
use crate::idea;
use crate::store::StoreError;

pub(super) async fn idea_in(tx: &mut Tx<'_>, id: i64) -> Result<Option<IdeaInfo>, StoreError> {
    let Some(row) = sqlx::query("SELECT * FROM ideas WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(None);
    };
    let submissions = sqlx::query("SELECT id FROM submissions WHERE idea_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(IdeaInfo {
        id: row.try_get("id")?,
        track: row.try_get("track")?,
        text: row.try_get("text")?,
        tags: json_list(&row.try_get::<String, _>("tags")?)?,
        author: row.try_get("author")?,
        state: row.try_get("state")?,
        lease_holder: row.try_get("lease_holder")?,
        lease_deadline_ms: row.try_get("lease_deadline_ms")?,
        duplicate_of: row.try_get("duplicate_of")?,
        similarity: row.try_get("similarity")?,
        submissions,
    }))
}

pub(super) async fn add(
    s: &SqliteStore,
    track: &str,
    text: &str,
    tags: &[String],
    author: &str,
    threshold: f64,
    now: i64,
) -> Result<IdeaInfo, StoreError> {
    let mut tx = s.pool.begin().await?;
    track_in(&mut tx, track).await?;
    let earlier: Vec<(i64, String)> =
        sqlx::query("SELECT id, text FROM ideas WHERE track = $1 ORDER BY id")
            .bind(track)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("text")?)))
            .collect::<Result<_, StoreError>>()?;
    let dup = idea::nearest_duplicate(
        text,
        earlier.iter().map(|(id, t)| (*id, t.as_str())),
        threshold,
    );
    let id = next_id(&mut tx, "idea").await?;
    sqlx::query(
        "INSERT INTO ideas (id, track, text, tags, author, state, duplicate_of, similarity, created_ms) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8)",
    )
    .bind(id)
    .bind(track)
    .bind(text)
    .bind(to_json(&tags))
    .bind(author)
    .bind(dup.map(|d| d.0))
    .bind(dup.map(|d| d.1))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let info = idea_in(&mut tx, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("idea {id}")))?;
    tx.commit().await?;
    Ok(info)
}

pub(super) async fn get(s: &SqliteStore, id: i64) -> Result<Option<IdeaInfo>, StoreError> {
    let mut tx = s.pool.begin().await?;
    let info = idea_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(info)
}

pub(super) async fn list(s: &SqliteStore, track: &str) -> Result<Vec<IdeaInfo>, StoreError> {
    let mut tx = s.pool.begin().await?;
    let ids: Vec<i64> = sqlx::query("SELECT id FROM ideas WHERE track = $1 ORDER BY id")
        .bind(track)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(idea_in(&mut tx, id).await?);
    }
    tx.commit().await?;
    Ok(out)
}

pub(super) async fn lease(
    s: &SqliteStore,
    track: &str,
    worker: &str,
    now: i64,
    deadline: i64,
) -> Result<Option<IdeaInfo>, StoreError> {
    let mut tx = s.pool.begin().await?;
    let row = sqlx::query(
        "SELECT id FROM ideas WHERE track = $1 AND (state = 'open' OR (state = 'leased' AND lease_deadline_ms <= $2)) ORDER BY id LIMIT 1",
    )
    .bind(track)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.try_get("id")?;
    sqlx::query("UPDATE ideas SET state = 'leased', lease_holder = $1, lease_deadline_ms = $2 WHERE id = $3")
        .bind(worker)
        .bind(deadline)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let info = idea_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(info)
}

pub(super) async fn finish(
    s: &SqliteStore,
    id: i64,
    worker: &str,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = s.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE ideas SET state = 'done', lease_deadline_ms = NULL WHERE id = $1 AND state = 'leased' AND lease_holder = $2 AND lease_deadline_ms > $3",
    )
    .bind(id)
    .bind(worker)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done != 1 {
        return Err(StoreError::Conflict(format!(
            "idea {id} is not leased to you (the lease may have expired)"
        )));
    }
    tx.commit().await?;
    Ok(())
}
