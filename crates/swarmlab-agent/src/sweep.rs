//! The built-in proposer: turns the track's `[knobs]`, no LLM needed.
//!
//! Two strategies share the knob plumbing:
//! - `sweep`, the default: a (1+1)-evolution strategy. Each proposal perturbs a few knobs of
//!   the current best in a normalised space (log space for log knobs) with a Gaussian step;
//!   the step size follows the 1/5th success rule (×1.5 after a keep, ×1.5^-¼ otherwise).
//!   The step size is replayed from the history, so the proposer keeps no state of its own
//!   and a resumed run proposes exactly what an uninterrupted one would have.
//! - `random`: every knob drawn uniformly from its domain; the baseline for comparisons.
//!
//! Both follow an idea written as knob settings (`lr = 0.02, width = 128`) instead; what
//! they share with the other knob-turning proposers is in [`crate::knobs`].

use swarmlab_core::spec::{Domain, Knob, Scale};
use swarmlab_core::Status;

use crate::knobs::{self, format_value, from_unit, number, to_unit};
use crate::{Context, Proposal, ProposeError, Proposer, Rng};

const INITIAL_STEP: f64 = 0.2;
const STEP_GROWTH: f64 = 1.5;
const MIN_STEP: f64 = 0.02;
const MAX_STEP: f64 = 0.5;

/// How the next knob values are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Evolution,
    Random,
}

/// The knob-turning proposer.
#[derive(Debug, Clone)]
pub struct SweepProposer {
    strategy: Strategy,
}

impl SweepProposer {
    pub fn new(strategy: Strategy) -> SweepProposer {
        SweepProposer { strategy }
    }

    /// The (1+1)-ES step size after the outcomes this proposer has had so far.
    pub fn step_size(&self, history: &[swarmlab_core::Record]) -> f64 {
        history
            .iter()
            .filter(|r| r.index > 0 && r.proposer == self.name())
            .fold(INITIAL_STEP, |step, r| match r.status {
                Status::Keep => (step * STEP_GROWTH).min(MAX_STEP),
                Status::Invalid | Status::Interrupted => step,
                _ => (step * STEP_GROWTH.powf(-0.25)).max(MIN_STEP),
            })
    }
}

impl Proposer for SweepProposer {
    fn name(&self) -> &str {
        match self.strategy {
            Strategy::Evolution => "sweep",
            Strategy::Random => "random",
        }
    }

    fn propose(&mut self, ctx: &Context<'_>) -> Result<Proposal, ProposeError> {
        let knobs = &ctx.spec.knobs;
        let step = self.step_size(ctx.history);
        let strategy = self.strategy;
        knobs::turn(ctx, self.name(), |current, rng| match strategy {
            Strategy::Evolution => mutate(knobs, current, step, rng),
            Strategy::Random => Ok(knobs
                .iter()
                .zip(current)
                .map(|(k, v)| knobs::uniform(k, v, rng))
                .collect()),
        })
    }
}

/// Perturbs a few knobs: each with probability 1.5/n, at least one.
fn mutate(
    knobs: &[Knob],
    current: &[String],
    step: f64,
    rng: &mut Rng,
) -> Result<Vec<String>, ProposeError> {
    let n = knobs.len();
    let p = (1.5 / n as f64).min(1.0);
    let mut chosen: Vec<bool> = (0..n).map(|_| rng.uniform() < p).collect();
    if !chosen.iter().any(|c| *c) {
        chosen[rng.below(n)] = true;
    }
    knobs
        .iter()
        .zip(current)
        .zip(chosen)
        .map(|((knob, value), chosen)| {
            if chosen {
                perturb(knob, value, step, rng)
            } else {
                Ok(value.clone())
            }
        })
        .collect()
}

fn perturb(knob: &Knob, value: &str, step: f64, rng: &mut Rng) -> Result<String, ProposeError> {
    match &knob.domain {
        Domain::Choices(choices) => {
            let here = choices.iter().position(|c| c == value).unwrap_or(0);
            if choices.len() < 2 {
                return Ok(choices[0].clone());
            }
            // Choices are often ordered (widths, depths): mostly step to a neighbour.
            let next = if rng.uniform() < 0.7 {
                let up = rng.uniform() < 0.5;
                match (here, up) {
                    (0, _) => 1,
                    (h, true) if h + 1 < choices.len() => h + 1,
                    (h, _) => h - 1,
                }
            } else {
                let other = rng.below(choices.len() - 1);
                if other >= here {
                    other + 1
                } else {
                    other
                }
            };
            Ok(choices[next].clone())
        }
        Domain::Range { low, high, scale } => {
            let x = number(knob, value)?;
            let u = to_unit(x, *low, *high, *scale).clamp(0.0, 1.0);
            let moved = reflect(u + step * rng.normal());
            let mut y = from_unit(moved, *low, *high, *scale);
            if *scale == Scale::Int && y.round() == x.round() {
                // A step smaller than one unit would change nothing: take the smallest real step.
                let direction = if moved >= u { 1.0 } else { -1.0 };
                y = (x.round() + direction).clamp(low.ceil(), high.floor());
                if y == x.round() {
                    y = (x.round() - direction).clamp(low.ceil(), high.floor());
                }
            }
            Ok(format_value(y, *scale, value))
        }
    }
}

fn reflect(u: f64) -> f64 {
    let mut u = u.rem_euclid(2.0);
    if u > 1.0 {
        u = 2.0 - u;
    }
    u
}

#[cfg(test)]
mod tests;
