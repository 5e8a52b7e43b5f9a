//! Recording a verifier's report: partial measurements, a fault (`faults.rs`), or a verdict,
//! and what the verdict does to its submission as `acceptance::effect` says: a rejection, a head move by
//! compare-and-swap on the parent with its credit (`domain::credit`) in the ledger entry (or,
//! when the head moved meanwhile, a wait for the rebase),
//! or, for a re-check of a submission already on the chain, nothing but a dispute. A verdict
//! keeps the head's reruns per hardware class, the sample the noise is estimated from.
//! Reports on canary jobs are recorded in `canaries.rs`.

use sqlx::Row;
use swarmlab_proto::{Credit, CreditedIdea, EventBody, Measurements};

use super::columns::{flag, next_id, to_json};
use super::jobs::job_from;
use super::standing::refuse_suspended;
use super::tracks::{snapshot_in, track_in, Snapshot};
use super::{Dialect, Store, StoreError, Tx};
use crate::domain::acceptance::{effect, Effect, Judgement, Verdict};
use crate::domain::credit;
use crate::domain::job::JobRecord;
use crate::domain::noise::HeadRuns;
use crate::domain::report::{Report, ReportOutcome};

/// A verdict as recorded: its id and its ledger entry's sequence number.
struct Recorded {
    id: i64,
    seq: u64,
}

impl Store {
    /// Records a report; the first decisive report of a job wins, later ones conflict.
    pub async fn record_report(
        &self,
        report: &Report,
        now: i64,
    ) -> Result<ReportOutcome, StoreError> {
        let mut tx = self.begin().await?;
        refuse_suspended(&mut tx, &report.verifier).await?;
        let job = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(report.job_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(job) = job else {
            return self.record_canary_report(tx, report, now).await;
        };
        let job = job_from(&job)?;
        check_reportable(&mut tx, &job, &report.verifier).await?;
        match &report.judgement {
            Judgement::Continue { .. } => {
                sqlx::query("UPDATE jobs SET partial = $1 WHERE id = $2")
                    .bind(to_json(&report.measurements))
                    .bind(job.id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(ReportOutcome::Continued)
            }
            Judgement::Fault => self.record_fault(tx, &job, report, now).await,
            Judgement::Verdict(verdict) => {
                self.record_verdict(tx, &job, report, verdict, now).await
            }
        }
    }

    /// Records a verdict, its head reruns and its ledger entry, and applies its effect.
    async fn record_verdict(
        &self,
        mut tx: Tx<'_>,
        job: &JobRecord,
        report: &Report,
        verdict: &Verdict,
        now: i64,
    ) -> Result<ReportOutcome, StoreError> {
        let recorded = self
            .insert_verdict(&mut tx, job, report, verdict, now)
            .await?;
        let submission = sqlx::query("SELECT worker, status FROM submissions WHERE id = $1")
            .bind(job.submission_id)
            .fetch_one(&mut *tx)
            .await?;
        let worker: String = submission.try_get("worker")?;
        let on_chain = submission.try_get::<String, _>("status")? == "accepted";
        let effect = effect(verdict, job.recheck_of.is_some(), on_chain);
        // The track's new state, for the cache once the head move is committed.
        let mut moved_track = None;
        let outcome = match effect {
            Effect::Confirm => ReportOutcome::Recorded {
                accepted: true,
                reason: None,
            },
            Effect::Dispute => {
                sqlx::query("UPDATE submissions SET disputed_by = $1 WHERE id = $2")
                    .bind(recorded.id)
                    .bind(job.submission_id)
                    .execute(&mut *tx)
                    .await?;
                ReportOutcome::Recorded {
                    accepted: false,
                    reason: verdict.reason(),
                }
            }
            Effect::Reject { reason, charge } => {
                sqlx::query(
                    "UPDATE submissions SET status = 'rejected', reason = $1 WHERE id = $2",
                )
                .bind(reason.as_str())
                .bind(job.submission_id)
                .execute(&mut *tx)
                .await?;
                if charge {
                    self.shrink_quota(&mut tx, &worker, 1).await?;
                }
                ReportOutcome::Rejected(reason)
            }
            Effect::MoveHead => match self.move_head(&mut tx, job, report, &recorded, now).await? {
                Some(moved) => {
                    moved_track = Some(moved);
                    self.grow_quota(&mut tx, &worker).await?;
                    ReportOutcome::Accepted {
                        head: job.candidate.clone(),
                    }
                }
                None => {
                    sqlx::query("UPDATE submissions SET status = 'reverify' WHERE id = $1")
                        .bind(job.submission_id)
                        .execute(&mut *tx)
                        .await?;
                    ReportOutcome::Reverify {
                        submission_id: job.submission_id,
                    }
                }
            },
        };
        // Held until the commit, the write lock keeps other processes' changes after it.
        let generation = self.tracks.generation();
        tx.commit().await?;
        if let Some(moved) = moved_track {
            self.tracks.put(moved, generation);
        }
        Ok(outcome)
    }

    /// Inserts the verdict with the head reruns it measured, ends the job and appends the
    /// verdict's ledger entry.
    async fn insert_verdict(
        &self,
        tx: &mut Tx<'_>,
        job: &JobRecord,
        report: &Report,
        verdict: &Verdict,
        now: i64,
    ) -> Result<Recorded, StoreError> {
        let track = track_in(tx, &job.track).await?;
        let id = next_id(tx, "verdict").await?;
        let reason = verdict.reason().map(|r| r.as_str().to_string());
        sqlx::query(
            "INSERT INTO verdicts (id, job_id, submission_id, verifier, decision, reason, p_value, measurements, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(job.id)
        .bind(job.submission_id)
        .bind(&report.verifier)
        .bind(verdict.decision())
        .bind(&reason)
        .bind(verdict.p_value())
        .bind(to_json(&report.measurements))
        .bind(now)
        // `p_value` may be missing: prepared afresh, as `ideas.rs` says.
        .persistent(false)
        .execute(&mut **tx)
        .await?;
        // The head's reruns measure the base this job was verified against, whatever the head
        // is now.
        let head: Vec<f64> = report
            .measurements
            .head
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let reruns = match self.dialect {
            Dialect::Sqlite => "SELECT $1, $2, $3, $4, key, value FROM json_each($5)",
            Dialect::Postgres => {
                "SELECT $1, $2, $3, $4, n - 1, CAST(v AS DOUBLE PRECISION) \
                 FROM jsonb_array_elements_text($5::jsonb) WITH ORDINALITY AS h (v, n)"
            }
        };
        sqlx::query(&format!(
            "INSERT INTO head_measurements (track, commit_id, hardware_class, verdict_id, rerun, value) {reruns}"
        ))
        .bind(&job.track)
        .bind(&job.base)
        .bind(&report.measurements.hardware_class)
        .bind(id)
        .bind(to_json(&head))
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE jobs SET state = 'done', lease_deadline_ms = NULL WHERE id = $1")
            .bind(job.id)
            .execute(&mut **tx)
            .await?;
        let event = EventBody::Verdict {
            verdict_id: id,
            submission_id: job.submission_id,
            candidate: job.candidate.clone(),
            base: job.base.clone(),
            decision: verdict.decision().to_string(),
            reason,
            p_value: verdict.p_value(),
            rule: track.rule,
            measurements: report.measurements.clone(),
            verifier_signature: report.signature.clone(),
            prior: report.prior.clone(),
        };
        let seq = self.append(tx, &job.track, now, event).await?.seq;
        Ok(Recorded { id, seq })
    }

    /// Moves the head from the job's base to its candidate by compare-and-swap, with its
    /// chain entry and ledger entry; the track's new state, or `None` when the head is no
    /// longer the base.
    async fn move_head(
        &self,
        tx: &mut Tx<'_>,
        job: &JobRecord,
        report: &Report,
        verdict: &Recorded,
        now: i64,
    ) -> Result<Option<Snapshot>, StoreError> {
        let moved = sqlx::query("UPDATE tracks SET head = $1 WHERE name = $2 AND head = $3")
            .bind(&job.candidate)
            .bind(&job.track)
            .bind(&job.base)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if moved != 1 {
            return Ok(None);
        }
        // Read before the new chain entry: what is on the chain now is what came earlier.
        let credit = credit_in(tx, job, report).await?;
        let seq: i64 = sqlx::query("SELECT MAX(seq) AS m FROM chain WHERE track = $1")
            .bind(&job.track)
            .fetch_one(&mut **tx)
            .await?
            .try_get("m")?;
        sqlx::query("INSERT INTO chain (track, seq, commit_id, parent, submission_id, at_ms) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&job.track)
            .bind(seq + 1)
            .bind(&job.candidate)
            .bind(&job.base)
            .bind(job.submission_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE submissions SET status = 'accepted', reason = NULL WHERE id = $1")
            .bind(job.submission_id)
            .execute(&mut **tx)
            .await?;
        let event = EventBody::HeadMove {
            from: job.base.clone(),
            to: job.candidate.clone(),
            submission_id: job.submission_id,
            verdict_seq: verdict.seq,
            credit: Some(credit),
        };
        self.append(tx, &job.track, now, event).await?;
        snapshot_in(tx, &job.track).await
    }

    /// The measurements of every verdict on a job of `track` against the head `base`, other
    /// than `job`, by verdict id, leaving out those of a suspended verifier: what the prior
    /// of a job's test is gathered from (`domain/prior.rs` keeps the hardware class's).
    pub async fn earlier_reports(
        &self,
        track: &str,
        base: &str,
        job: i64,
    ) -> Result<Vec<(i64, Measurements)>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.id, v.measurements FROM verdicts v JOIN jobs j ON j.id = v.job_id \
             LEFT JOIN verifier_standing s ON s.verifier = v.verifier \
             WHERE j.track = $1 AND j.base = $2 AND j.id <> $3 AND s.suspended_ms IS NULL \
             ORDER BY v.id",
        )
        .bind(track)
        .bind(base)
        .bind(job)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                let text: String = row.try_get("measurements")?;
                let m = serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("verdict {id}: measurements: {e}")))?;
                Ok((id, m))
            })
            .collect()
    }

    /// The head reruns kept for `commit` of `track`, per hardware class, by class name.
    pub async fn head_runs(&self, track: &str, commit: &str) -> Result<Vec<HeadRuns>, StoreError> {
        let rows = sqlx::query(
            "SELECT hardware_class, value FROM head_measurements WHERE track = $1 AND commit_id = $2 \
             ORDER BY hardware_class, verdict_id, rerun",
        )
        .bind(track)
        .bind(commit)
        .fetch_all(&self.reader)
        .await?;
        let mut out: Vec<HeadRuns> = Vec::new();
        for row in rows {
            let class: String = row.try_get("hardware_class")?;
            let value: f64 = row.try_get("value")?;
            match out.last_mut() {
                Some(runs) if runs.hardware_class == class => runs.values.push(value),
                _ => out.push(HeadRuns {
                    hardware_class: class,
                    values: vec![value],
                }),
            }
        }
        Ok(out)
    }
}

/// The credit of the head move `job`'s verdict makes (`domain::credit`): its submitter, the
/// idea its claim named with the idea's author, and whether an earlier chain commit's
/// submission made the same change.
async fn credit_in(
    tx: &mut Tx<'_>,
    job: &JobRecord,
    report: &Report,
) -> Result<Credit, StoreError> {
    let row = sqlx::query(
        "SELECT s.worker, s.idea_id, i.author, EXISTS (SELECT 1 FROM chain c \
         JOIN submissions e ON e.id = c.submission_id \
         WHERE c.track = s.track AND e.diff_hash = s.diff_hash AND e.id <> s.id) AS on_chain \
         FROM submissions s LEFT JOIN ideas i ON i.id = s.idea_id AND i.track = s.track \
         WHERE s.id = $1",
    )
    .bind(job.submission_id)
    .fetch_one(&mut **tx)
    .await?;
    let goal = track_in(tx, &job.track).await?.rule.goal;
    let finder: String = row.try_get("worker")?;
    let named = match (
        row.try_get::<Option<i64>, _>("idea_id")?,
        row.try_get::<Option<String>, _>("author")?,
    ) {
        (Some(id), Some(author)) => Some(CreditedIdea { id, author }),
        _ => None,
    };
    Ok(credit::credit(credit::Move {
        finder: &finder,
        measurements: &report.measurements,
        goal,
        named_idea: named.as_ref(),
        diff_on_chain: flag(&row, "on_chain")?,
    }))
}

/// Refuses a report on a job already decided, never leased to `verifier`, or given back by
/// it as its own fault.
async fn check_reportable(
    tx: &mut Tx<'_>,
    job: &JobRecord,
    verifier: &str,
) -> Result<(), StoreError> {
    if job.state == "done" {
        return Err(StoreError::Conflict(format!(
            "job {} is already decided",
            job.id
        )));
    }
    let held = sqlx::query("SELECT outcome FROM job_leases WHERE job_id = $1 AND verifier = $2")
        .bind(job.id)
        .bind(verifier)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(held) = held else {
        return Err(StoreError::Forbidden(format!(
            "job {} was never leased to you",
            job.id
        )));
    };
    if held.try_get::<Option<String>, _>("outcome")?.as_deref() == Some("fault") {
        return Err(StoreError::Conflict(format!(
            "you reported a fault on job {}; it was reissued",
            job.id
        )));
    }
    Ok(())
}
