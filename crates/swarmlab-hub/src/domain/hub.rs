//! [`Hub`]: where the store, the per-track git repositories, the clock and the event
//! channel meet. Its operations live beside the rules they apply, one file per concern
//! (`identity`, `track`, `idea`, `submission`, `job`, `report`, `activity`, `noise`, `sweep`,
//! `chain`, `canary`, `promotion`); this file opens the hub and holds what they share. The web layer
//! is a thin layer over it; tests drive it directly with a [`ManualClock`].
//!
//! [`ManualClock`]: crate::domain::clock::ManualClock

use std::sync::Arc;

use swarmlab_core::GitStore;

use super::activity::Activities;
use super::clock::Clock;
use super::config::HubConfig;
use super::error::HubError;
use super::event::{EventKind, Events, HubEvent};
use super::scratch::DiskSweep;
use crate::store::{Reader, Store};

/// The hub: state, code and time.
pub struct Hub {
    pub(crate) config: HubConfig,
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    /// The dashboard's reads: query-only connections, no key.
    reader: Arc<Reader>,
    events: Events,
    /// What each verifier says it is doing, for the pages (in memory only).
    pub(crate) activities: Activities,
    /// When the sweep last looked for leftovers on disk.
    pub(crate) disk_sweep: DiskSweep,
}

impl Hub {
    /// Opens the hub in `config.data_dir` (creating it, its key and its database when new).
    pub async fn open(config: HubConfig, clock: Arc<dyn Clock>) -> Result<Hub, HubError> {
        for dir in [
            config.data_dir.clone(),
            config.scratch_dir(),
            config.data_dir.join("tracks"),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| HubError::io(format!("failed to create {}", dir.display()), e))?;
        }
        let database = config.database()?;
        let store = Store::open(&database, &config.key_path())
            .await?
            .with_quotas(config.quota)
            .with_unverifiable_after(config.unverifiable_after)
            .with_recheck_window(config.canary.recheck_window);
        // A database from before verifier keys were in the ledgers catches up here.
        store.enroll_missing_verifiers(clock.now_ms()).await?;
        let reader = Reader::open(&database).await?;
        let events = Events::default();
        if let Some(foreign) = store.foreign_events() {
            tokio::spawn(relay(foreign, events.clone()));
        }
        Ok(Hub {
            config,
            store,
            clock,
            reader: Arc::new(reader),
            events,
            activities: Activities::default(),
            disk_sweep: DiskSweep::default(),
        })
    }

    /// The configuration the hub runs with.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The key that verifies the hub's ledger signatures, 64 hex digits.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key().to_bytes())
    }

    /// The key that verifies the hub's ledger signatures.
    pub fn public_key(&self) -> swarmlab_proto::VerifyingKey {
        self.store.public_key()
    }

    /// What changes on the hub, as it happens.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Sends `event` to this process's listeners and, through the store, to those of other
    /// hub processes on the same database (all but `closing`, which is this process's own).
    pub(crate) fn publish(&self, event: HubEvent) {
        if event.kind != EventKind::Closing {
            if let Ok(json) = serde_json::to_string(&event) {
                self.store.announce(json);
            }
        }
        self.events.publish(event);
    }

    /// The dashboard's reads.
    pub(crate) fn reader(&self) -> Arc<Reader> {
        self.reader.clone()
    }

    /// Now, by the hub's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Now, and the deadline of a lease of `length` taken now.
    pub(crate) fn lease_from_now(&self, length: std::time::Duration) -> (i64, i64) {
        let now = self.now();
        let length = i64::try_from(length.as_millis()).unwrap_or(i64::MAX);
        (now, now.saturating_add(length))
    }

    /// A track's ledger as exported: JSON lines, each ending in a newline.
    pub async fn ledger_text(&self, track: &str) -> Result<String, HubError> {
        self.track(track).await?;
        let mut out = String::new();
        for line in self.store.ledger(track).await? {
            out.push_str(&line);
            out.push('\n');
        }
        Ok(out)
    }

    /// The git repository of a track.
    pub(crate) fn repo(&self, track: &str) -> Result<GitStore, HubError> {
        Ok(GitStore::open(&self.config.track_repo(track))?)
    }
}

/// Runs blocking work (git) off the async runtime.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, HubError>
where
    F: FnOnce() -> Result<T, HubError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HubError::Internal(format!("blocking task failed: {e}")))?
}

/// Fresh random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], HubError> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out)
        .map_err(|e| HubError::Internal(format!("no randomness available: {e}")))?;
    Ok(out)
}

/// Passes the events other hub processes announce to this one's listeners, until the store
/// that hears them is dropped.
async fn relay(mut foreign: tokio::sync::broadcast::Receiver<String>, events: Events) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match foreign.recv().await {
            Ok(json) => {
                if let Ok(event) = serde_json::from_str::<HubEvent>(&json) {
                    events.publish(event);
                }
            }
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}
