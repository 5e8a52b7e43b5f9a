//! Acceptance: why a verdict is what it is, in one place. From a job's signed measurements
//! and the track's rule, [`judge`] decides what the report amounts to; from that verdict and
//! what the job is, [`effect`] decides what happens to the submission, and [`canary_passed`]
//! whether a verifier decided a canary right. The store records what these say and decides
//! nothing itself.
//!
//! The rule: a candidate displaces the head only if it beats the head by at least
//! `min_delta` at one-sided p < `alpha`, measured by a trusted verifier on the same hardware
//! class. When the verifier says how its reruns were made ([`Pairing::of`]: rerun `i` of
//! each side ran with the same seed, one right after the other), the test is the paired
//! t-test on the differences `head_i - candidate_i` (oriented by the goal), which cancels
//! what the pair shares: the seed's luck, the machine's load. Otherwise it is Welch's test on
//! two independent samples.
//!
//! Sequential: a verifier reports after each pair from the second on, and the answer is given
//! as soon as it is clear. After `reruns` pairs a candidate whose estimated gain does not even
//! clear `min_delta` is rejected; a promising one (the estimate clears it, the test not yet)
//! gets more pairs, up to `max_reruns`, where it is rejected unless it passed. Each of the
//! `max_reruns - 1` possible looks is tested at `alpha / (max_reruns - 1)` (Bonferroni), so
//! the chance of accepting a candidate no better than the head stays below `alpha` whenever
//! the test stops: the union bound holds over every look that could happen, and stopping
//! early, for success or futility, only removes chances to accept.
//!
//! A run that crashed or timed out is rejected as such; a verifier's own fault decides
//! nothing (the job goes to another verifier) until [`gives_up`]: a job that enough
//! distinct verifiers fault on ends its submission as `unverifiable`. A candidate rejected although its worker
//! claimed a clear gain is `not_reproduced`, not `not_better`: the verifier never saw the
//! claim, the hub holds it up to the measurements only here.
//!
//! An accepted candidate moves the head from the base it was measured against, by
//! compare-and-swap in the transaction that records the verdict; when the head moved
//! meanwhile, the winner is rebased onto the new head and verified again, never merged
//! blindly. A re-check of a submission already on the chain moves nothing: the chain is
//! history, and a rejecting re-check marks the submission disputed.

use swarmlab_core::Goal;
use swarmlab_proto::{Measurements, Rule, RunOutcome};

use super::canary::Expect;
use super::error::HubError;
use super::stats::{paired_one_sided_p, welch_one_sided_p};

/// Why a verifier's measurements reject a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictReason {
    /// The candidate is not better than the head by `min_delta` at the rule's significance.
    NotBetter,
    /// As `NotBetter`, and the worker had claimed a gain above `min_delta` that the
    /// measurements do not show.
    NotReproduced,
    /// The candidate's run failed.
    Crash,
    /// The candidate's run overran the track's timeout.
    Timeout,
    /// No verdict: enough distinct verifiers reported a fault on its job ([`gives_up`]).
    Unverifiable,
}

impl VerdictReason {
    /// Every reason, for looking one up by its name.
    pub const ALL: [VerdictReason; 5] = [
        VerdictReason::NotBetter,
        VerdictReason::NotReproduced,
        VerdictReason::Crash,
        VerdictReason::Timeout,
        VerdictReason::Unverifiable,
    ];

    /// What the reason means, for the worker whose submission it is.
    pub fn explanation(self) -> &'static str {
        match self {
            VerdictReason::NotBetter => "the verifier's reruns do not show it beating the head by min_delta at the track's significance",
            VerdictReason::NotReproduced => "the worker claimed a gain over the head that the verifier's reruns do not show",
            VerdictReason::Crash => "the candidate's run failed under the verifier (or its tree no longer fits the track)",
            VerdictReason::Timeout => "the candidate's run overran the track's timeout under the verifier",
            VerdictReason::Unverifiable => "several verifiers faulted on it, so no verdict could be reached",
        }
    }

    /// The reason's name, as recorded and reported.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictReason::NotBetter => "not_better",
            VerdictReason::NotReproduced => "not_reproduced",
            VerdictReason::Crash => "crash",
            VerdictReason::Timeout => "timeout",
            VerdictReason::Unverifiable => "unverifiable",
        }
    }

    /// Whether the rejection makes the worker's claim false: it said the candidate was
    /// better and it was not, or it did not even run, or it could not be verified at all
    /// (the burden of a candidate that verifiers can run is its worker's). Each false claim
    /// costs the worker one from its quota.
    pub fn is_false_claim(self) -> bool {
        match self {
            VerdictReason::NotBetter
            | VerdictReason::NotReproduced
            | VerdictReason::Crash
            | VerdictReason::Timeout
            | VerdictReason::Unverifiable => true,
        }
    }
}

/// What one look at the reruns says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// The candidate is significantly better: it may advance the head.
    Accept { p_value: f64 },
    /// The candidate is not (significantly) better by `min_delta`.
    Reject { p_value: f64 },
    /// Not yet clear: run another rerun of each and report again.
    Continue { p_value: Option<f64> },
}

/// Above this p-value after the reruns asked for, the estimated gain does not clear
/// `min_delta`: not promising enough to ask for more.
const PROMISING: f64 = 0.5;

/// The number of reruns of each side a verifier is asked for before the test may give up;
/// a t-test needs at least two.
pub fn reruns_asked(rule: &Rule) -> u32 {
    rule.reruns.max(2)
}

/// The most reruns of each side the test may ask for: `max_reruns`, or `reruns` for a rule
/// recorded before there was a cap.
pub fn reruns_cap(rule: &Rule) -> u32 {
    rule.max_reruns
        .unwrap_or(rule.reruns)
        .max(reruns_asked(rule))
}

/// How the two sides' reruns relate, which says which t-test applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// Independent samples: Welch's test.
    Independent,
    /// Rerun `i` of each side is a pair (one seed, one after the other): the paired test.
    Paired,
}

impl Pairing {
    /// Paired when the verifier gave the seed of every pair it measured; reports without
    /// them (older verifiers) are independent samples.
    pub fn of(m: &Measurements) -> Pairing {
        match &m.pairs {
            Some(pairs) if pairs.seeds.len() >= m.reruns() => Pairing::Paired,
            _ => Pairing::Independent,
        }
    }
}

/// Decides on `candidate` and `head` measurements (extra values beyond the shorter side, or
/// beyond the rule's cap, are ignored so both sides are looked at together).
pub fn decide(candidate: &[f64], head: &[f64], pairing: Pairing, rule: &Rule) -> Decision {
    let asked = reruns_asked(rule) as usize;
    let cap = reruns_cap(rule) as usize;
    let n = candidate.len().min(head.len()).min(cap);
    let (c, h) = (&candidate[..n], &head[..n]);
    // Orient so that "a - b > delta" means "the candidate is better".
    let (better, worse) = match rule.goal {
        Goal::Minimize => (h, c),
        Goal::Maximize => (c, h),
    };
    let p_value = match pairing {
        Pairing::Paired => paired_one_sided_p(better, worse, rule.min_delta),
        Pairing::Independent => welch_one_sided_p(better, worse, rule.min_delta),
    };
    let Some(p_value) = p_value else {
        return Decision::Continue { p_value: None };
    };
    let alpha_look = rule.alpha / (cap - 1) as f64;
    if p_value < alpha_look {
        return Decision::Accept { p_value };
    }
    // Futility: the gain is clearly below min_delta, or the reruns asked for are in and the
    // estimate does not clear it, or the cap is reached.
    let clearly_worse = 1.0 - p_value < alpha_look;
    if clearly_worse || n >= cap || (n >= asked && p_value >= PROMISING) {
        return Decision::Reject { p_value };
    }
    Decision::Continue {
        p_value: Some(p_value),
    }
}

/// A verifier's decision on a job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The candidate satisfied the acceptance rule.
    Accept { p_value: f64 },
    /// The candidate is rejected; `p_value` when the test ran.
    Reject {
        reason: VerdictReason,
        p_value: Option<f64>,
    },
}

impl Verdict {
    /// `accept` or `reject`, as recorded.
    pub fn decision(&self) -> &'static str {
        match self {
            Verdict::Accept { .. } => "accept",
            Verdict::Reject { .. } => "reject",
        }
    }

    /// Why it rejects, if it does.
    pub fn reason(&self) -> Option<VerdictReason> {
        match self {
            Verdict::Accept { .. } => None,
            Verdict::Reject { reason, .. } => Some(*reason),
        }
    }

    /// The test's p-value, when it ran.
    pub fn p_value(&self) -> Option<f64> {
        match self {
            Verdict::Accept { p_value } => Some(*p_value),
            Verdict::Reject { p_value, .. } => *p_value,
        }
    }
}

/// What a verifier's report amounts to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Judgement {
    /// Keep the partial measurements: more reruns are needed.
    Continue { p_value: Option<f64> },
    /// The verifier failed: the job goes to another verifier.
    Fault,
    /// Decided.
    Verdict(Verdict),
}

impl Judgement {
    /// The p-value the verifier is answered with.
    pub fn p_value(&self) -> Option<f64> {
        match self {
            Judgement::Continue { p_value } => *p_value,
            Judgement::Fault => None,
            Judgement::Verdict(v) => v.p_value(),
        }
    }
}

/// Judges `m` by `rule`; `claimed` is the metric the worker claimed, if it did. Refuses
/// measurements of a finished run that lack finite values on either side.
pub fn judge(m: &Measurements, rule: &Rule, claimed: Option<f64>) -> Result<Judgement, HubError> {
    let reject = |reason, p_value| Judgement::Verdict(Verdict::Reject { reason, p_value });
    Ok(match m.outcome {
        RunOutcome::VerifierFault => Judgement::Fault,
        RunOutcome::Crash => reject(VerdictReason::Crash, None),
        RunOutcome::Timeout => reject(VerdictReason::Timeout, None),
        RunOutcome::Ok => {
            let mut values = m.candidate.iter().chain(&m.head);
            if m.candidate.is_empty() || m.head.is_empty() || values.any(|v| !v.is_finite()) {
                return Err(HubError::BadRequest(
                    "measurements need finite values for both candidate and head".into(),
                ));
            }
            match decide(&m.candidate, &m.head, Pairing::of(m), rule) {
                Decision::Accept { p_value } => Judgement::Verdict(Verdict::Accept { p_value }),
                Decision::Continue { p_value } => Judgement::Continue { p_value },
                Decision::Reject { p_value } => {
                    let reason = match claimed {
                        Some(claimed) if unreproduced(claimed, &m.candidate, &m.head, rule) => {
                            VerdictReason::NotReproduced
                        }
                        _ => VerdictReason::NotBetter,
                    };
                    reject(reason, Some(p_value))
                }
            }
        }
    })
}

/// Whether a rejected candidate failed to reproduce its claim: the worker claimed the metric
/// better than the head's measured mean by more than `min_delta`, and the candidate's
/// measured mean is not. The means are of the reruns the rule looked at.
fn unreproduced(claimed: f64, candidate: &[f64], head: &[f64], rule: &Rule) -> bool {
    let n = candidate
        .len()
        .min(head.len())
        .min(reruns_cap(rule) as usize);
    if n == 0 {
        return false;
    }
    let mean = |xs: &[f64]| xs[..n].iter().sum::<f64>() / n as f64;
    let head = mean(head);
    let gain = |value: f64| rule.goal.gain(head, value);
    gain(claimed) > rule.min_delta && gain(mean(candidate)) <= rule.min_delta
}

/// What a verdict does to its submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The head moves from the job's base to its candidate, by compare-and-swap; when the
    /// head is no longer the base, the winner waits to be rebased and verified again. An
    /// accepted submission grows its worker's quota.
    MoveHead,
    /// The submission is rejected; `charge` costs its worker one from its quota.
    Reject { reason: VerdictReason, charge: bool },
    /// A re-check agrees with a submission already on the chain: nothing changes.
    Confirm,
    /// A re-check rejects a submission already on the chain: it is marked disputed by this
    /// verdict, and the chain stays as it is.
    Dispute,
}

/// What `verdict` does to its submission: `recheck` when the job verifies a suspended
/// verifier's verdict again, `on_chain` when the submission is accepted already (as the
/// store finds it in the transaction that records the verdict). A re-check does not charge
/// the worker twice for one claim.
pub fn effect(verdict: &Verdict, recheck: bool, on_chain: bool) -> Effect {
    match verdict {
        Verdict::Accept { .. } if recheck && on_chain => Effect::Confirm,
        Verdict::Reject { .. } if recheck && on_chain => Effect::Dispute,
        Verdict::Reject { reason, .. } => Effect::Reject {
            reason: *reason,
            charge: reason.is_false_claim() && !recheck,
        },
        Verdict::Accept { .. } => Effect::MoveHead,
    }
}

/// Whether a job is given up as `unverifiable`: `faults` distinct verifiers reported a fault
/// on it, as many as `after` (the hub's `unverifiable_after`) or as many as there are
/// verifiers to take it (`verifiers`, none suspended), so that a job no one can verify
/// ends. One verifier's faults never end a job on a hub that has others: a broken verifier
/// cannot sink honest submissions.
pub fn gives_up(faults: u32, after: u32, verifiers: u32) -> bool {
    faults >= after.min(verifiers).max(1)
}

/// Whether a verifier decided a canary as its maintainer said it should be decided.
pub fn canary_passed(verdict: &Verdict, expect: Expect) -> bool {
    match (verdict, expect) {
        (Verdict::Accept { .. }, Expect::Accept) | (Verdict::Reject { .. }, Expect::Reject) => true,
        (Verdict::Accept { .. }, Expect::Reject) | (Verdict::Reject { .. }, Expect::Accept) => {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_given_up_after_enough_verifiers_or_all_there_are() {
        assert!(!gives_up(2, 3, 5));
        assert!(gives_up(3, 3, 5));
        // Two verifiers on the hub: both faulting is all it can do.
        assert!(!gives_up(1, 3, 2));
        assert!(gives_up(2, 3, 2));
        assert!(gives_up(1, 0, 0));
    }

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
            max_reruns: None,
        }
    }

    /// [`rule`] with a cap on the reruns the test may ask for.
    fn capped(goal: Goal, alpha: f64, min_delta: f64, reruns: u32, max_reruns: u32) -> Rule {
        Rule {
            max_reruns: Some(max_reruns),
            ..rule(goal, alpha, min_delta, reruns)
        }
    }

    /// The true means of the two sides and how their reruns spread: `shared` is what both
    /// runs of a pair have in common (the seed's luck, the machine's load), `own` what each
    /// run has alone. Unpaired reruns draw the shared part afresh for every run.
    struct Truth {
        candidate: f64,
        head: f64,
        shared: f64,
        own: f64,
    }

    /// Runs the sequential protocol as a verifier would: one more pair per look, until the
    /// test decides; with the number of pairs it took.
    fn verify(rng: &mut Rng, rule: &Rule, truth: &Truth, pairing: Pairing) -> (Decision, usize) {
        let (mut c, mut h) = (Vec::new(), Vec::new());
        loop {
            let shared = rng.normal(0.0, truth.shared);
            let other = match pairing {
                Pairing::Paired => shared,
                Pairing::Independent => rng.normal(0.0, truth.shared),
            };
            c.push(rng.normal(truth.candidate + shared, truth.own));
            h.push(rng.normal(truth.head + other, truth.own));
            match decide(&c, &h, pairing, rule) {
                Decision::Continue { .. } => continue,
                done => return (done, c.len()),
            }
        }
    }

    /// How often `trials` runs of the protocol accept, and the most pairs one took.
    fn acceptance_rate(
        rule: &Rule,
        truth: &Truth,
        pairing: Pairing,
        trials: u64,
        seed: u64,
    ) -> (f64, usize) {
        let (mut accepted, mut most) = (0, 0);
        for trial in 0..trials {
            let mut rng = Rng(seed + trial * 7919 + 1);
            let (decision, pairs) = verify(&mut rng, rule, truth, pairing);
            most = most.max(pairs);
            if matches!(decision, Decision::Accept { .. }) {
                accepted += 1;
            }
        }
        (f64::from(accepted) / trials as f64, most)
    }

    #[test]
    fn a_clone_of_the_head_plus_noise_is_accepted_less_often_than_alpha() {
        for goal in [Goal::Minimize, Goal::Maximize] {
            for pairing in [Pairing::Independent, Pairing::Paired] {
                // min_delta = 0 is the hardest case for the rule: a clone looks promising
                // half the time and is followed up to the cap.
                for rule in [rule(goal, 0.05, 0.0, 5), capped(goal, 0.05, 0.0, 3, 10)] {
                    let truth = Truth {
                        candidate: 1.0,
                        head: 1.0,
                        shared: 0.02,
                        own: 0.005,
                    };
                    let (rate, most) = acceptance_rate(&rule, &truth, pairing, 4000, 0);
                    // The binomial sd at p = alpha is ~0.0034; demand a clear margin below.
                    assert!(
                        rate < 0.8 * rule.alpha,
                        "{goal} {pairing:?} {rule:?}: false-accept rate {rate}"
                    );
                    assert_eq!(most, reruns_cap(&rule) as usize, "{rule:?}");
                }
            }
        }
    }

    #[test]
    fn a_candidate_at_exactly_min_delta_is_accepted_less_often_than_alpha() {
        for goal in [Goal::Minimize, Goal::Maximize] {
            for pairing in [Pairing::Independent, Pairing::Paired] {
                let rule = capped(goal, 0.05, 0.01, 3, 12);
                let gain = match goal {
                    Goal::Minimize => -0.01,
                    Goal::Maximize => 0.01,
                };
                let truth = Truth {
                    candidate: 1.0 + gain,
                    head: 1.0,
                    shared: 0.01,
                    own: 0.004,
                };
                let (rate, _) = acceptance_rate(&rule, &truth, pairing, 4000, 17);
                assert!(
                    rate < 0.8 * rule.alpha,
                    "{goal} {pairing:?}: false-accept rate {rate}"
                );
            }
        }
    }

    #[test]
    fn pairing_finds_a_gain_that_the_shared_noise_hides_from_welch() {
        // The case: a gain of 0.04 against runs that spread by 0.03 together (the
        // load), by 0.002 alone.
        let rule = capped(Goal::Minimize, 0.01, 0.002, 3, 9);
        let truth = Truth {
            candidate: 1.36,
            head: 1.40,
            shared: 0.03,
            own: 0.002,
        };
        let (paired, _) = acceptance_rate(&rule, &truth, Pairing::Paired, 500, 5);
        let (welch, _) = acceptance_rate(&rule, &truth, Pairing::Independent, 500, 5);
        assert!(paired > 0.95, "paired power {paired}");
        assert!(welch < 0.5, "Welch power {welch}");
    }

    #[test]
    fn a_promising_candidate_gets_more_reruns_up_to_the_cap() {
        let r = capped(Goal::Minimize, 0.01, 0.0, 3, 6);
        // Three pairs, each better by about 0.01 with as much noise: promising, not decisive.
        let c = [0.99, 1.0, 0.985];
        let h = [1.0, 1.0, 1.0];
        assert!(matches!(
            decide(&c, &h, Pairing::Paired, &r),
            Decision::Continue { p_value: Some(p) } if p < PROMISING
        ));
        // Without the cap the same three pairs are the end.
        let uncapped = rule(Goal::Minimize, 0.01, 0.0, 3);
        assert!(matches!(
            decide(&c, &h, Pairing::Paired, &uncapped),
            Decision::Reject { .. }
        ));
        // Not promising after the reruns asked for: rejected there.
        let worse = [1.01, 1.0, 0.995];
        assert!(matches!(
            decide(&worse, &h, Pairing::Paired, &r),
            Decision::Reject { .. }
        ));
        // Still not decisive at the cap: rejected.
        let c6 = [0.99, 1.0, 0.985, 1.0, 0.99, 1.002];
        let h6 = [1.0; 6];
        assert!(matches!(
            decide(&c6, &h6, Pairing::Paired, &r),
            Decision::Reject { .. }
        ));
        assert_eq!(reruns_cap(&r), 6);
        assert_eq!(reruns_cap(&uncapped), 3);
    }

    #[test]
    fn reports_are_paired_when_every_pair_has_its_seed() {
        let mut m = measured(RunOutcome::Ok, &[1.0, 1.1], &[1.2, 1.3]);
        assert_eq!(Pairing::of(&m), Pairing::Independent);
        m.pairs = Some(swarmlab_proto::Pairs {
            seeds: vec![1],
            budget: swarmlab_proto::BudgetKind::Steps,
            load: Vec::new(),
        });
        assert_eq!(Pairing::of(&m), Pairing::Independent);
        if let Some(pairs) = &mut m.pairs {
            pairs.seeds.push(2);
        }
        assert_eq!(Pairing::of(&m), Pairing::Paired);
    }

    #[test]
    fn a_clear_improvement_is_accepted_and_often_early() {
        for pairing in [Pairing::Independent, Pairing::Paired] {
            let rule = rule(Goal::Minimize, 0.01, 0.002, 8);
            let truth = Truth {
                candidate: 0.95,
                head: 1.0,
                shared: 0.0,
                own: 0.01,
            };
            let (rate, _) = acceptance_rate(&rule, &truth, pairing, 500, 98);
            assert!(rate > 0.95, "{pairing:?}: power too low: {rate}");
        }
    }

    #[test]
    fn an_improvement_below_min_delta_is_rejected() {
        let r = rule(Goal::Maximize, 0.05, 0.5, 3);
        let c = [1.2, 1.21, 1.19];
        let h = [1.0, 1.01, 0.99];
        assert!(matches!(
            decide(&c, &h, Pairing::Independent, &r),
            Decision::Reject { .. }
        ));
        let r = rule(Goal::Maximize, 0.05, 0.1, 3);
        assert!(matches!(
            decide(&c, &h, Pairing::Independent, &r),
            Decision::Accept { .. }
        ));
    }

    #[test]
    fn one_value_is_never_enough() {
        let r = rule(Goal::Minimize, 0.05, 0.0, 3);
        assert_eq!(
            decide(&[0.1], &[1.0], Pairing::Paired, &r),
            Decision::Continue { p_value: None }
        );
    }

    #[test]
    fn a_claimed_gain_the_measurements_lack_is_not_reproduced() {
        let head = [1.0, 1.02, 0.98];
        let r = rule(Goal::Minimize, 0.05, 0.01, 3);
        // Claimed 0.9 against a head at 1.0; measured at 1.0: not reproduced.
        assert!(unreproduced(0.9, &[1.01, 0.99, 1.0], &head, &r));
        // Measured 0.995: a gain, but not above min_delta either.
        assert!(unreproduced(0.9, &[0.995, 0.995, 0.995], &head, &r));
        // Measured 0.98: better by more than min_delta, merely not significant.
        assert!(!unreproduced(0.9, &[0.98, 0.98, 0.98], &head, &r));
        // A claim no better than the head claimed nothing to reproduce.
        assert!(!unreproduced(0.995, &[1.1, 1.1, 1.1], &head, &r));
        // Maximising flips the direction.
        let r = rule(Goal::Maximize, 0.05, 0.0, 3);
        assert!(unreproduced(1.2, &[0.9, 0.9, 0.9], &head, &r));
        assert!(!unreproduced(0.8, &[0.9, 0.9, 0.9], &head, &r));
        // Only the reruns the rule looks at count.
        assert!(unreproduced(1.2, &[0.9, 0.9, 0.9, 5.0], &head, &r));
    }

    fn measured(outcome: RunOutcome, candidate: &[f64], head: &[f64]) -> Measurements {
        Measurements {
            job_id: 1,
            verifier_id: "v".into(),
            hardware_class: "cpu".into(),
            outcome,
            candidate: candidate.to_vec(),
            head: head.to_vec(),
            detail: None,
            unsandboxed: false,
            pairs: None,
        }
    }

    #[test]
    fn a_report_is_judged_by_its_outcome_then_by_the_test() {
        let r = rule(Goal::Minimize, 0.05, 0.0, 3);
        let (better, same) = ([0.5, 0.51, 0.49], [1.0, 1.01, 0.99]);
        let judged = |outcome, c: &[f64], claimed| judge(&measured(outcome, c, &same), &r, claimed);
        assert_eq!(
            judged(RunOutcome::VerifierFault, &[], None).unwrap(),
            Judgement::Fault
        );
        let crash = judged(RunOutcome::Crash, &[], None).unwrap();
        assert!(matches!(crash, Judgement::Verdict(v) if v.reason() == Some(VerdictReason::Crash)));
        let accepted = judged(RunOutcome::Ok, &better, None).unwrap();
        assert!(matches!(
            accepted,
            Judgement::Verdict(Verdict::Accept { .. })
        ));
        let not_better = judged(RunOutcome::Ok, &same, None).unwrap();
        assert!(
            matches!(not_better, Judgement::Verdict(v) if v.reason() == Some(VerdictReason::NotBetter))
        );
        let false_claim = judged(RunOutcome::Ok, &same, Some(0.5)).unwrap();
        assert!(
            matches!(false_claim, Judgement::Verdict(v) if v.reason() == Some(VerdictReason::NotReproduced))
        );
        assert!(judged(RunOutcome::Ok, &[f64::NAN, 1.0, 1.0], None).is_err());
        assert!(judged(RunOutcome::Ok, &[], None).is_err());
    }

    #[test]
    fn a_verdict_moves_the_head_rejects_or_leaves_the_chain_alone() {
        let accept = Verdict::Accept { p_value: 0.001 };
        let reject = Verdict::Reject {
            reason: VerdictReason::NotBetter,
            p_value: Some(0.4),
        };
        assert_eq!(effect(&accept, false, false), Effect::MoveHead);
        // A re-check of a winner that is not on the chain (yet) is a verdict like any other.
        assert_eq!(effect(&accept, true, false), Effect::MoveHead);
        assert_eq!(effect(&accept, true, true), Effect::Confirm);
        assert_eq!(effect(&reject, true, true), Effect::Dispute);
        let charged = |recheck| match effect(&reject, recheck, false) {
            Effect::Reject { charge, .. } => charge,
            other => panic!("{other:?}"),
        };
        assert!(charged(false) && !charged(true));
        assert!(canary_passed(&accept, Expect::Accept) && !canary_passed(&accept, Expect::Reject));
        assert!(canary_passed(&reject, Expect::Reject) && !canary_passed(&reject, Expect::Accept));
    }
}
