//! The hub's side of `swarmlab ideas`: the track's history read from its API (each queued
//! idea, each tried one, each whose submission is on the verified chain), the generator run
//! over the sources (`swarmlab_agent::ideas`), and every idea kept posted to the track's queue
//! with its source, so that the hub shows where it came from and credits it when it leads to
//! a head move.
//!
//! It talks to the hub only through [`HubClient`]; it never parses a command line or prints.

use std::collections::BTreeSet;
use swarmlab_agent::ideas::{self, Earlier, Fate, Generation, IdeaConfig, IdeaError, Library};
use swarmlab_proto::{IdeaInfo, IdeaSource, NewIdea, TrackInfo};

use crate::client::{HubClient, HubError};

/// Why `swarmlab ideas` stopped.
#[derive(Debug, thiserror::Error)]
pub enum IdeasError {
    #[error("{0}")]
    Hub(#[from] HubError),
    #[error("{0}")]
    Ideas(#[from] IdeaError),
}

/// What to read and where the ideas go.
pub struct IdeaRun<'a> {
    pub client: &'a HubClient,
    pub track: &'a str,
    /// The documents read (`Library::read`), their skipped files already reported.
    pub library: &'a Library,
    pub config: IdeaConfig,
    /// Print, do not post.
    pub dry_run: bool,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct IdeaReport {
    /// Ideas of the track's history the model was shown.
    pub history: usize,
    pub generation: Generation,
    /// The ideas as the hub took them (empty on a dry run).
    pub posted: Vec<IdeaInfo>,
}

impl IdeaReport {
    /// Each idea kept, with its id on the hub (or `dry run`) and its source: the command's
    /// output.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        for (i, idea) in self.generation.ideas.iter().enumerate() {
            let id = self
                .posted
                .get(i)
                .map_or("dry run".to_string(), |p| format!("#{}", p.id));
            out.push_str(&format!(
                "{id}: {}\n    from {} [{}]: \"{}\"\n",
                idea.text, idea.document, idea.passage_id, idea.quote
            ));
        }
        out
    }

    /// What was read, each idea dropped and why, and how many were kept: the command's
    /// progress lines.
    pub fn tally(&self, library: &Library, dry_run: bool) -> String {
        let mut out = format!(
            "read {} documents ({} passages) and {} ideas of the track's history\n",
            library.documents,
            library.passages.len(),
            self.history
        );
        for dropped in &self.generation.dropped {
            out.push_str(&format!(
                "dropped \"{}\": {}\n",
                dropped.text, dropped.reason
            ));
        }
        let verb = if dry_run { "proposed" } else { "posted" };
        out.push_str(&format!(
            "{verb} {} ideas, dropped {}",
            self.generation.ideas.len(),
            self.generation.dropped.len()
        ));
        out
    }
}

impl IdeaRun<'_> {
    /// Reads the track's history, asks the model, posts what is kept.
    pub fn run(self) -> Result<IdeaReport, IdeasError> {
        let track: TrackInfo = self.client.get(&format!("tracks/{}", self.track))?;
        let queue: Vec<IdeaInfo> = self.client.get(&format!("tracks/{}/ideas", self.track))?;
        let earlier = history(&track, &queue);
        let generation = ideas::generate(&self.config, &brief(&track), self.library, &earlier)?;
        let mut posted = Vec::new();
        if !self.dry_run {
            for idea in &generation.ideas {
                let new = NewIdea {
                    text: idea.text.clone(),
                    tags: idea.tags.clone(),
                    source: Some(IdeaSource {
                        document: idea.document.clone(),
                        passage: idea.quote.clone(),
                    }),
                };
                posted.push(
                    self.client
                        .post(&format!("tracks/{}/ideas", self.track), &new)?,
                );
            }
        }
        Ok(IdeaReport {
            history: earlier.len(),
            generation,
            posted,
        })
    }
}

/// What became of each idea of the queue: chained when one of its submissions is on the
/// chain, tried when it is done or was submitted, else queued.
pub fn history(track: &TrackInfo, queue: &[IdeaInfo]) -> Vec<Earlier> {
    let chained: BTreeSet<i64> = track.chain.iter().filter_map(|c| c.submission_id).collect();
    queue
        .iter()
        .map(|idea| {
            let fate = if idea.submissions.iter().any(|s| chained.contains(s)) {
                Fate::Chained
            } else if idea.state == "done" || !idea.submissions.is_empty() {
                Fate::Tried
            } else {
                Fate::Queued
            };
            Earlier {
                id: idea.id,
                text: idea.text.clone(),
                fate,
            }
        })
        .collect()
}

/// What the model is told the track is.
pub fn brief(track: &TrackInfo) -> String {
    format!(
        "Track `{}`: {} the metric `{}`. A change may edit only {}. The verified chain has {} \
         commits past the baseline; an idea is kept when its change beats the head by at \
         least {} on reruns.",
        track.name,
        track.goal,
        track.metric,
        track.editable.join(", "),
        track.chain.len().saturating_sub(1),
        track.min_delta,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmlab_proto::ChainEntry;

    fn idea(id: i64, state: &str, submissions: Vec<i64>) -> IdeaInfo {
        IdeaInfo {
            id,
            track: "toy".into(),
            text: format!("idea {id}"),
            tags: Vec::new(),
            author: "a".into(),
            state: state.into(),
            lease_holder: None,
            lease_deadline_ms: None,
            duplicate_of: None,
            similarity: None,
            submissions,
            source: None,
        }
    }

    #[test]
    fn the_queue_is_sorted_into_queued_tried_and_chained() {
        let track = TrackInfo {
            name: "toy".into(),
            baseline: "b".into(),
            head: "h".into(),
            metric: "loss".into(),
            goal: "minimize".into(),
            reruns: 3,
            max_reruns: 3,
            alpha: 0.01,
            min_delta: 0.0,
            editable: vec!["train.py".into()],
            chain: vec![ChainEntry {
                seq: 1,
                commit: "h".into(),
                parent: Some("b".into()),
                submission_id: Some(7),
                at_ms: 0,
            }],
        };
        let queue = [
            idea(1, "open", vec![]),
            idea(2, "done", vec![]),
            idea(3, "leased", vec![5]),
            idea(4, "done", vec![5, 7]),
        ];
        let fates: Vec<Fate> = history(&track, &queue).iter().map(|e| e.fate).collect();
        assert_eq!(
            fates,
            [Fate::Queued, Fate::Tried, Fate::Tried, Fate::Chained]
        );
        assert!(brief(&track).contains("minimize the metric `loss`"));
    }
}
