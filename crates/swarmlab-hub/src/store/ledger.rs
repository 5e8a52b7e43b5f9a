//! The signed ledger: each entry carries the hash of the previous one and the hub's
//! signature, sealed (`domain::ledger::seal`) and appended inside the transaction of the
//! change it records. This is the one place a ledger line is written, and the key that
//! signs it never leaves the store.

use sqlx::Row;
use swarmlab_proto::{EventBody, LedgerEntry};

use super::columns::{to_i64, to_u64};
use super::{Store, StoreError, Tx};
use crate::domain::ledger::seal;

impl Store {
    /// Seals `event` as the next entry of `track`'s ledger and appends it inside `tx`.
    pub(super) async fn append(
        &self,
        tx: &mut Tx<'_>,
        track: &str,
        now: i64,
        event: EventBody,
    ) -> Result<LedgerEntry, StoreError> {
        let last =
            sqlx::query("SELECT seq, hash FROM ledger WHERE track = $1 ORDER BY seq DESC LIMIT 1")
                .bind(track)
                .fetch_optional(&mut **tx)
                .await?;
        let prev = match &last {
            Some(row) => Some((
                to_u64(row.try_get("seq")?)?,
                row.try_get::<String, _>("hash")?,
            )),
            None => None,
        };
        let entry = seal(
            &self.key,
            track,
            prev.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
            now,
            event,
        );
        sqlx::query("INSERT INTO ledger (track, seq, hash, line) VALUES ($1, $2, $3, $4)")
            .bind(track)
            .bind(to_i64(entry.seq))
            .bind(&entry.hash)
            .bind(entry.to_line())
            .execute(&mut **tx)
            .await?;
        Ok(entry)
    }

    /// The track's ledger, one exported line per entry, in order.
    pub async fn ledger(&self, track: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query("SELECT line FROM ledger WHERE track = $1 ORDER BY seq")
            .bind(track)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("line")?))
            .collect()
    }
}
