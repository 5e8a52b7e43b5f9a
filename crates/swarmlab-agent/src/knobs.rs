//! The plumbing shared by the proposers that turn a track's `[knobs]` (`sweep`, `random`,
//! `tpe`): one proposal's skeleton ([`turn`]), the normalised search space every strategy
//! works in (log space for log knobs, whole numbers for int knobs), and values written in the
//! style of the text they replace.
//!
//! - [`idea`]: an idea written as knob settings is tried as written, whatever the strategy.
//! - [`change`]: the one-line description of a change, and reading it back.
//! - [`history`]: the knob settings each experiment of the history ran with, read back from
//!   those descriptions, so that a strategy needs no state beyond the records.
//!
//! A strategy only chooses values; it must not read or write files itself.

use swarmlab_core::spec::{Domain, Knob, Scale};

use crate::{Context, Proposal, ProposeError, Rng};

pub(crate) mod change;
mod files;
pub(crate) mod history;
mod idea;

use files::Files;

/// How often a strategy is asked again when it chose the current values.
const ATTEMPTS: usize = 64;

/// One proposal of a knob-turning proposer named `proposer`: the idea's settings when the
/// idea names knobs, else the values `choose` picks given the current ones, asked again (with
/// the same generator, further along) while they are the current ones. The values are written
/// into `ctx.worktree` and described by [`change::describe`].
pub(crate) fn turn(
    ctx: &Context<'_>,
    proposer: &str,
    mut choose: impl FnMut(&[String], &mut Rng) -> Result<Vec<String>, ProposeError>,
) -> Result<Proposal, ProposeError> {
    let knobs = &ctx.spec.knobs;
    if knobs.is_empty() {
        return Err(ProposeError::Unusable(format!(
            "track `{}` has no [knobs]; the {proposer} proposer turns knobs, so add some to swarmlab.toml or choose another proposer",
            ctx.spec.name,
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
                return apply(files, knobs, &current, &proposed, ctx, change::IDEA_PREFIX);
            }
            Ok(None) => {}
            Err(reason) => return Ok(Proposal::Nothing { reason }),
        }
    }
    let mut rng = Rng::for_experiment(ctx.seed, ctx.index);
    for _ in 0..ATTEMPTS {
        let proposed = choose(&current, &mut rng)?;
        if proposed != current {
            return apply(files, knobs, &current, &proposed, ctx, "");
        }
    }
    Ok(Proposal::Nothing {
        reason: "every knob is pinned to a single value".into(),
    })
}

/// Writes the `proposed` knob values into the worktree; the change, described after
/// `prefix`, or nothing when they are the `current` ones.
fn apply(
    mut files: Files,
    knobs: &[Knob],
    current: &[String],
    proposed: &[String],
    ctx: &Context<'_>,
    prefix: &str,
) -> Result<Proposal, ProposeError> {
    let mut changes = Vec::new();
    for (i, knob) in knobs.iter().enumerate() {
        if proposed[i] != current[i] {
            files.set(knob, &proposed[i])?;
            changes.push((i, current[i].as_str(), proposed[i].as_str()));
        }
    }
    if changes.is_empty() {
        return Ok(Proposal::Nothing {
            reason: "the idea's settings are what the best already has".into(),
        });
    }
    files.write(ctx.worktree)?;
    Ok(Proposal::Change {
        description: format!("{prefix}{}", change::describe(knobs, &changes)),
    })
}

/// A value drawn uniformly from the knob's domain (in its normalised space), written in the
/// style of `value`.
pub(crate) fn uniform(knob: &Knob, value: &str, rng: &mut Rng) -> String {
    match &knob.domain {
        Domain::Choices(choices) => choices[rng.below(choices.len())].clone(),
        Domain::Range { low, high, scale } => {
            format_value(from_unit(rng.uniform(), *low, *high, *scale), *scale, value)
        }
    }
}

/// The number a knob's value text holds.
pub(crate) fn number(knob: &Knob, text: &str) -> Result<f64, ProposeError> {
    text.trim()
        .replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| {
            ProposeError::Unusable(format!(
                "knob `{}`: `{text}` in {} is not a number",
                knob.name, knob.file
            ))
        })
}

/// Where `x` lies in `[low, high]`, from 0 to 1 (log space for log knobs); outside when `x`
/// is outside the range.
pub(crate) fn to_unit(x: f64, low: f64, high: f64, scale: Scale) -> f64 {
    match scale {
        Scale::Log => (x.max(f64::MIN_POSITIVE).ln() - low.ln()) / (high.ln() - low.ln()),
        Scale::Linear | Scale::Int => (x - low) / (high - low),
    }
}

/// The value at `u` of `[low, high]` (log space for log knobs, rounded to a whole number
/// inside the range for int knobs).
pub(crate) fn from_unit(u: f64, low: f64, high: f64, scale: Scale) -> f64 {
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
