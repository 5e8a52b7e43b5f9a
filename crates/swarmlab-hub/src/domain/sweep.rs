//! The sweep: expired idea and job leases go back to their queues (each idea lease let
//! expire costs its holder one from its quota; an expired canary job ends), winners that
//! lost the race for the head are rebased and queued again, jobs that enough verifiers
//! faulted on as the rule stands now end `unverifiable`, and scratch files and git's
//! temporaries older than any request keeps one are removed (the disk is walked once every
//! quarter of that age, not on every tick). The server runs it on a timer, and clears both
//! when it starts.

use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::{blocking, Hub};
use super::scratch::{sweep_git_temporaries, sweep_scratch};

/// What a sweep returned to the queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Swept {
    pub ideas: u64,
    pub jobs: u64,
}

impl Hub {
    /// Returns expired leases to their queues and re-queues winners that lost the race for
    /// the head. The server runs it periodically; tests call it after moving the clock.
    pub async fn sweep(&self) -> Result<Swept, HubError> {
        let swept = self.store.sweep(self.now()).await?;
        if swept != Swept::default() {
            // Hub-wide: the sweep does not say which tracks it touched.
            self.publish(HubEvent::new(EventKind::Lease, ""));
        }
        self.reverify_pending().await?;
        for submission in self.store.give_up_due(self.now()).await? {
            let track = self.store.submission(submission).await?.map(|s| s.track);
            if let Some(track) = track {
                self.publish(HubEvent::new(EventKind::Verdict, &track).about(submission));
            }
        }
        let age = self.config.scratch_max_age();
        if self.disk_sweep.due(self.now(), age / 4) {
            let config = self.config.clone();
            blocking(move || {
                sweep_scratch(&config, Some(age));
                sweep_git_temporaries(&config, Some(age));
                Ok(())
            })
            .await?;
        }
        Ok(swept)
    }

    /// Removes everything in the scratch folder and git's temporaries in the tracks'
    /// repositories: what a hub killed in mid-request left. For the hub that serves the data
    /// folder, as it starts; maintenance commands that open the folder beside it must not.
    pub fn clear_scratch(&self) -> usize {
        sweep_scratch(&self.config, None) + sweep_git_temporaries(&self.config, None)
    }
}
