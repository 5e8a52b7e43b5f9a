//! What a run is asked to honour: seconds of training, a number of steps, or of tokens.
//!
//! The runner enforces only the hard `timeout`; the budget is passed to the program in the
//! environment and honouring it is the program's job.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::format_duration;

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

    /// The wall-clock part of the budget, when it is one.
    pub fn time(&self) -> Option<Duration> {
        match self {
            Budget::Time(d) => Some(*d),
            _ => None,
        }
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
