//! What each verifier and worker says it is doing ("building the baseline", "rerun 2 of 3",
//! "nothing left to propose on the head"), kept in memory for the track pages, which show how
//! long it has been at it. A client sends its activity when it changes and now and then while
//! it lasts; one not heard of for [`STALE_MS`] is no longer shown.
//!
//! It is a notice board, not state: nothing is stored, no ledger entry records it, and a
//! restart of the hub forgets it. Nothing is decided from it but what the pages say
//! (`convergence`).

use std::collections::HashMap;
use std::sync::Mutex;

use swarmlab_proto::{ActivityReport, ClientActivity, Role};

use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::Hub;
use super::identity::Identity;
use super::roles::{require, Action};

/// An activity not heard of for this long is not shown (clients repeat theirs every 20 s).
pub const STALE_MS: i64 = 120_000;

/// The longest activity text kept.
const MAX_CHARS: usize = 200;

/// Every client's latest activity, by identity id.
#[derive(Debug, Default)]
pub struct Activities {
    latest: Mutex<HashMap<String, ClientActivity>>,
}

impl Activities {
    /// Records `report` from `caller` at `now`; whether it is news (another activity than
    /// the last one heard from it).
    fn record(&self, caller: &Identity, report: &ActivityReport, now: i64) -> bool {
        let doing: String = report.doing.trim().chars().take(MAX_CHARS).collect();
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let same = latest.get(&caller.id).is_some_and(|a| {
            a.doing == doing && a.track == report.track && a.idle_on == report.idle_on
        });
        let since_ms = match latest.get(&caller.id) {
            Some(a) if same => a.since_ms,
            _ => now,
        };
        latest.insert(
            caller.id.clone(),
            ClientActivity {
                identity: caller.id.clone(),
                name: caller.name.clone(),
                role: caller.role,
                track: report.track.clone(),
                doing,
                idle_on: report.idle_on.clone(),
                since_ms,
                seen_ms: now,
            },
        );
        !same
    }

    /// The activities heard of within [`STALE_MS`] of `now` that concern `track` (or no
    /// track at all), by name.
    pub(super) fn of(&self, track: &str, now: i64) -> Vec<ClientActivity> {
        let latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<ClientActivity> = latest
            .values()
            .filter(|a| now - a.seen_ms <= STALE_MS)
            .filter(|a| a.track.as_deref().is_none_or(|t| t == track))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.identity.cmp(&b.identity)));
        out
    }
}

impl Hub {
    /// Notes what a verifier or a worker is doing; a change is announced on its track.
    pub async fn report_activity(
        &self,
        caller: &Identity,
        report: &ActivityReport,
    ) -> Result<(), HubError> {
        require(caller, Self::activity_action(caller))?;
        if report.doing.trim().is_empty() {
            return Err(HubError::BadRequest(
                "an activity needs a few words of what is being done".into(),
            ));
        }
        if let Some(track) = &report.track {
            self.track(track).await?;
        }
        if self.activities.record(caller, report, self.now()) {
            let track = report.track.as_deref().unwrap_or("");
            self.publish(HubEvent::new(EventKind::Activity, track));
        }
        Ok(())
    }

    /// The action a report of `caller`'s activity is: a worker's or a verifier's.
    fn activity_action(caller: &Identity) -> Action {
        match caller.role {
            Role::Worker => Action::ReportWork,
            Role::Verifier | Role::Admin => Action::ReportActivity,
        }
    }

    /// What the verifiers and workers of `track` are doing now.
    pub async fn activities(&self, track: &str) -> Result<Vec<ClientActivity>, HubError> {
        self.track(track).await?;
        Ok(self.activities.of(track, self.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmlab_proto::Role;

    fn verifier(id: &str) -> Identity {
        Identity {
            id: id.into(),
            name: format!("name-{id}"),
            role: Role::Verifier,
            public_key: None,
        }
    }

    fn doing(track: Option<&str>, text: &str) -> ActivityReport {
        ActivityReport {
            track: track.map(str::to_string),
            doing: text.into(),
            idle_on: None,
        }
    }

    #[test]
    fn an_activity_keeps_its_start_until_it_changes_and_fades_when_unheard() {
        let board = Activities::default();
        let v = verifier("v1");
        assert!(board.record(&v, &doing(Some("t"), "building the baseline"), 1_000));
        assert!(!board.record(&v, &doing(Some("t"), "building the baseline"), 21_000));
        let shown = board.of("t", 22_000);
        assert_eq!(shown.len(), 1);
        assert_eq!((shown[0].since_ms, shown[0].seen_ms), (1_000, 21_000));
        assert!(board.record(&v, &doing(Some("t"), "rerun 1 of 3"), 30_000));
        assert_eq!(board.of("t", 30_000)[0].since_ms, 30_000);
        // Another track's page does not show it; a verifier between tracks shows everywhere.
        assert!(board.of("other", 30_000).is_empty());
        board.record(&verifier("v2"), &doing(None, "waiting for a job"), 30_000);
        assert_eq!(board.of("other", 30_000).len(), 1);
        assert_eq!(board.of("t", 30_000).len(), 2);
        assert!(board.of("t", 30_000 + STALE_MS + 1).is_empty());
    }
}
