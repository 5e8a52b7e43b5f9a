//! Submissions: a worker's signed claim with a git bundle and its run log. A worker whose
//! waiting submissions, this one with them, would cost the verifiers more device-seconds
//! than its quota allows is refused first (429).
//! Intake runs before anything else (see `intake.rs`); a submission that passes is
//! queued for verification, rebased onto the head first when its parent is a recent
//! ancestor. Pending content is never shown to other workers.

use std::time::Instant;

use base64::Engine;
use swarmlab_core::change::{ChangeRefusal, ChangeRules};
use swarmlab_core::TrackSpec;
use swarmlab_proto::{Claim, SubmissionInfo, SubmitRequest};

use super::bundle::{Bundle, PackLimits};
use super::chain::{keep, replay};
use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::{blocking, Hub};
use super::identity::Identity;
use super::intake::{self, Intake, Limits};
use super::intake_reason::IntakeReason;
use super::quarantine::Quarantine;
use super::roles::{may_see_submission, require, Action, Reader};
use super::track::TrackRecord;

/// The statuses of a submission still on its way to a verdict.
pub const PENDING: [&str; 3] = ["queued", "verifying", "reverify"];

/// Whether a submission in `status` waits for its verdict (else intake or a verifier
/// decided it: `invalid`, `accepted` or `rejected`).
pub fn is_pending(status: &str) -> bool {
    PENDING.contains(&status)
}

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

/// Intake's judgement before the store's checks.
enum Judged {
    Refused(IntakeReason),
    Passed(Passed),
}

/// A submission that passed intake: verify `candidate` (the commit, or it rebased onto the
/// head) against `base`. Its objects wait in `objects` until it is admitted.
struct Passed {
    candidate: String,
    base: String,
    diff_hash: String,
    objects: Quarantine,
}

/// The length of base64 `text` once decoded (for valid base64), without decoding it.
fn decoded_len(text: &str) -> usize {
    let padding = text.bytes().rev().take(2).filter(|b| *b == b'=').count();
    (text.len() / 4 * 3).saturating_sub(padding)
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
        let quota = self.store.quota(&caller.id, &track.name).await?;
        quota.check().map_err(HubError::Quota)?;
        let (intake, diff_hash) = match self.intake(caller, &track, &req).await? {
            Judged::Refused(reason) => (reason.into(), String::new()),
            Judged::Passed(passed) => {
                let diff_hash = passed.diff_hash.clone();
                (
                    self.admit(&track, &req.claim.commit, passed).await?,
                    diff_hash,
                )
            }
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

    /// Intake, cheapest rule first: the claim (signature, sizes), the nonce and the parent
    /// before the bundle is decoded; the pack's caps before git sees it; git's work in a
    /// quarantine, under the time cap.
    async fn intake(
        &self,
        caller: &Identity,
        track: &TrackRecord,
        req: &SubmitRequest,
    ) -> Result<Judged, HubError> {
        let claim = &req.claim;
        if let Err(reason) = intake::check_claim(
            caller,
            track,
            claim,
            &req.signature,
            decoded_len(&req.bundle),
            req.log.len(),
            &self.limits(),
        ) {
            return Ok(Judged::Refused(reason));
        }
        if self.store.nonce_used(&caller.id, &claim.nonce).await? {
            return Ok(Judged::Refused(IntakeReason::Replay));
        }
        let chain = self.store.chain(&track.name).await?;
        if let Err(reason) = intake::check_parent(&chain, &claim.parent, self.config.stale_depth) {
            return Ok(Judged::Refused(reason));
        }
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(req.bundle.as_bytes())
        else {
            return Ok(Judged::Refused(ChangeRefusal::BadBundle.into()));
        };
        let pack_limits = PackLimits {
            max_objects: self.config.max_bundle_objects,
            max_inflated_bytes: self.config.max_bundle_inflated_bytes,
        };
        let rules = ChangeRules {
            editable: track.editable.clone(),
            knobs: TrackSpec::knob_places(&track.spec_toml)
                .map_err(|e| HubError::Internal(format!("the track's spec: {e}")))?,
            max_file_bytes: self.config.max_file_bytes,
        };
        let repo = self.repo(&track.name)?;
        let (config, claim, head) = (self.config.clone(), claim.clone(), track.head.clone());
        blocking(move || {
            let bundle = match Bundle::read(&bytes, pack_limits) {
                Ok(bundle) => bundle,
                Err(refusal) => return Ok(Judged::Refused(refusal.into())),
            };
            // The quarantine and its objects go when this closure's result is dropped, even
            // when whoever waited for it is gone.
            let deadline = Instant::now() + config.git_timeout;
            let objects = Quarantine::new(&config, &repo)?;
            let git = objects.repo().with_deadline(deadline);
            let costly = || Instant::now() >= deadline;
            let diff_hash = match intake::inspect(&git, &bundle, &claim, &rules) {
                Ok(hash) => hash,
                Err(_) if costly() => return Ok(Judged::Refused(IntakeReason::TooCostly)),
                Err(reason) => return Ok(Judged::Refused(reason)),
            };
            let candidate = if claim.parent == head {
                claim.commit.clone()
            } else {
                match replay(&git, &claim.commit, &claim.parent, &head) {
                    _ if costly() => return Ok(Judged::Refused(IntakeReason::TooCostly)),
                    Ok(Some(candidate)) => candidate,
                    Ok(None) => return Ok(Judged::Refused(IntakeReason::RebaseConflict)),
                    Err(e) => return Err(e),
                }
            };
            Ok(Judged::Passed(Passed {
                candidate,
                base: head,
                diff_hash,
                objects,
            }))
        })
        .await
    }

    /// Moves a submission that passed intake out of quarantine, unless it is a duplicate
    /// (whose objects are dropped with the quarantine). The store checks for duplicates
    /// again as it records.
    async fn admit(
        &self,
        track: &TrackRecord,
        commit: &str,
        passed: Passed,
    ) -> Result<Intake, HubError> {
        if self.store.duplicate(&track.name, &passed.diff_hash).await? {
            return Ok(IntakeReason::Duplicate.into());
        }
        let Passed {
            candidate,
            base,
            objects,
            ..
        } = passed;
        let repo = self.repo(&track.name)?;
        let commit = commit.to_string();
        blocking(move || {
            objects.admit(&repo)?;
            // The received commit and the candidate (the same, or it rebased) stay
            // reachable; neither is served to workers while pending.
            keep(&repo, &commit)?;
            if candidate != commit {
                keep(&repo, &candidate)?;
            }
            Ok(Intake::Queued { candidate, base })
        })
        .await
    }

    /// A submission, to a reader who may see it ([`may_see_submission`]); to anyone else,
    /// the same 404 as for a missing one.
    pub async fn submission<'a>(
        &self,
        reader: impl Into<Reader<'a>>,
        id: i64,
    ) -> Result<SubmissionInfo, HubError> {
        let reader = reader.into();
        let public = self.config.public_read;
        let mut sub = self
            .store
            .submission(id)
            .await?
            .filter(|s| may_see_submission(reader, &s.worker, &s.status, public))
            .ok_or_else(|| HubError::NotFound(format!("submission {id}")))?;
        sub.faults = self.store.faults(id).await?;
        Ok(sub)
    }
}
