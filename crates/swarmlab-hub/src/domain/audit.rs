//! [`audit`]: checks an exported ledger offline, against the hub's public key: hashes,
//! signatures, the chain of `prev` links, that every head move cites a verdict that
//! satisfied the acceptance rule the track was created with (re-decided here by
//! `acceptance::decide`, with the earlier verdicts on the same head and hardware class it
//! pooled, which must be in the ledger before it), that every submission ended `unverifiable` cites distinct
//! verifiers' faults, and that every promotion to `main` names a commit already on the
//! chain. Every verifier report an entry counts (a verdict's, each fault of an
//! `unverifiable`, the canary report of a suspension) must be signed by the key the ledger
//! enrolled its verifier with, and the verifier must not be suspended at that entry
//! (`roster.rs`); in a ledger begun before verifier keys were recorded (format 1), reports
//! before its first enrolment are counted as unchecked. Each head move's credit is
//! recomputed from the ledger's own entries (`audit/credit.rs`).

mod credit;

use std::collections::HashMap;

use swarmlab_proto::ledger::GENESIS;
use swarmlab_proto::signing::{self, VerifyingKey};
use swarmlab_proto::{EventBody, LedgerEntry, Measurements, Rule, RunOutcome, SignedFault};

use super::acceptance::{decide, Context, Decision, Pairing};
use super::prior::Prior;
use super::roster::{Checked, Roster};
use credit::{Credits, HeadMove};

/// What an audit found in a ledger that checks out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditReport {
    pub track: String,
    pub entries: u64,
    pub submissions: u64,
    pub verdicts: u64,
    /// Of the verdicts, those that accepted and those that rejected.
    pub accepted: u64,
    pub rejected: u64,
    /// Reruns of each side the verdicts took, all together: the cost of verification.
    pub reruns: u64,
    pub head_moves: u64,
    /// Of the head moves, those whose ledger entry records their credit (checked), and of
    /// those the ones credited to an idea.
    pub credited: u64,
    pub credited_to_ideas: u64,
    pub promotions: u64,
    /// Submissions that enough verifiers faulted on to end `unverifiable`.
    pub unverifiable: u64,
    /// Verifiers suspended for deciding a canary wrong.
    pub suspensions: u64,
    /// Verifiers the ledger enrolled, each with its key.
    pub verifiers: u64,
    /// Verifier reports whose signature was checked against their verifier's enrolled key.
    pub signatures: u64,
    /// Verifier reports of a format 1 ledger from before its first enrolment: not checked.
    pub unchecked: u64,
    /// The head after the last move (the baseline when none).
    pub head: String,
    /// The commit of the last promotion, if any.
    pub main: Option<String>,
    /// The hash of the last entry: publish it to pin the ledger.
    pub last_hash: String,
}

impl AuditReport {
    /// What the ledger holds, in one line: `12 entries (4 submissions, 4 verdicts, 3 head
    /// moves (3 credited, 1 to an idea), 0 promotions)`, with unverifiable submissions and
    /// suspensions when there are.
    pub fn counts(&self) -> String {
        let credited = match (self.head_moves, self.credited_to_ideas) {
            (0, _) => String::new(),
            (_, 0) => format!(" ({} credited)", self.credited),
            (_, ideas) => format!(
                " ({} credited, {ideas} to {})",
                self.credited,
                if ideas == 1 { "an idea" } else { "ideas" }
            ),
        };
        let mut text = format!(
            "{} entries ({} submissions, {} verdicts, {} head moves{credited}, {} promotions",
            self.entries, self.submissions, self.verdicts, self.head_moves, self.promotions
        );
        if self.unverifiable > 0 {
            text.push_str(&format!(", {} unverifiable", self.unverifiable));
        }
        match self.suspensions {
            0 => {}
            1 => text.push_str(", 1 verifier suspended"),
            n => text.push_str(&format!(", {n} verifiers suspended")),
        }
        text.push(')');
        text
    }

    /// What the audit proved of the verifiers: `5 verifier signatures checked against 2
    /// enrolled keys`, and the reports it could not check, if any.
    pub fn signatures_line(&self) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut text = format!(
            "{} checked against {}",
            plural(self.signatures, "verifier signature", "verifier signatures"),
            plural(self.verifiers, "enrolled key", "enrolled keys")
        );
        if self.unchecked > 0 {
            text.push_str(&format!(
                ", {} from before the ledger recorded verifier keys",
                plural(self.unchecked, "report unchecked", "reports unchecked")
            ));
        }
        text
    }

    /// What verification decided and what it cost: `3 accepted, 1 rejected; 14 reruns of
    /// each side in all (3.5 per verdict)`.
    pub fn verdicts_line(&self) -> String {
        let per = match self.verdicts {
            0 => "no verdict yet".to_string(),
            n => format!("{:.1} per verdict", self.reruns as f64 / n as f64),
        };
        format!(
            "{} accepted, {} rejected; {} reruns of each side in all ({per})",
            self.accepted, self.rejected, self.reruns
        )
    }
}

/// Why a ledger failed its audit; `line` counts from 1.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    #[error("the ledger is empty")]
    Empty,
    #[error("line {line}: not a ledger entry: {message}")]
    Parse { line: usize, message: String },
    #[error("line {line}: not in canonical form (the bytes were altered)")]
    NotCanonical { line: usize },
    #[error("line {line}: expected seq {expected}")]
    Sequence { line: usize, expected: u64 },
    #[error("line {line}: belongs to track `{found}`, not `{expected}`")]
    Track {
        line: usize,
        expected: String,
        found: String,
    },
    #[error("line {line}: `prev` does not match the previous entry's hash")]
    BrokenLink { line: usize },
    #[error("line {line}: hash does not match the entry's content")]
    Hash { line: usize },
    #[error("line {line}: the hub's signature does not verify")]
    Signature { line: usize },
    #[error("line {line}: the first entry must create the track")]
    NoTrack { line: usize },
    #[error("line {line}: head move is not backed by an accepting verdict: {why}")]
    UnbackedHeadMove { line: usize, why: String },
    #[error("line {line}: `unverifiable` is not backed by distinct verifiers' faults: {why}")]
    UnbackedUnverifiable { line: usize, why: String },
    #[error("line {line}: the head move's credit does not match the ledger: {why}")]
    Credit { line: usize, why: String },
    #[error("line {line}: promotion of a commit that is not chain entry {chain_seq}")]
    OffChainPromotion { line: usize, chain_seq: u64 },
    #[error("line {line}: a report signed by `{verifier}`, a verifier this ledger never enrolled")]
    UnknownVerifier { line: usize, verifier: String },
    #[error(
        "line {line}: a report signed by `{verifier}`, suspended at line {suspended_at} and not reinstated"
    )]
    SuspendedVerifier {
        line: usize,
        verifier: String,
        suspended_at: usize,
    },
    #[error(
        "line {line}: the report of `{verifier}` does not verify against the key enrolled at line {enrolled_at}: it was forged or altered after signing"
    )]
    ForgedReport {
        line: usize,
        verifier: String,
        enrolled_at: usize,
    },
    #[error("line {line}: verifier `{verifier}` {why}")]
    Standing {
        line: usize,
        verifier: String,
        why: String,
    },
}

/// Checks an exported ledger (JSON lines) against the hub's public key.
pub fn audit(ledger_text: &str, hub_public_key: &VerifyingKey) -> Result<AuditReport, AuditError> {
    // Every byte counts: split on '\n' only, and allow just one final newline.
    let body = ledger_text.strip_suffix('\n').unwrap_or(ledger_text);
    if body.is_empty() {
        return Err(AuditError::Empty);
    }
    let mut auditor = Auditor {
        key: hub_public_key,
        report: AuditReport::default(),
        rule: None,
        roster: Roster::new(1),
        format: 1,
        credits: Credits::default(),
        verdicts: HashMap::new(),
        verdict_seqs: HashMap::new(),
        prev_hash: GENESIS.to_string(),
        chain: Vec::new(),
    };
    for (i, text) in body.split('\n').enumerate() {
        let entry = auditor.sealed(i, text)?;
        auditor.follow(i, entry)?;
    }
    auditor.report.credited = auditor.credits.credited;
    auditor.report.credited_to_ideas = auditor.credits.to_ideas;
    auditor.report.last_hash = auditor.prev_hash;
    Ok(auditor.report)
}

/// What an audit has seen so far.
struct Auditor<'k> {
    key: &'k VerifyingKey,
    report: AuditReport,
    /// The rule the track was created with.
    rule: Option<Rule>,
    /// The verifiers enrolled so far, with their keys and standing.
    roster: Roster,
    /// The ledger's format, from its first entry.
    format: u32,
    /// What each head move's credit is checked against.
    credits: Credits,
    /// Verdict entries by sequence number, for the head moves that cite them.
    verdicts: HashMap<u64, LedgerEntry>,
    /// Verdict entries' sequence numbers by verdict id, for the verdicts that pool them.
    verdict_seqs: HashMap<i64, u64>,
    prev_hash: String,
    /// The chain so far, baseline first: what a promotion may name.
    chain: Vec<String>,
}

impl Auditor<'_> {
    /// Line `i` (from 0) as an entry whose bytes, place, link, hash and signature check out.
    fn sealed(&self, i: usize, text: &str) -> Result<LedgerEntry, AuditError> {
        let line = i + 1;
        let entry: LedgerEntry = serde_json::from_str(text).map_err(|e| AuditError::Parse {
            line,
            message: e.to_string(),
        })?;
        if entry.to_line() != text {
            return Err(AuditError::NotCanonical { line });
        }
        if entry.seq != i as u64 {
            return Err(AuditError::Sequence {
                line,
                expected: i as u64,
            });
        }
        if i > 0 && entry.track != self.report.track {
            return Err(AuditError::Track {
                line,
                expected: self.report.track.clone(),
                found: entry.track,
            });
        }
        if entry.prev != self.prev_hash {
            return Err(AuditError::BrokenLink { line });
        }
        if entry.compute_hash() != entry.hash {
            return Err(AuditError::Hash { line });
        }
        let digest = hex::decode(&entry.hash).map_err(|_| AuditError::Hash { line })?;
        signing::verify(self.key, &digest, &entry.signature)
            .map_err(|_| AuditError::Signature { line })?;
        Ok(entry)
    }

    /// Follows what entry `i` records: the track, a head move, a promotion, a count.
    fn follow(&mut self, i: usize, entry: LedgerEntry) -> Result<(), AuditError> {
        let line = i + 1;
        match (&entry.event, i) {
            (
                EventBody::TrackCreated {
                    baseline,
                    rule,
                    format,
                    ..
                },
                0,
            ) => {
                self.report.track = entry.track.clone();
                self.rule = Some(*rule);
                self.roster = Roster::new(*format);
                self.format = *format;
                self.report.head = baseline.clone();
                self.chain.push(baseline.clone());
            }
            (_, 0) | (EventBody::TrackCreated { .. }, _) => {
                return Err(AuditError::NoTrack { line });
            }
            (
                EventBody::Submission {
                    submission_id,
                    worker,
                    diff_hash,
                    idea_id,
                    ..
                },
                _,
            ) => {
                self.credits
                    .submission(*submission_id, worker, diff_hash, *idea_id);
                self.report.submissions += 1;
            }
            (
                EventBody::VerifierEnrolled {
                    verifier,
                    public_key,
                },
                _,
            ) => {
                self.roster.enroll(line, verifier, public_key)?;
                self.report.verifiers += 1;
            }
            (EventBody::VerifierReinstated { verifier }, _) => {
                self.roster.reinstate(line, verifier)?;
            }
            (
                EventBody::VerifierSuspended {
                    verifier,
                    measurements,
                    verifier_signature,
                    ..
                },
                _,
            ) => self.suspension(line, verifier, measurements, verifier_signature)?,
            (EventBody::Unverifiable { after, faults, .. }, _) => {
                self.unverifiable(line, *after, faults)?;
            }
            (
                EventBody::Verdict {
                    verdict_id,
                    decision,
                    measurements,
                    verifier_signature,
                    ..
                },
                _,
            ) => {
                self.signed(line, measurements, verifier_signature)?;
                self.verdict(*verdict_id, decision == "accept", measurements, &entry);
            }
            (
                EventBody::HeadMove {
                    from,
                    to,
                    verdict_seq,
                    submission_id,
                    credit,
                },
                _,
            ) => {
                self.head_move(line, from, to, *verdict_seq)?;
                self.credit(line, *verdict_seq, *submission_id, credit.as_ref())?;
            }
            (
                EventBody::Promotion {
                    commit, chain_seq, ..
                },
                _,
            ) => self.promotion(line, commit, *chain_seq)?,
        }
        self.prev_hash = entry.hash;
        self.report.entries += 1;
        Ok(())
    }

    /// A verifier suspended on a canary report, which it made in good standing.
    fn suspension(
        &mut self,
        line: usize,
        verifier: &str,
        measurements: &Measurements,
        verifier_signature: &str,
    ) -> Result<(), AuditError> {
        if measurements.verifier_id != verifier {
            return Err(AuditError::Standing {
                line,
                verifier: verifier.to_string(),
                why: "is suspended on another verifier's report".into(),
            });
        }
        self.signed(line, measurements, verifier_signature)?;
        self.roster.suspend(line, verifier)?;
        self.report.suspensions += 1;
        Ok(())
    }

    /// A submission given up as unverifiable: its faults back it and each is signed.
    fn unverifiable(
        &mut self,
        line: usize,
        after: u32,
        faults: &[SignedFault],
    ) -> Result<(), AuditError> {
        check_faults(after, faults).map_err(|why| AuditError::UnbackedUnverifiable {
            line,
            why: why.to_string(),
        })?;
        for fault in faults {
            self.signed(line, &fault.measurements, &fault.verifier_signature)?;
        }
        self.report.unverifiable += 1;
        Ok(())
    }

    /// Counts a verdict (its report already checked) and keeps it for the head moves.
    fn verdict(
        &mut self,
        verdict_id: i64,
        accepted: bool,
        measurements: &Measurements,
        entry: &LedgerEntry,
    ) {
        self.verdict_seqs.insert(verdict_id, entry.seq);
        self.report.verdicts += 1;
        if accepted {
            self.report.accepted += 1;
        } else {
            self.report.rejected += 1;
        }
        self.report.reruns += measurements.reruns() as u64;
        self.verdicts.insert(entry.seq, entry.clone());
    }

    /// Checks one verifier report that entry `line` counts, and counts it.
    fn signed(
        &mut self,
        line: usize,
        measurements: &swarmlab_proto::Measurements,
        signature: &str,
    ) -> Result<(), AuditError> {
        match self.roster.check(line, measurements, signature)? {
            Checked::Verified => self.report.signatures += 1,
            Checked::Unchecked => self.report.unchecked += 1,
        }
        Ok(())
    }

    fn head_move(
        &mut self,
        line: usize,
        from: &str,
        to: &str,
        verdict_seq: u64,
    ) -> Result<(), AuditError> {
        let why = |w: &str| AuditError::UnbackedHeadMove {
            line,
            why: w.to_string(),
        };
        if from != self.report.head {
            return Err(why("it does not start from the current head"));
        }
        let track_rule = self.rule.ok_or_else(|| why("no track rule"))?;
        check_backing(
            self.verdicts.get(&verdict_seq),
            from,
            to,
            &track_rule,
            |id| {
                self.verdict_seqs
                    .get(&id)
                    .and_then(|seq| self.verdicts.get(seq))
            },
        )
        .map_err(|w| why(&w))?;
        self.report.head = to.to_string();
        self.report.head_moves += 1;
        self.chain.push(to.to_string());
        Ok(())
    }

    /// Checks the credit of the head move at `line`, whose backing verdict checked out.
    fn credit(
        &mut self,
        line: usize,
        verdict_seq: u64,
        submission_id: i64,
        credit: Option<&swarmlab_proto::Credit>,
    ) -> Result<(), AuditError> {
        let Some(EventBody::Verdict { measurements, .. }) =
            self.verdicts.get(&verdict_seq).map(|v| &v.event)
        else {
            return Err(AuditError::UnbackedHeadMove {
                line,
                why: "the cited entry is not an earlier verdict".into(),
            });
        };
        let goal = self
            .rule
            .map(|r| r.goal)
            .expect("a head move's backing was checked against the track's rule");
        self.credits.head_move(HeadMove {
            line,
            format: self.format,
            goal,
            submission_id,
            measurements,
            credit,
        })
    }

    fn promotion(&mut self, line: usize, commit: &str, chain_seq: u64) -> Result<(), AuditError> {
        let on_chain = usize::try_from(chain_seq)
            .ok()
            .and_then(|i| self.chain.get(i))
            .is_some_and(|c| c == commit);
        if !on_chain {
            return Err(AuditError::OffChainPromotion { line, chain_seq });
        }
        self.report.promotions += 1;
        self.report.main = Some(commit.to_string());
        Ok(())
    }
}

/// An `unverifiable` entry cites at least one fault, each a verifier's, no verifier twice,
/// all on the same job, and no more than the hub asked for.
fn check_faults(after: u32, faults: &[SignedFault]) -> Result<(), &'static str> {
    let Some(first) = faults.first() else {
        return Err("it cites no fault");
    };
    let mut verifiers: Vec<&str> = faults
        .iter()
        .map(|f| f.measurements.verifier_id.as_str())
        .collect();
    verifiers.sort_unstable();
    verifiers.dedup();
    if verifiers.len() != faults.len() {
        return Err("a verifier is cited twice");
    }
    if faults.len() > after.max(1) as usize {
        return Err("it cites more faults than the hub asked for");
    }
    let job = first.measurements.job_id;
    if faults.iter().any(|f| {
        f.measurements.outcome != RunOutcome::VerifierFault || f.measurements.job_id != job
    }) {
        return Err("a cited report is not a fault on the same job");
    }
    Ok(())
}

/// Whether the verdict cited by a head move accepts `to` over `from` by the track's rule,
/// decided again from its measurements and the earlier verdicts it pooled (`earlier` finds
/// an earlier verdict entry by its id).
fn check_backing<'e>(
    verdict: Option<&LedgerEntry>,
    from: &str,
    to: &str,
    track_rule: &Rule,
    earlier: impl Fn(i64) -> Option<&'e LedgerEntry>,
) -> Result<(), String> {
    let Some(EventBody::Verdict {
        candidate,
        base,
        decision,
        rule,
        measurements,
        prior,
        ..
    }) = verdict.map(|v| &v.event)
    else {
        return Err("the cited entry is not an earlier verdict".into());
    };
    if candidate != to || base != from {
        return Err("the verdict is about another candidate or head".into());
    }
    if rule != track_rule {
        return Err("the verdict used another rule than the track's".into());
    }
    if decision != "accept" {
        return Err("the verdict did not accept".into());
    }
    let mut pooled = Vec::with_capacity(prior.len());
    for &id in prior {
        match earlier(id).map(|e| &e.event) {
            Some(EventBody::Verdict {
                base: earlier_base,
                measurements: m,
                ..
            }) if earlier_base == base
                && m.hardware_class == measurements.hardware_class =>
            {
                pooled.push((id, m));
            }
            _ => {
                return Err(format!(
                    "it pools verdict {id}, which is not an earlier verdict on the same head and hardware class"
                ))
            }
        }
    }
    let pairing = Pairing::of(measurements);
    let prior = Prior::of(&measurements.hardware_class, pairing, pooled);
    let context = Context {
        prior: prior.as_ref(),
        claimed_gain: None,
    };
    match decide(
        &measurements.candidate,
        &measurements.head,
        pairing,
        rule,
        context,
    ) {
        Decision::Accept { .. } => Ok(()),
        _ => Err("its measurements do not satisfy the acceptance rule".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_ledger::{head_move, sealed};
    use swarmlab_core::Goal;
    use swarmlab_proto::signing::SigningKey;
    use swarmlab_proto::Measurements;

    fn rule() -> Rule {
        Rule {
            goal: Goal::Minimize,
            alpha: 0.05,
            min_delta: 0.0,
            reruns: 3,
            max_reruns: None,
        }
    }

    fn verdict(candidate: Vec<f64>, head: Vec<f64>) -> EventBody {
        EventBody::Verdict {
            verdict_id: 1,
            submission_id: 1,
            candidate: "c1".into(),
            base: "b0".into(),
            decision: "accept".into(),
            reason: None,
            p_value: None,
            rule: rule(),
            measurements: Measurements {
                job_id: 1,
                verifier_id: "v".into(),
                hardware_class: "cpu".into(),
                outcome: RunOutcome::Ok,
                candidate,
                head,
                detail: None,
                unsandboxed: false,
                pairs: None,
            },
            verifier_signature: String::new(),
            prior: Vec::new(),
        }
    }

    fn ledger(key: &SigningKey, verdict_body: EventBody) -> String {
        ledger_with(key, verdict_body, Vec::new())
    }

    fn ledger_with(key: &SigningKey, verdict_body: EventBody, more: Vec<EventBody>) -> String {
        let mut events = vec![track_created(), verdict_body, head_move(1)];
        events.extend(more);
        sealed(key, events)
    }

    fn track_created() -> EventBody {
        EventBody::TrackCreated {
            baseline: "b0".into(),
            metric: "loss".into(),
            rule: rule(),
            editable: vec!["a".into()],
            // A ledger from before verifier keys: its reports go unchecked, counted
            // (`roster.rs` tests the checks).
            format: 1,
        }
    }

    #[test]
    fn a_head_move_that_pooled_earlier_head_reruns_is_re_decided_with_them() {
        let key = signing::signing_key(&[6; 32]);
        // Twenty earlier reruns of the head on the same class, spreading by 0.02.
        let mut earlier = verdict(vec![1.0; 20], [0.98, 1.02].repeat(10));
        if let EventBody::Verdict {
            verdict_id,
            candidate,
            decision,
            ..
        } = &mut earlier
        {
            *verdict_id = 7;
            *candidate = "c0".into();
            *decision = "reject".into();
        }
        // Better by 0.04: not significant on three reruns of each side alone.
        let pooling = |prior: Vec<i64>| {
            let mut v = verdict(vec![0.94, 0.99, 0.96], vec![1.0, 1.02, 0.99]);
            if let EventBody::Verdict { prior: p, .. } = &mut v {
                *p = prior;
            }
            sealed(
                &key,
                vec![track_created(), earlier.clone(), v, head_move(2)],
            )
        };
        let report = audit(&pooling(vec![7]), &key.verifying_key()).unwrap();
        assert_eq!(report.head_moves, 1);
        let unpooled = audit(&pooling(Vec::new()), &key.verifying_key()).unwrap_err();
        assert!(
            unpooled
                .to_string()
                .contains("do not satisfy the acceptance rule"),
            "{unpooled}"
        );
        let unknown = audit(&pooling(vec![99]), &key.verifying_key()).unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("pools verdict 99, which is not an earlier verdict"),
            "{unknown}"
        );
    }

    #[test]
    fn a_head_move_on_paired_reruns_is_re_decided_by_the_paired_test() {
        let key = signing::signing_key(&[6; 32]);
        // Each pair shares a large offset; the candidate is better by 0.1 in every pair.
        let (candidate, head) = (vec![0.9, 1.9, 0.4, 2.9], vec![1.0, 2.01, 0.5, 3.0]);
        let mut paired = verdict(candidate.clone(), head.clone());
        if let EventBody::Verdict { measurements, .. } = &mut paired {
            measurements.pairs = Some(swarmlab_proto::Pairs {
                seeds: vec![11, 12, 13, 14],
                budget: swarmlab_proto::BudgetKind::Steps,
                load: Vec::new(),
            });
        }
        let report = audit(&ledger(&key, paired), &key.verifying_key()).unwrap();
        assert_eq!(report.head_moves, 1);
        // The same numbers as independent samples do not pass.
        assert!(matches!(
            audit(
                &ledger(&key, verdict(candidate, head)),
                &key.verifying_key()
            ),
            Err(AuditError::UnbackedHeadMove { line: 3, .. })
        ));
    }

    #[test]
    fn an_unverifiable_entry_must_cite_distinct_verifiers_faults() {
        let key = signing::signing_key(&[6; 32]);
        let fault = |verifier: &str, outcome| SignedFault {
            measurements: Measurements {
                job_id: 7,
                verifier_id: verifier.into(),
                hardware_class: "cpu".into(),
                outcome,
                candidate: vec![],
                head: vec![],
                detail: Some("no sandbox".into()),
                unsandboxed: false,
                pairs: None,
            },
            verifier_signature: String::new(),
        };
        let unverifiable = |faults| EventBody::Unverifiable {
            submission_id: 1,
            candidate: "c1".into(),
            base: "b0".into(),
            after: 2,
            faults,
        };
        let sound = verdict(vec![0.5, 0.51, 0.49], vec![1.0, 1.01, 0.99]);
        let good = ledger_with(
            &key,
            sound.clone(),
            vec![unverifiable(vec![
                fault("v1", RunOutcome::VerifierFault),
                fault("v2", RunOutcome::VerifierFault),
            ])],
        );
        assert_eq!(audit(&good, &key.verifying_key()).unwrap().unverifiable, 1);
        for faults in [
            vec![],
            vec![
                fault("v1", RunOutcome::VerifierFault),
                fault("v1", RunOutcome::VerifierFault),
            ],
            vec![fault("v1", RunOutcome::Crash)],
        ] {
            let forged = ledger_with(&key, sound.clone(), vec![unverifiable(faults)]);
            assert!(matches!(
                audit(&forged, &key.verifying_key()),
                Err(AuditError::UnbackedUnverifiable { line: 4, .. })
            ));
        }
    }

    #[test]
    fn a_value_that_needs_seventeen_digits_keeps_its_bytes() {
        // serde_json parses such a float one unit off unless it is built with
        // `float_roundtrip`; the entry would then not re-serialise to its own bytes.
        let key = signing::signing_key(&[5; 32]);
        let good = ledger(
            &key,
            verdict(
                vec![0.5, 0.51, 0.49],
                vec![1.0010000000000001, 1.005, 1.006],
            ),
        );
        audit(&good, &key.verifying_key()).unwrap();
    }

    #[test]
    fn a_sound_ledger_audits_and_a_forged_head_move_does_not() {
        let key = signing::signing_key(&[3; 32]);
        let good = ledger(&key, verdict(vec![0.5, 0.51, 0.49], vec![1.0, 1.01, 0.99]));
        let report = audit(&good, &key.verifying_key()).unwrap();
        assert_eq!((report.head_moves, report.head.as_str()), (1, "c1"));
        assert_eq!((report.accepted, report.rejected, report.reruns), (1, 0, 3));
        assert_eq!((report.signatures, report.unchecked), (0, 1));
        assert_eq!(
            report.signatures_line(),
            "0 verifier signatures checked against 0 enrolled keys, \
             1 report unchecked from before the ledger recorded verifier keys"
        );
        // A verdict signed by the hub but whose numbers do not pass the rule.
        let forged = ledger(&key, verdict(vec![1.0, 1.01, 0.99], vec![1.0, 1.01, 0.99]));
        assert!(matches!(
            audit(&forged, &key.verifying_key()),
            Err(AuditError::UnbackedHeadMove { line: 3, .. })
        ));
        // Promotions must name a commit at its place on the chain.
        let promote = |commit: &str, chain_seq| EventBody::Promotion {
            commit: commit.into(),
            chain_seq,
            by: "admin-1".into(),
        };
        let sound = verdict(vec![0.5, 0.51, 0.49], vec![1.0, 1.01, 0.99]);
        let promoted = ledger_with(&key, sound.clone(), vec![promote("c1", 1)]);
        let report = audit(&promoted, &key.verifying_key()).unwrap();
        assert_eq!((report.promotions, report.main.as_deref()), (1, Some("c1")));
        let off_chain = ledger_with(&key, sound, vec![promote("c9", 1)]);
        assert_eq!(
            audit(&off_chain, &key.verifying_key()),
            Err(AuditError::OffChainPromotion {
                line: 4,
                chain_seq: 1
            })
        );
        // Another key.
        let other = signing::signing_key(&[4; 32]);
        assert_eq!(
            audit(&good, &other.verifying_key()),
            Err(AuditError::Signature { line: 1 })
        );
    }
}
