//! Promotions: a maintainer's move of `main` to a chain commit, recorded as a ledger entry in
//! its own transaction on the writer, like every other entry, so that entries never
//! interleave. Whether the commit is on the chain is checked again inside it.

use swarmlab_proto::{EventBody, LedgerEntry};

use super::{Store, StoreError};

impl Store {
    /// Appends a promotion of `commit`, chain entry `chain_seq`, to the track's ledger.
    pub async fn record_promotion(
        &self,
        track: &str,
        commit: &str,
        chain_seq: u64,
        by: &str,
        now: i64,
    ) -> Result<LedgerEntry, StoreError> {
        let mut tx = self.begin().await?;
        let seq = i64::try_from(chain_seq).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let on_chain =
            sqlx::query("SELECT seq FROM chain WHERE track = $1 AND seq = $2 AND commit_id = $3")
                .bind(track)
                .bind(seq)
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
        let entry = self.append(&mut tx, track, now, event).await?;
        tx.commit().await?;
        Ok(entry)
    }
}
