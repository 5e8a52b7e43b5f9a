//! Tracks: an admin adds one from a git repository on the hub's machine, pinned at a
//! baseline commit (`track_import.rs`). The hub keeps the track's code in its own repository
//! (`data_dir/tracks/<name>`), whose `refs/heads/chain` is the verified head. That repository
//! has a work tree only because [`GitStore`](swarmlab_core::GitStore) requires one; it is
//! never checked out.

use swarmlab_proto::{AddTrackRequest, Rule, TrackInfo};

use super::acceptance::reruns_cap;
use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::{blocking, Hub};
use super::track_import::import;

/// The ref of a track's verified head in its repository.
pub const CHAIN_REF: &str = "refs/heads/chain";

/// The ref that keeps a commit the hub received (or made) reachable.
pub fn commit_ref(commit: &str) -> String {
    format!("refs/swarmlab/c/{commit}")
}

/// A track as stored: its head, its acceptance rule and what a change may touch.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRecord {
    pub name: String,
    pub baseline: String,
    pub head: String,
    pub metric: String,
    pub rule: Rule,
    pub editable: Vec<String>,
    pub spec_toml: String,
}

impl Hub {
    /// Adds a track from `repo` at `baseline`; its head starts at the baseline.
    pub async fn add_track(&self, req: &AddTrackRequest) -> Result<TrackInfo, HubError> {
        let config = self.config.clone();
        let req = req.clone();
        let record = blocking(move || import(&config, &req)).await?;
        self.store.create_track(&record, self.now()).await?;
        self.publish(HubEvent::new(EventKind::Track, &record.name));
        self.track_info(&record.name).await
    }

    /// A track as stored; not found when there is none of that name.
    pub(crate) async fn track(&self, name: &str) -> Result<TrackRecord, HubError> {
        self.store
            .track(name)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("track `{name}`")))
    }

    /// A track, its rule and its chain.
    pub async fn track_info(&self, name: &str) -> Result<TrackInfo, HubError> {
        let t = self.track(name).await?;
        let chain = self.store.chain(name).await?;
        Ok(TrackInfo {
            name: t.name,
            baseline: t.baseline,
            head: t.head,
            metric: t.metric,
            goal: t.rule.goal.as_str().to_string(),
            reruns: t.rule.reruns,
            max_reruns: reruns_cap(&t.rule),
            alpha: t.rule.alpha,
            min_delta: t.rule.min_delta,
            editable: t.editable,
            chain,
        })
    }

    /// Every track.
    pub async fn list_tracks(&self) -> Result<Vec<TrackInfo>, HubError> {
        let mut out = Vec::new();
        for t in self.store.tracks().await? {
            out.push(self.track_info(&t.name).await?);
        }
        Ok(out)
    }
}
