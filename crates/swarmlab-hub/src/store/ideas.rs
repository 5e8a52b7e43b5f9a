//! The idea queue: adding (with near-duplicate flagging), reading, leasing, extending a
//! lease and finishing. Heartbeats are committed in batches (`heartbeats.rs`); expiry is the
//! sweep's (`sweep.rs`).

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use swarmlab_proto::{IdeaInfo, IdeaSource, NewIdea};

use super::columns::{json_list, next_id, to_json};
use super::heartbeats::Leased;
use super::tracks::track_in;
use super::{Store, StoreError};
use swarmlab_core::likeness;

/// Which of the submissions that tried an idea it lists, by each one's worker and status:
/// the reader's business, which the domain decides (`domain::roles`).
pub type Listed<'a> = &'a (dyn Fn(&str, &str) -> bool + Send + Sync);

/// Ideas with the submissions that tried them, in one statement: a row per (idea,
/// submission), or one row with a NULL `submission` for an idea not tried yet.
fn select_ideas(filter: &str) -> String {
    format!(
        "SELECT i.*, s.id AS submission, s.worker AS submission_worker, s.status AS submission_status \
         FROM ideas i LEFT JOIN submissions s ON s.idea_id = i.id WHERE {filter} ORDER BY i.id, s.id"
    )
}

/// Folds the rows of [`select_ideas`] into ideas, each listing the submissions `listed`
/// lets through.
fn ideas_from(rows: &[AnyRow], listed: Listed) -> Result<Vec<IdeaInfo>, StoreError> {
    let mut out: Vec<IdeaInfo> = Vec::new();
    for row in rows {
        let id: i64 = row.try_get("id")?;
        if out.last().map(|i| i.id) != Some(id) {
            out.push(IdeaInfo {
                id,
                track: row.try_get("track")?,
                text: row.try_get("text")?,
                tags: json_list(&row.try_get::<String, _>("tags")?)?,
                author: row.try_get("author")?,
                state: row.try_get("state")?,
                lease_holder: row.try_get("lease_holder")?,
                lease_deadline_ms: row.try_get("lease_deadline_ms")?,
                duplicate_of: row.try_get("duplicate_of")?,
                similarity: row.try_get("similarity")?,
                submissions: Vec::new(),
                source: source_from(row.try_get("source")?)?,
            });
        }
        if let (Some(idea), Some(submission)) =
            (out.last_mut(), row.try_get::<Option<i64>, _>("submission")?)
        {
            let worker: String = row.try_get("submission_worker")?;
            let status: String = row.try_get("submission_status")?;
            if listed(&worker, &status) {
                idea.submissions.push(submission);
            }
        }
    }
    Ok(out)
}

/// The `source` column: an [`IdeaSource`] as JSON, or NULL.
fn source_from(column: Option<String>) -> Result<Option<IdeaSource>, StoreError> {
    column
        .map(|json| serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

async fn idea_on<'e>(
    db: impl Executor<'e, Database = Any>,
    id: i64,
    listed: Listed<'_>,
) -> Result<Option<IdeaInfo>, StoreError> {
    let rows = sqlx::query(&select_ideas("i.id = $1"))
        .bind(id)
        .fetch_all(db)
        .await?;
    Ok(ideas_from(&rows, listed)?.pop())
}

/// The oldest idea of a track that is open or whose lease has expired.
const NEXT_IDEA: &str = "SELECT id, state, lease_holder FROM ideas WHERE track = $1 AND (state = 'open' OR (state = 'leased' AND lease_deadline_ms <= $2)) ORDER BY id LIMIT 1";

impl Store {
    /// Adds `idea` (its text already checked), flagged when it nearly repeats an earlier one
    /// (`threshold`).
    pub async fn add_idea(
        &self,
        track: &str,
        idea: &NewIdea,
        author: &str,
        threshold: f64,
        now: i64,
    ) -> Result<IdeaInfo, StoreError> {
        let mut tx = self.begin().await?;
        track_in(&mut tx, track).await?;
        let earlier: Vec<(i64, String)> =
            sqlx::query("SELECT id, text FROM ideas WHERE track = $1 ORDER BY id")
                .bind(track)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("text")?)))
                .collect::<Result<_, StoreError>>()?;
        let dup = likeness::nearest_duplicate(
            &idea.text,
            earlier.iter().map(|(id, t)| (*id, t.as_str())),
            threshold,
        );
        let id = next_id(&mut tx, "idea").await?;
        sqlx::query(
            "INSERT INTO ideas (id, track, text, tags, author, state, duplicate_of, similarity, created_ms, source) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(track)
        .bind(&idea.text)
        .bind(to_json(&idea.tags))
        .bind(author)
        .bind(dup.map(|d| d.0))
        .bind(dup.map(|d| d.1))
        .bind(now)
        .bind(idea.source.as_ref().map(to_json))
        // A statement kept prepared would fix the type of `similarity` by its first binding,
        // and `Any` gives a missing f64 the type of an f32 (sqlx 0.8): prepared afresh, a
        // NULL and a value both fit.
        .persistent(false)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(IdeaInfo {
            id,
            track: track.to_string(),
            text: idea.text.clone(),
            tags: idea.tags.clone(),
            author: author.to_string(),
            state: "open".into(),
            lease_holder: None,
            lease_deadline_ms: None,
            duplicate_of: dup.map(|d| d.0),
            similarity: dup.map(|d| d.1),
            submissions: Vec::new(),
            source: idea.source.clone(),
        })
    }

    /// An idea and the submissions that tried it that `listed` lets through.
    pub async fn idea(&self, id: i64, listed: Listed<'_>) -> Result<Option<IdeaInfo>, StoreError> {
        idea_on(&self.reader, id, listed).await
    }

    /// A track's ideas, oldest first, with the submissions that tried them that `listed`
    /// lets through.
    pub async fn ideas(
        &self,
        track: &str,
        listed: Listed<'_>,
    ) -> Result<Vec<IdeaInfo>, StoreError> {
        let rows = sqlx::query(&select_ideas("i.track = $1"))
            .bind(track)
            .fetch_all(&self.reader)
            .await?;
        ideas_from(&rows, listed)
    }

    /// The oldest open idea (an expired lease counts as open), leased to `worker`, with the
    /// submissions that tried it that `listed` lets through.
    pub async fn lease_idea(
        &self,
        track: &str,
        worker: &str,
        now: i64,
        deadline: i64,
        listed: Listed<'_>,
    ) -> Result<Option<IdeaInfo>, StoreError> {
        // An empty queue is common and needs no turn on the writer: a reader can tell.
        let any = sqlx::query(NEXT_IDEA)
            .bind(track)
            .bind(now)
            .fetch_optional(&self.reader)
            .await?;
        if any.is_none() {
            return Ok(None);
        }
        let mut tx = self.begin().await?;
        let Some(next) = sqlx::query(NEXT_IDEA)
            .bind(track)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let id: i64 = next.try_get("id")?;
        sqlx::query("UPDATE ideas SET state = 'leased', lease_holder = $1, lease_deadline_ms = $2 WHERE id = $3")
            .bind(worker)
            .bind(deadline)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if next.try_get::<String, _>("state")? == "leased" {
            // Its holder let the lease expire.
            if let Some(holder) = next.try_get::<Option<String>, _>("lease_holder")? {
                self.shrink_quota(&mut tx, &holder, 1).await?;
            }
        }
        let leased = idea_on(&mut *tx, id, listed).await?;
        tx.commit().await?;
        Ok(leased)
    }

    /// Extends `worker`'s live lease on an idea to `deadline`.
    pub async fn heartbeat_idea(
        &self,
        id: i64,
        worker: &str,
        now: i64,
        deadline: i64,
    ) -> Result<(), StoreError> {
        self.heartbeats
            .extend(&self.pool, Leased::Idea, id, worker, now, deadline)
            .await
    }

    /// Marks `worker`'s live lease on an idea done.
    pub async fn finish_idea(&self, id: i64, worker: &str, now: i64) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE ideas SET state = 'done', lease_deadline_ms = NULL WHERE id = $1 AND state = 'leased' AND lease_holder = $2 AND lease_deadline_ms > $3",
        )
        .bind(id)
        .bind(worker)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if done != 1 {
            return Err(StoreError::Conflict(format!(
                "idea {id} is not leased to you (the lease may have expired)"
            )));
        }
        Ok(())
    }
}
