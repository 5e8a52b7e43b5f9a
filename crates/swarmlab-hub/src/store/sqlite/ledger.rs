//! The signed ledger: each entry carries the hash of the previous one and the hub's
//! signature, appended inside the transaction of the change it records.

use sqlx::Row;
use swarmlab_proto::{EventBody, LedgerEntry, SigningKey};

use super::{to_i64, to_u64, SqliteStore, Tx};
use crate::ledger;
use crate::store::StoreError;

/// Appends the next entry of `track`'s ledger inside `tx`; returns its sequence number.
pub(super) async fn append(
    s: &SqliteStore,
    tx: &mut Tx<'_>,
    track: &str,
    now: i64,
    event: EventBody,
) -> Result<u64, StoreError> {
    Ok(append_signed(&s.key, tx, track, now, event).await?.seq)
}

/// Seals `event` as the next entry of `track`'s ledger with `key` and appends it inside `tx`.
/// The one place a ledger line is written.
pub(crate) async fn append_signed(
    key: &SigningKey,
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
    let entry = ledger::seal(
        key,
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

pub(super) async fn lines(s: &SqliteStore, track: &str) -> Result<Vec<String>, StoreError> {
    sqlx::query("SELECT line FROM ledger WHERE track = $1 ORDER BY seq")
        .bind(track)
        .fetch_all(s.reader())
        .await?
        .iter()
        .map(|r| Ok(r.try_get("line")?))
        .collect()
}
