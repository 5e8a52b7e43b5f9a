//! Tracks and their verified chains. The head moves only in a verdict's transaction
//! (`verdicts.rs`).
//!
//! Nearly every request reads a track, and a track changes only when its head moves, so
//! each track is kept in memory with its chain. A chain only grows, so of two copies the one
//! with the longer chain is the newer, and a copy only ever replaces an older one: a reader
//! that loaded a track just before a head move cannot put the old state back. A transition
//! that changes a track must append to its chain and hand the new state to the cache after
//! it commits ([`snapshot_in`], [`TrackCache::put`]). Another hub process on the same
//! database may move a head too: its notice (`notices.rs`) makes this one forget every
//! track, and a copy read before that forgetting is not kept (the cache's generation).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use sqlx::any::AnyRow;
use sqlx::Row;
use swarmlab_core::Goal;
use swarmlab_proto::{ChainEntry, EventBody, Rule};

use super::columns::{json_list, to_json};
use super::{Store, StoreError, Tx};
use crate::domain::track::TrackRecord;

/// A track and its chain, both from one committed state.
pub(super) struct Snapshot {
    record: TrackRecord,
    chain: Vec<ChainEntry>,
}

/// The latest snapshot of each track read so far.
#[derive(Default)]
pub(super) struct TrackCache {
    map: RwLock<HashMap<String, Arc<Snapshot>>>,
    /// How many times everything was forgotten; a copy read before the last time is stale.
    generation: AtomicU64,
}

impl TrackCache {
    fn get(&self, name: &str) -> Option<Arc<Snapshot>> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map itself is whole.
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(name).cloned()
    }

    /// The generation to hand [`TrackCache::put`] with a copy read from now on.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Forgets every track: another process changed one.
    pub(super) fn forget_all(&self) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.clear();
    }

    /// Keeps `snapshot`, read in `generation`, unless the copy held is as new or the cache
    /// forgot everything since it was read; returns the copy now held (or `snapshot`).
    pub(super) fn put(&self, snapshot: Snapshot, generation: u64) -> Arc<Snapshot> {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::SeqCst) != generation {
            return Arc::new(snapshot);
        }
        match map.get(&snapshot.record.name) {
            Some(held) if held.chain.len() >= snapshot.chain.len() => held.clone(),
            _ => {
                let snapshot = Arc::new(snapshot);
                map.insert(snapshot.record.name.clone(), snapshot.clone());
                snapshot
            }
        }
    }
}

/// A track and its chain as `tx` sees them.
pub(super) async fn snapshot_in(
    tx: &mut Tx<'_>,
    name: &str,
) -> Result<Option<Snapshot>, StoreError> {
    let Some(row) = sqlx::query("SELECT * FROM tracks WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(None);
    };
    let chain = sqlx::query("SELECT * FROM chain WHERE track = $1 ORDER BY seq")
        .bind(name)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(chain_entry_from)
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(Snapshot {
        record: track_from(&row)?,
        chain,
    }))
}

fn chain_entry_from(row: &AnyRow) -> Result<ChainEntry, StoreError> {
    Ok(ChainEntry {
        seq: row.try_get("seq")?,
        commit: row.try_get("commit_id")?,
        parent: row.try_get("parent")?,
        submission_id: row.try_get("submission_id")?,
        at_ms: row.try_get("at_ms")?,
    })
}

pub(super) fn track_from(row: &AnyRow) -> Result<TrackRecord, StoreError> {
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
            max_reruns: row
                .try_get::<Option<i64>, _>("max_reruns")?
                .map(u32::try_from)
                .transpose()
                .map_err(|_| StoreError::Corrupt("max_reruns".into()))?,
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

impl Store {
    /// Adds a track with its head at the baseline, and the ledger's first entry followed by
    /// the enrolment of every verifier in good standing.
    pub async fn create_track(&self, track: &TrackRecord, now: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
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
            "INSERT INTO tracks (name, baseline, head, metric, goal, reruns, alpha, min_delta, editable, spec_toml, created_ms, max_reruns) VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
        .bind(track.rule.max_reruns.map(i64::from))
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
            format: swarmlab_proto::ledger::FORMAT,
        };
        self.append(&mut tx, &track.name, now, event).await?;
        // The new ledger knows every verifier before any report reaches it.
        self.enroll_verifiers(&mut tx, now).await?;
        let created = snapshot_in(&mut tx, &track.name).await?;
        // Held until the commit, the write lock keeps other processes' changes after it.
        let generation = self.tracks.generation();
        tx.commit().await?;
        if let Some(created) = created {
            self.tracks.put(created, generation);
        }
        Ok(())
    }

    /// A track by name.
    pub async fn track(&self, name: &str) -> Result<Option<TrackRecord>, StoreError> {
        Ok(self.cached(name).await?.map(|t| t.record.clone()))
    }

    /// Every track, by name.
    pub async fn tracks(&self) -> Result<Vec<TrackRecord>, StoreError> {
        sqlx::query("SELECT * FROM tracks ORDER BY name")
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(track_from)
            .collect()
    }

    /// A track's verified chain, baseline first.
    pub async fn chain(&self, track: &str) -> Result<Vec<ChainEntry>, StoreError> {
        Ok(self
            .cached(track)
            .await?
            .map(|t| t.chain.clone())
            .unwrap_or_default())
    }

    /// The chain entry of `commit` on `track`, if it is on the chain.
    pub async fn chain_seq_of(&self, track: &str, commit: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query(
            "SELECT seq FROM chain WHERE track = $1 AND commit_id = $2 ORDER BY seq LIMIT 1",
        )
        .bind(track)
        .bind(commit)
        .fetch_optional(&self.reader)
        .await?
        .map(|r| r.try_get("seq"))
        .transpose()?)
    }

    /// A track from the cache, loaded from one read transaction when missing.
    async fn cached(&self, name: &str) -> Result<Option<Arc<Snapshot>>, StoreError> {
        if let Some(hit) = self.tracks.get(name) {
            return Ok(Some(hit));
        }
        let generation = self.tracks.generation();
        let mut tx = self.reader.begin().await?;
        let loaded = snapshot_in(&mut tx, name).await?;
        tx.commit().await?;
        Ok(loaded.map(|snapshot| self.tracks.put(snapshot, generation)))
    }
}
