//! The idea queue: anyone signed in adds ideas, workers lease them. Its lifecycle is
//! `open → leased(worker, deadline) → done`; heartbeats push the deadline back and an expired
//! lease returns the idea to `open` (and costs its holder one from its quota). A new idea
//! that nearly repeats an earlier one is flagged, by Jaccard similarity of word shingles.

use std::collections::BTreeSet;

use swarmlab_proto::{IdeaInfo, LeaseDeadline, NewIdea};

use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::Hub;
use super::identity::Identity;
use super::roles::{may_see_submission, require, Action, Reader};

/// Words per shingle.
const SHINGLE: usize = 2;

/// The set of word shingles of a text, lowercased, punctuation stripped. A text shorter
/// than a shingle yields its words.
pub fn shingles(text: &str) -> BTreeSet<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '.' && c != '-')
        .map(|w| w.trim_matches('.').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < SHINGLE {
        return words.into_iter().collect();
    }
    words.windows(SHINGLE).map(|w| w.join(" ")).collect()
}

/// |A ∩ B| / |A ∪ B|; 0 for two empty sets.
pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// The most similar earlier idea at or above `threshold`, as (id, similarity).
pub fn nearest_duplicate<'a>(
    text: &str,
    earlier: impl IntoIterator<Item = (i64, &'a str)>,
    threshold: f64,
) -> Option<(i64, f64)> {
    let mine = shingles(text);
    earlier
        .into_iter()
        .map(|(id, other)| (id, jaccard(&mine, &shingles(other))))
        .filter(|(_, s)| *s >= threshold)
        .max_by(|a, b| a.1.total_cmp(&b.1))
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
        let info = self
            .store
            .add_idea(
                track,
                text,
                &idea.tags,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reworded_idea_is_flagged_and_a_different_one_is_not() {
        let earlier = [
            (1, "Increase the learning rate warmup to 500 steps"),
            (2, "Replace layer norm with RMSNorm in every block"),
        ];
        let dup = nearest_duplicate(
            "increase the learning rate warmup to 500 steps.",
            earlier,
            0.6,
        );
        assert_eq!(dup.map(|d| d.0), Some(1));
        assert!(nearest_duplicate("Use rotary position embeddings", earlier, 0.6).is_none());
    }
}
