//! [`Beacon`]: tells the hub what a verifier or a worker is doing ("building the baseline",
//! "rerun 2 of 3", "nothing left to propose on the head"), so that a track's page can show
//! it while a long phase runs. A thread of its own sends each new activity at once and
//! repeats the current one every [`REPEAT`], so the hub knows the client is still at it.
//!
//! It is a courtesy: a hub that does not answer, or does not know the route, changes nothing
//! in the work, and nothing here waits for the hub.

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

/// Who a beacon speaks for: the route it posts to and the prefix of its one warning.
#[derive(Debug, Clone, Copy)]
pub enum Speaker {
    Verifier,
    Worker,
}

impl Speaker {
    fn route(self) -> &'static str {
        match self {
            Speaker::Verifier => "verifiers/activity",
            Speaker::Worker => "workers/activity",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Speaker::Verifier => "verifier",
            Speaker::Worker => "worker",
        }
    }
}

/// The thread that keeps the hub told.
pub struct Beacon {
    shared: Arc<(Mutex<Board>, Condvar)>,
}

impl Beacon {
    pub fn start(client: &HubClient, speaker: Speaker) -> Beacon {
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
                let sent: Result<serde_json::Value, _> = client.post(speaker.route(), &report);
                if let Err(e) = sent {
                    if !warned {
                        let who = speaker.name();
                        eprintln!("{who}: the hub was not told what this {who} does: {e}");
                        warned = true;
                    }
                }
            }
        });
        Beacon { shared }
    }

    /// From now on the client is doing `doing`, for `track`.
    pub fn set(&self, track: Option<&str>, doing: impl Into<String>) {
        self.report(ActivityReport {
            track: track.map(str::to_string),
            doing: doing.into(),
            idle_on: None,
        });
    }

    /// From now on the client says `report`; sent at once unless it says what it said.
    pub fn report(&self, report: ActivityReport) {
        let (lock, wake) = &*self.shared;
        let mut b = lock.lock().unwrap_or_else(|e| e.into_inner());
        if b.current.as_ref() == Some(&report) {
            return;
        }
        b.current = Some(report);
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
