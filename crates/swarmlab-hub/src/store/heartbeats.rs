//! Heartbeats: extending a live lease on an idea, a job or a canary job.
//!
//! Heartbeats are most of a busy hub's writes, and each write waits its turn on the one
//! writing connection. So heartbeats queue for a task that extends every lease queued while
//! the previous batch ran in one statement (group commit): under load the writer takes one
//! turn per batch instead of one per heartbeat. Each heartbeat is still all or nothing and
//! gets its own answer.

use std::collections::HashSet;

use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::{Dialect, StoreError};

/// What a lease can be held on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Leased {
    Idea,
    Job,
    CanaryJob,
}

impl Leased {
    /// The table and the column naming the holder.
    fn table_and_holder(self) -> (&'static str, &'static str) {
        match self {
            Leased::Idea => ("ideas", "lease_holder"),
            Leased::Job => ("jobs", "verifier"),
            Leased::CanaryJob => ("canary_jobs", "verifier"),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Leased::Idea => "idea",
            Leased::Job | Leased::CanaryJob => "job",
        }
    }
}

/// One heartbeat waiting for the writer.
struct Beat {
    what: Leased,
    id: i64,
    holder: String,
    now: i64,
    deadline: i64,
    /// Whether the lease was live and the holder's, and is now extended.
    answer: oneshot::Sender<Result<bool, StoreError>>,
}

/// The queue of heartbeats; the task that drains it ends when the store is dropped.
pub(super) struct Heartbeats(mpsc::UnboundedSender<Beat>);

/// The most heartbeats one statement extends.
const BATCH: usize = 256;

impl Heartbeats {
    /// Starts the task that commits heartbeats on `writer`.
    pub(super) fn start(writer: AnyPool, dialect: Dialect) -> Heartbeats {
        let (queue, beats) = mpsc::unbounded_channel();
        tokio::spawn(drain(writer, dialect, beats));
        Heartbeats(queue)
    }

    /// Extends a live lease held by `holder` to `deadline`; a conflict when it is not theirs
    /// or has expired.
    pub(super) async fn extend(
        &self,
        writer: &AnyPool,
        what: Leased,
        id: i64,
        holder: &str,
        now: i64,
        deadline: i64,
    ) -> Result<(), StoreError> {
        let (answer, extended) = oneshot::channel();
        let beat = Beat {
            what,
            id,
            holder: holder.to_string(),
            now,
            deadline,
            answer,
        };
        let queued = match self.0.send(beat) {
            Ok(()) => extended.await.ok(),
            Err(_) => None,
        };
        let extended = match queued {
            Some(extended) => extended?,
            // The task is gone with the runtime that ran it: extend directly.
            None => extend_one(writer, what, id, holder, now, deadline).await?,
        };
        if extended {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "{} {id} is not leased to you (the lease may have expired)",
                what.noun()
            )))
        }
    }
}

/// Extends one lease; whether it was live and the holder's.
async fn extend_one(
    writer: &AnyPool,
    what: Leased,
    id: i64,
    holder: &str,
    now: i64,
    deadline: i64,
) -> Result<bool, StoreError> {
    let (table, holder_column) = what.table_and_holder();
    let sql = format!(
        "UPDATE {table} SET lease_deadline_ms = $1 WHERE id = $2 AND state = 'leased' AND {holder_column} = $3 AND lease_deadline_ms > $4"
    );
    let done = sqlx::query(&sql)
        .bind(deadline)
        .bind(id)
        .bind(holder)
        .bind(now)
        .execute(writer)
        .await?
        .rows_affected();
    Ok(done == 1)
}

async fn drain(writer: AnyPool, dialect: Dialect, mut beats: mpsc::UnboundedReceiver<Beat>) {
    // A beat for a lease already in this batch waits for the next one, so that each lease
    // is extended by one beat per statement, with that beat's own clock and deadline.
    let mut next: Vec<Beat> = Vec::new();
    loop {
        if next.is_empty() {
            match beats.recv().await {
                Some(beat) => next.push(beat),
                None => return,
            }
        }
        let key = |b: &Beat| (b.what == Leased::Idea, b.id);
        let mut batch = Vec::new();
        let mut seen = HashSet::new();
        for beat in std::mem::take(&mut next) {
            if batch.len() < BATCH && seen.insert(key(&beat)) {
                batch.push(beat);
            } else {
                next.push(beat);
            }
        }
        while batch.len() < BATCH {
            let Ok(beat) = beats.try_recv() else { break };
            if seen.insert(key(&beat)) {
                batch.push(beat);
            } else {
                next.push(beat);
            }
        }
        for what in [Leased::Idea, Leased::Job, Leased::CanaryJob] {
            let (mine, rest): (Vec<Beat>, Vec<Beat>) =
                batch.into_iter().partition(|b| b.what == what);
            batch = rest;
            if !mine.is_empty() {
                commit(&writer, dialect, what, mine).await;
            }
        }
    }
}

/// Extends the leases of `beats` (one kind, distinct ids) in one statement and answers each.
async fn commit(writer: &AnyPool, dialect: Dialect, what: Leased, beats: Vec<Beat>) {
    let (table, holder_column) = what.table_and_holder();
    let batch = match dialect {
        Dialect::Sqlite => {
            "SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS holder, \
             json_extract(value, '$[2]') AS now_ms, json_extract(value, '$[3]') AS deadline \
             FROM json_each($1)"
        }
        Dialect::Postgres => {
            "SELECT (e->>0)::BIGINT AS id, e->>1 AS holder, (e->>2)::BIGINT AS now_ms, \
             (e->>3)::BIGINT AS deadline FROM jsonb_array_elements($1::jsonb) AS e"
        }
    };
    let sql = format!(
        "UPDATE {table} SET lease_deadline_ms = b.deadline FROM ({batch}) AS b \
         WHERE {table}.id = b.id AND {table}.state = 'leased' AND {table}.{holder_column} = b.holder \
         AND {table}.lease_deadline_ms > b.now_ms RETURNING {table}.id"
    );
    let rows: Vec<serde_json::Value> = beats
        .iter()
        .map(|b| serde_json::json!([b.id, b.holder, b.now, b.deadline]))
        .collect();
    let extended: Result<HashSet<i64>, StoreError> = async {
        sqlx::query(&sql)
            .bind(serde_json::Value::Array(rows).to_string())
            .fetch_all(writer)
            .await?
            .iter()
            .map(|r| Ok(r.try_get::<i64, _>(0)?))
            .collect()
    }
    .await;
    match extended {
        Ok(extended) => {
            for beat in beats {
                let _ = beat.answer.send(Ok(extended.contains(&beat.id)));
            }
        }
        Err(_) => {
            // One by one, so that each heartbeat gets its own answer or error.
            for beat in beats {
                let (id, now, deadline) = (beat.id, beat.now, beat.deadline);
                let one = extend_one(writer, what, id, &beat.holder, now, deadline).await;
                let _ = beat.answer.send(one);
            }
        }
    }
}
