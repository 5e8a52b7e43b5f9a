//! Identities: who holds which bearer token (stored as its SHA-256) and role.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use swarmlab_proto::Role;

use super::SqliteStore;
use crate::store::{Identity, StoreError};

pub(super) fn identity_from(row: &SqliteRow) -> Result<Identity, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Identity {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role `{role}`")))?,
        public_key: row.try_get("public_key")?,
    })
}

pub(super) async fn create(
    s: &SqliteStore,
    identity: &Identity,
    token_sha256: &str,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = s.pool.begin().await?;
    sqlx::query(
        "INSERT INTO identities (id, name, role, public_key, token_sha256, created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&identity.id)
    .bind(&identity.name)
    .bind(identity.role.as_str())
    .bind(&identity.public_key)
    .bind(token_sha256)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn by_token(
    s: &SqliteStore,
    token_sha256: &str,
) -> Result<Option<Identity>, StoreError> {
    sqlx::query("SELECT * FROM identities WHERE token_sha256 = $1")
        .bind(token_sha256)
        .fetch_optional(&s.pool)
        .await?
        .map(|r| identity_from(&r))
        .transpose()
}

pub(super) async fn get(s: &SqliteStore, id: &str) -> Result<Option<Identity>, StoreError> {
    sqlx::query("SELECT * FROM identities WHERE id = $1")
        .bind(id)
        .fetch_optional(&s.pool)
        .await?
        .map(|r| identity_from(&r))
        .transpose()
}
