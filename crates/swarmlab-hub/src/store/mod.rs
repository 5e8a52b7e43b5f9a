//! The store: the hub's state in one database, SQLite (WAL mode) or PostgreSQL, and the only
//! place that writes. [`Store`] has a method per state transition, each one database
//! transaction with its ledger entry inside it; its methods live beside their SQL, one file per
//! concern (`identities`, `invites`, `tracks`, `ideas`, `heartbeats`, `sweep`, `submissions`,
//! `jobs`, `verdicts`, `faults`, `quotas`, `costs`, `canaries`, `standing`, `promotions`,
//! `ledger`, and `roster`, the verifiers each track's ledger has enrolled).
//!
//! The hub's signing key lives here only (`key.rs`): a ledger entry is sealed and appended
//! inside the transaction of the change it records (`ledger.rs`), so no other road writes a
//! ledger line. The store records what the domain decided and decides nothing itself: where a
//! rule must see the state inside the transaction (what a verdict does to its submission, a
//! worker's quota, a near-duplicate idea) it calls the domain's pure rule with what it found
//! and records the answer. The dashboard's side, [`Reader`], opens query-only connections and
//! holds no key.
//!
//! One connection writes: SQLite has one writer at a time anyway, and a deferred transaction
//! that reads and then writes could otherwise fail to upgrade its lock; on PostgreSQL, where
//! several hub processes may share the database, each transition also takes one advisory lock
//! ([`Store::begin`]), and its commit is a notice to the others (`notices.rs`). Every state
//! transition, and every read inside one, runs on it. Reads outside a transition run on a few
//! read-only connections beside it (WAL lets readers and the writer proceed together), each one
//! statement or one read transaction, so each sees one committed state. Identities are cached
//! by token hash (`identities.rs`) and tracks with their chains (`tracks.rs`), and heartbeats
//! that queue up for the writer are committed together (`heartbeats.rs`).
//!
//! One code path serves both databases, through sqlx's `Any` driver: the SQL is portable (`$n`
//! placeholders, `ON CONFLICT`, `RETURNING`, counters rather than autoincrement, booleans read
//! through `columns::flag`), and so are the migrations (`schema.rs`). The few statements spelt
//! two ways (JSON arrays read as tables) match on [`Dialect`], which `database.rs` derives from
//! the URL; nothing outside `store/` names a backend.

mod backlog;
mod canaries;
mod columns;
mod costs;
mod database;
mod error;
mod faults;
mod heartbeats;
mod ideas;
mod identities;
mod invites;
mod jobs;
mod key;
mod ledger;
mod notices;
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
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, AnyPool, Transaction};
use swarmlab_proto::signing::SigningKey;

use crate::domain::config::QuotaConfig;

pub use database::Database;
pub(crate) use database::Dialect;
pub use error::StoreError;
pub use reader::Reader;
pub use schema::MIGRATIONS;
pub use views::Views;

/// A transaction on the writing connection.
pub(crate) type Tx<'c> = Transaction<'c, Any>;

/// Read-only connections beside the writer (with SQLite, each its own worker thread; two and
/// four measured alike on two cores).
const READERS: u32 = 4;

/// The PostgreSQL advisory lock every transition holds (any constant other than the
/// migrations' will do).
const WRITE_LOCK: i64 = 0x7377_6172_6d77_7269;

/// Faults that end a job unless [`Store::with_unverifiable_after`] sets another number.
const UNVERIFIABLE_AFTER: u32 = 3;

/// The re-check window unless [`Store::with_recheck_window`] sets another.
const RECHECK_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// The hub's state in one database.
pub struct Store {
    /// The one writing connection. Every state transition goes through it, one transaction
    /// each. Identities and tracks are cached in memory: change them only as
    /// `identities.rs` and `tracks.rs` say, which keeps the caches true.
    pool: AnyPool,
    /// Read-only connections for reads outside a transition.
    reader: AnyPool,
    /// What the database speaks, for the few statements spelt two ways.
    dialect: Dialect,
    /// Signs ledger entries; never leaves the store.
    key: SigningKey,
    tokens: identities::TokenCache,
    tracks: Arc<tracks::TrackCache>,
    /// What other hub processes on the same PostgreSQL database are told and tell (none on
    /// SQLite).
    notices: Option<notices::Notices>,
    heartbeats: heartbeats::Heartbeats,
    quota: QuotaConfig,
    /// How many distinct verifiers' faults end a job as `unverifiable`.
    unverifiable_after: u32,
    /// How far back a suspended verifier's verdicts are verified again.
    recheck_window_ms: i64,
}

impl Store {
    /// Opens `database` (creating a SQLite file if needed) and applies pending migrations;
    /// ledger entries are signed with the key at `key_path` (created when missing).
    pub async fn open(database: &Database, key_path: &Path) -> Result<Store, StoreError> {
        let key = key::load_or_create(key_path)?;
        database::install_drivers();
        let pool = database.connect_writer(1).await?;
        let tracks = Arc::new(tracks::TrackCache::default());
        let notices = (database.dialect() == Dialect::Postgres)
            .then(|| notices::Notices::start(database.url(), tracks.clone()));
        let store = Store {
            heartbeats: heartbeats::Heartbeats::start(pool.clone(), database.dialect()),
            pool,
            reader: database.connect_reader(READERS)?,
            dialect: database.dialect(),
            key,
            tokens: identities::TokenCache::default(),
            tracks,
            notices,
            quota: QuotaConfig::default(),
            unverifiable_after: UNVERIFIABLE_AFTER,
            recheck_window_ms: RECHECK_WINDOW_MS,
        };
        schema::migrate(&store.pool, store.dialect).await?;
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

    /// A transaction on the writer for one state transition. On PostgreSQL, where other hub
    /// processes may write to the same database, it first takes the hub's write lock (held
    /// to its end), so that transitions are one at a time across processes as SQLite makes
    /// them within one: a head moves by one compare-and-swap and ledger appends never race.
    /// Its commit tells the others to drop their cached tracks.
    pub(crate) async fn begin(&self) -> Result<Tx<'static>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(notices) = &self.notices {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(WRITE_LOCK)
                .execute(&mut *tx)
                .await?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(notices::WRITES)
                .bind(notices.nonce())
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Tells the dashboards of other hub processes on the same database of `event` (JSON);
    /// nothing to do when there can be none.
    pub fn announce(&self, event: String) {
        if let Some(notices) = &self.notices {
            notices.announce(event);
        }
    }

    /// The events other hub processes on the same database announce, as JSON; `None` when
    /// there can be none.
    pub fn foreign_events(&self) -> Option<tokio::sync::broadcast::Receiver<String>> {
        self.notices.as_ref().map(notices::Notices::subscribe)
    }

    /// The key that verifies the ledger's signatures.
    pub fn public_key(&self) -> swarmlab_proto::VerifyingKey {
        self.key.verifying_key()
    }
}
