//! Notices between hub processes that share one PostgreSQL database (LISTEN/NOTIFY): every
//! committed transition tells the others to forget their cached tracks, and every event the
//! dashboard streams is told to the others' listeners too. On SQLite, one process holds the
//! database and there is no one to tell: nothing here runs.
//!
//! A notice is a hint, never the truth: transitions read what they decide on inside their
//! own transaction, under the write lock (`Store::begin`). A listener that loses its
//! connection forgets every track, since it may have missed notices meanwhile. Nothing here
//! writes the hub's state.

use std::sync::Arc;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};

use super::tracks::TrackCache;

/// The channel of committed writes; the payload is the writing process's nonce.
pub(super) const WRITES: &str = "swarmlab_writes";
/// The channel of the dashboard's events: the nonce, a tab, the event as JSON.
const EVENTS: &str = "swarmlab_events";

/// This process's side of the notices.
pub(super) struct Notices {
    /// Tells this process apart from the others on the channels.
    nonce: String,
    outbound: mpsc::UnboundedSender<String>,
    inbound: broadcast::Sender<String>,
}

impl Notices {
    /// Starts listening on `url`'s database; `tracks` is forgotten on every other process's
    /// write. The task ends when the `Notices` is dropped.
    pub(super) fn start(url: &str, tracks: Arc<TrackCache>) -> Notices {
        let nonce = format!("{:016x}", rand_u64());
        let (outbound, rx) = mpsc::unbounded_channel();
        let (inbound, _) = broadcast::channel(256);
        let task = Listening {
            url: url.to_string(),
            nonce: nonce.clone(),
            tracks,
            inbound: inbound.clone(),
        };
        tokio::spawn(task.run(rx));
        Notices {
            nonce,
            outbound,
            inbound,
        }
    }

    pub(super) fn nonce(&self) -> &str {
        &self.nonce
    }

    /// Tells the other processes' listeners of `event` (JSON); never waits.
    pub(super) fn announce(&self, event: String) {
        let _ = self.outbound.send(format!("{}\t{event}", self.nonce));
    }

    /// The events other processes announce, as JSON, from now on.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<String> {
        self.inbound.subscribe()
    }
}

struct Listening {
    url: String,
    nonce: String,
    tracks: Arc<TrackCache>,
    inbound: broadcast::Sender<String>,
}

impl Listening {
    async fn run(self, mut outbound: mpsc::UnboundedReceiver<String>) {
        // The writer already connected with this URL, so it parses.
        let Ok(sender) = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy(&self.url)
        else {
            return;
        };
        let mut listener = None;
        loop {
            if listener.is_none() {
                listener = self.listen().await;
                // Whatever was said while no one listened is lost: start from the database.
                self.tracks.forget_all();
            }
            let Some(active) = listener.as_mut() else {
                // The database is away; try again soon, still sending what is queued.
                tokio::select! {
                    queued = outbound.recv() => match queued {
                        Some(payload) => send(&sender, &payload).await,
                        None => return,
                    },
                    _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                }
                continue;
            };
            tokio::select! {
                queued = outbound.recv() => match queued {
                    Some(payload) => send(&sender, &payload).await,
                    None => return,
                },
                heard = active.try_recv() => match heard {
                    Ok(Some(notice)) => self.heard(notice.channel(), notice.payload()),
                    // The connection dropped: listen again, and forget what may be missed.
                    Ok(None) | Err(_) => listener = None,
                },
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect(&self.url).await.ok()?;
        listener.listen_all([WRITES, EVENTS]).await.ok()?;
        Some(listener)
    }

    fn heard(&self, channel: &str, payload: &str) {
        let (from, event) = payload.split_once('\t').unwrap_or((payload, ""));
        if from == self.nonce {
            return;
        }
        if channel == WRITES {
            self.tracks.forget_all();
        } else if channel == EVENTS && !event.is_empty() {
            let _ = self.inbound.send(event.to_string());
        }
    }
}

/// Sends one event notice; a lost one costs a listener one refresh, so errors are dropped.
async fn send(sender: &PgPool, payload: &str) {
    let _ = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(EVENTS)
        .bind(payload)
        .execute(sender)
        .await;
}

/// A random number from the OS, for the nonce.
fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::getrandom(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        return (nanos as u64) ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(bytes)
}
