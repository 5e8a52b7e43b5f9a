//! What asking a model cost: requests, tokens and, when prices are known, dollars.
//!
//! Plain values; logging them is the harness's job.

use serde::{Deserialize, Serialize};

/// Prices of a model in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    /// Per million prompt (input) tokens.
    pub input_per_million: f64,
    /// Per million completion (output) tokens.
    pub output_per_million: f64,
}

/// Token usage of one proposal, repair turns and retried requests included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// HTTP requests sent, retries included.
    pub requests: u32,
    /// Prompt tokens, as the server's `usage` reported them.
    pub prompt_tokens: u64,
    /// Completion tokens, as the server's `usage` reported them.
    pub completion_tokens: u64,
    /// Cost in US dollars, when prices were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

impl Usage {
    /// Adds one answer's tokens, and its cost when `prices` are known.
    pub fn add(&mut self, prompt_tokens: u64, completion_tokens: u64, prices: Option<Prices>) {
        self.prompt_tokens += prompt_tokens;
        self.completion_tokens += completion_tokens;
        if let Some(p) = prices {
            let cost = (prompt_tokens as f64 * p.input_per_million
                + completion_tokens as f64 * p.output_per_million)
                / 1e6;
            self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + cost);
        }
    }

    /// Adds another usage to this one.
    pub fn merge(&mut self, other: &Usage) {
        self.requests += other.requests;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        if let Some(cost) = other.cost_usd {
            self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + cost);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_follows_the_prices_per_million() {
        let mut u = Usage::default();
        u.add(1000, 100, None);
        assert_eq!(u.cost_usd, None);
        let prices = Prices {
            input_per_million: 2.0,
            output_per_million: 10.0,
        };
        u.add(1_000_000, 500_000, Some(prices));
        assert_eq!((u.prompt_tokens, u.completion_tokens), (1_001_000, 500_100));
        assert_eq!(u.cost_usd, Some(7.0));
    }
}
