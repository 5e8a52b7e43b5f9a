//! [`Beacon`]: tells the hub what the verifier is doing ("building the baseline", "rerun 2
//! of 3"), so that a track's page can show it while a long phase runs. A thread of its own
//! sends each new activity at once and repeats the current one every [`REPEAT`], so the hub
//! knows the verifier is still at it.
//!
//! It is a courtesy: a hub that does not answer, or does not know the route, changes nothing
//! in the job, and nothing here waits for the hub.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use swarmlab_proto::ActivityReport;

use crate::client::HubClient;

/// How often the current activity is repeated.
const REPEAT: Duration = Duration::from_secs(20);

/// What the thread is told: the activity to send, and whether to stop.
#[derive(Default)]
struct Board {
    current: Option<ActivityReport>,
    fresh: bool,
    stopped: bool,
}

/// The thread that keeps the hub told.
pub(super) struct Beacon {
    shared: Arc<(Mutex<Board>, Condvar)>,
}

impl Beacon {
    pub(super) fn start(client: &HubClient) -> Beacon {
        let shared = Arc::new((Mutex::new(Board::default()), Condvar::new()));
        let (client, board) = (client.clone(), shared.clone());
        std::thread::spawn(move || {
            let (lock, wake) = &*board;
            let mut warned = false;
            loop {
                let report = {
                    let mut b = lock.lock().unwrap_or_else(|e| e.into_inner());
                    if !b.fresh && !b.stopped {
                        b = wake
                            .wait_timeout(b, REPEAT)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    if b.stopped {
                        return;
                    }
                    b.fresh = false;
                    b.current.clone()
                };
                let Some(report) = report else { continue };
                let sent: Result<serde_json::Value, _> = client.post("verifiers/activity", &report);
                if let Err(e) = sent {
                    if !warned {
                        eprintln!("verifier: the hub was not told what this verifier does: {e}");
                        warned = true;
                    }
                }
            }
        });
        Beacon { shared }
    }

    /// From now on the verifier is doing `doing`, for `track`.
    pub(super) fn set(&self, track: Option<&str>, doing: impl Into<String>) {
        let (lock, wake) = &*self.shared;
        let mut b = lock.lock().unwrap_or_else(|e| e.into_inner());
        b.current = Some(ActivityReport {
            track: track.map(str::to_string),
            doing: doing.into(),
        });
        b.fresh = true;
        wake.notify_all();
    }
}

impl Drop for Beacon {
    /// Stops the thread without waiting for it: it may be retrying a hub that is down.
    fn drop(&mut self) {
        let (lock, wake) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).stopped = true;
        wake.notify_all();
    }
}
