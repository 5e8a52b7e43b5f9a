//! [`SqliteStore`]: the embedded store, one SQLite file in WAL mode. This file opens the
//! database, applies the migrations and maps the [`Store`] trait onto one module per domain
//! (`identities`, `tracks`, `ideas`, `leases`, `submissions`, `jobs`, `verdicts`, `quotas`,
//! `canaries`, `ledger`).
//!
//! One connection writes: SQLite has one writer at a time anyway, and a deferred transaction
//! that reads and then writes could otherwise fail to upgrade its lock. Every state
//! transition, and every read inside one, runs on it. Reads outside a transition run on a few
//! read-only connections beside it (WAL lets readers and the writer proceed together), each
//! one statement or one read transaction, so each sees one committed state. Identities are
//! cached by token hash (`identities.rs`) and tracks with their chains (`tracks.rs`), and
//! heartbeats that queue up for the writer are committed together (`leases.rs`).

mod canaries;
mod ideas;
mod identities;
mod jobs;
mod leases;
pub(crate) mod ledger;
mod quotas;
mod submissions;
mod tracks;
mod verdicts;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use swarmlab_proto::signing::SigningKey;
use swarmlab_proto::{CanaryInfo, ChainEntry, Claim, IdeaInfo, JobLease, SubmissionInfo};

use super::{
    Canary, HeadRuns, Identity, JobRecord, NewSubmission, Quota, Report, ReportOutcome, Store,
    StoreError, Swept, TrackRecord, MIGRATIONS,
};
use crate::config::QuotaConfig;
use leases::Leased;

pub(crate) type Tx<'c> = Transaction<'c, Sqlite>;

/// Read-only connections beside the writer, each with its own SQLite worker thread (two and
/// four measured alike on two cores).
const READERS: u32 = 4;

/// The hub's state in one SQLite database.
pub struct SqliteStore {
    /// The one writing connection.
    pool: SqlitePool,
    /// Read-only connections for reads outside a transition.
    reader: SqlitePool,
    key: SigningKey,
    tokens: identities::TokenCache,
    tracks: tracks::TrackCache,
    heartbeats: leases::Heartbeats,
    quota: QuotaConfig,
    /// How far back a suspended verifier's verdicts are verified again.
    recheck_window_ms: i64,
}

/// The re-check window unless [`SqliteStore::with_recheck_window`] sets another.
const RECHECK_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies pending migrations, and
    /// signs ledger entries with `key`.
    pub async fn open(path: &Path, key: SigningKey) -> Result<SqliteStore, StoreError> {
        // In WAL mode, NORMAL syncs at checkpoints rather than at every commit: a power cut
        // may lose the last transactions but never corrupts the database or splits one.
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // A pooled connection is a worker thread of ours, not a socket: there is nothing to
        // test before handing it out, and the test would cost a round trip to that thread.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone().create_if_missing(true))
            .await?;
        let store = SqliteStore {
            heartbeats: leases::Heartbeats::start(pool.clone()),
            pool,
            reader: SqlitePoolOptions::new()
                .max_connections(READERS)
                .test_before_acquire(false)
                .connect_lazy_with(options.read_only(true)),
            key,
            tokens: identities::TokenCache::default(),
            tracks: tracks::TrackCache::default(),
            quota: QuotaConfig::default(),
            recheck_window_ms: RECHECK_WINDOW_MS,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The store with verification quotas by `rule` rather than the default one.
    pub fn with_quotas(mut self, rule: QuotaConfig) -> SqliteStore {
        self.quota = rule;
        self
    }

    /// The store re-checking a suspended verifier's verdicts of the last `window`.
    pub fn with_recheck_window(mut self, window: Duration) -> SqliteStore {
        self.recheck_window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// The writing connection. Every state transition goes through it, one transaction each
    /// (the dashboard's one write, a promotion, included). Identities and tracks are cached in
    /// memory: change them only as `identities.rs` and `tracks.rs` say, which keeps the caches
    /// true.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Read-only connections, for reads outside a transition.
    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        for (version, sql) in MIGRATIONS {
            let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_none() {
                sqlx::raw_sql(sql).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, 0)")
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn next_id(tx: &mut Tx<'_>, counter: &str) -> Result<i64, StoreError> {
    let row = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value")
        .bind(counter)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("value")?)
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative sequence {v}")))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn json_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_identity(
        &self,
        identity: &Identity,
        token_sha256: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        identities::create(self, identity, token_sha256, now).await
    }

    async fn identity_by_token(&self, token_sha256: &str) -> Result<Option<Identity>, StoreError> {
        identities::by_token(self, token_sha256).await
    }

    async fn identity(&self, id: &str) -> Result<Option<Identity>, StoreError> {
        identities::get(self, id).await
    }

    async fn create_track(&self, track: &TrackRecord, now: i64) -> Result<(), StoreError> {
        tracks::create(self, track, now).await
    }

    async fn track(&self, name: &str) -> Result<Option<TrackRecord>, StoreError> {
        tracks::get(self, name).await
    }

    async fn tracks(&self) -> Result<Vec<TrackRecord>, StoreError> {
        tracks::list(self).await
    }

    async fn chain(&self, track: &str) -> Result<Vec<ChainEntry>, StoreError> {
        tracks::chain(self, track).await
    }

    async fn add_idea(
        &self,
        track: &str,
        text: &str,
        tags: &[String],
        author: &str,
        threshold: f64,
        now: i64,
    ) -> Result<IdeaInfo, StoreError> {
        ideas::add(self, track, text, tags, author, threshold, now).await
    }

    async fn idea(&self, id: i64) -> Result<Option<IdeaInfo>, StoreError> {
        ideas::get(self, id).await
    }

    async fn ideas(&self, track: &str) -> Result<Vec<IdeaInfo>, StoreError> {
        ideas::list(self, track).await
    }

    async fn lease_idea(
        &self,
        track: &str,
        worker: &str,
        now: i64,
        deadline: i64,
    ) -> Result<Option<IdeaInfo>, StoreError> {
        ideas::lease(self, track, worker, now, deadline).await
    }

    async fn heartbeat_idea(
        &self,
        id: i64,
        worker: &str,
        now: i64,
        deadline: i64,
    ) -> Result<(), StoreError> {
        self.heartbeats
            .extend(self.pool(), Leased::Idea, id, worker, now, deadline)
            .await
    }

    async fn finish_idea(&self, id: i64, worker: &str, now: i64) -> Result<(), StoreError> {
        ideas::finish(self, id, worker, now).await
    }

    async fn sweep(&self, now: i64) -> Result<Swept, StoreError> {
        leases::sweep(self, now).await
    }

    async fn nonce_used(&self, identity: &str, nonce: &str) -> Result<bool, StoreError> {
        submissions::nonce_used(self, identity, nonce).await
    }

    async fn quota(&self, worker: &str) -> Result<Quota, StoreError> {
        quotas::get(self, worker).await
    }

    async fn record_submission(
        &self,
        new: &NewSubmission,
        now: i64,
    ) -> Result<SubmissionInfo, StoreError> {
        submissions::record(self, new, now).await
    }

    async fn submission(&self, id: i64) -> Result<Option<SubmissionInfo>, StoreError> {
        submissions::get(self, id).await
    }

    async fn claim(&self, submission_id: i64) -> Result<Option<Claim>, StoreError> {
        submissions::claim(self, submission_id).await
    }

    async fn reverify_pending(&self) -> Result<Vec<SubmissionInfo>, StoreError> {
        submissions::reverify_pending(self).await
    }

    async fn requeue(
        &self,
        submission_id: i64,
        candidate: &str,
        base: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        submissions::requeue(self, submission_id, candidate, base, now).await
    }

    async fn reject_submission(
        &self,
        submission_id: i64,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        submissions::reject(self, submission_id, reason, now).await
    }

    async fn lease_job(
        &self,
        verifier: &str,
        now: i64,
        deadline: i64,
    ) -> Result<Option<JobLease>, StoreError> {
        jobs::lease(self, verifier, now, deadline).await
    }

    async fn heartbeat_job(
        &self,
        job_id: i64,
        verifier: &str,
        now: i64,
        deadline: i64,
    ) -> Result<(), StoreError> {
        let job = self
            .heartbeats
            .extend(self.pool(), Leased::Job, job_id, verifier, now, deadline)
            .await;
        match job {
            Err(StoreError::Conflict(why)) => {
                // Job ids are shared with canary jobs, which a verifier must not tell apart.
                self.heartbeats
                    .extend(
                        self.pool(),
                        Leased::CanaryJob,
                        job_id,
                        verifier,
                        now,
                        deadline,
                    )
                    .await
                    .map_err(|_| StoreError::Conflict(why))
            }
            other => other,
        }
    }

    async fn job(&self, job_id: i64) -> Result<Option<JobRecord>, StoreError> {
        match jobs::get(self, job_id).await? {
            Some(job) => Ok(Some(job)),
            None => canaries::job(self, job_id).await,
        }
    }

    async fn held_job(&self, job_id: i64, verifier: &str) -> Result<bool, StoreError> {
        Ok(jobs::held(self, job_id, verifier).await?
            || canaries::job(self, job_id)
                .await?
                .is_some_and(|job| job.verifier.as_deref() == Some(verifier)))
    }

    async fn record_report(&self, report: &Report, now: i64) -> Result<ReportOutcome, StoreError> {
        verdicts::record_report(self, report, now).await
    }

    async fn head_runs(&self, track: &str, commit: &str) -> Result<Vec<HeadRuns>, StoreError> {
        verdicts::head_runs(self, track, commit).await
    }

    async fn ledger(&self, track: &str) -> Result<Vec<String>, StoreError> {
        ledger::lines(self, track).await
    }

    async fn add_canary(
        &self,
        submission_id: i64,
        expect: &str,
        note: &str,
        by: &str,
        now: i64,
    ) -> Result<CanaryInfo, StoreError> {
        canaries::add(self, submission_id, expect, note, by, now).await
    }

    async fn canaries(&self) -> Result<Vec<CanaryInfo>, StoreError> {
        canaries::list(self).await
    }

    async fn canary_due(&self, verifier: &str, pick: u64) -> Result<Option<Canary>, StoreError> {
        canaries::due(self, verifier, pick).await
    }

    async fn lease_canary(
        &self,
        verifier: &str,
        canary: &Canary,
        candidate: &str,
        now: i64,
        deadline: i64,
        next: u32,
    ) -> Result<JobLease, StoreError> {
        canaries::lease(self, verifier, canary, candidate, now, deadline, next).await
    }

    async fn suspension(&self, verifier: &str) -> Result<Option<String>, StoreError> {
        canaries::suspension(self, verifier).await
    }

    async fn reinstate(&self, verifier: &str) -> Result<(), StoreError> {
        canaries::reinstate(self, verifier).await
    }
}
