//! The prior of a verdict: what earlier decisive reports on the same head commit, measured on
//! the same hardware class, say of the noise, for acceptance (`acceptance.rs`) to pool with
//! a job's own reruns. It gathers spreads and says where they came from; whether they are
//! pooled (the F-test against the job's own) is acceptance's decision, not this file's.
//!
//! What is pooled depends on the design. Welch's (independent reruns): the head's reruns
//! of each earlier report, each around its own mean, since a rerun of the head is a rerun of
//! the head whoever ran it. Paired (seed-matched reruns): the head's reruns alone say
//! nothing of a pair's difference (their spread is mostly the seed's, which a pair cancels),
//! so what is pooled is the spread of the differences `head_i - candidate_i` of earlier
//! paired reports, each around its own mean: the noise a pair does not cancel, which is the
//! runs' own, the same for any candidate that runs like the head. A candidate that runs
//! noisier than the earlier ones shows it in its own differences, which the F-test catches.

use swarmlab_proto::{Measurements, RunOutcome};

use super::acceptance::Pairing;
use super::stats::Spread;

/// The noise of earlier reports, gathered for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Prior {
    /// Every earlier report's spread, each around its own mean, added up.
    pub spread: Spread,
    /// The verdicts whose reruns it holds, as the ledger cites them.
    pub verdicts: Vec<i64>,
}

impl Prior {
    /// The prior for a job of `pairing` measured on `class`, from earlier verdicts (by id)
    /// on the same head commit: those of another class, or whose run did not finish, or
    /// (for a paired job) that were not paired, are left out; `None` when nothing is left
    /// with a degree of freedom.
    pub fn of<'a>(
        class: &str,
        pairing: Pairing,
        earlier: impl IntoIterator<Item = (i64, &'a Measurements)>,
    ) -> Option<Prior> {
        let mut prior = Prior {
            spread: Spread::NONE,
            verdicts: Vec::new(),
        };
        for (id, m) in earlier {
            if m.hardware_class != class || m.outcome != RunOutcome::Ok {
                continue;
            }
            let spread = match pairing {
                Pairing::Paired if Pairing::of(m) == Pairing::Paired => {
                    let differences: Vec<f64> = m
                        .head
                        .iter()
                        .zip(&m.candidate)
                        .map(|(h, c)| h - c)
                        .collect();
                    Spread::of(&differences)
                }
                Pairing::Paired => None,
                Pairing::Independent => Spread::of(&m.head),
            };
            if let Some(spread) = spread.filter(|s| s.sum_sq.is_finite()) {
                prior.spread = prior.spread.plus(spread);
                prior.verdicts.push(id);
            }
        }
        (prior.spread.df > 0.0).then_some(prior)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmlab_proto::{BudgetKind, Pairs};

    fn report(class: &str, candidate: &[f64], head: &[f64], paired: bool) -> Measurements {
        Measurements {
            job_id: 1,
            verifier_id: "v".into(),
            hardware_class: class.into(),
            outcome: RunOutcome::Ok,
            candidate: candidate.to_vec(),
            head: head.to_vec(),
            detail: None,
            unsandboxed: false,
            pairs: paired.then(|| Pairs {
                seeds: (0..head.len() as u64).collect(),
                budget: BudgetKind::Steps,
                load: Vec::new(),
            }),
        }
    }

    #[test]
    fn the_prior_holds_the_same_class_and_the_design_s_spread() {
        let a = report("cpu-x2", &[0.9, 1.0, 1.3], &[1.0, 1.2, 1.4], true);
        let b = report("cpu-x2", &[5.0, 5.0], &[2.0, 4.0], false);
        let other = report("gpu-A100", &[0.0, 9.0], &[0.0, 9.0], true);
        let mut crashed = report("cpu-x2", &[1.0, 2.0], &[3.0, 9.0], true);
        crashed.outcome = RunOutcome::Crash;
        let earlier = [(1, &a), (2, &b), (3, &other), (4, &crashed)];
        // Paired: the differences of paired reports only (0.1, 0.2, 0.1 around 0.1333).
        let paired = Prior::of("cpu-x2", Pairing::Paired, earlier).unwrap();
        assert_eq!(paired.verdicts, vec![1]);
        assert_eq!(paired.spread.df, 2.0);
        assert!((paired.spread.sum_sq - 0.006_666_666_7).abs() < 1e-9);
        // Welch: every finished report's head reruns of the class, each around its mean.
        let welch = Prior::of("cpu-x2", Pairing::Independent, earlier).unwrap();
        assert_eq!(welch.verdicts, vec![1, 2]);
        assert_eq!(welch.spread.df, 3.0);
        assert!((welch.spread.sum_sq - (0.08 + 2.0)).abs() < 1e-9);
        assert_eq!(Prior::of("cpu-x4", Pairing::Independent, earlier), None);
        let single = report("cpu-x2", &[1.0], &[1.0], true);
        assert_eq!(Prior::of("cpu-x2", Pairing::Paired, [(5, &single)]), None);
    }
}
