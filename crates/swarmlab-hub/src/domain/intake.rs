//! Intake: the rules a submission must pass before anything runs, each with its own
//! [`IntakeReason`]. Claim rules (who, which track, the signature, sizes, commit ids, the
//! metric), the chain rule (the parent is known and recent), the bundle's caps read from its
//! pack before git sees it (`bundle.rs`), and the code rules read from git, never from the
//! worker (`swarmlab_core::change`, which verifiers check again): the bundle must unpack and
//! carry the commit, the commit must be one child of the parent, and its changes may touch
//! only editable paths, keep the files the baseline's spec names regular files and its
//! knobs' patterns matching, with no symlinks, submodules, attribute files, binaries or
//! oversized files, and must change something. The replay and duplicate checks that need
//! the store's word are made as it records the submission.

use swarmlab_core::change::{check_change_beside, ChangeRefusal, ChangeRules};
use swarmlab_core::diff_hash::{diff_hash_hex, normalised_diff_hash};
use swarmlab_core::GitStore;
use swarmlab_proto::{signing, ChainEntry, Claim};

use super::bundle::Bundle;
use super::identity::Identity;
use super::intake_reason::IntakeReason;
use super::track::TrackRecord;

/// How intake judged a submission (before the replay and duplicate checks, which the store
/// makes inside the transaction that records it).
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// Passed: verify `candidate` (the commit, or it rebased onto the head) against `base`.
    Queued { candidate: String, base: String },
    /// Turned away, for good: `invalid` or `rejected` as the reason says.
    Refused(IntakeReason),
}

impl From<IntakeReason> for Intake {
    fn from(reason: IntakeReason) -> Intake {
        Intake::Refused(reason)
    }
}

impl From<ChangeRefusal> for Intake {
    fn from(refusal: ChangeRefusal) -> Intake {
        Intake::Refused(refusal.into())
    }
}

/// The size caps intake enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bundle_bytes: usize,
    pub max_log_bytes: usize,
    pub max_file_bytes: u64,
}

fn is_commit_id(text: &str) -> bool {
    text.len() == 40
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The rules that need only the claim, the caller and the sizes.
pub fn check_claim(
    caller: &Identity,
    track: &TrackRecord,
    claim: &Claim,
    signature: &str,
    bundle_len: usize,
    log_len: usize,
    limits: &Limits,
) -> Result<(), IntakeReason> {
    if claim.worker_id != caller.id {
        return Err(IntakeReason::WrongWorker);
    }
    if claim.track != track.name {
        return Err(IntakeReason::WrongTrack);
    }
    let key = caller
        .public_key
        .as_deref()
        .and_then(|k| signing::parse_public_key(k).ok())
        .ok_or(IntakeReason::BadSignature)?;
    signing::verify(&key, &claim.signed_bytes(), signature)
        .map_err(|_| IntakeReason::BadSignature)?;
    if bundle_len > limits.max_bundle_bytes {
        return Err(IntakeReason::BundleTooLarge);
    }
    if log_len > limits.max_log_bytes {
        return Err(IntakeReason::LogTooLarge);
    }
    if !is_commit_id(&claim.commit) || !is_commit_id(&claim.parent) {
        return Err(IntakeReason::BadCommitId);
    }
    match claim.metrics.get(&track.metric) {
        Some(v) if v.is_finite() => Ok(()),
        _ => Err(IntakeReason::MissingMetric),
    }
}

/// The parent must be the head or one of the `stale_depth` chain commits before it.
pub fn check_parent(
    chain: &[ChainEntry],
    parent: &str,
    stale_depth: u32,
) -> Result<(), IntakeReason> {
    let Some(pos) = chain.iter().rposition(|e| e.commit == parent) else {
        return Err(IntakeReason::ParentUnknown);
    };
    let behind = chain.len() - 1 - pos;
    if behind > stale_depth as usize {
        return Err(IntakeReason::Stale);
    }
    Ok(())
}

/// Unpacks a bundle whose pack passed its caps ([`Bundle::read`]) into `quarantine` (the
/// track's repository seen through one) and checks its code. Returns the normalised diff
/// hash.
///
/// Git runs are most of a busy hub's CPU and of a submission's latency, so the checks share
/// them (five whatever the number of files) and run them in three rounds: unpack; the
/// commit's parents and changes beside its tree's sizes; then, once nothing is too large to
/// read, the diff beside the contents.
pub fn inspect(
    quarantine: &GitStore,
    bundle: &Bundle,
    claim: &Claim,
    rules: &ChangeRules,
) -> Result<String, IntakeReason> {
    fn bad_bundle<E>(_: E) -> IntakeReason {
        IntakeReason::Change(ChangeRefusal::BadBundle)
    }
    if !bundle.tips.contains(&claim.commit) {
        return Err(ChangeRefusal::CommitMissing.into());
    }
    // One process (killed whole at the deadline) and one thread (its CPU time is its
    // wall time); a thin pack's bases come from the repository.
    quarantine
        .run_with_input(
            &["index-pack", "--stdin", "--fix-thin", "--threads=1"],
            bundle.pack,
        )
        .map_err(bad_bundle)?;
    let diff = || quarantine.diff(&claim.parent, &claim.commit);
    let diff = check_change_beside(quarantine, &claim.parent, &claim.commit, rules, diff)
        .map_err(IntakeReason::Change)?
        .map_err(bad_bundle)?;
    Ok(diff_hash_hex(normalised_diff_hash(&diff)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<ChainEntry> {
        (0..n)
            .map(|i| ChainEntry {
                seq: i as i64,
                commit: format!("c{i}"),
                parent: None,
                submission_id: None,
                at_ms: 0,
            })
            .collect()
    }

    #[test]
    fn the_parent_must_be_recent_on_the_chain() {
        let c = chain(6);
        assert_eq!(check_parent(&c, "c5", 2), Ok(()));
        assert_eq!(check_parent(&c, "c3", 2), Ok(()));
        assert_eq!(check_parent(&c, "c2", 2), Err(IntakeReason::Stale));
        assert_eq!(
            check_parent(&c, "nope", 2),
            Err(IntakeReason::ParentUnknown)
        );
    }
}
