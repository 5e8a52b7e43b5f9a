//! What a track still has before it (submissions waiting for a verdict, ideas waiting for a
//! worker) and what its head measured, read on a read-only connection for the convergence
//! the demo and the pages show.

use sqlx::Row;
use swarmlab_proto::Measurements;

use super::views::mean_sigma;
use super::{Store, StoreError};
use crate::domain::convergence::Backlog;

impl Store {
    /// The submissions of `track` queued or being verified, and its ideas open (or leased
    /// past their deadline) at `now`.
    pub async fn backlog(&self, track: &str, now: i64) -> Result<Backlog, StoreError> {
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM submissions WHERE track = $1 \
               AND status IN ('queued', 'verifying', 'reverify')) AS waiting, \
             (SELECT COUNT(*) FROM ideas WHERE track = $1 AND (state = 'open' \
               OR (state = 'leased' AND lease_deadline_ms <= $2))) AS open_ideas",
        )
        .bind(track)
        .bind(now)
        .fetch_one(&self.reader)
        .await?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(Backlog {
            waiting: count(row.try_get("waiting")?),
            open_ideas: count(row.try_get("open_ideas")?),
        })
    }

    /// The head's metric as verified: the mean of the candidate reruns of the verdict that
    /// put `head` on the chain, or of the head reruns kept for it (the baseline's); `None`
    /// before any verdict measured it.
    pub async fn head_value(&self, track: &str, head: &str) -> Result<Option<f64>, StoreError> {
        let accepted = sqlx::query(
            "SELECT v.measurements FROM chain c JOIN verdicts v ON v.submission_id = c.submission_id \
             WHERE c.track = $1 AND c.commit_id = $2 AND v.decision = 'accept' \
             ORDER BY v.id DESC LIMIT 1",
        )
        .bind(track)
        .bind(head)
        .fetch_optional(&self.reader)
        .await?;
        if let Some(row) = accepted {
            let text: String = row.try_get("measurements")?;
            let m: Measurements =
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            return Ok(mean_sigma(&m.candidate).map(|(mean, _)| mean));
        }
        let runs = self.head_runs(track, head).await?;
        let values: Vec<f64> = runs.into_iter().flat_map(|r| r.values).collect();
        Ok(mean_sigma(&values).map(|(mean, _)| mean))
    }
}
