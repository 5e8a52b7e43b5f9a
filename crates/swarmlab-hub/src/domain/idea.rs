//! The idea queue: anyone signed in adds ideas, workers lease them. Its lifecycle is
//! `open → leased(worker, deadline) → done`; heartbeats push the deadline back and an expired
//! lease returns the idea to `open` (and costs its holder one from its quota). A new idea
//! that nearly repeats an earlier one is flagged, by the rule of `swarmlab_core::likeness`.

use swarmlab_proto::{IdeaInfo, IdeaSource, LeaseDeadline, NewIdea};

use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::Hub;
use super::identity::Identity;
use super::roles::{may_see_submission, require, Action, Reader};

/// A source names its document (at most 1000 characters) and quotes a passage (at most 4000).
fn check_source(source: &IdeaSource) -> Result<(), HubError> {
    let document = source.document.trim();
    let passage = source.passage.trim();
    if document.is_empty() || document.len() > 1_000 || passage.is_empty() || passage.len() > 4_000
    {
        return Err(HubError::BadRequest(
            "an idea's source names its document (1 to 1000 characters) and quotes a passage (1 to 4000)".into(),
        ));
    }
    Ok(())
}

impl Hub {
    /// Adds an idea to a track's queue, authored by the caller; near-duplicates are flagged.
    pub async fn add_idea(
        &self,
        caller: &Identity,
        track: &str,
        idea: &NewIdea,
    ) -> Result<IdeaInfo, HubError> {
        let text = idea.text.trim();
        if text.is_empty() || text.len() > 10_000 {
            return Err(HubError::BadRequest(
                "an idea is 1 to 10000 characters of text".into(),
            ));
        }
        if let Some(source) = &idea.source {
            check_source(source)?;
        }
        let idea = NewIdea {
            text: text.to_string(),
            ..idea.clone()
        };
        let info = self
            .store
            .add_idea(
                track,
                &idea,
                &caller.id,
                self.config.idea_similarity,
                self.now(),
            )
            .await?;
        self.publish(HubEvent::new(EventKind::Idea, track));
        Ok(info)
    }

    /// One idea and the submissions that tried it that `reader` may see.
    pub async fn idea<'a>(
        &self,
        reader: impl Into<Reader<'a>>,
        id: i64,
    ) -> Result<IdeaInfo, HubError> {
        let listed = self.listed_to(reader.into());
        self.store
            .idea(id, &listed)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("idea {id}")))
    }

    /// A track's ideas, oldest first, each with the submissions that tried it that
    /// `reader` may see.
    pub async fn ideas<'a>(
        &self,
        reader: impl Into<Reader<'a>>,
        track: &str,
    ) -> Result<Vec<IdeaInfo>, HubError> {
        let listed = self.listed_to(reader.into());
        Ok(self.store.ideas(track, &listed).await?)
    }

    /// Which submissions an idea lists to `reader`: those it may see.
    fn listed_to<'a>(&self, reader: Reader<'a>) -> impl Fn(&str, &str) -> bool + Send + Sync + 'a {
        let public = self.config.public_read;
        move |worker: &str, status: &str| may_see_submission(reader, worker, status, public)
    }

    /// Leases the oldest open idea of a track to a worker; `None` when the queue is empty.
    pub async fn lease_idea(
        &self,
        caller: &Identity,
        track: &str,
    ) -> Result<Option<IdeaInfo>, HubError> {
        require(caller, Action::LeaseIdea)?;
        let (now, deadline) = self.lease_from_now(self.config.idea_lease);
        let listed = self.listed_to(caller.into());
        let leased = self
            .store
            .lease_idea(track, &caller.id, now, deadline, &listed)
            .await?;
        if leased.is_some() {
            self.publish(HubEvent::new(EventKind::Idea, track));
        }
        Ok(leased)
    }

    /// Extends the caller's lease on an idea.
    pub async fn heartbeat_idea(
        &self,
        caller: &Identity,
        id: i64,
    ) -> Result<LeaseDeadline, HubError> {
        require(caller, Action::HeartbeatIdea)?;
        let (now, deadline) = self.lease_from_now(self.config.idea_lease);
        self.store
            .heartbeat_idea(id, &caller.id, now, deadline)
            .await?;
        Ok(LeaseDeadline {
            deadline_ms: deadline,
        })
    }

    /// Marks the caller's leased idea done.
    pub async fn finish_idea(&self, caller: &Identity, id: i64) -> Result<(), HubError> {
        require(caller, Action::FinishIdea)?;
        Ok(self.store.finish_idea(id, &caller.id, self.now()).await?)
    }
}
