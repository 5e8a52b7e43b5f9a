//! Promotion's side of [`SqliteViews`]: is a commit on the chain, and the promotion's
//! ledger entry, appended on the store's single writer so that entries never interleave.

use sqlx::Row;
use swarmlab_proto::{EventBody, LedgerEntry};

use super::{corrupt, SqliteViews};
use crate::store::sqlite::ledger::append_signed;
use crate::store::StoreError;

impl SqliteViews {
    /// The chain entry of `commit` on `track`, if it is on the chain.
    pub(crate) async fn chain_seq_of(
        &self,
        track: &str,
        commit: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query(
            "SELECT seq FROM chain WHERE track = $1 AND commit_id = $2 ORDER BY seq LIMIT 1",
        )
        .bind(track)
        .bind(commit)
        .fetch_optional(&self.read)
        .await?
        .map(|r| r.try_get("seq"))
        .transpose()?)
    }

    /// Appends a promotion to the track's ledger, in one transaction on the store's writer.
    pub(crate) async fn record_promotion(
        &self,
        track: &str,
        commit: &str,
        chain_seq: u64,
        by: &str,
        now: i64,
    ) -> Result<LedgerEntry, StoreError> {
        let mut tx = self.write.begin().await?;
        let on_chain =
            sqlx::query("SELECT seq FROM chain WHERE track = $1 AND seq = $2 AND commit_id = $3")
                .bind(track)
                .bind(i64::try_from(chain_seq).map_err(corrupt)?)
                .bind(commit)
                .fetch_optional(&mut *tx)
                .await?;
        if on_chain.is_none() {
            return Err(StoreError::Conflict(format!(
                "{commit} is not entry {chain_seq} of the chain of track `{track}`"
            )));
        }
        let event = EventBody::Promotion {
            commit: commit.to_string(),
            chain_seq,
            by: by.to_string(),
        };
        let entry = append_signed(&self.key, &mut tx, track, now, event).await?;
        tx.commit().await?;
        Ok(entry)
    }
}
