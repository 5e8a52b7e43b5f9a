//! Whether a track's swarm has converged: every worker heard of lately has nothing left to
//! propose on the head, no submission waits for a verdict and no idea waits for a worker.
//! Then nothing moves the chain until someone adds an idea (or a worker with another
//! proposer joins); `swarmlab demo` says so, and the track page shows it.
//!
//! It reads the workers' activities ([`super::activity`]) and the track's backlog; it
//! changes nothing, and nothing else is decided from it.

use swarmlab_proto::{ClientActivity, Role};

use super::error::HubError;
use super::hub::Hub;

/// What a track still has before it ([`crate::store::Store::backlog`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Submissions queued or being verified.
    pub waiting: u64,
    /// Ideas no worker holds.
    pub open_ideas: u64,
}

/// A converged track: where its chain stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Convergence {
    pub head: String,
    /// The head's place in the chain (the baseline is 0).
    pub seq: i64,
    /// The track's metric's name.
    pub metric: String,
    /// The head's verified metric, when a verdict measured it.
    pub value: Option<f64>,
    /// The workers idle on the head.
    pub workers: usize,
}

/// How many workers are idle on `head`, when every worker among `activities` is and
/// `backlog` is empty; `None` otherwise, or when no worker is heard of at all.
pub fn idle_workers(activities: &[ClientActivity], head: &str, backlog: Backlog) -> Option<usize> {
    let workers: Vec<&ClientActivity> = activities
        .iter()
        .filter(|a| a.role == Role::Worker)
        .collect();
    let all_idle = workers.iter().all(|a| a.idle_on.as_deref() == Some(head));
    (!workers.is_empty() && all_idle && backlog == Backlog::default()).then_some(workers.len())
}

impl Hub {
    /// Whether `track` has converged (see the module), and where.
    pub async fn convergence(&self, track: &str) -> Result<Option<Convergence>, HubError> {
        let t = self.track(track).await?;
        let now = self.now();
        let activities = self.activities.of(track, now);
        // The backlog costs a query: only asked when the workers are all idle on the head.
        if idle_workers(&activities, &t.head, Backlog::default()).is_none() {
            return Ok(None);
        }
        let backlog = self.store.backlog(track, now).await?;
        let Some(workers) = idle_workers(&activities, &t.head, backlog) else {
            return Ok(None);
        };
        let seq = self.store.chain_seq_of(track, &t.head).await?.unwrap_or(0);
        Ok(Some(Convergence {
            value: self.store.head_value(track, &t.head).await?,
            metric: t.metric,
            head: t.head,
            seq,
            workers,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(name: &str, idle_on: Option<&str>) -> ClientActivity {
        ClientActivity {
            identity: format!("id-{name}"),
            name: name.into(),
            role: Role::Worker,
            track: Some("t".into()),
            doing: "x".into(),
            idle_on: idle_on.map(str::to_string),
            since_ms: 0,
            seen_ms: 0,
        }
    }

    #[test]
    fn a_track_converges_when_every_worker_is_idle_on_the_head_and_nothing_waits() {
        let none = Backlog::default();
        let idle = [worker("a", Some("h2")), worker("b", Some("h2"))];
        assert_eq!(idle_workers(&idle, "h2", none), Some(2));
        // A verifier's activity says nothing of the search.
        let mut verifier = worker("v", None);
        verifier.role = Role::Verifier;
        let with_verifier = [idle[0].clone(), verifier];
        assert_eq!(idle_workers(&with_verifier, "h2", none), Some(1));
        // One worker still searching, or idle on an older head: not converged.
        let busy = [worker("a", Some("h2")), worker("b", None)];
        assert_eq!(idle_workers(&busy, "h2", none), None);
        assert_eq!(idle_workers(&idle, "h3", none), None);
        // A submission waiting for its verdict or an idea waiting for a worker may move it.
        let waiting = Backlog { waiting: 1, ..none };
        assert_eq!(idle_workers(&idle, "h2", waiting), None);
        let idea = Backlog {
            open_ideas: 1,
            ..none
        };
        assert_eq!(idle_workers(&idle, "h2", idea), None);
        // No worker heard of: nothing to say.
        assert_eq!(idle_workers(&[], "h2", none), None);
    }
}
