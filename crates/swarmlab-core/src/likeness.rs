//! How alike two ideas are: Jaccard similarity of their word shingles. The hub flags a new
//! idea that nearly repeats an earlier one with it, and `swarmlab ideas` drops a proposed
//! idea that nearly repeats a queued, tried or chained one with the same rule, so the two
//! never disagree on what counts as a repeat.
//!
//! It must stay a pure function of the texts: no store, no network, no model.

use std::collections::BTreeSet;

/// Words per shingle.
const SHINGLE: usize = 2;

/// The similarity at or above which the hub flags an idea as a near duplicate, unless its
/// configuration says otherwise.
pub const DEFAULT_THRESHOLD: f64 = 0.6;

/// The set of word shingles of a text, lowercased, punctuation stripped. A text shorter
/// than a shingle yields its words.
pub fn shingles(text: &str) -> BTreeSet<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '.' && c != '-')
        .map(|w| w.trim_matches('.').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < SHINGLE {
        return words.into_iter().collect();
    }
    words.windows(SHINGLE).map(|w| w.join(" ")).collect()
}

/// |A ∩ B| / |A ∪ B|; 0 for two empty sets.
pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// The most similar earlier idea at or above `threshold`, as (id, similarity).
pub fn nearest_duplicate<'a, K>(
    text: &str,
    earlier: impl IntoIterator<Item = (K, &'a str)>,
    threshold: f64,
) -> Option<(K, f64)> {
    let mine = shingles(text);
    earlier
        .into_iter()
        .map(|(id, other)| (id, jaccard(&mine, &shingles(other))))
        .filter(|(_, s)| *s >= threshold)
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reworded_idea_is_flagged_and_a_different_one_is_not() {
        let earlier = [
            (1, "Increase the learning rate warmup to 500 steps"),
            (2, "Replace layer norm with RMSNorm in every block"),
        ];
        let dup = nearest_duplicate(
            "increase the learning rate warmup to 500 steps.",
            earlier,
            DEFAULT_THRESHOLD,
        );
        assert_eq!(dup.map(|d| d.0), Some(1));
        assert!(
            nearest_duplicate("Use rotary position embeddings", earlier, DEFAULT_THRESHOLD)
                .is_none()
        );
    }

    #[test]
    fn empty_texts_are_alike_in_nothing() {
        assert_eq!(jaccard(&shingles(""), &shingles("")), 0.0);
        assert_eq!(shingles("Word").into_iter().collect::<Vec<_>>(), ["word"]);
    }
}
