//! Intake: the rules a submission must pass before anything runs, each with its own
//! rejection reason. Claim rules (`wrong_worker`, `wrong_track`, `bad_signature`,
//! `bundle_too_large`, `log_too_large`, `bad_commit_id`, `missing_metric`), the chain rule
//! (`parent_unknown`, or `stale` when the parent is too far behind the head), and the code
//! rules read from git, never from the worker (`swarmlab_core::change`, which verifiers
//! check again): the bundle must verify and carry the commit
//! (`bad_bundle`, `commit_missing`), the commit must be one child of the parent
//! (`not_a_child_of_parent`), and its changes may touch only editable paths
//! (`outside_editable`), with no symlinks (`symlink`), submodules (`submodule`), attribute
//! files (`attribute_file`), binaries (`binary_file`) or oversized files (`file_too_large`),
//! and must change something (`empty_change`).

use std::path::Path;

use swarmlab_core::change::{check_change_beside, together};
use swarmlab_core::diff_hash::{diff_hash_hex, normalised_diff_hash};
use swarmlab_core::GitStore;
use swarmlab_proto::{signing, ChainEntry, Claim};

use crate::store::{Identity, Intake, TrackRecord};
use crate::track::{commit_ref, path_str};

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
) -> Result<(), String> {
    if claim.worker_id != caller.id {
        return Err("wrong_worker".into());
    }
    if claim.track != track.name {
        return Err("wrong_track".into());
    }
    let key = caller
        .public_key
        .as_deref()
        .and_then(|k| signing::parse_public_key(k).ok())
        .ok_or("bad_signature")?;
    signing::verify(&key, &claim.signed_bytes(), signature).map_err(|_| "bad_signature")?;
    if bundle_len > limits.max_bundle_bytes {
        return Err("bundle_too_large".into());
    }
    if log_len > limits.max_log_bytes {
        return Err("log_too_large".into());
    }
    if !is_commit_id(&claim.commit) || !is_commit_id(&claim.parent) {
        return Err("bad_commit_id".into());
    }
    match claim.metrics.get(&track.metric) {
        Some(v) if v.is_finite() => Ok(()),
        _ => Err("missing_metric".into()),
    }
}

/// The parent must be the head or one of the `stale_depth` chain commits before it.
pub fn check_parent(chain: &[ChainEntry], parent: &str, stale_depth: u32) -> Result<(), Intake> {
    let Some(pos) = chain.iter().rposition(|e| e.commit == parent) else {
        return Err(Intake::Invalid("parent_unknown".into()));
    };
    let behind = chain.len() - 1 - pos;
    if behind > stale_depth as usize {
        return Err(Intake::Rejected("stale".into()));
    }
    Ok(())
}

/// Unbundles the submission into the track's repository and checks its code. Returns the
/// normalised diff hash.
///
/// Git runs are most of a busy hub's CPU and of a submission's latency, so the checks share
/// them (six whatever the number of files) and run them in three rounds: unbundle; the
/// commit's parents and changes beside its tree's sizes; then, once nothing is too large to
/// read, the diff beside the contents and the ref that keeps the commit.
pub fn inspect(
    repo: &GitStore,
    bundle: &Path,
    claim: &Claim,
    editable: &[String],
    max_file_bytes: u64,
) -> Result<String, String> {
    let path = path_str(bundle).map_err(|_| "bad_bundle")?;
    // Unbundling verifies the bundle and its prerequisites, then names the commits it holds.
    let heads = repo
        .run(&["bundle", "unbundle", path])
        .map_err(|_| "bad_bundle")?;
    if !heads
        .lines()
        .any(|l| l.split_whitespace().next() == Some(claim.commit.as_str()))
    {
        return Err("commit_missing".into());
    }
    // Keep what was received reachable (never served to workers while pending), and hash
    // the diff, beside the last round of the checks: no blob is read before its size is.
    let keep = || repo.keep_ref(&commit_ref(&claim.commit), &claim.commit);
    let (diff, kept_ref) = check_change_beside(
        repo,
        &claim.parent,
        &claim.commit,
        editable,
        max_file_bytes,
        || together(|| repo.diff(&claim.parent, &claim.commit), keep),
    )
    .map_err(|refusal| refusal.as_str())?;
    kept_ref
        .map_err(|refusal| refusal.as_str())?
        .map_err(|_| "bad_bundle")?;
    let diff = diff.map_err(|_| "bad_bundle")?;
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
        assert_eq!(
            check_parent(&c, "c2", 2),
            Err(Intake::Rejected("stale".into()))
        );
        assert_eq!(
            check_parent(&c, "nope", 2),
            Err(Intake::Invalid("parent_unknown".into()))
        );
    }
}
