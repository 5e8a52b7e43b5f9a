//! Submissions as pages show them: a page of a list (everyone's, one worker's, or the
//! decided ones), and one submission with its claim, its log's tail, its jobs, its
//! verdicts and its ledger entries.

use sqlx::Row;

use super::super::submissions::submission_from;
use super::super::views::{
    JobView, Paged, Paging, SubmissionFilter, SubmissionRow, SubmissionView, VerdictView,
};
use super::cache::{ledger_ref, Indexed};
use super::chain::verdict_view;
use super::{corrupt, count, limit, measurements, party, Reader, StoreError};

/// Bytes of a run log shown on a submission's page.
const LOG_TAIL: usize = 8 * 1024;

/// The end of `log`, at most [`LOG_TAIL`] bytes, cut at a character boundary.
fn tail(log: &str) -> &str {
    let mut cut = log.len().saturating_sub(LOG_TAIL);
    while !log.is_char_boundary(cut) {
        cut += 1;
    }
    &log[cut..]
}

impl Reader {
    /// A page of the submissions `filter` holds, newest first.
    pub(super) async fn submission_rows(
        &self,
        filter: SubmissionFilter<'_>,
        paging: Paging,
    ) -> Result<Paged<SubmissionRow>, StoreError> {
        // A statement per filter rather than one with `$1 IS NULL OR …`, so each can use
        // its index. Pending is `queued`, `verifying` or `reverify` (`domain::submission`).
        let (worker, condition) = match filter {
            SubmissionFilter::All => (None, "$1 IS NULL"),
            SubmissionFilter::Worker(w) => (Some(w), "s.worker = $1"),
            SubmissionFilter::Decided(w) => (
                w,
                "(s.status NOT IN ('queued', 'verifying', 'reverify') OR s.worker = $1)",
            ),
        };
        let count_sql = format!("SELECT COUNT(*) AS n FROM submissions s WHERE {condition}");
        let page_sql = format!(
            "SELECT s.id, s.track, s.worker, wi.name AS worker_name, s.status, s.reason, \
             s.received_ms FROM submissions s LEFT JOIN identities wi ON wi.id = s.worker \
             WHERE {condition} ORDER BY s.id DESC LIMIT $2 OFFSET $3"
        );
        let total = count(
            &sqlx::query(&count_sql)
                .bind(worker)
                .fetch_one(&self.read)
                .await?,
            "n",
        )?;
        let (per_page, offset) = limit(paging);
        let items = sqlx::query(&page_sql)
            .bind(worker)
            .bind(per_page)
            .bind(offset)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                Ok(SubmissionRow {
                    id: r.try_get("id")?,
                    track: r.try_get("track")?,
                    worker: party(r, "worker", "worker_name")?.unwrap_or_default(),
                    status: r.try_get("status")?,
                    reason: r.try_get("reason")?,
                    received_ms: r.try_get("received_ms")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Paged {
            items,
            paging,
            total,
        })
    }

    /// One submission with its jobs and verdicts (the caller checks who may see it).
    pub(super) async fn submission_view(
        &self,
        id: i64,
    ) -> Result<Option<SubmissionView>, StoreError> {
        let Some(r) = sqlx::query(
            "SELECT s.*, wi.name AS worker_name, i.text AS idea_text FROM submissions s \
             LEFT JOIN identities wi ON wi.id = s.worker LEFT JOIN ideas i ON i.id = s.idea_id \
             WHERE s.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let info = submission_from(&r)?;
        let claim: swarmlab_proto::Claim =
            serde_json::from_str(&r.try_get::<String, _>("claim_json")?).map_err(corrupt)?;
        let log: String = r.try_get("log")?;
        let jobs = self.jobs_of(id).await?;
        let entries = self.ledger_refs(&info.track, id).await?;
        let verdicts = self.verdicts_of(id, &entries).await?;
        let chain_seq = sqlx::query(
            "SELECT seq FROM chain WHERE submission_id = $1 AND track = $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(id)
        .bind(&info.track)
        .fetch_optional(&self.read)
        .await?
        .map(|c| c.try_get("seq"))
        .transpose()?;
        let duplicate_of = match info.reason.as_deref() {
            Some("duplicate") => sqlx::query(crate::store::submissions::EARLIER_DIFF)
                .bind(&info.track)
                .bind(r.try_get::<Option<String>, _>("diff_hash")?)
                .bind(id)
                .fetch_optional(&self.read)
                .await?
                .map(|e| e.try_get("id"))
                .transpose()?,
            _ => None,
        };
        Ok(Some(SubmissionView {
            duplicate_of,
            submitter: party(&r, "worker", "worker_name")?.unwrap_or_default(),
            claimed: claim.metrics,
            idea: info
                .idea_id
                .map(|i| {
                    Ok::<_, StoreError>((
                        i,
                        r.try_get::<Option<String>, _>("idea_text")?
                            .unwrap_or_default(),
                    ))
                })
                .transpose()?,
            log_tail: tail(&log).to_string(),
            jobs,
            verdicts,
            chain_seq,
            ledger: entries.iter().map(ledger_ref).collect(),
            info,
        }))
    }

    /// A submission's verification jobs, with the reruns reported so far.
    async fn jobs_of(&self, id: i64) -> Result<Vec<JobView>, StoreError> {
        sqlx::query(
            "SELECT j.id, j.state, j.verifier, vi.name AS verifier_name, j.lease_deadline_ms, j.partial \
             FROM jobs j LEFT JOIN identities vi ON vi.id = j.verifier \
             WHERE j.submission_id = $1 ORDER BY j.id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|j| {
            let partial = match j.try_get::<Option<String>, _>("partial")? {
                Some(text) => {
                    let m = measurements(&text)?;
                    Some((m.candidate, m.head))
                }
                None => None,
            };
            let state: String = j.try_get("state")?;
            Ok(JobView {
                id: j.try_get("id")?,
                verifier: if state == "leased" {
                    party(j, "verifier", "verifier_name")?
                } else {
                    None
                },
                state,
                lease_deadline_ms: j.try_get("lease_deadline_ms")?,
                partial,
            })
        })
        .collect()
    }

    /// A submission's verdicts, each with its ledger entry.
    async fn verdicts_of(
        &self,
        id: i64,
        entries: &[Indexed],
    ) -> Result<Vec<VerdictView>, StoreError> {
        sqlx::query(
            "SELECT v.id, v.verifier, vi.name AS verifier_name, v.decision, v.reason, v.p_value, \
             v.measurements, v.at_ms AS verdict_at \
             FROM verdicts v LEFT JOIN identities vi ON vi.id = v.verifier \
             WHERE v.submission_id = $1 ORDER BY v.id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|v| verdict_view(v, v.try_get("id")?, entries))
        .collect()
    }
}
