//! Submissions: a worker's signed claim with a git bundle and its run log. A worker with as
//! many submissions waiting for verification as its quota allows is refused first (429).
//! Intake runs before anything else (see `intake.rs`); a submission that passes is
//! queued for verification, rebased onto the head first when its parent is a recent
//! ancestor. Pending content is never shown to other workers.

use base64::Engine;
use swarmlab_core::change::ChangeRefusal;
use swarmlab_proto::{Claim, SubmissionInfo, SubmitRequest};

use super::chain::rebase;
use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::{blocking, Hub};
use super::identity::Identity;
use super::intake::{self, Intake, Limits};
use super::intake_reason::IntakeReason;
use super::roles::{may_see_submission, require, Action};
use super::scratch::scratch_path;
use super::track::TrackRecord;

/// A submission to record, as intake judged it.
#[derive(Debug, Clone)]
pub struct NewSubmission {
    pub track: String,
    pub worker: String,
    pub claim: Claim,
    pub signature: String,
    pub log: String,
    pub diff_hash: String,
    pub intake: Intake,
}

impl Hub {
    fn limits(&self) -> Limits {
        Limits {
            max_bundle_bytes: self.config.max_bundle_bytes,
            max_log_bytes: self.config.max_log_bytes,
            max_file_bytes: self.config.max_file_bytes,
        }
    }

    /// Takes a submission through intake and records it; the answer says whether it was
    /// queued, or why not.
    pub async fn submit(
        &self,
        caller: &Identity,
        track_name: &str,
        req: SubmitRequest,
    ) -> Result<SubmissionInfo, HubError> {
        require(caller, Action::Submit)?;
        let track = self.track(track_name).await?;
        // Refused before intake does any work; the store checks again as it records.
        let quota = self.store.quota(&caller.id).await?;
        quota.check().map_err(HubError::Quota)?;
        let bundle = base64::engine::general_purpose::STANDARD.decode(req.bundle.as_bytes());
        let (intake, diff_hash) = match &bundle {
            Err(_) => (ChangeRefusal::BadBundle.into(), String::new()),
            Ok(bundle) => self.intake(caller, &track, &req, bundle).await?,
        };
        let new = NewSubmission {
            track: track.name.clone(),
            worker: caller.id.clone(),
            claim: req.claim,
            signature: req.signature,
            log: if req.log.len() > self.config.max_log_bytes {
                String::new()
            } else {
                req.log
            },
            diff_hash,
            intake,
        };
        let info = self.store.record_submission(&new, self.now()).await?;
        self.publish(HubEvent::new(EventKind::Submission, &info.track).about(info.id));
        Ok(info)
    }

    async fn intake(
        &self,
        caller: &Identity,
        track: &TrackRecord,
        req: &SubmitRequest,
        bundle: &[u8],
    ) -> Result<(Intake, String), HubError> {
        let claim = &req.claim;
        if let Err(reason) = intake::check_claim(
            caller,
            track,
            claim,
            &req.signature,
            bundle.len(),
            req.log.len(),
            &self.limits(),
        ) {
            return Ok((reason.into(), String::new()));
        }
        if self.store.nonce_used(&caller.id, &claim.nonce).await? {
            return Ok((IntakeReason::Replay.into(), String::new()));
        }
        let chain = self.store.chain(&track.name).await?;
        if let Err(reason) = intake::check_parent(&chain, &claim.parent, self.config.stale_depth) {
            return Ok((reason.into(), String::new()));
        }
        let repo = self.repo(&track.name)?;
        let path = scratch_path(&self.config, "in")?;
        std::fs::write(&path, bundle)
            .map_err(|e| HubError::io(format!("failed to write {}", path.display()), e))?;
        let (claim, editable, head) = (claim.clone(), track.editable.clone(), track.head.clone());
        let max_file = self.config.max_file_bytes;
        let bundle_path = path.clone();
        let result = blocking(move || {
            let hash = match intake::inspect(&repo, &bundle_path, &claim, &editable, max_file) {
                Ok(hash) => hash,
                Err(reason) => return Ok((reason.into(), String::new())),
            };
            if claim.parent == head {
                return Ok((
                    Intake::Queued {
                        candidate: claim.commit.clone(),
                        base: head,
                    },
                    hash,
                ));
            }
            Ok(match rebase(&repo, &claim.commit, &claim.parent, &head)? {
                Some(candidate) => (
                    Intake::Queued {
                        candidate,
                        base: head,
                    },
                    hash,
                ),
                None => (IntakeReason::RebaseConflict.into(), hash),
            })
        })
        .await;
        let _ = std::fs::remove_file(&path);
        result
    }

    /// A submission, as the caller may see it: its submitter, verifiers and admins only.
    pub async fn submission(&self, caller: &Identity, id: i64) -> Result<SubmissionInfo, HubError> {
        let sub = self
            .store
            .submission(id)
            .await?
            .filter(|s| may_see_submission(caller, &s.worker))
            .ok_or_else(|| HubError::NotFound(format!("submission {id}")))?;
        Ok(sub)
    }
}
