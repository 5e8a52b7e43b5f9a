//! The audit's check of credit: each head move's `credit` is recomputed by
//! `domain::credit` from the ledger's own entries (the submission's entry gives the finder,
//! its diff hash and the idea its claim named; the cited verdict gives the verifier and the
//! measurements; the earlier head moves give the changes already on the chain) and must be
//! what the entry records. A format 3 ledger credits every move; an older one, continued by
//! a newer hub, credits those written since, and its submission entries from before may not
//! say which idea their claim named: such an idea is taken as credited (only whether its
//! change was new is checked). An idea's author is the hub's word: ideas are not entries.

use std::collections::{HashMap, HashSet};

use swarmlab_core::Goal;
use swarmlab_proto::{Credit, CreditedIdea, Measurements};

use super::AuditError;
use crate::domain::credit::{credit, Move};

/// The first format whose ledgers credit every head move.
const CREDIT_FORMAT: u32 = 3;

/// What the credit of a head move is checked against, gathered as the audit reads.
#[derive(Default)]
pub(super) struct Credits {
    /// Each submission's first entry, by id.
    submissions: HashMap<i64, Submitted>,
    /// The diff hashes of the submissions that moved the head so far.
    on_chain: HashSet<String>,
    /// Head moves whose credit checked out, and of them those credited to an idea.
    pub(super) credited: u64,
    pub(super) to_ideas: u64,
}

struct Submitted {
    worker: String,
    diff_hash: String,
    idea_id: Option<i64>,
}

/// A head move as the credit check needs it.
pub(super) struct HeadMove<'a> {
    pub line: usize,
    pub format: u32,
    pub goal: Goal,
    pub submission_id: i64,
    /// The cited verdict's measurements (its backing is checked before).
    pub measurements: &'a Measurements,
    pub credit: Option<&'a Credit>,
}

impl Credits {
    /// Notes a submission entry; the first for an id is the one its claim was recorded with.
    pub(super) fn submission(
        &mut self,
        id: i64,
        worker: &str,
        diff_hash: &str,
        idea_id: Option<i64>,
    ) {
        self.submissions.entry(id).or_insert_with(|| Submitted {
            worker: worker.to_string(),
            diff_hash: diff_hash.to_string(),
            idea_id,
        });
    }

    /// Checks a head move's credit against what the ledger says, then puts its change on the
    /// chain.
    pub(super) fn head_move(&mut self, m: HeadMove<'_>) -> Result<(), AuditError> {
        let why = |why: String| AuditError::Credit { line: m.line, why };
        let submitted = self.submissions.get(&m.submission_id);
        let Some(recorded) = m.credit else {
            if m.format >= CREDIT_FORMAT {
                return Err(why(format!(
                    "it records no credit, which every head move of a format {} ledger must",
                    m.format
                )));
            }
            if let Some(s) = submitted {
                self.on_chain.insert(s.diff_hash.clone());
            }
            return Ok(());
        };
        let Some(submitted) = submitted else {
            return Err(why(format!(
                "submission {} has no entry before it",
                m.submission_id
            )));
        };
        let named = match submitted.idea_id {
            Some(id) => Some(CreditedIdea {
                id,
                author: recorded
                    .idea
                    .as_ref()
                    .filter(|i| i.id == id)
                    .map(|i| i.author.clone())
                    .unwrap_or_default(),
            }),
            // Written before submission entries named their idea: the claim cannot be read.
            None if m.format < CREDIT_FORMAT => recorded.idea.clone(),
            None => None,
        };
        let diff_on_chain = self.on_chain.contains(&submitted.diff_hash);
        let expected = credit(Move {
            finder: &submitted.worker,
            measurements: m.measurements,
            goal: m.goal,
            named_idea: named.as_ref(),
            diff_on_chain,
        });
        if recorded.finder != expected.finder {
            return Err(why(format!(
                "it credits `{}` with finding it, but submission {} was made by `{}`",
                recorded.finder, m.submission_id, expected.finder
            )));
        }
        if recorded.verifiers != expected.verifiers {
            return Err(why(format!(
                "it credits verifiers {:?}, but the verdict it cites was reported by {:?}",
                recorded.verifiers, expected.verifiers
            )));
        }
        if recorded.gain.to_bits() != expected.gain.to_bits() {
            return Err(why(format!(
                "it credits a gain of {}, but the cited verdict's measurements give {}",
                recorded.gain, expected.gain
            )));
        }
        if recorded.idea != expected.idea {
            let said = match (&named, diff_on_chain) {
                (None, _) => "its submission named no idea".to_string(),
                (Some(i), true) => format!(
                    "the change of its submission (which named idea {}) was already on the chain",
                    i.id
                ),
                (Some(i), false) => format!("its submission named idea {}", i.id),
            };
            return Err(why(format!(
                "it credits {}, but {said}",
                match &recorded.idea {
                    Some(i) => format!("idea {} by `{}`", i.id, i.author),
                    None => "no idea".to_string(),
                }
            )));
        }
        self.credited += 1;
        if expected.idea.is_some() {
            self.to_ideas += 1;
        }
        self.on_chain.insert(submitted.diff_hash.clone());
        Ok(())
    }
}
