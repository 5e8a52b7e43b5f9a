//! Simulations of the sequential test as verifiers run it: how often a candidate no better
//! than the head is accepted (it must stay below `alpha`, with and without a prior and
//! whatever the claim), and the power: how small a true gain is accepted four times in five,
//! with the job's own reruns only and with the head's pooled noise and reruns sized by the
//! claim. Reproducible: every trial draws from its own seeded generator.

use swarmlab_core::Goal;
use swarmlab_proto::Rule;

use super::{decide, reruns_cap, Context, Decision, Pairing};
use crate::domain::prior::Prior;
use crate::domain::stats::Spread;

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

/// A rule with no cap on the reruns beyond `reruns`.
pub(super) fn rule(goal: Goal, alpha: f64, min_delta: f64, reruns: u32) -> Rule {
    Rule {
        goal,
        alpha,
        min_delta,
        reruns,
        max_reruns: None,
    }
}

/// [`rule`] with a cap on the reruns the test may ask for.
pub(super) fn capped(goal: Goal, alpha: f64, min_delta: f64, reruns: u32, max_reruns: u32) -> Rule {
    Rule {
        max_reruns: Some(max_reruns),
        ..rule(goal, alpha, min_delta, reruns)
    }
}

/// The true means of the two sides and how their reruns spread: `shared` is what both
/// runs of a pair have in common (the seed's luck, the machine's load), `own` what each
/// run has alone. Unpaired reruns draw the shared part afresh for every run.
#[derive(Debug, Clone, Copy)]
struct Truth {
    candidate: f64,
    head: f64,
    shared: f64,
    own: f64,
}

/// What the test knows besides the job's reruns.
#[derive(Debug, Clone, Copy)]
struct Setting {
    /// Earlier decisive reports on the same head and class, each of the rule's reruns of a
    /// candidate that runs like the head: the prior.
    earlier: usize,
    /// How the earlier reports' noise compares with the job's (1: the same machine).
    earlier_scale: f64,
    /// The gain the worker claims.
    claimed_gain: Option<f64>,
}

/// Today's test before the prior and the claim were used: the job's own reruns.
const OWN: Setting = Setting {
    earlier: 0,
    earlier_scale: 1.0,
    claimed_gain: None,
};

/// Pooled with ten earlier reports of three pairs from the same machine (a head that ten
/// submissions were verified against), and an honest claim.
fn pooled(claimed_gain: Option<f64>) -> Setting {
    Setting {
        earlier: 10,
        earlier_scale: 1.0,
        claimed_gain,
    }
}

/// One pair of reruns (for Welch's design, two independent runs).
fn pair(rng: &mut Rng, truth: &Truth, pairing: Pairing, scale: f64) -> (f64, f64) {
    let shared = rng.normal(0.0, truth.shared * scale);
    let other = match pairing {
        Pairing::Paired => shared,
        Pairing::Independent => rng.normal(0.0, truth.shared * scale),
    };
    (
        rng.normal(truth.candidate + shared, truth.own * scale),
        rng.normal(truth.head + other, truth.own * scale),
    )
}

/// The prior that `setting.earlier` reports of `reruns` pairs each give, each of a candidate
/// that runs like the head, as `Prior::of` gathers it.
fn prior(
    rng: &mut Rng,
    truth: &Truth,
    pairing: Pairing,
    setting: &Setting,
    reruns: usize,
) -> Option<Prior> {
    let clone = Truth {
        candidate: truth.head,
        ..*truth
    };
    let mut spread = Spread::NONE;
    for _ in 0..setting.earlier {
        let pairs: Vec<(f64, f64)> = (0..reruns)
            .map(|_| pair(rng, &clone, pairing, setting.earlier_scale))
            .collect();
        let sample: Vec<f64> = match pairing {
            Pairing::Paired => pairs.iter().map(|(c, h)| h - c).collect(),
            Pairing::Independent => pairs.iter().map(|&(_, h)| h).collect(),
        };
        spread = spread.plus(Spread::of(&sample)?);
    }
    (spread.df > 0.0).then(|| Prior {
        spread,
        verdicts: Vec::new(),
    })
}

/// Runs the sequential protocol as a verifier would: one more pair per look, until the
/// test decides; with the number of pairs it took.
fn verify(
    rng: &mut Rng,
    rule: &Rule,
    truth: &Truth,
    pairing: Pairing,
    setting: &Setting,
) -> (Decision, usize) {
    let prior = prior(rng, truth, pairing, setting, rule.reruns as usize);
    let context = Context {
        prior: prior.as_ref(),
        claimed_gain: setting.claimed_gain,
    };
    let (mut c, mut h) = (Vec::new(), Vec::new());
    loop {
        let (candidate, head) = pair(rng, truth, pairing, 1.0);
        c.push(candidate);
        h.push(head);
        match decide(&c, &h, pairing, rule, context) {
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
    setting: &Setting,
    trials: u64,
    seed: u64,
) -> (f64, usize) {
    let (mut accepted, mut most) = (0, 0);
    for trial in 0..trials {
        let mut rng = Rng(seed + trial * 7919 + 1);
        let (decision, pairs) = verify(&mut rng, rule, truth, pairing, setting);
        most = most.max(pairs);
        if matches!(decision, Decision::Accept { .. }) {
            accepted += 1;
        }
    }
    (f64::from(accepted) / trials as f64, most)
}

/// A candidate better than a head at 1.0 by `gain`, under `goal`.
fn better_by(goal: Goal, gain: f64, shared: f64, own: f64) -> Truth {
    let candidate = match goal {
        Goal::Minimize => 1.0 - gain,
        Goal::Maximize => 1.0 + gain,
    };
    Truth {
        candidate,
        head: 1.0,
        shared,
        own,
    }
}

/// The settings a false accept must stay rare under: the job's own reruns; pooled without a
/// claim; pooled with the smallest claim that clears `min_delta`, which asks for every rerun
/// up to the cap (the worst a worker's claim can do).
fn null_settings(rule: &Rule) -> [Setting; 3] {
    [OWN, pooled(None), pooled(Some(rule.min_delta + 1e-6))]
}

#[test]
fn a_clone_of_the_head_plus_noise_is_accepted_less_often_than_alpha() {
    for goal in [Goal::Minimize, Goal::Maximize] {
        for pairing in [Pairing::Independent, Pairing::Paired] {
            // min_delta = 0 is the hardest case for the rule: a clone looks promising
            // half the time and is followed up to the cap.
            for rule in [rule(goal, 0.05, 0.0, 5), capped(goal, 0.05, 0.0, 3, 10)] {
                for setting in null_settings(&rule) {
                    let truth = better_by(goal, 0.0, 0.02, 0.005);
                    let (rate, most) = acceptance_rate(&rule, &truth, pairing, &setting, 4000, 0);
                    // The binomial sd at p = alpha is ~0.0034; the union bound over the looks
                    // leaves a clear margin below alpha.
                    assert!(
                        rate < 0.8 * rule.alpha,
                        "{goal} {pairing:?} {rule:?} {setting:?}: false-accept rate {rate}"
                    );
                    assert_eq!(most, reruns_cap(&rule) as usize, "{rule:?}");
                }
            }
        }
    }
}

#[test]
fn a_candidate_at_exactly_min_delta_is_accepted_less_often_than_alpha() {
    for goal in [Goal::Minimize, Goal::Maximize] {
        for pairing in [Pairing::Independent, Pairing::Paired] {
            let rule = capped(goal, 0.05, 0.01, 3, 12);
            for setting in null_settings(&rule) {
                let truth = better_by(goal, 0.01, 0.01, 0.004);
                let (rate, _) = acceptance_rate(&rule, &truth, pairing, &setting, 4000, 17);
                assert!(
                    rate < 0.8 * rule.alpha,
                    "{goal} {pairing:?} {setting:?}: false-accept rate {rate}"
                );
            }
        }
    }
}

#[test]
fn a_changed_machine_s_noise_does_not_let_a_clone_through() {
    // The job's machine spreads 1.4 times as much as the one the prior was measured on
    // (twice the variance): the F-test drops the prior where the job's own reruns show it.
    // (At twice the spread, four times the variance, the paired rate measured 0.0575 at
    // alpha 0.05: docs/hub.md says so.)
    for pairing in [Pairing::Independent, Pairing::Paired] {
        let rule = capped(Goal::Minimize, 0.05, 0.0, 3, 9);
        let truth = better_by(Goal::Minimize, 0.0, 0.02, 0.005);
        let setting = Setting {
            earlier: 4,
            earlier_scale: std::f64::consts::FRAC_1_SQRT_2,
            claimed_gain: Some(1e-6),
        };
        let (rate, _) = acceptance_rate(&rule, &truth, pairing, &setting, 4000, 29);
        assert!(
            rate <= rule.alpha,
            "{pairing:?}: false-accept rate {rate} on a changed machine"
        );
    }
}

#[test]
fn pairing_finds_a_gain_that_the_shared_noise_hides_from_welch() {
    // The case: a gain of 0.04 against runs that spread by 0.03 together (the
    // load), by 0.002 alone.
    let rule = capped(Goal::Minimize, 0.01, 0.002, 3, 9);
    let truth = better_by(Goal::Minimize, 0.04, 0.03, 0.002);
    let (paired, _) = acceptance_rate(&rule, &truth, Pairing::Paired, &OWN, 500, 5);
    let (welch, _) = acceptance_rate(&rule, &truth, Pairing::Independent, &OWN, 500, 5);
    assert!(paired > 0.95, "paired power {paired}");
    assert!(welch < 0.5, "Welch power {welch}");
}

#[test]
fn a_clear_improvement_is_accepted_and_often_early() {
    for pairing in [Pairing::Independent, Pairing::Paired] {
        let rule = rule(Goal::Minimize, 0.01, 0.002, 8);
        let truth = better_by(Goal::Minimize, 0.05, 0.0, 0.01);
        let (rate, _) = acceptance_rate(&rule, &truth, pairing, &OWN, 500, 98);
        assert!(rate > 0.95, "{pairing:?}: power too low: {rate}");
    }
}

/// A track's noise as the simulation draws it, named for the table.
struct Noise {
    track: &'static str,
    pairing: Pairing,
    shared: f64,
    own: f64,
    source: &'static str,
}

/// The noise levels of the table: the toy's measurement noise (`TOY_NOISE = 0.01`, seeded
/// by the pair's seed, so a pair shares all of it) and tinygpt's (σ 0.013 between seeds,
/// docs/tinygpt.md; σ of the paired differences 0.02 at the lowest in the demo's verdicts,
/// docs/hub.md).
const NOISES: [Noise; 4] = [
    Noise {
        track: "toy",
        pairing: Pairing::Independent,
        shared: 0.01,
        own: 0.0,
        source: "σ 0.01 per run",
    },
    Noise {
        track: "toy",
        pairing: Pairing::Paired,
        shared: 0.01,
        own: 0.0,
        source: "σ 0.01, all shared by a pair's seed",
    },
    Noise {
        track: "tinygpt",
        pairing: Pairing::Independent,
        shared: 0.013,
        own: 0.0,
        source: "σ 0.013 between seeds",
    },
    Noise {
        track: "tinygpt",
        pairing: Pairing::Paired,
        shared: 0.013,
        own: 0.014_142_135_623_730_95,
        source: "σ 0.02 of a pair's difference",
    },
];

/// The default rule of the tracks (`reruns = 3` up to `max_reruns = 9`, `alpha = 0.01`,
/// `min_delta = 0.002`).
fn default_rule() -> Rule {
    capped(Goal::Minimize, 0.01, 0.002, 3, 9)
}

/// The smallest true gain (to 1e-4) accepted at least 80% of the time, by bisection over
/// `trials` trials per gain (the same seeds for every gain, so the rate grows with it), and
/// the mean pairs the trials took there. `claim` says whether the worker claims the true gain.
fn smallest_gain(noise: &Noise, setting: Setting, claim: bool, trials: u64) -> (f64, f64) {
    let rule = default_rule();
    let rate_at = |gain: f64| {
        let truth = better_by(rule.goal, gain, noise.shared, noise.own);
        let setting = Setting {
            claimed_gain: claim.then_some(gain),
            ..setting
        };
        let (mut accepted, mut pairs) = (0u32, 0usize);
        for trial in 0..trials {
            let mut rng = Rng(trial * 7919 + 11);
            let (decision, n) = verify(&mut rng, &rule, &truth, noise.pairing, &setting);
            pairs += n;
            accepted += u32::from(matches!(decision, Decision::Accept { .. }));
        }
        (
            f64::from(accepted) / trials as f64,
            pairs as f64 / trials as f64,
        )
    };
    let (mut lo, mut hi) = (rule.min_delta, 0.5);
    while hi - lo > 1e-4 {
        let mid = 0.5 * (lo + hi);
        if rate_at(mid).0 >= 0.8 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (hi, rate_at(hi).1)
}

#[test]
fn pooling_and_reruns_sized_by_the_claim_find_smaller_gains() {
    // tinygpt's paired noise: a gain the job's own reruns find about half the time is found
    // more often with the prior and the reruns its claim asks for.
    let rule = default_rule();
    let noise = &NOISES[3];
    let truth = better_by(rule.goal, 0.03, noise.shared, noise.own);
    let (before, _) = acceptance_rate(&rule, &truth, Pairing::Paired, &OWN, 400, 3);
    let (after, _) = acceptance_rate(&rule, &truth, Pairing::Paired, &pooled(Some(0.03)), 400, 3);
    assert!(
        after > before + 0.08,
        "power before {before}, after {after}"
    );
    // And the smallest gain found four times in five shrinks.
    let (small_before, _) = smallest_gain(noise, OWN, false, 150);
    let (small_after, _) = smallest_gain(noise, pooled(None), true, 150);
    println!("smallest gain before {small_before}, after {small_after}");
    assert!(
        small_after < small_before,
        "smallest gain before {small_before}, after {small_after}"
    );
}

/// The power table of docs/hub.md: `cargo test -p swarmlab-hub --lib power_table --
/// --ignored --nocapture`.
#[test]
#[ignore = "prints the power table of docs/hub.md (about a minute)"]
fn power_table() {
    println!("| track | design | noise | smallest gain accepted 80% of the time: own reruns (pairs) | pooled + sized by the claim (pairs) |");
    println!("|---|---|---|---|---|");
    for noise in &NOISES {
        let (before, before_pairs) = smallest_gain(noise, OWN, false, 1000);
        let (after, after_pairs) = smallest_gain(noise, pooled(None), true, 1000);
        let design = match noise.pairing {
            Pairing::Paired => "paired",
            Pairing::Independent => "Welch",
        };
        println!(
            "| {} | {design} | {} | {before:.4} ({before_pairs:.1}) | {after:.4} ({after_pairs:.1}) |",
            noise.track, noise.source
        );
    }
}
