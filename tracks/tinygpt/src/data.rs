//! The synthetic language: a deterministic text generator with an exactly known entropy rate.
//!
//! Trusted (agents may not edit it). It generates the training text, the public validation text
//! and, from any other seed, fresh holdout text, all from one fixed invented language, so no
//! download is needed and every run can report how far its `val_bpb` is from the best possible.
//!
//! # The language
//! A lexicon of invented, pairwise distinct words in eight word classes (determiners,
//! adjectives, nouns, ...) plus three punctuation tokens (`,` `.` and `.\n`). Text is a Markov
//! chain over tokens: the next token's class depends on the previous token's class (a small
//! grammar), and the word within that class follows a Zipf law whose rank order depends on the
//! previous word's *flavour* (its last letter modulo [`FLAVOURS`]), so a word also shapes the
//! choice of the next one. Rendering: a word is preceded by a space (except at the start of a
//! paragraph) and capitalised after `.` or `.\n`; punctuation is attached to the previous word.
//!
//! # Why the floor is exact
//! The next-token distribution depends only on the state s = (class, flavour) of the previous
//! token, so tokens form a stationary ergodic Markov chain with entropy rate
//! `H = Σ_s π(s) H(next token | s)` bits per token. Rendering is injective and decodable token by
//! token: a maximal run of letters is one word (spellings are unique across the whole lexicon,
//! so it names both word and class), `,` and `.` are tokens, `.` followed by a newline is the
//! paragraph token, and spaces and capitals are fixed by the previous token. So n tokens carry
//! exactly as much information as their rendering, and by the ergodic (renewal-reward) theorem
//! the bytes per token converge to `L = Σ_s π(s) E[bytes of next token | s]`. The entropy rate
//! of the byte stream is therefore exactly `H / L` bits per byte, computed here from the
//! generator's own tables with π found by power iteration to machine precision. No model can
//! do better in expectation; a model with a finite context does somewhat worse.
use std::collections::HashMap;

use crate::rng::Rng;

/// Seed of the training text.
pub const TRAIN_SEED: u64 = 1;
/// Seed of the public validation text.
pub const VAL_SEED: u64 = 2;
/// Bytes of training text generated for `train`.
pub const TRAIN_BYTES: usize = 8 << 20;
/// Bytes of validation (and holdout) text.
pub const VAL_BYTES: usize = 1 << 17;
/// Number of word flavours (last letter modulo this).
pub const FLAVOURS: usize = 4;

/// The language itself never changes: it is part of the track's definition.
const LANGUAGE_SEED: u64 = 0x7469_6e79_6770_7431;
const ZIPF_EXPONENT: f64 = 1.05;

// Classes, in the order of WORD_CLASSES and of GRAMMAR's rows and columns: determiner,
// adjective, noun, verb, adverb, preposition, pronoun, conjunction, then punctuation.
const ADV: usize = 4;
const COMMA: usize = 8;
const STOP: usize = 9;
const PARA: usize = 10;
const CLASSES: usize = 11;

/// (words in the class, min syllables, max syllables) for the eight word classes.
const WORD_CLASSES: [(usize, usize, usize); 8] = [
    (7, 1, 1),   // DET
    (120, 2, 3), // ADJ
    (400, 1, 3), // NOUN
    (250, 1, 3), // VERB
    (50, 2, 3),  // ADV
    (14, 1, 2),  // PREP
    (9, 1, 1),   // PRON
    (6, 1, 2),   // CONJ
];

/// Unnormalised grammar weights: row = previous class, column = next class.
const GRAMMAR: [[f64; CLASSES]; CLASSES] = [
    //DET  ADJ   NOUN  VERB  ADV   PREP  PRON  CONJ  COMMA STOP  PARA
    [0.0, 0.35, 0.65, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], // DET
    [0.0, 0.15, 0.78, 0.0, 0.0, 0.0, 0.0, 0.0, 0.07, 0.0, 0.0], // ADJ
    [0.0, 0.0, 0.0, 0.45, 0.04, 0.15, 0.0, 0.08, 0.10, 0.15, 0.03], // NOUN
    [0.40, 0.05, 0.0, 0.0, 0.15, 0.15, 0.10, 0.0, 0.03, 0.12, 0.0], // VERB
    [0.0, 0.15, 0.0, 0.35, 0.0, 0.20, 0.0, 0.0, 0.10, 0.20, 0.0], // ADV
    [0.60, 0.10, 0.15, 0.0, 0.0, 0.0, 0.15, 0.0, 0.0, 0.0, 0.0], // PREP
    [0.0, 0.0, 0.0, 0.80, 0.10, 0.05, 0.0, 0.0, 0.0, 0.05, 0.0], // PRON
    [0.50, 0.0, 0.10, 0.0, 0.10, 0.0, 0.30, 0.0, 0.0, 0.0, 0.0], // CONJ
    [0.30, 0.0, 0.0, 0.0, 0.10, 0.0, 0.20, 0.40, 0.0, 0.0, 0.0], // COMMA
    [0.55, 0.05, 0.05, 0.0, 0.05, 0.0, 0.30, 0.0, 0.0, 0.0, 0.0], // STOP
    [0.55, 0.05, 0.05, 0.0, 0.05, 0.0, 0.30, 0.0, 0.0, 0.0, 0.0], // PARA
];

const ONSETS: [&str; 22] = [
    "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr",
    "kl", "sh", "th", "gr",
];
const VOWELS: [&str; 7] = ["a", "e", "i", "o", "u", "ai", "ou"];
const CODAS: [&str; 8] = ["", "", "", "n", "r", "s", "l", "m"];

#[derive(Clone, Debug)]
struct Token {
    text: Vec<u8>,
    class: usize,
    flavour: usize,
}

/// A cumulative distribution for sampling by inversion.
#[derive(Clone, Debug)]
struct Cdf(Vec<f64>);

impl Cdf {
    fn new(weights: &[f64]) -> Self {
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        Cdf(weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect())
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.next_f64();
        self.0.partition_point(|&c| c <= u).min(self.0.len() - 1)
    }
}

/// The fixed invented language: lexicon, grammar and word-choice tables.
#[derive(Clone, Debug)]
pub struct Language {
    tokens: Vec<Token>,
    /// Token ids of each class, in lexicon order.
    members: Vec<Vec<usize>>,
    /// Normalised grammar: `grammar[c][c2]` = P(next class c2 | previous class c).
    grammar: Vec<Vec<f64>>,
    grammar_cdf: Vec<Cdf>,
    /// Zipf probabilities by rank, per class.
    zipf: Vec<Vec<f64>>,
    zipf_cdf: Vec<Cdf>,
    /// `order[c][f][r]` = index within class c of the word at Zipf rank r after flavour f.
    order: Vec<Vec<Vec<usize>>>,
    /// `rank[c][f][i]` = inverse of `order`.
    rank: Vec<Vec<Vec<usize>>>,
    /// Index of each token within its class.
    index_in_class: Vec<usize>,
    /// Token id of each spelling (for decoding).
    #[cfg_attr(not(test), allow(dead_code))]
    by_spelling: HashMap<Vec<u8>, usize>,
}

/// A previous-token state: (class, flavour).
type State = (usize, usize);

const START: State = (PARA, 0);

impl Default for Language {
    fn default() -> Self {
        Self::new()
    }
}

impl Language {
    /// Builds the one language of this track.
    pub fn new() -> Self {
        let mut rng = Rng::new(LANGUAGE_SEED);
        let mut tokens = Vec::new();
        let mut members = vec![Vec::new(); CLASSES];
        let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
        for (class, &(count, min_syl, max_syl)) in WORD_CLASSES.iter().enumerate() {
            while members[class].len() < count {
                let syllables = min_syl + rng.below(max_syl - min_syl + 1);
                let mut word = String::new();
                for _ in 0..syllables {
                    word.push_str(ONSETS[rng.below(ONSETS.len())]);
                    word.push_str(VOWELS[rng.below(VOWELS.len())]);
                    word.push_str(CODAS[rng.below(CODAS.len())]);
                }
                if class == ADV {
                    word.push_str("li");
                }
                let text = word.into_bytes();
                if seen.contains_key(&text) {
                    continue;
                }
                let flavour = (*text.last().expect("words are non-empty") as usize) % FLAVOURS;
                seen.insert(text.clone(), tokens.len());
                members[class].push(tokens.len());
                tokens.push(Token {
                    text,
                    class,
                    flavour,
                });
            }
        }
        for (class, text) in [(COMMA, &b","[..]), (STOP, b"."), (PARA, b".\n")] {
            members[class].push(tokens.len());
            tokens.push(Token {
                text: text.to_vec(),
                class,
                flavour: 0,
            });
        }
        let mut index_in_class = vec![0; tokens.len()];
        for m in &members {
            for (i, &t) in m.iter().enumerate() {
                index_in_class[t] = i;
            }
        }
        let grammar: Vec<Vec<f64>> = GRAMMAR
            .iter()
            .map(|row| {
                let total: f64 = row.iter().sum();
                row.iter().map(|w| w / total).collect()
            })
            .collect();
        let grammar_cdf = grammar.iter().map(|row| Cdf::new(row)).collect();
        let zipf: Vec<Vec<f64>> = members
            .iter()
            .map(|m| {
                let w: Vec<f64> = (0..m.len())
                    .map(|r| 1.0 / ((r + 1) as f64).powf(ZIPF_EXPONENT))
                    .collect();
                let total: f64 = w.iter().sum();
                w.iter().map(|x| x / total).collect()
            })
            .collect();
        let zipf_cdf = zipf.iter().map(|z| Cdf::new(z)).collect();
        let mut order = Vec::new();
        let mut rank = Vec::new();
        for m in &members {
            let mut per_flavour = Vec::new();
            let mut inverse = Vec::new();
            for _ in 0..FLAVOURS {
                let mut perm: Vec<usize> = (0..m.len()).collect();
                for i in (1..perm.len()).rev() {
                    perm.swap(i, rng.below(i + 1));
                }
                let mut inv = vec![0; perm.len()];
                for (r, &i) in perm.iter().enumerate() {
                    inv[i] = r;
                }
                per_flavour.push(perm);
                inverse.push(inv);
            }
            order.push(per_flavour);
            rank.push(inverse);
        }
        Language {
            tokens,
            members,
            grammar,
            grammar_cdf,
            zipf,
            zipf_cdf,
            order,
            rank,
            index_in_class,
            by_spelling: seen,
        }
    }

    fn state_of(&self, token: usize) -> State {
        (self.tokens[token].class, self.tokens[token].flavour)
    }

    fn sample_next(&self, (class, flavour): State, rng: &mut Rng) -> usize {
        let next_class = self.grammar_cdf[class].sample(rng);
        let r = self.zipf_cdf[next_class].sample(rng);
        self.members[next_class][self.order[next_class][flavour][r]]
    }

    /// P(token | previous state).
    fn prob(&self, (class, flavour): State, token: usize) -> f64 {
        let c = self.tokens[token].class;
        let r = self.rank[c][flavour][self.index_in_class[token]];
        self.grammar[class][c] * self.zipf[c][r]
    }

    /// Appends the rendering of `token` after a token of class `prev_class`.
    fn render(&self, prev_class: usize, token: usize, out: &mut Vec<u8>) {
        let t = &self.tokens[token];
        if t.class >= COMMA {
            out.extend_from_slice(&t.text);
            return;
        }
        if prev_class != PARA {
            out.push(b' ');
        }
        let start = out.len();
        out.extend_from_slice(&t.text);
        if prev_class == STOP || prev_class == PARA {
            out[start] = out[start].to_ascii_uppercase();
        }
    }

    fn rendered_len(&self, prev_class: usize, token: usize) -> usize {
        let t = &self.tokens[token];
        t.text.len() + usize::from(t.class < COMMA && prev_class != PARA)
    }

    /// `n_bytes` of text sampled from the language with `seed` (the last token may be cut).
    pub fn generate(&self, seed: u64, n_bytes: usize) -> Vec<u8> {
        let mut out = self.generate_tokens(seed, n_bytes, usize::MAX);
        out.truncate(n_bytes);
        out
    }

    /// Whole tokens until at least `min_bytes` bytes or `max_tokens` tokens are rendered.
    pub fn generate_tokens(&self, seed: u64, min_bytes: usize, max_tokens: usize) -> Vec<u8> {
        let mut rng = Rng::new(seed);
        let mut out = Vec::with_capacity(min_bytes.min(1 << 30) + 16);
        let mut state = START;
        let mut n = 0;
        while out.len() < min_bytes && n < max_tokens {
            let token = self.sample_next(state, &mut rng);
            self.render(state.0, token, &mut out);
            state = self.state_of(token);
            n += 1;
        }
        out
    }

    /// Parses complete rendered text back into token ids; `None` if it is not in the language.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn decode(&self, text: &[u8]) -> Option<Vec<usize>> {
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b' ' => i += 1,
                b',' => {
                    tokens.push(self.members[COMMA][0]);
                    i += 1;
                }
                b'.' if text.get(i + 1) == Some(&b'\n') => {
                    tokens.push(self.members[PARA][0]);
                    i += 2;
                }
                b'.' => {
                    tokens.push(self.members[STOP][0]);
                    i += 1;
                }
                c if c.is_ascii_alphabetic() => {
                    let end = text[i..]
                        .iter()
                        .position(|b| !b.is_ascii_alphabetic())
                        .map_or(text.len(), |p| i + p);
                    let word = text[i..end].to_ascii_lowercase();
                    tokens.push(*self.by_spelling.get(&word)?);
                    i = end;
                }
                _ => return None,
            }
        }
        Some(tokens)
    }

    /// Total -log2 probability of a token sequence under the true generator, from the start.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn surprisal_bits(&self, tokens: &[usize]) -> f64 {
        let mut state = START;
        let mut bits = 0.0;
        for &t in tokens {
            bits -= self.prob(state, t).log2();
            state = self.state_of(t);
        }
        bits
    }

    /// The exact entropy rate of the rendered byte stream, in bits per byte (see module docs).
    pub fn entropy_rate_bits_per_byte(&self) -> f64 {
        let n_states = CLASSES * FLAVOURS;
        let idx = |(c, f): State| c * FLAVOURS + f;
        // Per state: successor distribution, entropy and expected rendered length.
        let mut trans = vec![vec![0.0; n_states]; n_states];
        let mut entropy = vec![0.0; n_states];
        let mut length = vec![0.0; n_states];
        for class in 0..CLASSES {
            for flavour in 0..FLAVOURS {
                let s = idx((class, flavour));
                for (t, token) in self.tokens.iter().enumerate() {
                    let p = self.prob((class, flavour), t);
                    if p > 0.0 {
                        trans[s][idx((token.class, token.flavour))] += p;
                        entropy[s] -= p * p.log2();
                        length[s] += p * self.rendered_len(class, t) as f64;
                    }
                }
            }
        }
        let mut pi = vec![0.0; n_states];
        pi[idx(START)] = 1.0;
        // Lazy power iteration (average with the identity) converges even for periodic chains.
        for _ in 0..100_000 {
            let mut next = vec![0.0; n_states];
            for s in 0..n_states {
                for s2 in 0..n_states {
                    next[s2] += pi[s] * trans[s][s2];
                }
            }
            let next: Vec<f64> = next.iter().zip(&pi).map(|(a, b)| 0.5 * (a + b)).collect();
            let delta: f64 = next.iter().zip(&pi).map(|(a, b)| (a - b).abs()).sum();
            pi = next;
            if delta < 1e-15 {
                break;
            }
        }
        let h: f64 = pi.iter().zip(&entropy).map(|(p, h)| p * h).sum();
        let l: f64 = pi.iter().zip(&length).map(|(p, l)| p * l).sum();
        h / l
    }
}

/// The texts of one run.
pub struct Corpus {
    pub train: Vec<u8>,
    pub val: Vec<u8>,
    /// Exact entropy rate of the source in bits per byte; `None` for a user-supplied file.
    pub entropy_floor_bpb: Option<f64>,
}

impl Corpus {
    /// The synthetic corpus: fixed training and validation texts.
    pub fn synthetic() -> Self {
        let lang = Language::new();
        Corpus {
            train: lang.generate(TRAIN_SEED, TRAIN_BYTES),
            val: validation_text(&lang, None),
            entropy_floor_bpb: Some(lang.entropy_rate_bits_per_byte()),
        }
    }

    /// The synthetic corpus with the validation text replaced by fresh holdout text.
    pub fn synthetic_holdout(seed: u64) -> Self {
        let lang = Language::new();
        Corpus {
            train: Vec::new(),
            val: validation_text(&lang, Some(seed)),
            entropy_floor_bpb: Some(lang.entropy_rate_bits_per_byte()),
        }
    }

    /// Any text file: the last tenth (at most [`VAL_BYTES`]) is the validation text.
    pub fn from_text(bytes: Vec<u8>) -> Self {
        let n_val = (bytes.len() / 10).min(VAL_BYTES);
        let split = bytes.len() - n_val;
        Corpus {
            val: bytes[split..].to_vec(),
            train: bytes[..split].to_vec(),
            entropy_floor_bpb: None,
        }
    }
}

/// The public validation text, or with `holdout` fresh text no training run has seen (a
/// verifier's secret seed makes a private holdout).
pub fn validation_text(lang: &Language, holdout: Option<u64>) -> Vec<u8> {
    match holdout {
        Some(seed) => lang.generate(seed.wrapping_add(0x1000_0000), VAL_BYTES),
        None => lang.generate(VAL_SEED, VAL_BYTES),
    }
}

/// Empirical entropy of single bytes (the "unigram" baseline a model must beat).
pub fn unigram_entropy_bits(text: &[u8]) -> f64 {
    let mut counts = [0usize; 256];
    for &b in text {
        counts[b as usize] += 1;
    }
    let n = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_seeds_differ() {
        let lang = Language::new();
        let a = lang.generate(5, 10_000);
        assert_eq!(a, Language::new().generate(5, 10_000));
        assert_ne!(a, lang.generate(6, 10_000));
        assert_eq!(a.len(), 10_000);
    }

    #[test]
    fn rendering_decodes_back_to_the_sampled_tokens() {
        let lang = Language::new();
        let mut rng = Rng::new(3);
        let mut state = START;
        let mut tokens = Vec::new();
        let mut text = Vec::new();
        for _ in 0..20_000 {
            let t = lang.sample_next(state, &mut rng);
            lang.render(state.0, t, &mut text);
            state = lang.state_of(t);
            tokens.push(t);
        }
        assert_eq!(lang.decode(&text), Some(tokens));
    }

    #[test]
    fn conditional_distributions_sum_to_one() {
        let lang = Language::new();
        for c in 0..CLASSES {
            for f in 0..FLAVOURS {
                let total: f64 = (0..lang.tokens.len()).map(|t| lang.prob((c, f), t)).sum();
                assert!(
                    (total - 1.0).abs() < 1e-12,
                    "state ({c},{f}) sums to {total}"
                );
            }
        }
    }

    /// The exact floor against an independent estimate: decode sampled text and average the
    /// true generator's surprisal per byte over independent samples. The tolerance is five
    /// standard errors of that mean (plus a small allowance for the start-up transient).
    #[test]
    fn entropy_floor_matches_empirical_surprisal() {
        let lang = Language::new();
        let floor = lang.entropy_rate_bits_per_byte();
        let estimates: Vec<f64> = (0..24)
            .map(|k| {
                let text = lang.generate_tokens(1000 + k, 200_000, usize::MAX);
                let tokens = lang.decode(&text).expect("generated text decodes");
                lang.surprisal_bits(&tokens) / text.len() as f64
            })
            .collect();
        let n = estimates.len() as f64;
        let mean = estimates.iter().sum::<f64>() / n;
        let var = estimates.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let se = (var / n).sqrt();
        eprintln!("entropy floor {floor:.5} bpb, empirical {mean:.5} ± {se:.5} bpb");
        assert!(
            (mean - floor).abs() < 5.0 * se + 1e-4,
            "floor {floor:.5} vs empirical {mean:.5} ± {se:.5}"
        );
        let unigram = unigram_entropy_bits(&lang.generate(9, 200_000));
        assert!(
            floor > 0.5 && floor < unigram - 1.0,
            "floor {floor}, unigram {unigram}"
        );
    }
}
