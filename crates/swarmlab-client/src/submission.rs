//! [`Candidate`]: one commit on a chain commit, sent to the hub as a signed claim with a git
//! bundle and the run's log, and the wait for its verdict. Shared by `swarmlab work` and
//! `swarmlab submit`.

use std::collections::BTreeMap;
use std::time::Duration;

use swarmlab_proto::{signing, Claim, SigningKey, SubmissionInfo, SubmitRequest};
use swarmlab_runner::Cancel;

use crate::client::HubClient;
use crate::mirror::Mirror;
use crate::{pause, random_hex, ClientError};

/// How often [`await_verdict`] asks the hub.
const POLL: Duration = Duration::from_millis(500);

/// The most of a run log a submission carries (its tail).
const MAX_LOG_BYTES: usize = 1 << 20;

/// Follows submission `info` until its verdict (`accepted`, `rejected` or `invalid`), asking
/// the hub every half second; `None` when `cancel` stops the wait first.
pub fn await_verdict(
    client: &HubClient,
    mut info: SubmissionInfo,
    cancel: &Cancel,
) -> Result<Option<SubmissionInfo>, ClientError> {
    while !matches!(info.status.as_str(), "accepted" | "rejected" | "invalid") {
        if pause(cancel, POLL) {
            return Ok(None);
        }
        info = client.get(&format!("submissions/{}", info.id))?;
    }
    Ok(Some(info))
}

pub struct Candidate<'a> {
    pub track: &'a str,
    /// A commit of the track's chain (its head, or a recent one).
    pub parent: &'a str,
    /// A child of `parent` in the mirror.
    pub commit: &'a str,
    /// What the submitter measured: a hint for scheduling, never the score.
    pub metrics: BTreeMap<String, f64>,
    pub idea_id: Option<i64>,
    pub log: &'a [u8],
    /// Wall seconds of the submitter's experiments since its previous submission, when it
    /// kept count (`swarmlab work` does).
    pub spent_s: Option<f64>,
}

impl Candidate<'_> {
    /// Bundles, signs and sends it; a refusal (over quota, invalid) is the hub's answer.
    pub fn submit(
        &self,
        client: &HubClient,
        mirror: &Mirror,
        key: &SigningKey,
        worker_id: &str,
    ) -> Result<SubmissionInfo, ClientError> {
        let bundle = mirror.bundle(self.commit, self.parent)?;
        let claim = Claim {
            track: self.track.to_string(),
            parent: self.parent.to_string(),
            commit: self.commit.to_string(),
            metrics: self.metrics.clone(),
            idea_id: self.idea_id,
            worker_id: worker_id.to_string(),
            nonce: random_hex::<16>()?,
            spent_s: self.spent_s,
        };
        let log = &self.log[self.log.len().saturating_sub(MAX_LOG_BYTES)..];
        let request = SubmitRequest {
            signature: signing::sign(key, &claim.signed_bytes()),
            claim,
            bundle: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bundle),
            log: String::from_utf8_lossy(log).into_owned(),
        };
        Ok(client.post(&format!("tracks/{}/submissions", self.track), &request)?)
    }
}
