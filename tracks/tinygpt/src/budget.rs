//! The training budget the harness asks for, read from the environment.
//!
//! Trusted. `SWARMLAB_BUDGET_SECONDS` (training seconds, the clock starting at the first check so
//! that data generation and model construction are not counted, as in autoresearch),
//! `SWARMLAB_BUDGET_STEPS` or `SWARMLAB_BUDGET_TOKENS`; 60 seconds when none is set.
use std::cell::OnceCell;
use std::time::Instant;

/// Default time budget when the harness sets none.
pub const DEFAULT_SECONDS: f64 = 60.0;

/// What the training loop may spend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    Seconds(f64),
    Steps(usize),
    Tokens(usize),
}

/// A budget with its own clock. The training loop asks [`Budget::done`] before every step and
/// may use [`Budget::progress`] for its learning-rate schedule.
#[derive(Debug)]
pub struct Budget {
    limit: Limit,
    start: OnceCell<Instant>,
}

impl Budget {
    pub fn new(limit: Limit) -> Self {
        Budget {
            limit,
            start: OnceCell::new(),
        }
    }

    /// The budget from `SWARMLAB_BUDGET_{SECONDS,STEPS,TOKENS}`; an error names a bad value.
    pub fn from_env() -> Result<Self, String> {
        fn var(name: &str) -> Option<String> {
            std::env::var(name).ok().filter(|v| !v.trim().is_empty())
        }
        let bad = |name: &str, v: &str| format!("invalid {name}={v:?}: expected a positive number");
        let limit = if let Some(v) = var("SWARMLAB_BUDGET_SECONDS") {
            match v.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => Limit::Seconds(s),
                _ => return Err(bad("SWARMLAB_BUDGET_SECONDS", &v)),
            }
        } else if let Some(v) = var("SWARMLAB_BUDGET_STEPS") {
            match v.trim().replace('_', "").parse::<usize>() {
                Ok(n) if n > 0 => Limit::Steps(n),
                _ => return Err(bad("SWARMLAB_BUDGET_STEPS", &v)),
            }
        } else if let Some(v) = var("SWARMLAB_BUDGET_TOKENS") {
            match v.trim().replace('_', "").parse::<usize>() {
                Ok(n) if n > 0 => Limit::Tokens(n),
                _ => return Err(bad("SWARMLAB_BUDGET_TOKENS", &v)),
            }
        } else {
            Limit::Seconds(DEFAULT_SECONDS)
        };
        Ok(Budget::new(limit))
    }

    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// Seconds since the first call to `done` or `progress` (0 before).
    pub fn elapsed(&self) -> f64 {
        self.start.get().map_or(0.0, |s| s.elapsed().as_secs_f64())
    }

    /// Fraction of the budget used after `steps` steps and `tokens` tokens, in [0, 1].
    pub fn progress(&self, steps: usize, tokens: usize) -> f64 {
        let start = self.start.get_or_init(Instant::now);
        let p = match self.limit {
            Limit::Seconds(s) => start.elapsed().as_secs_f64() / s,
            Limit::Steps(n) => steps as f64 / n as f64,
            Limit::Tokens(n) => tokens as f64 / n as f64,
        };
        p.clamp(0.0, 1.0)
    }

    /// Whether training must stop now. Starts the clock on its first call.
    pub fn done(&self, steps: usize, tokens: usize) -> bool {
        self.progress(steps, tokens) >= 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_and_token_budgets_count_exactly() {
        let b = Budget::new(Limit::Steps(10));
        assert!(!b.done(9, 0));
        assert!(b.done(10, 0));
        assert!((b.progress(5, 0) - 0.5).abs() < 1e-12);
        let b = Budget::new(Limit::Tokens(1000));
        assert!(!b.done(100, 999));
        assert!(b.done(1, 1000));
    }
}
