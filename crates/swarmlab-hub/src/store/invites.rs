//! Invite codes (stored as their SHA-256): an admin makes one, a worker registers with it
//! once. Registering with a code and using it up are one transaction, so two workers cannot
//! share a code.

use super::identities::insert_identity;
use super::{Store, StoreError};
use crate::domain::identity::Identity;

impl Store {
    /// Records a code, by the hash of it, made by `by`; usable until `expires_ms` if set.
    pub async fn create_invite(
        &self,
        code_sha256: &str,
        by: &str,
        expires_ms: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO invites (code_sha256, created_by, created_ms, expires_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(code_sha256)
        .bind(by)
        .bind(now)
        .bind(expires_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Adds `identity`, using up the invite whose code hashes to `code_sha256`: refused
    /// when there is no such code, or it is used or expired.
    pub async fn create_invited_identity(
        &self,
        identity: &Identity,
        token_sha256: &str,
        code_sha256: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let used = sqlx::query(
            "UPDATE invites SET used_by = $1, used_ms = $2 \
             WHERE code_sha256 = $3 AND used_by IS NULL AND (expires_ms IS NULL OR expires_ms > $2)",
        )
        .bind(&identity.id)
        .bind(now)
        .bind(code_sha256)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if used != 1 {
            return Err(StoreError::Forbidden(
                "this invite code is unknown, used or expired; ask the hub's admin for another"
                    .into(),
            ));
        }
        insert_identity(&mut tx, identity, token_sha256, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
