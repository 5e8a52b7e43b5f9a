//! A track's credit, the numbers of `GET tracks/{track}/credit` and of the leaderboard alike:
//! each head move with the credit `domain::credit` gave it (kept in the verdict series, from
//! the same facts the move's ledger entry was written from), and per identity what it found,
//! verified and whose ideas were credited.

use std::collections::{HashMap, HashSet};

use swarmlab_proto::{HeadMoveCredit, PartyCredit, TrackCredit};

use super::cache::Series;
use super::{Reader, StoreError};

/// What the verdict series credits to whom.
#[derive(Default)]
pub(super) struct Tally {
    /// Every head move, oldest first.
    pub(super) moves: Vec<HeadMoveCredit>,
    /// Everyone credited with something, by identity.
    pub(super) parties: HashMap<String, PartyCredit>,
    /// Per verifier: its verdicts that kept a candidate and those that did not.
    pub(super) verdicts: HashMap<String, (u64, u64)>,
}

impl Tally {
    pub(super) fn of(series: &Series) -> Tally {
        let mut tally = Tally::default();
        let mut moved = HashSet::new();
        let mut ideas: HashMap<String, HashSet<i64>> = HashMap::new();
        for m in &series.measured {
            tally.party(&m.verifier).verifications += 1;
            let v = tally.verdicts.entry(m.verifier.clone()).or_default();
            if m.point.kept {
                v.0 += 1;
            } else {
                v.1 += 1;
            }
            let (Some(credit), Some(seq)) = (&m.credit, m.point.chain_seq) else {
                continue;
            };
            // The first kept verdict of a chain entry moved the head; a later one is a
            // re-check that confirmed it, credited no second time.
            if !moved.insert(seq) {
                continue;
            }
            let finder = tally.party(&credit.finder);
            finder.improvements += 1;
            finder.gain += credit.gain;
            if let Some(idea) = &credit.idea {
                ideas
                    .entry(idea.author.clone())
                    .or_default()
                    .insert(idea.id);
                tally.party(&idea.author).idea_gain += credit.gain;
            }
            tally.moves.push(HeadMoveCredit {
                chain_seq: u64::try_from(seq).unwrap_or_default(),
                commit: m.point.commit.clone(),
                submission_id: m.submission_id,
                verdict_id: m.verdict_id,
                at_ms: m.point.at_ms,
                credit: credit.clone(),
            });
        }
        for (author, ideas) in ideas {
            tally.party(&author).ideas_credited = ideas.len() as u64;
        }
        tally
    }

    fn party(&mut self, identity: &str) -> &mut PartyCredit {
        self.parties
            .entry(identity.to_string())
            .or_insert_with(|| PartyCredit {
                identity: identity.to_string(),
                improvements: 0,
                gain: 0.0,
                verifications: 0,
                ideas_credited: 0,
                idea_gain: 0.0,
            })
    }
}

impl Reader {
    /// A track's credit; `None` for an unknown track.
    pub async fn credit(&self, track: &str) -> Result<Option<TrackCredit>, StoreError> {
        let Some(row) = self.track_row(track).await? else {
            return Ok(None);
        };
        let tally = Tally::of(&*self.series(&row).await?);
        let mut parties: Vec<PartyCredit> = tally.parties.into_values().collect();
        parties.sort_by(|a, b| {
            b.gain
                .total_cmp(&a.gain)
                .then(b.idea_gain.total_cmp(&a.idea_gain))
                .then(b.verifications.cmp(&a.verifications))
                .then(a.identity.cmp(&b.identity))
        });
        Ok(Some(TrackCredit {
            track: track.to_string(),
            parties,
            head_moves: tally.moves,
        }))
    }
}
