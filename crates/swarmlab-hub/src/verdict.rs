//! The acceptance rule: a candidate displaces the head only if it beats the head by at least
//! `min_delta` at one-sided p < `alpha` (Welch's t-test), measured by a trusted verifier on
//! the same hardware class. Sequential: a verifier reports after each rerun from the second
//! on, and the answer is given as soon as it is clear.
//!
//! Each of the `reruns - 1` looks is tested at `alpha / (reruns - 1)` (Bonferroni), so the
//! chance of accepting a candidate no better than the head stays below `alpha` however early
//! the test stops. Stopping early for futility never raises that chance.

use swarmlab_core::Goal;
use swarmlab_proto::Rule;

use crate::stats::welch_one_sided_p;

/// What the hub answers to measurements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// The candidate is significantly better: it may advance the head.
    Accept { p_value: f64 },
    /// The candidate is not (significantly) better by `min_delta`.
    Reject { p_value: f64 },
    /// Not yet clear: run another rerun of each and report again.
    Continue { p_value: Option<f64> },
}

/// The number of reruns a rule asks for; a t-test needs at least two.
pub fn effective_reruns(rule: &Rule) -> usize {
    rule.reruns.max(2) as usize
}

/// Decides on `candidate` and `head` measurements (same number of reruns each; extra values
/// beyond the shorter one are ignored so both sides are looked at together).
pub fn decide(candidate: &[f64], head: &[f64], rule: &Rule) -> Decision {
    let reruns = effective_reruns(rule);
    let n = candidate.len().min(head.len()).min(reruns);
    let (c, h) = (&candidate[..n], &head[..n]);
    // Orient so that "a - b > delta" means "the candidate is better".
    let (better, worse) = match rule.goal {
        Goal::Minimize => (h, c),
        Goal::Maximize => (c, h),
    };
    let Some(p_value) = welch_one_sided_p(better, worse, rule.min_delta) else {
        return Decision::Continue { p_value: None };
    };
    let looks = (reruns - 1) as f64;
    let alpha_look = rule.alpha / looks;
    if p_value < alpha_look {
        return Decision::Accept { p_value };
    }
    // Futility: the improvement is clearly below min_delta.
    if 1.0 - p_value < alpha_look || n >= reruns {
        return Decision::Reject { p_value };
    }
    Decision::Continue {
        p_value: Some(p_value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64 and Box–Muller: reproducible normal samples without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        fn normal(&mut self, mean: f64, sd: f64) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            mean + sd * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    fn rule(goal: Goal, alpha: f64, min_delta: f64, reruns: u32) -> Rule {
        Rule {
            goal,
            alpha,
            min_delta,
            reruns,
        }
    }

    /// Runs the sequential protocol as a verifier would: one more rerun of each per look.
    fn verify(rng: &mut Rng, rule: &Rule, cand_mean: f64, head_mean: f64, sd: f64) -> Decision {
        let (mut c, mut h) = (Vec::new(), Vec::new());
        loop {
            c.push(rng.normal(cand_mean, sd));
            h.push(rng.normal(head_mean, sd));
            match decide(&c, &h, rule) {
                Decision::Continue { .. } => continue,
                done => return done,
            }
        }
    }

    #[test]
    fn a_clone_of_the_head_plus_noise_is_accepted_less_often_than_alpha() {
        for goal in [Goal::Minimize, Goal::Maximize] {
            // min_delta = 0 is the hardest case for the rule.
            let rule = rule(goal, 0.05, 0.0, 5);
            let trials = 4000;
            let mut accepted = 0;
            for seed in 0..trials {
                let mut rng = Rng(seed * 7919 + 1);
                if matches!(
                    verify(&mut rng, &rule, 1.0, 1.0, 0.02),
                    Decision::Accept { .. }
                ) {
                    accepted += 1;
                }
            }
            let rate = f64::from(accepted) / trials as f64;
            // The binomial sd at p = alpha is ~0.0034; demand a clear margin below alpha.
            assert!(rate < 0.8 * rule.alpha, "{goal}: false-accept rate {rate}");
        }
    }

    #[test]
    fn a_clear_improvement_is_accepted_and_often_early() {
        let rule = rule(Goal::Minimize, 0.01, 0.002, 8);
        let trials = 500;
        let mut accepted = 0;
        for seed in 0..trials {
            let mut rng = Rng(seed + 99);
            if let Decision::Accept { .. } = verify(&mut rng, &rule, 0.95, 1.0, 0.01) {
                accepted += 1;
            }
        }
        assert!(
            accepted > trials * 95 / 100,
            "power too low: {accepted}/{trials}"
        );
    }

    #[test]
    fn an_improvement_below_min_delta_is_rejected() {
        let r = rule(Goal::Maximize, 0.05, 0.5, 3);
        let c = [1.2, 1.21, 1.19];
        let h = [1.0, 1.01, 0.99];
        assert!(matches!(decide(&c, &h, &r), Decision::Reject { .. }));
        let r = rule(Goal::Maximize, 0.05, 0.1, 3);
        assert!(matches!(decide(&c, &h, &r), Decision::Accept { .. }));
    }

    #[test]
    fn one_value_is_never_enough() {
        let r = rule(Goal::Minimize, 0.05, 0.0, 3);
        assert_eq!(
            decide(&[0.1], &[1.0], &r),
            Decision::Continue { p_value: None }
        );
    }
}
