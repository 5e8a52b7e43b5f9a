//! [`HubEvent`]: what just changed on a track, broadcast to whoever listens (the dashboard's
//! server-sent events). An event names what changed, never content: a listener that wants
//! the details reads them with its own permissions. Nobody listening is fine; a slow
//! listener misses events and is told so (it then reloads).

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// How many events a slow listener may fall behind before it is told it lagged.
const CAPACITY: usize = 256;

/// What kind of change an event announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A track was added.
    Track,
    /// A submission went through intake, or was re-queued or rejected outside a verdict.
    Submission,
    /// A verification job was leased, or expired leases went back to their queues.
    Lease,
    /// A verifier's report was recorded (a verdict, or more reruns asked for).
    Verdict,
    /// A verifier said it is doing something else.
    Activity,
    /// The head moved.
    Head,
    /// The idea queue changed.
    Idea,
    /// A chain commit was promoted to `main`.
    Promotion,
    /// The server is stopping: listeners should end their streams.
    Closing,
}

impl EventKind {
    /// The SSE event name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Track => "track",
            EventKind::Submission => "submission",
            EventKind::Lease => "lease",
            EventKind::Verdict => "verdict",
            EventKind::Activity => "activity",
            EventKind::Head => "head",
            EventKind::Idea => "idea",
            EventKind::Promotion => "promotion",
            EventKind::Closing => "closing",
        }
    }
}

/// One change on a track (or on the hub, for [`EventKind::Closing`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HubEvent {
    pub kind: EventKind,
    /// Empty for hub-wide events.
    pub track: String,
    pub submission_id: Option<i64>,
}

impl HubEvent {
    /// An event on `track`.
    pub fn new(kind: EventKind, track: &str) -> HubEvent {
        HubEvent {
            kind,
            track: track.to_string(),
            submission_id: None,
        }
    }

    /// The same event, about a submission.
    pub fn about(mut self, submission_id: i64) -> HubEvent {
        self.submission_id = Some(submission_id);
        self
    }
}

/// The broadcast channel's sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<HubEvent>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Events {
    /// Sends an event to every listener; nobody listening is fine.
    pub fn publish(&self, event: HubEvent) {
        let _ = self.sender.send(event);
    }

    /// A new listener, which sees events sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HubEvent> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_see_what_is_sent_after_they_subscribe() {
        let events = Events::default();
        events.publish(HubEvent::new(EventKind::Idea, "lost"));
        let mut rx = events.subscribe();
        events.publish(HubEvent::new(EventKind::Verdict, "toy").about(7));
        let got = rx.try_recv().unwrap();
        assert_eq!((got.kind, got.track.as_str()), (EventKind::Verdict, "toy"));
        assert_eq!(got.submission_id, Some(7));
        assert!(rx.try_recv().is_err());
    }
}
