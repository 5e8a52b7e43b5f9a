//! Credit for a head move, decided in one place: the store calls [`credit`] as it writes the
//! move's ledger entry, the leaderboard and `GET tracks/{track}/credit` ([`Hub::credit`]) call
//! it on the same facts from the database, and `audit.rs` calls it on the ledger's own
//! entries, so the three cannot disagree. The rule reads nothing.
//!
//! The rule: the finder is the submitter; the verifiers are those whose signed reports
//! decided the move (the verdict the move cites); the gain is the one verified (the head
//! reruns' mean against the candidate reruns' mean, in the goal's direction); and an idea
//! is credited when the submission's signed claim named it ([`idea_credit`]) and its change
//! is not one already on the chain.

use swarmlab_core::Goal;
use swarmlab_proto::{Credit, CreditedIdea, Measurements, TrackCredit};

use super::error::HubError;
use super::hub::Hub;

impl Hub {
    /// A track's credit: every head move's, and per identity the improvements it found and
    /// their verified gain, the verdicts it gave and its ideas credited.
    pub async fn credit(&self, track: &str) -> Result<TrackCredit, HubError> {
        self.track(track).await?;
        self.reader()
            .credit(track)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("track `{track}`")))
    }
}

/// What a head move is credited from.
#[derive(Debug, Clone, Copy)]
pub struct Move<'a> {
    /// The identity that submitted the candidate.
    pub finder: &'a str,
    /// The deciding verdict's signed measurements.
    pub measurements: &'a Measurements,
    pub goal: Goal,
    /// The idea of the track's queue the submission's signed claim named, if any.
    pub named_idea: Option<&'a CreditedIdea>,
    /// Whether an earlier chain commit's submission made the same change (its normalised diff
    /// hash).
    pub diff_on_chain: bool,
}

/// Who the move is credited to.
pub fn credit(found: Move<'_>) -> Credit {
    Credit {
        finder: found.finder.to_string(),
        verifiers: vec![found.measurements.verifier_id.clone()],
        gain: verified_gain(found.goal, found.measurements),
        idea: idea_credit(found.named_idea, found.diff_on_chain).cloned(),
    }
}

/// The idea a move is credited to: the one the submission named, unless its change repeats
/// a chain commit's (that change's credit went to the earlier move).
pub fn idea_credit(named: Option<&CreditedIdea>, diff_on_chain: bool) -> Option<&CreditedIdea> {
    named.filter(|_| !diff_on_chain)
}

/// The improvement the measurements verified, in the goal's direction: the mean of the head
/// reruns against the mean of the candidate reruns (0 when a side has no finite rerun).
pub fn verified_gain(goal: Goal, m: &Measurements) -> f64 {
    match (mean(&m.head), mean(&m.candidate)) {
        (Some(head), Some(candidate)) => goal.gain(head, candidate),
        _ => 0.0,
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmlab_proto::RunOutcome;

    fn measured(candidate: Vec<f64>, head: Vec<f64>) -> Measurements {
        Measurements {
            job_id: 1,
            verifier_id: "v1".into(),
            hardware_class: "cpu".into(),
            outcome: RunOutcome::Ok,
            candidate,
            head,
            detail: None,
            unsandboxed: false,
            pairs: None,
        }
    }

    #[test]
    fn a_move_credits_its_finder_its_verifier_the_verified_gain_and_a_named_new_idea() {
        let m = measured(vec![0.8, 0.7], vec![1.0, 0.9]);
        let idea = CreditedIdea {
            id: 4,
            author: "a".into(),
        };
        let found = Move {
            finder: "w1",
            measurements: &m,
            goal: Goal::Minimize,
            named_idea: Some(&idea),
            diff_on_chain: false,
        };
        let c = credit(found);
        assert_eq!(
            (c.finder.as_str(), c.verifiers.clone()),
            ("w1", vec!["v1".to_string()])
        );
        assert!((c.gain - 0.2).abs() < 1e-12, "{}", c.gain);
        assert_eq!(c.idea, Some(idea.clone()));
        // A change already on the chain earns its idea nothing; no idea named, none credited.
        assert_eq!(
            credit(Move {
                diff_on_chain: true,
                ..found
            })
            .idea,
            None
        );
        assert_eq!(
            credit(Move {
                named_idea: None,
                ..found
            })
            .idea,
            None
        );
        // Maximised, the same numbers are a loss.
        let up = credit(Move {
            goal: Goal::Maximize,
            ..found
        });
        assert!((up.gain + 0.2).abs() < 1e-12, "{}", up.gain);
    }

    #[test]
    fn the_gain_leaves_out_what_is_not_a_number() {
        let m = measured(vec![0.5, f64::NAN], vec![1.0, f64::INFINITY]);
        assert_eq!(verified_gain(Goal::Minimize, &m), 0.5);
        assert_eq!(
            verified_gain(Goal::Minimize, &measured(vec![], vec![1.0])),
            0.0
        );
    }
}
