//! What a run is asked to honour: seconds of training, a number of steps, or of tokens, and
//! how a person writes one on the command line (`--budget 20s`, `--budget 400steps`).
//!
//! The runner enforces only the hard `timeout`; the budget is passed to the program in the
//! environment and honouring it is the program's job.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::{format_duration, parse_duration};

/// The budget of one experiment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// Wall-clock seconds of training (rewards speed; machine-dependent).
    Time(Duration),
    /// Optimiser steps (reproducible on any machine).
    Steps(u64),
    /// Training tokens (reproducible on any machine).
    Tokens(u64),
}

impl Budget {
    /// The environment variable that carries this budget to the program, and its value.
    pub fn env(&self) -> (&'static str, String) {
        match self {
            Budget::Time(d) => ("SWARMLAB_BUDGET_SECONDS", trim_float(d.as_secs_f64())),
            Budget::Steps(n) => ("SWARMLAB_BUDGET_STEPS", n.to_string()),
            Budget::Tokens(n) => ("SWARMLAB_BUDGET_TOKENS", n.to_string()),
        }
    }

    /// `fraction` (in (0, 1]) of this budget, at least one step, token or millisecond: the
    /// budget of a screening run (successive halving, docs/agents.md).
    pub fn scaled(&self, fraction: f64) -> Budget {
        let part = |n: u64| ((n as f64 * fraction).round() as u64).max(1);
        match self {
            Budget::Time(d) => Budget::Time(d.mul_f64(fraction).max(Duration::from_millis(1))),
            Budget::Steps(n) => Budget::Steps(part(*n)),
            Budget::Tokens(n) => Budget::Tokens(part(*n)),
        }
    }

    /// The wall-clock part of the budget, when it is one.
    pub fn time(&self) -> Option<Duration> {
        match self {
            Budget::Time(d) => Some(*d),
            _ => None,
        }
    }
}

impl std::str::FromStr for Budget {
    type Err = String;

    /// A budget as written on the command line: a duration (`"20s"`, `"5m"`, a bare number
    /// of seconds), or a count with its unit, `"400steps"`, `"400 steps"`,
    /// `"5_000_000tokens"`; the reverse of [`Budget`]'s `Display`.
    fn from_str(text: &str) -> Result<Budget, String> {
        let trimmed = text.trim();
        for (unit, make) in [
            ("steps", Budget::Steps as fn(u64) -> Budget),
            ("tokens", Budget::Tokens),
        ] {
            if let Some(count) = trimmed.strip_suffix(unit) {
                let digits = count.trim().replace('_', "");
                return match digits.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(make(n)),
                    _ => Err(format!(
                        "`{trimmed}` is not a budget: the number of {unit} must be a positive integer, e.g. \"400{unit}\""
                    )),
                };
            }
        }
        parse_duration(trimmed).map(Budget::Time).map_err(|_| {
            format!("`{trimmed}` is not a budget; write a duration (\"20s\", \"5m\"), \"400steps\" or \"1000000tokens\"")
        })
    }
}

fn trim_float(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Time(d) => write!(f, "{}", format_duration(*d)),
            Budget::Steps(n) => write!(f, "{n} steps"),
            Budget::Tokens(n) => write!(f, "{n} tokens"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_a_duration_or_a_count_of_steps_or_tokens() {
        let parse = |text: &str| text.parse::<Budget>();
        assert_eq!(parse("20s"), Ok(Budget::Time(Duration::from_secs(20))));
        assert_eq!(parse("1m 30s"), Ok(Budget::Time(Duration::from_secs(90))));
        assert_eq!(parse("2.5"), Ok(Budget::Time(Duration::from_millis(2500))));
        assert_eq!(parse("400steps"), Ok(Budget::Steps(400)));
        assert_eq!(parse(" 400 steps "), Ok(Budget::Steps(400)));
        assert_eq!(parse("5_000_000tokens"), Ok(Budget::Tokens(5_000_000)));
        for budget in [
            Budget::Steps(400),
            Budget::Tokens(65_536),
            Budget::Time(Duration::from_secs(90)),
        ] {
            assert_eq!(parse(&budget.to_string()), Ok(budget), "{budget}");
        }
        let err = parse("0steps").unwrap_err();
        assert!(err.contains("positive integer"), "{err}");
        assert!(parse("-3steps").is_err());
        let err = parse("soon").unwrap_err();
        assert!(err.contains("`soon` is not a budget"), "{err}");
    }

    #[test]
    fn a_scaled_budget_keeps_its_kind_and_never_reaches_zero() {
        assert_eq!(Budget::Steps(200).scaled(0.25), Budget::Steps(50));
        assert_eq!(Budget::Tokens(1000).scaled(0.5), Budget::Tokens(500));
        assert_eq!(
            Budget::Time(Duration::from_secs(60)).scaled(0.25),
            Budget::Time(Duration::from_secs(15))
        );
        assert_eq!(Budget::Steps(3).scaled(0.01), Budget::Steps(1));
        assert_eq!(
            Budget::Time(Duration::from_secs(1)).scaled(1e-9),
            Budget::Time(Duration::from_millis(1))
        );
    }

    #[test]
    fn env_names_the_kind_of_budget() {
        assert_eq!(
            Budget::Time(Duration::from_secs(60)).env(),
            ("SWARMLAB_BUDGET_SECONDS", "60".to_string())
        );
        assert_eq!(
            Budget::Time(Duration::from_millis(2500)).env(),
            ("SWARMLAB_BUDGET_SECONDS", "2.5".to_string())
        );
        assert_eq!(
            Budget::Steps(2000).env(),
            ("SWARMLAB_BUDGET_STEPS", "2000".to_string())
        );
        assert_eq!(
            Budget::Tokens(5).env(),
            ("SWARMLAB_BUDGET_TOKENS", "5".to_string())
        );
    }
}
