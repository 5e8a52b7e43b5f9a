//! What ideas and jobs share: extending a live lease, and sweeping expired ones back to
//! their queues.

use super::SqliteStore;
use crate::store::{StoreError, Swept};

/// What a lease can be held on.
#[derive(Clone, Copy)]
pub(super) enum Leased {
    Idea,
    Job,
}

impl Leased {
    /// The table and the column naming the holder.
    fn table_and_holder(self) -> (&'static str, &'static str) {
        match self {
            Leased::Idea => ("ideas", "lease_holder"),
            Leased::Job => ("jobs", "verifier"),
        }
    }
}

/// Extends a live lease held by `holder` to `deadline`; a conflict when it is not theirs
/// or has expired.
pub(super) async fn extend(
    s: &SqliteStore,
    what: Leased,
    id: i64,
    holder: &str,
    now: i64,
    deadline: i64,
) -> Result<(), StoreError> {
    let (table, holder_column) = what.table_and_holder();
    let sql = format!(
        "UPDATE {table} SET lease_deadline_ms = $1 WHERE id = $2 AND state = 'leased' AND {holder_column} = $3 AND lease_deadline_ms > $4"
    );
    let done = sqlx::query(&sql)
        .bind(deadline)
        .bind(id)
        .bind(holder)
        .bind(now)
        .execute(s.pool())
        .await?
        .rows_affected();
    if done != 1 {
        let noun = match what {
            Leased::Idea => "idea",
            Leased::Job => "job",
        };
        return Err(StoreError::Conflict(format!(
            "{noun} {id} is not leased to you (the lease may have expired)"
        )));
    }
    Ok(())
}

pub(super) async fn sweep(s: &SqliteStore, now: i64) -> Result<Swept, StoreError> {
    let mut tx = s.pool().begin().await?;
    let ideas = sqlx::query(
        "UPDATE ideas SET state = 'open', lease_holder = NULL, lease_deadline_ms = NULL WHERE state = 'leased' AND lease_deadline_ms <= $1",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE submissions SET status = 'queued' WHERE id IN (SELECT submission_id FROM jobs WHERE state = 'leased' AND lease_deadline_ms <= $1)",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let jobs = sqlx::query(
        "UPDATE jobs SET state = 'open', verifier = NULL, lease_deadline_ms = NULL WHERE state = 'leased' AND lease_deadline_ms <= $1",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Swept { ideas, jobs })
}
