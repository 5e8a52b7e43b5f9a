//! The store: the hub's state in one SQLite database (WAL mode), and the only place that
//! writes. [`Store`] has a method per state transition, each one database transaction with
//! its ledger entry inside it; its methods live beside their SQL, one file per concern
//! (`identities`, `invites`, `tracks`, `ideas`, `heartbeats`, `sweep`, `submissions`, `jobs`,
//! `verdicts`, `faults`, `quotas`, `costs`, `canaries`, `standing`, `promotions`, `ledger`, and
//! `roster`, the verifiers each track's ledger has enrolled).
//!
//! The hub's signing key lives here only (`key.rs`): a ledger entry is sealed and appended
//! inside the transaction of the change it records (`ledger.rs`), so no other road writes a
//! ledger line. The store records what the domain decided and decides nothing itself: where
//! a rule must see the state inside the transaction (what a verdict does to its submission,
//! a worker's quota, a near-duplicate idea) it calls the domain's pure rule with what it
//! found and records the answer. The dashboard's side, [`Reader`], opens query-only
//! connections and holds no key.
//!
//! One connection writes: SQLite has one writer at a time anyway, and a deferred transaction
//! that reads and then writes could otherwise fail to upgrade its lock. Every state
//! transition, and every read inside one, runs on it. Reads outside a transition run on a few
//! read-only connections beside it (WAL lets readers and the writer proceed together), each
//! one statement or one read transaction, so each sees one committed state. Identities are
//! cached by token hash (`identities.rs`) and tracks with their chains (`tracks.rs`), and
//! heartbeats that queue up for the writer are committed together (`heartbeats.rs`).
//!
//! The SQL is portable (`$n` placeholders, `ON CONFLICT`, `RETURNING`, counters rather than
//! autoincrement, JSON through `json_each`/`json_extract` only where SQLite and PostgreSQL
//! agree), and so are the migrations (`schema.rs`). A second backend comes in as a second
//! type with the same methods: then, and not before, the methods become a `Store` trait
//! (the domain holds the store by it), this type moves to `store/sqlite/`, PostgreSQL's
//! beside it, sharing the migrations; nothing outside `store/` names a backend.

mod backlog;
mod canaries;
mod columns;
mod costs;
mod error;
mod faults;
mod heartbeats;
mod ideas;
mod identities;
mod invites;
mod jobs;
mod key;
mod ledger;
mod promotions;
mod quotas;
mod reader;
mod roster;
mod schema;
mod standing;
mod submissions;
mod sweep;
mod tracks;
mod verdicts;
pub mod views;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use swarmlab_proto::signing::SigningKey;

use crate::domain::config::QuotaConfig;

pub use error::StoreError;
pub use reader::Reader;
pub use schema::MIGRATIONS;
pub use views::Views;

/// A transaction on the writing connection.
pub(crate) type Tx<'c> = Transaction<'c, Sqlite>;

/// Read-only connections beside the writer, each with its own SQLite worker thread (two and
/// four measured alike on two cores).
const READERS: u32 = 4;

/// Faults that end a job unless [`Store::with_unverifiable_after`] sets another number.
const UNVERIFIABLE_AFTER: u32 = 3;

/// The re-check window unless [`Store::with_recheck_window`] sets another.
const RECHECK_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// The hub's state in one SQLite database.
pub struct Store {
    /// The one writing connection. Every state transition goes through it, one transaction
    /// each. Identities and tracks are cached in memory: change them only as
    /// `identities.rs` and `tracks.rs` say, which keeps the caches true.
    pool: SqlitePool,
    /// Read-only connections for reads outside a transition.
    reader: SqlitePool,
    /// Signs ledger entries; never leaves the store.
    key: SigningKey,
    tokens: identities::TokenCache,
    tracks: tracks::TrackCache,
    heartbeats: heartbeats::Heartbeats,
    quota: QuotaConfig,
    /// How many distinct verifiers' faults end a job as `unverifiable`.
    unverifiable_after: u32,
    /// How far back a suspended verifier's verdicts are verified again.
    recheck_window_ms: i64,
}

/// Whether the writer may be used again once released. A write that fails on a full disk
/// can end SQLite's transaction while sqlx still counts it open (its rollback then fails);
/// reused, that connection would run every later transaction as a savepoint inside one that
/// never commits: acknowledged writes that no reader sees and a restart loses. It is closed
/// instead, and the pool opens a fresh one.
async fn sound_after_release(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    // Runs the rollback a dropped transaction queued, so that its count is settled.
    conn.ping().await?;
    Ok(!conn.is_in_transaction())
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations;
    /// ledger entries are signed with the key at `key_path` (created when missing).
    pub async fn open(path: &Path, key_path: &Path) -> Result<Store, StoreError> {
        let key = key::load_or_create(key_path)?;
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
            .after_release(|conn, _| Box::pin(sound_after_release(conn)))
            .connect_with(options.clone().create_if_missing(true))
            .await?;
        let store = Store {
            heartbeats: heartbeats::Heartbeats::start(pool.clone()),
            pool,
            reader: SqlitePoolOptions::new()
                .max_connections(READERS)
                .test_before_acquire(false)
                .connect_lazy_with(options.read_only(true)),
            key,
            tokens: identities::TokenCache::default(),
            tracks: tracks::TrackCache::default(),
            quota: QuotaConfig::default(),
            unverifiable_after: UNVERIFIABLE_AFTER,
            recheck_window_ms: RECHECK_WINDOW_MS,
        };
        schema::migrate(&store.pool).await?;
        Ok(store)
    }

    /// The store with verification quotas by `rule` rather than the default one.
    pub fn with_quotas(mut self, rule: QuotaConfig) -> Store {
        self.quota = rule;
        self
    }

    /// The store ending a job as `unverifiable` once `after` distinct verifiers faulted on
    /// it (`acceptance::gives_up`).
    pub fn with_unverifiable_after(mut self, after: u32) -> Store {
        self.unverifiable_after = after;
        self
    }

    /// The store re-checking a suspended verifier's verdicts of the last `window`.
    pub fn with_recheck_window(mut self, window: Duration) -> Store {
        self.recheck_window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// The key that verifies the ledger's signatures.
    pub fn public_key(&self) -> swarmlab_proto::VerifyingKey {
        self.key.verifying_key()
    }
}
