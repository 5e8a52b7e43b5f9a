//! How values sit in columns: ids drawn from the `counters` table (portable, unlike
//! autoincrement), unsigned sequence numbers in signed columns, lists and records as JSON
//! text.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{StoreError, Tx};

/// The next id of `counter`, inside the transaction that uses it.
pub(super) async fn next_id(tx: &mut Tx<'_>, counter: &str) -> Result<i64, StoreError> {
    let row = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value")
        .bind(counter)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("value")?)
}

/// A yes-or-no column: a boolean where the database has them, 0 or 1 where it has not.
pub(super) fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

pub(super) fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative sequence {v}")))
}

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn json_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}
