//! [`Hub`]: the hub's operations, the one place where the store, the per-track git
//! repositories, the clock and the hub's signing key meet. The HTTP API is a thin layer over
//! it; tests drive it directly with a [`ManualClock`](crate::clock::ManualClock).

use std::path::Path;
use std::sync::Arc;

use swarmlab_core::GitStore;
use swarmlab_proto::signing::{self, SigningKey};

use crate::clock::Clock;
use crate::config::HubConfig;
use crate::event::{Events, HubEvent};
use crate::store::{SqliteStore, SqliteViews, Store};
use crate::HubError;

/// The hub: state, code and time.
pub struct Hub {
    pub(crate) config: HubConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The dashboard's reads (and a promotion's ledger entry).
    pub(crate) views: Arc<SqliteViews>,
    events: Events,
    key: SigningKey,
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
        let key = load_or_create_key(&config.key_path())?;
        let store = SqliteStore::open(&config.database_path(), key.clone())
            .await?
            .with_quotas(config.quota)
            .with_recheck_window(config.canary.recheck_window);
        let views =
            SqliteViews::open(&config.database_path(), store.pool().clone(), key.clone()).await?;
        Ok(Hub {
            config,
            store: Arc::new(store),
            clock,
            views: Arc::new(views),
            events: Events::default(),
            key,
        })
    }

    /// The configuration the hub runs with.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The key that verifies the hub's ledger signatures, 64 hex digits.
    pub fn public_key_hex(&self) -> String {
        signing::public_key_hex(&self.key)
    }

    /// The key that verifies the hub's ledger signatures.
    pub fn public_key(&self) -> swarmlab_proto::VerifyingKey {
        self.key.verifying_key()
    }

    /// What changes on the hub, as it happens.
    pub fn events(&self) -> &Events {
        &self.events
    }

    pub(crate) fn publish(&self, event: HubEvent) {
        self.events.publish(event);
    }

    /// The dashboard's reads.
    pub(crate) fn views(&self) -> Arc<SqliteViews> {
        self.views.clone()
    }

    /// Now, by the hub's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A track's ledger as exported: JSON lines, each ending in a newline.
    pub async fn ledger_text(&self, track: &str) -> Result<String, HubError> {
        self.store
            .track(track)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("track `{track}`")))?;
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

fn load_or_create_key(path: &Path) -> Result<SigningKey, HubError> {
    let bad = |why: &str| HubError::Internal(format!("{}: {why}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("not 64 hex digits of an ed25519 secret key"))?;
            Ok(signing::signing_key(&bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = random_bytes::<32>()?;
            write_secret(path, &hex::encode(secret))
                .map_err(|e| HubError::io(format!("failed to write {}", path.display()), e))?;
            Ok(signing::signing_key(&secret))
        }
        Err(e) => Err(HubError::io(
            format!("failed to read {}", path.display()),
            e,
        )),
    }
}

fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
