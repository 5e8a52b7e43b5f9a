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
use super::prior::Prior;
use super::stats::{
    f_upper_tail, mean_var, student_t_cdf, t_one_sided_p, welch_one_sided_p, Spread,
};

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

/// The level of the one-sided F-test that keeps a prior out of a look: when the job's own
/// reruns spread more than the prior says at this level (a changed machine, a candidate
/// noisier than those before it), the look uses the job's own reruns alone, as without a
/// prior.
pub const AGREEMENT_LEVEL: f64 = 0.25;

/// The fewest degrees of freedom of the job's own spread that the F-test is asked to judge a
/// prior with: on one, a job's variance can be almost anything, and a prior taken on such a
/// look could hide a changed machine.
const MIN_OWN_DF: f64 = 2.0;

/// The power the reruns asked for aim at, at the gain the worker claimed.
pub const POWER: f64 = 0.8;

/// The normal quantile of [`POWER`]: the power calculation's allowance for the estimate
/// falling short of the true gain.
const Z_POWER: f64 = 0.841_621_233_572_914_2;

/// The number of reruns of each side a verifier is asked for before the test may give up
/// by default (no claim to power the test for); a t-test needs at least two.
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

/// What a look knows besides the job's reruns.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The noise of earlier reports on the same head commit and hardware class.
    pub prior: Option<&'a Prior>,
    /// The gain over the head's measured mean that the worker claimed, which sizes the
    /// reruns asked for ([`reruns_for`]); never a part of the test itself.
    pub claimed_gain: Option<f64>,
}

/// One look's test: its p-value, and the noise it assumed, for the power calculation.
struct Test {
    p_value: f64,
    /// The standard deviation of one pair's difference (for Welch's design, `sqrt 2` times
    /// one run's), as the test estimated it.
    sd: f64,
    /// The degrees of freedom it came with, less those of the job's own reruns.
    prior_df: f64,
}

impl Test {
    /// Tests "better beats worse by more than `delta`" on `n` reruns of each side, pooling
    /// the prior's spread with the job's own when the F-test finds them in agreement.
    fn run(
        better: &[f64],
        worse: &[f64],
        pairing: Pairing,
        delta: f64,
        prior: Option<&Prior>,
    ) -> Option<Test> {
        let n = better.len() as f64;
        match pairing {
            Pairing::Paired => {
                let differences: Vec<f64> = better.iter().zip(worse).map(|(b, w)| b - w).collect();
                let (mean, _) = mean_var(&differences)?;
                let own = Spread::of(&differences)?;
                let prior = prior.map(|p| p.spread).filter(|&p| agrees(own, p));
                let spread = own.plus(prior.unwrap_or(Spread::NONE));
                let var = spread.variance()?;
                Some(Test {
                    p_value: t_one_sided_p(mean - delta, var / n, spread.df),
                    sd: var.sqrt(),
                    prior_df: spread.df - own.df,
                })
            }
            Pairing::Independent => {
                let own = Spread::of(better)?.plus(Spread::of(worse)?);
                match prior.map(|p| p.spread).filter(|&p| agrees(own, p)) {
                    // Student's test with one variance for both sides: the prior's head
                    // reruns and the job's reruns of both, each around its own mean.
                    Some(prior) => {
                        let spread = own.plus(prior);
                        let var = spread.variance()?;
                        let (mb, _) = mean_var(better)?;
                        let (mw, _) = mean_var(worse)?;
                        Some(Test {
                            p_value: t_one_sided_p(mb - mw - delta, 2.0 * var / n, spread.df),
                            sd: (2.0 * var).sqrt(),
                            prior_df: prior.df,
                        })
                    }
                    None => Some(Test {
                        p_value: welch_one_sided_p(better, worse, delta)?,
                        sd: (2.0 * own.variance()?).sqrt(),
                        prior_df: 0.0,
                    }),
                }
            }
        }
    }
}

/// Whether a prior may be pooled with the job's own spread: unless the job's own variance
/// exceeds the prior's beyond the one-sided F-test at [`AGREEMENT_LEVEL`]. Only that side is
/// tested: a job quieter than its prior pools into a larger variance, which can only make an
/// accept less likely, and dropping the prior there would trade a conservative estimate for
/// the job's own small one.
fn agrees(own: Spread, prior: Spread) -> bool {
    if own.df < MIN_OWN_DF {
        return false;
    }
    let (Some(own_var), Some(prior_var)) = (own.variance(), prior.variance()) else {
        return false;
    };
    if own_var <= 0.0 {
        return true;
    }
    if prior_var <= 0.0 {
        return false;
    }
    f_upper_tail(own_var / prior_var, own.df, prior.df) >= AGREEMENT_LEVEL
}

/// Whether `n` pairs give the test [`POWER`] at a true gain `margin` above `min_delta`, with
/// pairs whose differences spread by `sd` and a test on `df` degrees of freedom, each look
/// at `alpha_look`. The normal allowance for the power keeps it one evaluation of the t
/// distribution; for the handful of degrees of freedom of a job without a prior it asks a
/// little fewer reruns than the exact noncentral t would.
fn powered(margin: f64, sd: f64, n: u32, df: f64, alpha_look: f64) -> bool {
    if sd <= 0.0 {
        return true;
    }
    let shift = margin * f64::from(n).sqrt() / sd;
    1.0 - student_t_cdf(shift - Z_POWER, df) <= alpha_look
}

/// The reruns of each side a job is asked for before it may be given up as not promising:
/// the fewest that give the test [`POWER`] at the claimed gain (less `min_delta`), pairs
/// spreading by `sd`, clamped between [`reruns_asked`] and [`reruns_cap`]. A claim that does
/// not clear `min_delta`, or none, gets [`reruns_asked`]: there is no gain to power for. The
/// number only decides when to stop for futility, never whether to accept: every look is
/// tested at the same level whatever was asked, so the false-accept bound holds for any
/// claim.
pub fn reruns_for(
    rule: &Rule,
    pairing: Pairing,
    claimed_gain: Option<f64>,
    sd: f64,
    prior_df: f64,
) -> u32 {
    let (asked, cap) = (reruns_asked(rule), reruns_cap(rule));
    let margin = claimed_gain.map_or(0.0, |g| g - rule.min_delta);
    if margin.is_nan() || margin <= 0.0 || !sd.is_finite() {
        return asked;
    }
    let alpha_look = rule.alpha / f64::from(cap - 1);
    (asked..cap)
        .find(|&n| {
            let own_df = match pairing {
                Pairing::Paired => f64::from(n - 1),
                Pairing::Independent => f64::from(2 * (n - 1)),
            };
            powered(margin, sd, n, own_df + prior_df, alpha_look)
        })
        .unwrap_or(cap)
}

/// Decides on `candidate` and `head` measurements (extra values beyond the shorter side, or
/// beyond the rule's cap, are ignored so both sides are looked at together), with what
/// `context` knows besides.
pub fn decide(
    candidate: &[f64],
    head: &[f64],
    pairing: Pairing,
    rule: &Rule,
    context: Context<'_>,
) -> Decision {
    let cap = reruns_cap(rule) as usize;
    let n = candidate.len().min(head.len()).min(cap);
    let (c, h) = (&candidate[..n], &head[..n]);
    // Orient so that "a - b > delta" means "the candidate is better".
    let (better, worse) = match rule.goal {
        Goal::Minimize => (h, c),
        Goal::Maximize => (c, h),
    };
    let Some(test) = Test::run(better, worse, pairing, rule.min_delta, context.prior) else {
        return Decision::Continue { p_value: None };
    };
    let p_value = test.p_value;
    let alpha_look = rule.alpha / (cap - 1) as f64;
    if p_value < alpha_look {
        return Decision::Accept { p_value };
    }
    // Futility: the gain is clearly below min_delta, or the cap is reached, or the reruns
    // asked for are in and the estimate does not clear it.
    let clearly_worse = 1.0 - p_value < alpha_look;
    if clearly_worse || n >= cap {
        return Decision::Reject { p_value };
    }
    if n >= reruns_asked(rule) as usize && p_value >= PROMISING {
        let asked = reruns_for(rule, pairing, context.claimed_gain, test.sd, test.prior_df);
        if n >= asked as usize {
            return Decision::Reject { p_value };
        }
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

/// Judges `m` by `rule`; `claimed` is the metric the worker claimed, if it did, and `prior`
/// the noise of earlier reports on the same head commit and hardware class ([`Prior::of`]).
/// Refuses measurements of a finished run that lack finite values on either side.
pub fn judge(
    m: &Measurements,
    rule: &Rule,
    claimed: Option<f64>,
    prior: Option<&Prior>,
) -> Result<Judgement, HubError> {
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
            let (candidate, head) = looked_at(&m.candidate, &m.head, rule);
            let context = Context {
                prior,
                claimed_gain: claimed.map(|c| rule.goal.gain(mean(head), c)),
            };
            match decide(&m.candidate, &m.head, Pairing::of(m), rule, context) {
                Decision::Accept { p_value } => Judgement::Verdict(Verdict::Accept { p_value }),
                Decision::Continue { p_value } => Judgement::Continue { p_value },
                Decision::Reject { p_value } => {
                    let reason = match claimed {
                        Some(claimed) if unreproduced(claimed, candidate, head, rule) => {
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

/// The reruns of each side the rule looks at: complete pairs, up to its cap.
fn looked_at<'a>(candidate: &'a [f64], head: &'a [f64], rule: &Rule) -> (&'a [f64], &'a [f64]) {
    let n = candidate
        .len()
        .min(head.len())
        .min(reruns_cap(rule) as usize);
    (&candidate[..n], &head[..n])
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Whether a rejected candidate failed to reproduce its claim: the worker claimed the metric
/// better than the head's measured mean by more than `min_delta`, and the candidate's
/// measured mean is not. The means are of the reruns the rule looked at.
fn unreproduced(claimed: f64, candidate: &[f64], head: &[f64], rule: &Rule) -> bool {
    let (candidate, head) = looked_at(candidate, head, rule);
    if candidate.is_empty() {
        return false;
    }
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
mod simulation;

#[cfg(test)]
mod tests {
    use super::simulation::{capped, rule};
    use super::*;
    use crate::domain::stats::Spread;

    #[test]
    fn a_job_is_given_up_after_enough_verifiers_or_all_there_are() {
        assert!(!gives_up(2, 3, 5));
        assert!(gives_up(3, 3, 5));
        // Two verifiers on the hub: both faulting is all it can do.
        assert!(!gives_up(1, 3, 2));
        assert!(gives_up(2, 3, 2));
        assert!(gives_up(1, 0, 0));
    }

    #[test]
    fn a_promising_candidate_gets_more_reruns_up_to_the_cap() {
        let r = capped(Goal::Minimize, 0.01, 0.0, 3, 6);
        // Three pairs, each better by about 0.01 with as much noise: promising, not decisive.
        let c = [0.99, 1.0, 0.985];
        let h = [1.0, 1.0, 1.0];
        assert!(matches!(
            decide(&c, &h, Pairing::Paired, &r, Context::default()),
            Decision::Continue { p_value: Some(p) } if p < PROMISING
        ));
        // Without the cap the same three pairs are the end.
        let uncapped = rule(Goal::Minimize, 0.01, 0.0, 3);
        assert!(matches!(
            decide(&c, &h, Pairing::Paired, &uncapped, Context::default()),
            Decision::Reject { .. }
        ));
        // Not promising after the reruns asked for: rejected there.
        let worse = [1.01, 1.0, 0.995];
        assert!(matches!(
            decide(&worse, &h, Pairing::Paired, &r, Context::default()),
            Decision::Reject { .. }
        ));
        // Still not decisive at the cap: rejected.
        let c6 = [0.99, 1.0, 0.985, 1.0, 0.99, 1.002];
        let h6 = [1.0; 6];
        assert!(matches!(
            decide(&c6, &h6, Pairing::Paired, &r, Context::default()),
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
    fn an_improvement_below_min_delta_is_rejected() {
        let r = rule(Goal::Maximize, 0.05, 0.5, 3);
        let c = [1.2, 1.21, 1.19];
        let h = [1.0, 1.01, 0.99];
        assert!(matches!(
            decide(&c, &h, Pairing::Independent, &r, Context::default()),
            Decision::Reject { .. }
        ));
        let r = rule(Goal::Maximize, 0.05, 0.1, 3);
        assert!(matches!(
            decide(&c, &h, Pairing::Independent, &r, Context::default()),
            Decision::Accept { .. }
        ));
    }

    #[test]
    fn one_value_is_never_enough() {
        let r = rule(Goal::Minimize, 0.05, 0.0, 3);
        assert_eq!(
            decide(&[0.1], &[1.0], Pairing::Paired, &r, Context::default()),
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
        let judged =
            |outcome, c: &[f64], claimed| judge(&measured(outcome, c, &same), &r, claimed, None);
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

    /// A prior of `df` degrees of freedom whose variance is `var`.
    fn prior(var: f64, df: f64) -> Prior {
        Prior {
            spread: Spread {
                sum_sq: var * df,
                df,
            },
            verdicts: vec![1],
        }
    }

    #[test]
    fn a_prior_that_agrees_adds_its_degrees_of_freedom_and_one_that_does_not_is_dropped() {
        let r = capped(Goal::Minimize, 0.01, 0.0, 3, 9);
        // Three pairs better by 0.010, 0.012, 0.008 (sd 0.002 of the differences): at 2 df
        // not significant at 0.01 / 8.
        let h = [1.0, 1.0, 1.0];
        let c = [0.990, 0.988, 0.992];
        let own = decide(&c, &h, Pairing::Paired, &r, Context::default());
        assert!(matches!(own, Decision::Continue { .. }), "{own:?}");
        // The same head measured before with differences spreading alike: 40 more df.
        let agreeing = prior(0.002f64.powi(2), 40.0);
        let context = Context {
            prior: Some(&agreeing),
            claimed_gain: None,
        };
        let pooled = decide(&c, &h, Pairing::Paired, &r, context);
        assert!(matches!(pooled, Decision::Accept { .. }), "{pooled:?}");
        // A prior a hundred times quieter than the job: the F-test drops it.
        let quiet = prior(0.0002f64.powi(2), 40.0);
        assert!(!agrees(
            Spread::of(&[0.010, 0.012, 0.008]).unwrap(),
            quiet.spread
        ));
        let dropped = Context {
            prior: Some(&quiet),
            claimed_gain: None,
        };
        assert_eq!(decide(&c, &h, Pairing::Paired, &r, dropped), own);
        // A prior noisier than the job is pooled: the variance grows, the accept goes.
        let loud = prior(0.02f64.powi(2), 40.0);
        assert!(agrees(
            Spread::of(&[0.010, 0.012, 0.008]).unwrap(),
            loud.spread
        ));
        let noisier = Context {
            prior: Some(&loud),
            claimed_gain: None,
        };
        assert!(matches!(
            decide(&c, &h, Pairing::Paired, &r, noisier),
            Decision::Continue { .. }
        ));
        // Welch's design pools too: Student's test on one variance.
        let agreeing = prior(0.002f64.powi(2) / 2.0, 40.0);
        let welch = Context {
            prior: Some(&agreeing),
            claimed_gain: None,
        };
        let hw = [1.001, 0.999, 1.0];
        assert!(matches!(
            decide(&c, &hw, Pairing::Independent, &r, Context::default()),
            Decision::Continue { .. }
        ));
        assert!(matches!(
            decide(&c, &hw, Pairing::Independent, &r, welch),
            Decision::Accept { .. }
        ));
    }

    #[test]
    fn the_reruns_asked_grow_with_the_noise_against_the_claimed_gain() {
        let r = capped(Goal::Minimize, 0.01, 0.002, 3, 9);
        let asked = |gain, sd, prior_df| reruns_for(&r, Pairing::Paired, gain, sd, prior_df);
        // No claim, or one that does not clear min_delta: the rule's reruns.
        assert_eq!(asked(None, 0.02, 0.0), 3);
        assert_eq!(asked(Some(0.002), 0.02, 0.0), 3);
        // A gain far above the noise: the rule's reruns are power enough.
        assert_eq!(asked(Some(0.5), 0.02, 40.0), 3);
        // More noise, or a smaller gain, asks for more; never beyond the cap.
        let (small, smaller) = (asked(Some(0.04), 0.02, 40.0), asked(Some(0.03), 0.02, 40.0));
        assert!(
            3 < small && small < smaller && smaller <= 9,
            "{small} {smaller}"
        );
        assert!(asked(Some(0.04), 0.03, 40.0) > small);
        // Without a prior the test has fewer degrees of freedom: more reruns.
        assert!(asked(Some(0.04), 0.02, 0.0) > small);
        assert_eq!(asked(Some(0.01), 0.02, 40.0), 9);
        // The asked count is where a not-promising candidate stops.
        let h = [1.0, 1.0, 1.0];
        let c = [1.01, 0.99, 1.01];
        let claimed = |gain| Context {
            prior: None,
            claimed_gain: Some(gain),
        };
        assert!(matches!(
            decide(&c, &h, Pairing::Paired, &r, Context::default()),
            Decision::Reject { .. }
        ));
        assert!(matches!(
            decide(&c, &h, Pairing::Paired, &r, claimed(0.01)),
            Decision::Continue { .. }
        ));
        assert!(matches!(
            decide(&c, &h, Pairing::Paired, &r, claimed(5.0)),
            Decision::Reject { .. }
        ));
    }
}
