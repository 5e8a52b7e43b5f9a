//! The first phase of a job: the trees of head and candidate. It fetches the job's bundle,
//! checks the change again as the hub's intake does, checks out both sides and lays the
//! trusted files of the track's pinned baseline over them, with the baseline's spec in each.
//!
//! It builds and runs nothing, and it reports nothing: it says whose fault a failure is.

use std::path::{Path, PathBuf};

use swarmlab_core::spec::SPEC_FILE;
use swarmlab_core::TrackSpec;
use swarmlab_proto::{JobLease, TrackInfo};

use super::VerifyOptions;
use crate::client::HubClient;
use crate::mirror::Mirror;
use crate::ClientError;

/// The largest file a verifier accepts in a candidate's change, as the hub's intake.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Why a job could not be set up: the candidate's fault, or ours.
pub(super) enum Prepared {
    Candidate(String),
    Fault(ClientError),
}

impl<E: Into<ClientError>> From<E> for Prepared {
    fn from(e: E) -> Self {
        Prepared::Fault(e.into())
    }
}

/// Fetches the job, re-checks the change, checks out head and candidate with the baseline's
/// trusted files over both, and loads the baseline's spec for each (with the verifier's budget
/// and environment over it); with the track's baseline commit.
pub(super) fn prepare(
    client: &HubClient,
    mirror: &Mirror,
    lease: &JobLease,
    trees: &[PathBuf; 2],
    options: &VerifyOptions,
) -> Result<([TrackSpec; 2], String), Prepared> {
    let track: TrackInfo = client.get(&format!("tracks/{}", lease.track))?;
    let bundle = client.get_bytes(&format!("jobs/{}/bundle", lease.job_id))?;
    mirror.import(&bundle)?;
    for commit in [&lease.base, &lease.candidate, &track.baseline] {
        if !mirror.has(commit) {
            return Err(Prepared::Fault(ClientError::JobMissing(commit.clone())));
        }
    }
    let spec_text = mirror.show(&track.baseline, SPEC_FILE)?;
    let trusted_at =
        |tree: &Path, commit: &str, trusted: &[String]| -> Result<TrackSpec, ClientError> {
            mirror.worktree(commit, tree)?;
            mirror.overlay_trusted(&track.baseline, trusted, tree)?;
            let (mut spec, _) = TrackSpec::parse(tree, &spec_text)
                .map_err(|(_, message)| ClientError::BaselineSpec(message))?;
            if let Some(budget) = options.budget {
                spec.override_budget(budget);
            }
            spec.run.env.extend(options.env.iter().cloned());
            Ok(spec)
        };
    // The spec is the baseline's, and so is the list of trusted files it names.
    let head = trusted_at(&trees[0], &lease.base, &[SPEC_FILE.to_string()])?;
    let mut trusted = head.files.trusted.clone();
    trusted.push(SPEC_FILE.to_string());
    mirror.overlay_trusted(&track.baseline, &trusted, &trees[0])?;
    swarmlab_core::change::check_change(
        mirror.git(),
        &lease.base,
        &lease.candidate,
        &head.files.editable,
        MAX_FILE_BYTES,
    )
    .map_err(|why| Prepared::Candidate(format!("the change fails intake: {why}")))?;
    let candidate = trusted_at(&trees[1], &lease.candidate, &trusted)?;
    Ok(([head, candidate], track.baseline))
}
