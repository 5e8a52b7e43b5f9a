//! The verifier's own arithmetic on logits, in f64: log-softmax, cross-entropy, bits per byte
//! with its own byte table, and how far apart two answers for the same prefix are.
//!
//! Logits need not be normalised: the log-softmax removes any constant per position, so all-zero
//! logits are the uniform distribution (log2(vocab) bits per token). Nothing here trusts the
//! server for more than the numbers it sent.

use std::f64::consts::LN_2;

/// `ln Σ exp(z)` of one position's logits, stable for any finite values.
pub(crate) fn log_sum_exp(z: &[f32]) -> f64 {
    let max = z
        .iter()
        .fold(f64::NEG_INFINITY, |m, &x| m.max(f64::from(x)));
    let sum: f64 = z.iter().map(|&x| (f64::from(x) - max).exp()).sum();
    max + sum.ln()
}

/// The first non-finite logit of `logits` (`positions` rows of `vocab`): (position, token, value).
pub(crate) fn first_non_finite(logits: &[f32], vocab: usize) -> Option<(usize, usize, f32)> {
    let i = logits.iter().position(|x| !x.is_finite())?;
    Some((i / vocab, i % vocab, logits[i]))
}

/// Cross-entropy and bytes summed over scored positions.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub nats: f64,
    pub tokens: u64,
    pub bytes: u64,
}

impl Tally {
    /// Adds the predictions of one window: position `p` of `logits` predicts `targets[p]`.
    /// Tokens of zero bytes (special tokens) are not scored.
    pub(crate) fn add(&mut self, logits: &[f32], targets: &[u32], token_bytes: &[u32]) {
        let vocab = token_bytes.len();
        for (row, &target) in logits.chunks_exact(vocab).zip(targets) {
            let bytes = token_bytes[target as usize];
            if bytes == 0 {
                continue;
            }
            self.nats += log_sum_exp(row) - f64::from(row[target as usize]);
            self.tokens += 1;
            self.bytes += u64::from(bytes);
        }
    }

    pub(crate) fn bits_per_byte(&self) -> f64 {
        self.nats / LN_2 / self.bytes as f64
    }

    pub(crate) fn nats_per_token(&self) -> f64 {
        self.nats / self.tokens as f64
    }
}

/// How far apart two answers for the same prefix are at one position: the larger of the
/// change in log-probability of the actual next token (nats) and the total variation
/// distance between the two distributions.
pub(crate) fn change(a: &[f32], b: &[f32], target: u32) -> f64 {
    let (la, lb) = (log_sum_exp(a), log_sum_exp(b));
    let t = target as usize;
    let target_change = ((f64::from(a[t]) - la) - (f64::from(b[t]) - lb)).abs();
    let variation: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| ((f64::from(x) - la).exp() - (f64::from(y) - lb).exp()).abs())
        .sum::<f64>()
        / 2.0;
    target_change.max(variation)
}

/// The position of the largest [`change`] among the first `positions` positions of two
/// answers, and that change.
pub(crate) fn largest_change(
    a: &[f32],
    b: &[f32],
    targets: &[u32],
    vocab: usize,
    positions: usize,
) -> (usize, f64) {
    a.chunks_exact(vocab)
        .zip(b.chunks_exact(vocab))
        .zip(targets)
        .take(positions)
        .map(|((x, y), &t)| change(x, y, t))
        .enumerate()
        .fold(
            (0, 0.0),
            |best, (p, c)| if c > best.1 { (p, c) } else { best },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_zero_logits_score_log2_vocab_bits_per_token() {
        let mut tally = Tally::default();
        tally.add(&[0.0; 256 * 3], &[1, 2, 3], &[1; 256]);
        assert!((tally.bits_per_byte() - 8.0).abs() < 1e-12);
        // Two bytes per token: half as many bits per byte.
        let mut tally = Tally::default();
        tally.add(&[0.0; 256 * 3], &[1, 2, 3], &[2; 256]);
        assert!((tally.bits_per_byte() - 4.0).abs() < 1e-12);
    }

    #[test]
    fn a_constant_shift_changes_nothing_and_zero_byte_tokens_are_not_scored() {
        let logits = [1.0f32, 2.0, 3.0, 4.0];
        let shifted: Vec<f32> = logits.iter().map(|x| x + 100.0).collect();
        assert!(change(&logits, &shifted, 2) < 1e-12);
        let mut a = Tally::default();
        a.add(&logits, &[3], &[1, 1, 1, 1]);
        let mut b = Tally::default();
        b.add(&shifted, &[3], &[1, 1, 1, 1]);
        assert!((a.nats - b.nats).abs() < 1e-12);
        let expected = (1f64.exp() + 2f64.exp() + 3f64.exp() + 4f64.exp()).ln() - 4.0;
        assert!((a.nats - expected).abs() < 1e-12);
        let mut c = Tally::default();
        c.add(&logits, &[3], &[1, 1, 1, 0]);
        assert_eq!((c.tokens, c.bytes), (0, 0));
    }

    #[test]
    fn huge_logits_stay_finite_and_the_first_non_finite_is_found() {
        assert!(log_sum_exp(&[3.0e38, -3.0e38, 0.0]).is_finite());
        assert_eq!(
            first_non_finite(&[0.0, 1.0, 2.0, f32::NAN], 2).map(|(p, t, _)| (p, t)),
            Some((1, 1))
        );
        assert_eq!(first_non_finite(&[0.0; 4], 2), None);
    }

    #[test]
    fn change_sees_a_moved_target_and_a_moved_distribution() {
        let a = [0.0f32, 0.0, 0.0, 0.0];
        let b = [5.0f32, 0.0, 0.0, 0.0];
        assert!(change(&a, &b, 0) > 1.0);
        // The target keeps its probability, but mass moves between the others.
        let c = [0.0f32, 5.0, -40.0, 0.0];
        let d = [0.0f32, -40.0, 5.0, 0.0];
        assert!(change(&c, &d, 0) > 0.4);
        assert_eq!(
            largest_change(
                &[0.0; 8],
                &[0.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0],
                &[0, 0],
                4,
                2
            )
            .0,
            1
        );
    }
}
