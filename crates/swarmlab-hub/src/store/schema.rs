//! The schema: portable SQL migrations, applied in order, each once, and recorded in
//! `schema_migrations`. Both dialects run the same files. Several hubs opening one
//! PostgreSQL database at once take turns: the first applies what is pending, the others
//! then find it applied.

use sqlx::AnyPool;

use super::{Dialect, StoreError};

/// The key of the PostgreSQL advisory lock held while migrating (any constant will do; it
/// spells "swarmlab" in ASCII).
const MIGRATION_LOCK: i64 = 0x7377_6172_6d6c_6162;

/// The schema, in order; each applied once, recorded in `schema_migrations`.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_quotas.sql")),
    (
        3,
        include_str!("../../migrations/0003_head_measurements.sql"),
    ),
    (4, include_str!("../../migrations/0004_dashboard.sql")),
    (5, include_str!("../../migrations/0005_canaries.sql")),
    (6, include_str!("../../migrations/0006_faults.sql")),
    (7, include_str!("../../migrations/0007_invites.sql")),
    (8, include_str!("../../migrations/0008_rerun_cap.sql")),
    (
        9,
        include_str!("../../migrations/0009_ledger_verifiers.sql"),
    ),
    (10, include_str!("../../migrations/0010_idea_sources.sql")),
];

/// Applies the migrations not applied yet, in one transaction.
pub(super) async fn migrate(writer: &AnyPool, dialect: Dialect) -> Result<(), StoreError> {
    let mut tx = writer.begin().await?;
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    for (version, sql) in MIGRATIONS {
        let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_none() {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, 0)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
