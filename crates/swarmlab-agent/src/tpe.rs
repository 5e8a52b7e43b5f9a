//! The `tpe` proposer: a Tree-structured Parzen Estimator over the track's `[knobs]`, a
//! model-based search that learns where good settings lie from every experiment so far.
//!
//! After a few experiments drawn at random, each proposal splits the experiments that ran
//! into the best [`GAMMA`] share by the metric (at most [`GOOD_MAX`]) and the rest (failures
//! count among the rest), fits per knob a density `l(x)` to the good ones' values and `g(x)`
//! to the others', in the knob's normalised space ([`parzen`]), draws [`CANDIDATES`] values
//! from `l` and keeps the one with the highest `l(x) / g(x)`. Knobs are modelled independently, so that choice is
//! made knob by knob: together they are the candidate combination with the highest ratio of
//! the product densities.
//!
//! The settings of past experiments are read back from the records ([`crate::knobs::history`])
//! and the random draws come from (seed, experiment index): a resumed run proposes exactly
//! what an uninterrupted one would have. Like the sweep, it follows an idea written as knob
//! settings instead.

use swarmlab_core::spec::{Domain, Knob, Scale};
use swarmlab_core::{Goal, Record};

use crate::knobs::history::{self, Settings};
use crate::knobs::{self, format_value, from_unit, to_unit};
use crate::{Context, Proposal, ProposeError, Proposer, Rng};

mod parzen;

use parzen::{Categorical, Parzen};

/// Experiments (the baseline included) drawn uniformly before the model is used.
pub const STARTUP: usize = 8;
/// The share of the measured experiments that counts as good, rounded up...
pub const GAMMA: f64 = 0.15;
/// ... and at most this many: past it, a larger good group only blurs `l(x)`.
pub const GOOD_MAX: usize = 25;
/// Values drawn from `l` per knob and proposal, of which the best `l / g` is kept.
pub const CANDIDATES: usize = 24;

/// The Tree-structured Parzen Estimator proposer.
#[derive(Debug, Clone, Default)]
pub struct TpeProposer;

impl TpeProposer {
    pub fn new() -> TpeProposer {
        TpeProposer
    }
}

impl Proposer for TpeProposer {
    fn name(&self) -> &str {
        "tpe"
    }

    fn propose(&mut self, ctx: &Context<'_>) -> Result<Proposal, ProposeError> {
        let knobs = &ctx.spec.knobs;
        let goal = ctx.spec.metric.goal;
        knobs::turn(ctx, self.name(), |current, rng| {
            let seen = history::settings(ctx.history, knobs, ctx.best_commit, current);
            if seen.len() < STARTUP {
                return Ok(knobs
                    .iter()
                    .zip(current)
                    .map(|(k, v)| knobs::uniform(k, v, rng))
                    .collect());
            }
            let (good, bad) = split(&seen, goal);
            Ok(knobs
                .iter()
                .enumerate()
                .map(|(i, knob)| {
                    choose(knob, &column(&good, i), &column(&bad, i), &current[i], rng)
                })
                .collect())
        })
    }
}

/// The experiments that ran, split into the best [`GAMMA`] share by the metric (at least one,
/// at most [`GOOD_MAX`]) and the rest, failures among the rest. Ties keep the earlier experiment first.
fn split<'a>(
    seen: &'a [(&Record, Settings)],
    goal: Goal,
) -> (Vec<&'a Settings>, Vec<&'a Settings>) {
    let mut measured: Vec<(f64, u64, &Settings)> = seen
        .iter()
        .filter_map(|(r, s)| r.metric.map(|m| (m, r.index, s)))
        .collect();
    measured.sort_by(|a, b| {
        let better = match goal {
            Goal::Minimize => a.0.total_cmp(&b.0),
            Goal::Maximize => b.0.total_cmp(&a.0),
        };
        better.then(a.1.cmp(&b.1))
    });
    let n_good = ((GAMMA * measured.len() as f64).ceil() as usize)
        .min(GOOD_MAX)
        .clamp(1, measured.len());
    let good = measured[..n_good].iter().map(|m| m.2).collect();
    let mut bad: Vec<&Settings> = measured[n_good..].iter().map(|m| m.2).collect();
    bad.extend(
        seen.iter()
            .filter(|(r, _)| r.metric.is_none())
            .map(|(_, s)| s),
    );
    (good, bad)
}

/// The known values of knob `i` in `group`.
fn column<'a>(group: &[&'a Settings], i: usize) -> Vec<&'a str> {
    group.iter().filter_map(|s| s[i].as_deref()).collect()
}

/// The value of one knob with the highest `l / g` among [`CANDIDATES`] drawn from `l`,
/// written in the style of `current`. Values of the history outside the domain are left out
/// of the densities.
fn choose(knob: &Knob, good: &[&str], bad: &[&str], current: &str, rng: &mut Rng) -> String {
    match &knob.domain {
        Domain::Choices(choices) => {
            let indices = |values: &[&str]| -> Vec<usize> {
                values
                    .iter()
                    .filter_map(|v| choices.iter().position(|c| c == v))
                    .collect()
            };
            let l = Categorical::fit(choices.len(), &indices(good));
            let g = Categorical::fit(choices.len(), &indices(bad));
            let best = best_of((0..CANDIDATES).map(|_| l.sample(rng)), |&c| {
                l.ln_pmf(c) - g.ln_pmf(c)
            });
            choices[best].clone()
        }
        Domain::Range { low, high, scale } => {
            let units = |values: &[&str]| -> Vec<f64> {
                values
                    .iter()
                    .filter_map(|v| knobs::number(knob, v).ok())
                    .map(|x| to_unit(x, *low, *high, *scale))
                    .filter(|u| (0.0..=1.0).contains(u))
                    .collect()
            };
            let l = Parzen::fit(&units(good));
            let g = Parzen::fit(&units(bad));
            // An int knob is scored where its rounded value lies.
            let snap = |u: f64| match scale {
                Scale::Int => to_unit(from_unit(u, *low, *high, *scale), *low, *high, *scale),
                Scale::Linear | Scale::Log => u,
            };
            let best = best_of((0..CANDIDATES).map(|_| snap(l.sample(rng))), |&u| {
                l.ln_pdf(u) - g.ln_pdf(u)
            });
            format_value(from_unit(best, *low, *high, *scale), *scale, current)
        }
    }
}

/// The first of `candidates` with the highest score.
fn best_of<T: Copy>(candidates: impl Iterator<Item = T>, score: impl Fn(&T) -> f64) -> T {
    let mut best: Option<(T, f64)> = None;
    for candidate in candidates {
        let s = score(&candidate);
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((candidate, s));
        }
    }
    best.expect("CANDIDATES is positive").0
}

#[cfg(test)]
mod tests;
