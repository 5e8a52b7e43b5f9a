//! A track's chain as pages show it: each entry with its submitter, the idea it tried, the
//! verdict that accepted it, and its ledger entries (the head move and any promotions).

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::super::views::{mean_sigma, ChainRow, LedgerRef, VerdictView};
use super::cache::{ledger_ref, Indexed};
use super::{measurements, party, Reader, StoreError};

impl Reader {
    /// Chain entries `from_seq` to `to_seq` of `track`, newest first.
    pub(super) async fn chain_rows(
        &self,
        track: &str,
        from_seq: i64,
        to_seq: i64,
    ) -> Result<Vec<ChainRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.seq, c.commit_id, c.parent, c.submission_id, c.at_ms, \
             s.worker, wi.name AS worker_name, s.idea_id, i.text AS idea_text, \
             v.id AS verdict_id, v.verifier, vi.name AS verifier_name, v.decision, v.reason, \
             v.p_value, v.measurements, v.at_ms AS verdict_at \
             FROM chain c \
             LEFT JOIN submissions s ON s.id = c.submission_id \
             LEFT JOIN identities wi ON wi.id = s.worker \
             LEFT JOIN ideas i ON i.id = s.idea_id \
             LEFT JOIN verdicts v ON v.id = (SELECT MAX(v2.id) FROM verdicts v2 \
               JOIN jobs j2 ON j2.id = v2.job_id WHERE v2.submission_id = c.submission_id \
               AND v2.decision = 'accept' AND j2.candidate = c.commit_id) \
             LEFT JOIN identities vi ON vi.id = v.verifier \
             WHERE c.track = $1 AND c.seq >= $2 AND c.seq <= $3 ORDER BY c.seq DESC",
        )
        .bind(track)
        .bind(from_seq)
        .bind(to_seq)
        .fetch_all(&self.read)
        .await?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<Option<i64>, _>("submission_id"))
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?;
        let (mut by_submission, promotions) = self
            .with_ledger(track, |index| {
                let entries: HashMap<i64, Vec<Indexed>> = ids
                    .iter()
                    .filter_map(|id| Some((*id, index.by_submission.get(id)?.clone())))
                    .collect();
                (entries, index.promotions.clone())
            })
            .await?;
        let main = promotions.last().map(|p| p.commit.clone());
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let submission_id: Option<i64> = row.try_get("submission_id")?;
            let commit: String = row.try_get("commit_id")?;
            let entries = submission_id
                .and_then(|id| by_submission.remove(&id))
                .unwrap_or_default();
            let verdict = match row.try_get::<Option<i64>, _>("verdict_id")? {
                Some(id) => Some(verdict_view(row, id, &entries)?),
                None => None,
            };
            let mut ledger: Vec<LedgerRef> = entries
                .iter()
                .filter(|e| e.kind == "head_move")
                .map(ledger_ref)
                .collect();
            ledger.extend(
                promotions
                    .iter()
                    .filter(|p| p.commit == commit)
                    .map(|p| LedgerRef {
                        seq: p.seq,
                        kind: "promotion",
                        hash: p.hash.clone(),
                    }),
            );
            let idea = match row.try_get::<Option<i64>, _>("idea_id")? {
                Some(id) => Some((
                    id,
                    row.try_get::<Option<String>, _>("idea_text")?
                        .unwrap_or_default(),
                )),
                None => None,
            };
            out.push(ChainRow {
                seq: row.try_get("seq")?,
                on_main: main.as_deref() == Some(commit.as_str()),
                commit,
                parent: row.try_get("parent")?,
                at_ms: row.try_get("at_ms")?,
                submission_id,
                submitter: party(row, "worker", "worker_name")?,
                idea,
                value: verdict
                    .as_ref()
                    .and_then(|v| mean_sigma(&v.candidate))
                    .map(|m| m.0),
                delta: verdict
                    .as_ref()
                    .and_then(|v| Some(mean_sigma(&v.candidate)?.0 - mean_sigma(&v.head)?.0)),
                description: None,
                verdict,
                ledger,
            });
        }
        Ok(out)
    }
}

/// `measurements` and `verdict_at` columns.
/// A verdict from a row with `verifier`, `verifier_name`, `decision`, `reason`, `p_value`,
/// `measurements` and `verdict_at` columns.
pub(super) fn verdict_view(
    row: &AnyRow,
    id: i64,
    entries: &[Indexed],
) -> Result<VerdictView, StoreError> {
    let m = measurements(&row.try_get::<String, _>("measurements")?)?;
    Ok(VerdictView {
        id,
        verifier: party(row, "verifier", "verifier_name")?.unwrap_or_default(),
        decision: row.try_get("decision")?,
        reason: row.try_get("reason")?,
        p_value: row.try_get("p_value")?,
        hardware_class: m.hardware_class,
        unsandboxed: m.unsandboxed,
        candidate: m.candidate,
        head: m.head,
        pairs: m.pairs,
        at_ms: row.try_get("verdict_at")?,
        ledger: entries
            .iter()
            .find(|e| e.kind == "verdict" && e.verdict_id == Some(id))
            .map(ledger_ref),
    })
}
