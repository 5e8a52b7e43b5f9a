//! Identities: who holds which bearer token (stored as its SHA-256) and role.
//!
//! Every request resolves its token, so known tokens are kept in memory: a token is never
//! reissued and an identity is never changed or deleted, so an entry cannot go stale. Code
//! that comes to change or delete identities must drop their entries in the same place.
//! Unknown tokens are not remembered (anyone can send those).

use std::collections::HashMap;
use std::sync::RwLock;

use sqlx::any::AnyRow;
use sqlx::Row;
use swarmlab_proto::Role;

use super::{Store, StoreError, Tx};
use crate::domain::identity::Identity;

/// Identities by token hash.
#[derive(Default)]
pub(super) struct TokenCache(RwLock<HashMap<String, Identity>>);

/// Past this many identities the cache starts over rather than grow without bound.
const CACHE_LIMIT: usize = 100_000;

impl TokenCache {
    fn get(&self, token_sha256: &str) -> Option<Identity> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map itself is whole.
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        map.get(token_sha256).cloned()
    }

    fn put(&self, token_sha256: &str, identity: &Identity) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHE_LIMIT {
            map.clear();
        }
        map.insert(token_sha256.to_string(), identity.clone());
    }
}

fn identity_from(row: &AnyRow) -> Result<Identity, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Identity {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role `{role}`")))?,
        public_key: row.try_get("public_key")?,
    })
}

/// Inserts an identity with the hash of its token, inside `tx`.
pub(super) async fn insert_identity(
    tx: &mut Tx<'_>,
    identity: &Identity,
    token_sha256: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO identities (id, name, role, public_key, token_sha256, created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&identity.id)
    .bind(&identity.name)
    .bind(identity.role.as_str())
    .bind(&identity.public_key)
    .bind(token_sha256)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Adds an identity with the hash of its token; a verifier is enrolled in every track's
    /// ledger in the same transaction (`roster.rs`).
    pub async fn create_identity(
        &self,
        identity: &Identity,
        token_sha256: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_identity(&mut tx, identity, token_sha256, now).await?;
        if identity.role == Role::Verifier {
            self.enroll_verifiers(&mut tx, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The identity whose token hashes to `token_sha256`.
    pub async fn identity_by_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<Identity>, StoreError> {
        if let Some(identity) = self.tokens.get(token_sha256) {
            return Ok(Some(identity));
        }
        let found = sqlx::query("SELECT * FROM identities WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.reader)
            .await?
            .map(|r| identity_from(&r))
            .transpose()?;
        if let Some(identity) = &found {
            self.tokens.put(token_sha256, identity);
        }
        Ok(found)
    }

    /// An identity by id.
    pub async fn identity(&self, id: &str) -> Result<Option<Identity>, StoreError> {
        sqlx::query("SELECT * FROM identities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .map(|r| identity_from(&r))
            .transpose()
    }
}
