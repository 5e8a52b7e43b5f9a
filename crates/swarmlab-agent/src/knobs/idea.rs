//! Ideas the knob-turning proposers can follow: an idea written as knob settings
//! (`lr = 0.02, width = 128`) is tried as written instead of the strategy's own choice.
//! Settings are separated by commas, semicolons or lines, each `name = value` (or
//! `name: value`, `name -> value`); an idea with no such setting is free text for an agent,
//! and the strategy chooses as usual.

use std::sync::OnceLock;

use regex::Regex;
use swarmlab_core::spec::{Domain, Knob, Scale};

use super::format_value;

/// The knob settings an idea names, as `(knob index, value text)`; `Ok(None)` when it names
/// no knob. Once it names one, a setting of an unknown name (a typo) or a value outside the
/// knob's domain is an error that says which and what the track allows.
pub(super) fn settings(
    idea: &str,
    knobs: &[Knob],
    current: &[String],
) -> Result<Option<Vec<(usize, String)>>, String> {
    static SETTING: OnceLock<Regex> = OnceLock::new();
    let setting = SETTING.get_or_init(|| {
        Regex::new(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=|:|->)\s*(\S+?)\s*\.?\s*$")
            .expect("a valid pattern")
    });
    let named: Vec<(&str, &str)> = idea
        .split([',', ';', '\n'])
        .filter_map(|piece| setting.captures(piece))
        .map(|c| {
            let (name, value) = (c.get(1), c.get(2));
            (
                name.map_or("", |m| m.as_str()),
                value.map_or("", |m| m.as_str()),
            )
        })
        .collect();
    // Prose that happens to hold a colon is not a setting: only an idea that names a knob is.
    if !named
        .iter()
        .any(|(name, _)| knobs.iter().any(|k| k.name == *name))
    {
        return Ok(None);
    }
    let mut found = Vec::new();
    for (name, value) in named {
        let Some(i) = knobs.iter().position(|k| k.name == name) else {
            let names: Vec<&str> = knobs.iter().map(|k| k.name.as_str()).collect();
            return Err(format!(
                "the idea sets `{name}`, which is not a knob of this track (its knobs: {})",
                names.join(", ")
            ));
        };
        found.push((i, checked(&knobs[i], value, &current[i])?));
    }
    Ok((!found.is_empty()).then_some(found))
}

/// `value` as the knob's text, if its domain allows it.
fn checked(knob: &Knob, value: &str, current: &str) -> Result<String, String> {
    match &knob.domain {
        Domain::Choices(choices) => choices
            .iter()
            .find(|c| *c == value || c.trim_matches(['"', '\'']) == value)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "the idea sets `{}` to `{value}`, which is not one of its choices ({})",
                    knob.name,
                    choices.join(", ")
                )
            }),
        Domain::Range { low, high, scale } => {
            let x: f64 = value
                .replace('_', "")
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| {
                    format!(
                        "the idea sets `{}` to `{value}`, which is not a number",
                        knob.name
                    )
                })?;
            let integral = *scale != Scale::Int || x.fract() == 0.0;
            if x < *low || x > *high || !integral {
                let kind = if *scale == Scale::Int {
                    "an integer "
                } else {
                    ""
                };
                return Err(format!(
                    "the idea sets `{}` to {value}; it takes {kind}values from {low} to {high}",
                    knob.name
                ));
            }
            Ok(format_value(x, *scale, current))
        }
    }
}
