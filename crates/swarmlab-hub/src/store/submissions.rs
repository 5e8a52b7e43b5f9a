//! Submissions: recording one after intake (replay and duplicate checks inside the
//! transaction), reading, re-queueing after a rebase, and ending one outside a verdict.

use sqlx::any::AnyRow;
use sqlx::Row;
use swarmlab_proto::{Claim, EventBody, Measurements, SubmissionInfo};

use super::columns::{next_id, to_json};
use super::jobs::insert_job;
use super::tracks::track_in;
use super::{Store, StoreError, Tx};
use crate::domain::intake::Intake;
use crate::domain::intake_reason::IntakeReason;
use crate::domain::submission::NewSubmission;

pub(super) fn submission_from(row: &AnyRow) -> Result<SubmissionInfo, StoreError> {
    Ok(SubmissionInfo {
        id: row.try_get("id")?,
        track: row.try_get("track")?,
        worker: row.try_get("worker")?,
        idea_id: row.try_get("idea_id")?,
        parent: row.try_get("parent")?,
        commit: row.try_get("commit_id")?,
        candidate: row.try_get("candidate")?,
        base: row.try_get("base")?,
        status: row.try_get("status")?,
        reason: row.try_get("reason")?,
        received_ms: row.try_get("received_ms")?,
        disputed_by: row.try_get("disputed_by")?,
        reruns: None,
        faults: Vec::new(),
    })
}

pub(super) async fn submission_in(tx: &mut Tx<'_>, id: i64) -> Result<SubmissionInfo, StoreError> {
    let row = sqlx::query("SELECT * FROM submissions WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("submission {id}")))?;
    submission_from(&row)
}

/// The idea a claim names when it is one of `track`'s ideas: what the submission records,
/// its ledger entry says and its head move may credit. Any other number names nothing.
async fn named_idea(
    tx: &mut Tx<'_>,
    track: &str,
    claimed: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    let Some(id) = claimed else {
        return Ok(None);
    };
    Ok(
        sqlx::query("SELECT id FROM ideas WHERE id = $1 AND track = $2")
            .bind(id)
            .bind(track)
            .fetch_optional(&mut **tx)
            .await?
            .map(|_| id),
    )
}

/// The first submission of a track with the same normalised diff (`$3`: received before this
/// id; intake passes one past every id).
pub(super) const EARLIER_DIFF: &str = "SELECT id FROM submissions WHERE track = $1 AND diff_hash = $2 AND status <> 'invalid' AND id < $3 ORDER BY id LIMIT 1";

impl Store {
    /// Whether an earlier submission of `track` made the change whose normalised diff hashes
    /// to `diff_hash` (checked again as a submission is recorded).
    pub async fn duplicate(&self, track: &str, diff_hash: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query(EARLIER_DIFF)
            .bind(track)
            .bind(diff_hash)
            .bind(i64::MAX)
            .fetch_optional(&self.reader)
            .await?
            .is_some())
    }

    /// Whether `identity` used `nonce` before.
    pub async fn nonce_used(&self, identity: &str, nonce: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT nonce FROM nonces WHERE identity = $1 AND nonce = $2")
                .bind(identity)
                .bind(nonce)
                .fetch_optional(&self.reader)
                .await?
                .is_some(),
        )
    }

    /// Records a submission: replay, duplicate and quota checks, a job when queued, a ledger
    /// entry.
    pub async fn record_submission(
        &self,
        new: &NewSubmission,
        now: i64,
    ) -> Result<SubmissionInfo, StoreError> {
        let mut tx = self.begin().await?;
        track_in(&mut tx, &new.track).await?;
        let (intake, replay) = self.final_intake(&mut tx, new).await?;
        let (status, reason, candidate, base) = match &intake {
            Intake::Queued { candidate, base } => {
                ("queued", None, Some(candidate.clone()), Some(base.clone()))
            }
            Intake::Refused(reason) => (reason.status(), Some(reason.as_str()), None, None),
        };
        let idea_id = named_idea(&mut tx, &new.track, new.claim.idea_id).await?;
        let id = next_id(&mut tx, "submission").await?;
        sqlx::query(
            "INSERT INTO submissions (id, track, worker, idea_id, parent, commit_id, candidate, base, diff_hash, claim_json, signature, log, status, reason, received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(id)
        .bind(&new.track)
        .bind(&new.worker)
        .bind(idea_id)
        .bind(&new.claim.parent)
        .bind(&new.claim.commit)
        .bind(&candidate)
        .bind(&base)
        .bind(&new.diff_hash)
        .bind(to_json(&new.claim))
        .bind(&new.signature)
        .bind(&new.log)
        .bind(status)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let (Some(candidate), Some(base)) = (&candidate, &base) {
            insert_job(&mut tx, id, &new.track, candidate, base, now).await?;
        }
        if let (Some(idea_id), false) = (idea_id, replay) {
            // The idea this tried is done if the submitter held it.
            sqlx::query(
                "UPDATE ideas SET state = 'done', lease_deadline_ms = NULL WHERE id = $1 AND track = $2 AND state = 'leased' AND lease_holder = $3",
            )
            .bind(idea_id)
            .bind(&new.track)
            .bind(&new.worker)
            .execute(&mut *tx)
            .await?;
        }
        let event = EventBody::Submission {
            submission_id: id,
            worker: new.worker.clone(),
            parent: new.claim.parent.clone(),
            commit: new.claim.commit.clone(),
            diff_hash: new.diff_hash.clone(),
            status: status.to_string(),
            reason: reason.map(str::to_string),
            claim_signature: new.signature.clone(),
            idea_id,
        };
        self.append(&mut tx, &new.track, now, event).await?;
        let info = submission_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(info)
    }

    /// Intake's judgement after the checks only the transaction can make: a replayed nonce
    /// (else the nonce is spent), an earlier submission of the same diff, and the worker's
    /// quota. Also whether it was a replay.
    async fn final_intake(
        &self,
        tx: &mut Tx<'_>,
        new: &NewSubmission,
    ) -> Result<(Intake, bool), StoreError> {
        let replay = sqlx::query("SELECT nonce FROM nonces WHERE identity = $1 AND nonce = $2")
            .bind(&new.worker)
            .bind(&new.claim.nonce)
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
        if replay {
            return Ok((IntakeReason::Replay.into(), true));
        }
        sqlx::query("INSERT INTO nonces (identity, nonce) VALUES ($1, $2)")
            .bind(&new.worker)
            .bind(&new.claim.nonce)
            .execute(&mut **tx)
            .await?;
        if !matches!(new.intake, Intake::Queued { .. }) {
            return Ok((new.intake.clone(), false));
        }
        // The earliest receipt of a normalised diff wins; later ones are duplicates.
        let earlier = sqlx::query(EARLIER_DIFF)
            .bind(&new.track)
            .bind(&new.diff_hash)
            .bind(i64::MAX)
            .fetch_optional(&mut **tx)
            .await?;
        if earlier.is_some() {
            return Ok((IntakeReason::Duplicate.into(), false));
        }
        // Checked before intake too; this one holds against concurrent submissions.
        let quota = self.quota_in(tx, &new.worker, &new.track).await?;
        quota.check().map_err(StoreError::Quota)?;
        Ok((new.intake.clone(), false))
    }

    /// A submission by id, with the reruns its latest verdict took.
    pub async fn submission(&self, id: i64) -> Result<Option<SubmissionInfo>, StoreError> {
        let Some(mut info) = sqlx::query("SELECT * FROM submissions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .map(|r| submission_from(&r))
            .transpose()?
        else {
            return Ok(None);
        };
        let latest = sqlx::query(
            "SELECT measurements FROM verdicts WHERE submission_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        if let Some(row) = latest {
            let text: String = row.try_get("measurements")?;
            let m: Measurements = serde_json::from_str(&text).map_err(|e| {
                StoreError::Corrupt(format!("measurements of submission {id}: {e}"))
            })?;
            info.reruns = u32::try_from(m.reruns()).ok();
        }
        Ok(Some(info))
    }

    /// The claim a submission was made with.
    pub async fn claim(&self, id: i64) -> Result<Option<Claim>, StoreError> {
        let Some(row) = sqlx::query("SELECT claim_json FROM submissions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(None);
        };
        let text: String = row.try_get("claim_json")?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("claim of submission {id}: {e}")))
    }

    /// Submissions waiting to be rebased onto a head that moved.
    pub async fn reverify_pending(&self) -> Result<Vec<SubmissionInfo>, StoreError> {
        sqlx::query("SELECT * FROM submissions WHERE status = 'reverify' ORDER BY id")
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(submission_from)
            .collect()
    }

    /// A `reverify` submission rebased: a new job for `candidate` against `base`.
    pub async fn requeue(
        &self,
        submission_id: i64,
        candidate: &str,
        base: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let sub = submission_in(&mut tx, submission_id).await?;
        if sub.status != "reverify" {
            return Err(StoreError::Conflict(format!(
                "submission {submission_id} is {}, not waiting for re-verification",
                sub.status
            )));
        }
        sqlx::query(
            "UPDATE submissions SET status = 'queued', candidate = $1, base = $2 WHERE id = $3",
        )
        .bind(candidate)
        .bind(base)
        .bind(submission_id)
        .execute(&mut *tx)
        .await?;
        insert_job(&mut tx, submission_id, &sub.track, candidate, base, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a submission outside a verdict (its rebase conflicts), with a ledger entry.
    pub async fn reject_submission(
        &self,
        submission_id: i64,
        reason: IntakeReason,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let sub = submission_in(&mut tx, submission_id).await?;
        if matches!(sub.status.as_str(), "accepted" | "rejected" | "invalid") {
            return Err(StoreError::Conflict(format!(
                "submission {submission_id} is already {}",
                sub.status
            )));
        }
        sqlx::query("UPDATE submissions SET status = $1, reason = $2 WHERE id = $3")
            .bind(reason.status())
            .bind(reason.as_str())
            .bind(submission_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE jobs SET state = 'done' WHERE submission_id = $1")
            .bind(submission_id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT diff_hash, signature FROM submissions WHERE id = $1")
            .bind(submission_id)
            .fetch_one(&mut *tx)
            .await?;
        let event = EventBody::Submission {
            submission_id,
            worker: sub.worker.clone(),
            parent: sub.parent.clone(),
            commit: sub.commit.clone(),
            diff_hash: row.try_get("diff_hash")?,
            status: reason.status().to_string(),
            reason: Some(reason.as_str().to_string()),
            claim_signature: row.try_get("signature")?,
            idea_id: sub.idea_id,
        };
        self.append(&mut tx, &sub.track, now, event).await?;
        tx.commit().await?;
        Ok(())
    }
}
