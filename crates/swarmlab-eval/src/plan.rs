//! What the verifier sends, in which order, and what it compares: the windows of the data,
//! the probed windows with their perturbed copies, the spot checks hidden among the scored
//! rows, and the canary sent first and last.
//!
//! Phase 1 (the probe) sends `probes` windows as they are and twice perturbed after a random
//! split: once with random tokens, once with the same positions of another window (text that
//! looks natural). Phase 2 (scoring) sends every window once, strided so that the rows of one
//! request lie far apart in the text, with `probes` more perturbed copies (spot checks) at
//! random places and the canary (phase 1's first row) again at the very end. A phase-1
//! window scored again in phase 2 is a state check too: other time, other neighbours.
//!
//! Pure: this module builds rows; it never talks to a server.

use crate::rng::Rng;

/// The data cut into windows: window `i` sends `context` tokens from `i * context` and
/// position `p` predicts the token after it, so every token but the first is predicted once.
pub(crate) struct Windows<'a> {
    tokens: &'a [u32],
    pub context: usize,
    pub count: usize,
}

impl<'a> Windows<'a> {
    /// The windows of `tokens`, at most `max` of them; `None` when not even one fits.
    pub(crate) fn new(tokens: &'a [u32], context: usize, max: Option<usize>) -> Option<Self> {
        let fit = tokens.len().saturating_sub(1) / context;
        let count = max.map_or(fit, |m| m.min(fit));
        (count > 0).then_some(Windows {
            tokens,
            context,
            count,
        })
    }

    /// The tokens window `i` sends.
    pub(crate) fn input(&self, i: usize) -> &'a [u32] {
        &self.tokens[i * self.context..(i + 1) * self.context]
    }

    /// The token each position of window `i` must predict.
    pub(crate) fn targets(&self, i: usize) -> &'a [u32] {
        &self.tokens[i * self.context + 1..(i + 1) * self.context + 1]
    }
}

/// A window whose suffix is perturbed from `split` on; positions before `split` must not
/// notice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Check {
    pub window: usize,
    pub split: usize,
}

/// Why a row is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Phase 1: probe `check` unchanged.
    Original { check: usize },
    /// A perturbed copy of `check`'s window.
    Perturbed { check: usize },
    /// Phase 2: window `i`, scored.
    Score(usize),
    /// Phase 2, last: phase 1's first row again.
    Canary,
}

/// One row of a request.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub tokens: Vec<u32>,
    pub role: Role,
}

/// Everything the verifier sends, batched into requests.
pub(crate) struct Plan {
    /// The probes of phase 1 (`0..probes`), then the spot checks of phase 2.
    pub checks: Vec<Check>,
    /// The probes of phase 1 count `probes`.
    pub probes: usize,
    pub probe_requests: Vec<Vec<Row>>,
    pub score_requests: Vec<Vec<Row>>,
}

impl Plan {
    pub(crate) fn new(
        windows: &Windows,
        vocab: u32,
        probes: usize,
        batch: usize,
        rng: &mut Rng,
    ) -> Plan {
        let n = windows.count;
        let c = windows.context;
        let probes = probes.min(n);
        let mut checks = Vec::new();
        for window in rng
            .choose(n, probes)
            .into_iter()
            .chain(rng.choose(n, probes))
        {
            checks.push(Check {
                window,
                // 1..c: at least one position keeps its prefix and one token changes.
                split: 1 + rng.below(c - 1),
            });
        }

        // A probe's three rows travel in one request, so that only the perturbation tells
        // them apart; the canary (probe 0's original) comes first.
        let mut groups: Vec<Vec<Row>> = Vec::new();
        for (k, check) in checks[..probes].iter().enumerate() {
            let mut group = vec![Row {
                tokens: windows.input(check.window).to_vec(),
                role: Role::Original { check: k },
            }];
            for foreign in [false, true] {
                group.push(Row {
                    tokens: perturb(windows, *check, foreign, vocab, rng),
                    role: Role::Perturbed { check: k },
                });
            }
            groups.push(group);
        }
        rng.shuffle(&mut groups[1..]);
        let per_request = (batch / 3).max(1);
        let mut probe_requests: Vec<Vec<Row>> = groups
            .chunks(per_request)
            .map(|chunk| chunk.concat())
            .collect();
        for (r, request) in probe_requests.iter_mut().enumerate() {
            let from = usize::from(r == 0);
            rng.shuffle(&mut request[from..]);
        }
        let canary = probe_requests[0][0].tokens.clone();

        let mut phase2: Vec<Row> = strided(n, batch)
            .into_iter()
            .map(|i| Row {
                tokens: windows.input(i).to_vec(),
                role: Role::Score(i),
            })
            .collect();
        for (k, check) in checks.iter().enumerate().skip(probes) {
            let row = Row {
                tokens: perturb(windows, *check, k % 2 == 1, vocab, rng),
                role: Role::Perturbed { check: k },
            };
            let at = rng.below(phase2.len() + 1);
            phase2.insert(at, row);
        }
        phase2.push(Row {
            tokens: canary,
            role: Role::Canary,
        });

        Plan {
            checks,
            probes,
            probe_requests,
            score_requests: requests(phase2, batch, rng),
        }
    }
}

/// Window indices in an order where each run of `batch` lies far apart in the text: column
/// `b` of a table with `ceil(n / batch)` columns, then column `b + 1`, and so on.
fn strided(n: usize, batch: usize) -> Vec<usize> {
    let columns = n.div_ceil(batch.max(1));
    (0..columns).flat_map(|b| (b..n).step_by(columns)).collect()
}

/// Cuts rows into requests of `batch` and shuffles rows within each request; the last row of
/// the last request (the canary) stays where it is.
fn requests(rows: Vec<Row>, batch: usize, rng: &mut Rng) -> Vec<Vec<Row>> {
    let total = rows.len();
    let mut out: Vec<Vec<Row>> = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        if i % batch == 0 {
            out.push(Vec::with_capacity(batch));
        }
        out.last_mut().expect("a request was just pushed").push(row);
    }
    let last = out.len().saturating_sub(1);
    for (r, request) in out.iter_mut().enumerate() {
        let to = request.len() - usize::from(r == last && total > 0);
        rng.shuffle(&mut request[..to]);
    }
    out
}

/// The window of `check` with its suffix from `split` on replaced: by random tokens, or by
/// the same positions of another window. The token at `split` always differs.
fn perturb(windows: &Windows, check: Check, foreign: bool, vocab: u32, rng: &mut Rng) -> Vec<u32> {
    let mut tokens = windows.input(check.window).to_vec();
    let original = tokens[check.split];
    if foreign && windows.count > 1 {
        let mut other = rng.below(windows.count - 1);
        if other >= check.window {
            other += 1;
        }
        tokens[check.split..].copy_from_slice(&windows.input(other)[check.split..]);
    } else {
        for token in &mut tokens[check.split..] {
            *token = rng.below(vocab as usize) as u32;
        }
    }
    if tokens[check.split] == original {
        tokens[check.split] = (original + 1 + rng.below(vocab as usize - 1) as u32) % vocab;
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u32> {
        (0..n as u32).map(|i| i % 7).collect()
    }

    #[test]
    fn windows_predict_every_token_but_the_first_once() {
        let tokens = data(21);
        let w = Windows::new(&tokens, 4, None).unwrap();
        assert_eq!(w.count, 5);
        assert_eq!(w.input(1), &tokens[4..8]);
        assert_eq!(w.targets(1), &tokens[5..9]);
        assert_eq!(Windows::new(&tokens, 4, Some(2)).unwrap().count, 2);
        assert!(Windows::new(&tokens[..4], 4, None).is_none());
    }

    #[test]
    fn strided_order_keeps_neighbours_of_a_request_apart() {
        let order = strided(10, 3);
        assert_eq!(order, [0, 4, 8, 1, 5, 9, 2, 6, 3, 7]);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn the_plan_scores_every_window_once_and_perturbs_only_suffixes() {
        let tokens = data(8 * 40 + 1);
        let w = Windows::new(&tokens, 8, None).unwrap();
        let plan = Plan::new(&w, 7, 3, 4, &mut Rng::new(1));
        assert_eq!(plan.probes, 3);
        assert_eq!(plan.checks.len(), 6);
        let phase1: Vec<&Row> = plan.probe_requests.iter().flatten().collect();
        assert_eq!(phase1.len(), 9);
        assert_eq!(phase1[0].role, Role::Original { check: 0 });
        let phase2: Vec<&Row> = plan.score_requests.iter().flatten().collect();
        assert_eq!(phase2.len(), 40 + 3 + 1);
        assert_eq!(phase2.last().unwrap().role, Role::Canary);
        assert_eq!(phase2.last().unwrap().tokens, phase1[0].tokens);
        let mut scored: Vec<usize> = phase2
            .iter()
            .filter_map(|r| match r.role {
                Role::Score(i) => Some(i),
                _ => None,
            })
            .collect();
        scored.sort_unstable();
        assert_eq!(scored, (0..40).collect::<Vec<_>>());
        // Phase 1 requests hold whole probes (one per request with a batch of 4).
        assert!(plan.probe_requests.iter().all(|r| r.len() == 3));
        assert!(plan.score_requests.iter().all(|r| r.len() <= 4));
        for row in phase1.iter().chain(&phase2) {
            if let Role::Perturbed { check } = row.role {
                let Check { window, split } = plan.checks[check];
                assert_eq!(&row.tokens[..split], &w.input(window)[..split]);
                assert_ne!(row.tokens[split], w.input(window)[split]);
                assert!(row.tokens.iter().all(|&t| t < 7));
            }
        }
    }
}
