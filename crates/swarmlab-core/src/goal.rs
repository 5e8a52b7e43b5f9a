//! The direction a track's metric is optimised in.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether lower or higher metric values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    Minimize,
    Maximize,
}

impl Goal {
    /// True when `candidate` is strictly better than `best`.
    pub fn improves(self, candidate: f64, best: f64) -> bool {
        match self {
            Goal::Minimize => candidate < best,
            Goal::Maximize => candidate > best,
        }
    }

    /// The better of two values.
    pub fn better(self, a: f64, b: f64) -> f64 {
        if self.improves(b, a) {
            b
        } else {
            a
        }
    }

    /// How much `to` improves on `from` in this direction: positive when `to` is better,
    /// negative when it is worse, whatever the goal.
    pub fn gain(self, from: f64, to: f64) -> f64 {
        match self {
            Goal::Minimize => from - to,
            Goal::Maximize => to - from,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Minimize => "minimize",
            Goal::Maximize => "maximize",
        }
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improves_is_strict_and_follows_the_direction() {
        assert!(Goal::Minimize.improves(1.0, 2.0));
        assert!(!Goal::Minimize.improves(2.0, 2.0));
        assert!(Goal::Maximize.improves(3.0, 2.0));
        assert!(!Goal::Maximize.improves(1.0, 2.0));
        assert_eq!(Goal::Minimize.better(1.0, 2.0), 1.0);
        assert_eq!(Goal::Maximize.better(1.0, 2.0), 2.0);
    }

    #[test]
    fn gain_is_positive_when_the_value_gets_better() {
        assert_eq!(Goal::Minimize.gain(1.0, 0.75), 0.25);
        assert_eq!(Goal::Minimize.gain(1.0, 1.5), -0.5);
        assert_eq!(Goal::Maximize.gain(1.0, 1.5), 0.5);
        assert_eq!(Goal::Maximize.gain(1.0, 0.75), -0.25);
    }
}
