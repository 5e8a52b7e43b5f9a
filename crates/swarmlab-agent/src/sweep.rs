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
//! Both follow an idea written as knob settings (`lr = 0.02, width = 128`: [`idea`]) instead.

use std::collections::BTreeMap;
use std::path::Path;

use swarmlab_core::spec::{Domain, Knob, Scale};
use swarmlab_core::Status;

use crate::{Context, Proposal, ProposeError, Proposer, Rng};

mod idea;

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
        if knobs.is_empty() {
            return Err(ProposeError::Unusable(format!(
                "track `{}` has no [knobs]; the {} proposer turns knobs, so add some to swarmlab.toml or choose another proposer",
                ctx.spec.name,
                self.name()
            )));
        }
        let files = Files::read(ctx.worktree, knobs)?;
        let current: Vec<String> = knobs
            .iter()
            .map(|k| files.value(k).map(str::to_string))
            .collect::<Result<_, _>>()?;
        if let Some(idea) = ctx.idea {
            match idea::settings(idea, knobs, &current) {
                Ok(Some(settings)) => {
                    let mut proposed = current.clone();
                    for (i, value) in settings {
                        proposed[i] = value;
                    }
                    return apply(files, knobs, &current, &proposed, ctx.worktree, "idea: ");
                }
                Ok(None) => {}
                Err(reason) => return Ok(Proposal::Nothing { reason }),
            }
        }
        let mut rng = Rng::for_experiment(ctx.seed, ctx.index);
        let step = self.step_size(ctx.history);

        let mut proposed = current.clone();
        for _ in 0..64 {
            proposed = match self.strategy {
                Strategy::Evolution => mutate(knobs, &current, step, &mut rng)?,
                Strategy::Random => knobs
                    .iter()
                    .zip(&current)
                    .map(|(k, v)| sample(k, v, &mut rng))
                    .collect(),
            };
            if proposed != current {
                break;
            }
        }
        if proposed == current {
            return Ok(Proposal::Nothing {
                reason: "every knob is pinned to a single value".into(),
            });
        }
        apply(files, knobs, &current, &proposed, ctx.worktree, "")
    }
}

/// Writes the `proposed` knob values into the worktree; the change, described after
/// `prefix`, or nothing when they are the `current` ones.
fn apply(
    mut files: Files,
    knobs: &[Knob],
    current: &[String],
    proposed: &[String],
    worktree: &Path,
    prefix: &str,
) -> Result<Proposal, ProposeError> {
    let mut changes = Vec::new();
    for (i, knob) in knobs.iter().enumerate() {
        if proposed[i] != current[i] {
            files.set(knob, &proposed[i])?;
            changes.push(format!("{} {} -> {}", knob.name, current[i], proposed[i]));
        }
    }
    if changes.is_empty() {
        return Ok(Proposal::Nothing {
            reason: "the idea's settings are what the best already has".into(),
        });
    }
    files.write(worktree)?;
    Ok(Proposal::Change {
        description: format!("{prefix}{}", changes.join(", ")),
    })
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

fn sample(knob: &Knob, value: &str, rng: &mut Rng) -> String {
    match &knob.domain {
        Domain::Choices(choices) => choices[rng.below(choices.len())].clone(),
        Domain::Range { low, high, scale } => {
            format_value(from_unit(rng.uniform(), *low, *high, *scale), *scale, value)
        }
    }
}

fn number(knob: &Knob, text: &str) -> Result<f64, ProposeError> {
    text.trim().replace('_', "").parse::<f64>().map_err(|_| {
        ProposeError::Unusable(format!(
            "knob `{}`: `{text}` in {} is not a number",
            knob.name, knob.file
        ))
    })
}

fn reflect(u: f64) -> f64 {
    let mut u = u.rem_euclid(2.0);
    if u > 1.0 {
        u = 2.0 - u;
    }
    u
}

fn to_unit(x: f64, low: f64, high: f64, scale: Scale) -> f64 {
    match scale {
        Scale::Log => (x.max(f64::MIN_POSITIVE).ln() - low.ln()) / (high.ln() - low.ln()),
        Scale::Linear | Scale::Int => (x - low) / (high - low),
    }
}

fn from_unit(u: f64, low: f64, high: f64, scale: Scale) -> f64 {
    match scale {
        Scale::Log => (low.ln() + u * (high.ln() - low.ln())).exp(),
        Scale::Linear => low + u * (high - low),
        Scale::Int => (low + u * (high - low))
            .round()
            .clamp(low.ceil(), high.floor()),
    }
}

/// Writes a value in the style of the text it replaces: integers stay integers, exponent
/// notation stays exponent notation, decimals keep a point and four significant digits.
pub fn format_value(x: f64, scale: Scale, original: &str) -> String {
    if scale == Scale::Int {
        return format!("{}", x.round() as i64);
    }
    if original.contains(['e', 'E']) {
        return format!("{x:.2e}");
    }
    let magnitude = if x == 0.0 {
        0
    } else {
        x.abs().log10().floor() as i32
    };
    let decimals = (3 - magnitude).clamp(1, 12) as usize;
    let mut text = format!("{x:.decimals$}");
    while text.ends_with('0') && !text.ends_with(".0") {
        text.pop();
    }
    text
}

/// The editable files the knobs live in, read once and written back once.
struct Files {
    contents: BTreeMap<String, String>,
}

impl Files {
    fn read(root: &Path, knobs: &[Knob]) -> Result<Files, ProposeError> {
        let mut contents = BTreeMap::new();
        for knob in knobs {
            if !contents.contains_key(&knob.file) {
                let path = root.join(&knob.file);
                let text = std::fs::read_to_string(&path).map_err(|source| ProposeError::Io {
                    action: "read",
                    path,
                    source,
                })?;
                contents.insert(knob.file.clone(), text);
            }
        }
        Ok(Files { contents })
    }

    fn value(&self, knob: &Knob) -> Result<&str, ProposeError> {
        let text = &self.contents[&knob.file];
        knob.locate(text).map(|(_, v)| v).ok_or_else(|| {
            ProposeError::Unusable(format!(
                "knob `{}`: its pattern no longer matches anything in {}",
                knob.name, knob.file
            ))
        })
    }

    fn set(&mut self, knob: &Knob, value: &str) -> Result<(), ProposeError> {
        let text = self
            .contents
            .get_mut(&knob.file)
            .expect("every knob's file was read");
        let (range, _) = knob.locate(text).ok_or_else(|| {
            ProposeError::Unusable(format!(
                "knob `{}`: its pattern no longer matches {}",
                knob.name, knob.file
            ))
        })?;
        text.replace_range(range, value);
        Ok(())
    }

    fn write(&self, root: &Path) -> Result<(), ProposeError> {
        for (file, text) in &self.contents {
            let path = root.join(file);
            std::fs::write(&path, text).map_err(|source| ProposeError::Io {
                action: "write",
                path,
                source,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
