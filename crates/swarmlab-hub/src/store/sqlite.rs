//! [`SqliteStore`]: the embedded store, one SQLite file in WAL mode.
//!
//! One connection serialises the writers: SQLite has one writer at a time anyway, and a
//! deferred transaction that reads and then writes could otherwise fail to upgrade its lock.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use swarmlab_core::Goal;
use swarmlab_proto::signing::SigningKey;
use swarmlab_proto::{ChainEntry, EventBody, IdeaInfo, JobLease, Role, Rule, SubmissionInfo};

use super::{
    Identity, Intake, JobRecord, NewSubmission, Report, ReportKind, ReportOutcome, Store,
    StoreError, Swept, TrackRecord, MIGRATIONS,
};
use crate::{idea, ledger};

type Tx<'c> = Transaction<'c, Sqlite>;

/// The hub's state in one SQLite database.
pub struct SqliteStore {
    pool: SqlitePool,
    key: SigningKey,
}

/// What a lease can be held on.
#[derive(Clone, Copy)]
enum Leased {
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

impl SqliteStore {
    /// The writer's pool, shared with the dashboard's one write (`SqliteViews`).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Extends a live lease held by `holder` to `deadline`; a conflict when it is not theirs
    /// or has expired.
    async fn extend_lease(
        &self,
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
            .execute(&self.pool)
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

    /// Opens (creating if needed) the database at `path`, applies pending migrations, and
    /// signs ledger entries with `key`.
    pub async fn open(path: &Path, key: SigningKey) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let store = SqliteStore { pool, key };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
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

    async fn append(
        &self,
        tx: &mut Tx<'_>,
        track: &str,
        now: i64,
        event: EventBody,
    ) -> Result<u64, StoreError> {
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
            &self.key,
            track,
            prev.as_ref().map(|(s, h)| (*s, h.as_str())),
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
        Ok(entry.seq)
    }
}

async fn next_id(tx: &mut Tx<'_>, counter: &str) -> Result<i64, StoreError> {
    let row = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value")
        .bind(counter)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("value")?)
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative sequence {v}")))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn json_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

fn track_from(row: &SqliteRow) -> Result<TrackRecord, StoreError> {
    let goal = match row.try_get::<String, _>("goal")?.as_str() {
        "minimize" => Goal::Minimize,
        "maximize" => Goal::Maximize,
        other => return Err(StoreError::Corrupt(format!("goal `{other}`"))),
    };
    Ok(TrackRecord {
        name: row.try_get("name")?,
        baseline: row.try_get("baseline")?,
        head: row.try_get("head")?,
        metric: row.try_get("metric")?,
        rule: Rule {
            goal,
            alpha: row.try_get("alpha")?,
            min_delta: row.try_get("min_delta")?,
            reruns: u32::try_from(row.try_get::<i64, _>("reruns")?)
                .map_err(|_| StoreError::Corrupt("reruns".into()))?,
        },
        editable: json_list(&row.try_get::<String, _>("editable")?)?,
        spec_toml: row.try_get("spec_toml")?,
    })
}

fn identity_from(row: &SqliteRow) -> Result<Identity, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Identity {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role `{role}`")))?,
        public_key: row.try_get("public_key")?,
    })
}

fn submission_from(row: &SqliteRow) -> Result<SubmissionInfo, StoreError> {
    Ok(SubmissionInfo {
        id: row.try_get("id")?,
        track: row.try_get("track")?,
        worker: row.try_get("worker")?,
        idea_id: row.try_get("idea_id")?,
        parent: row.try_get("parent")?,
        commit: row.try_get("commit_id")?,
        candidate: row.try_get("candidate")?,
        base: row.try_get("base")?,
        status: row.try_get("status")?,
        reason: row.try_get("reason")?,
        received_ms: row.try_get("received_ms")?,
    })
}

fn job_from(row: &SqliteRow) -> Result<JobRecord, StoreError> {
    Ok(JobRecord {
        id: row.try_get("id")?,
        submission_id: row.try_get("submission_id")?,
        track: row.try_get("track")?,
        candidate: row.try_get("candidate")?,
        base: row.try_get("base")?,
        state: row.try_get("state")?,
        verifier: row.try_get("verifier")?,
        lease_deadline_ms: row.try_get("lease_deadline_ms")?,
    })
}

async fn idea_in(tx: &mut Tx<'_>, id: i64) -> Result<Option<IdeaInfo>, StoreError> {
    let Some(row) = sqlx::query("SELECT * FROM ideas WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(None);
    };
    let submissions = sqlx::query("SELECT id FROM submissions WHERE idea_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(IdeaInfo {
        id: row.try_get("id")?,
        track: row.try_get("track")?,
        text: row.try_get("text")?,
        tags: json_list(&row.try_get::<String, _>("tags")?)?,
        author: row.try_get("author")?,
        state: row.try_get("state")?,
        lease_holder: row.try_get("lease_holder")?,
        lease_deadline_ms: row.try_get("lease_deadline_ms")?,
        duplicate_of: row.try_get("duplicate_of")?,
        similarity: row.try_get("similarity")?,
        submissions,
    }))
}

async fn submission_in(tx: &mut Tx<'_>, id: i64) -> Result<SubmissionInfo, StoreError> {
    let row = sqlx::query("SELECT * FROM submissions WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("submission {id}")))?;
    submission_from(&row)
}

async fn track_in(tx: &mut Tx<'_>, name: &str) -> Result<TrackRecord, StoreError> {
    let row = sqlx::query("SELECT * FROM tracks WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("track `{name}`")))?;
    track_from(&row)
}

async fn insert_job(
    tx: &mut Tx<'_>,
    submission_id: i64,
    track: &str,
    candidate: &str,
    base: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let id = next_id(tx, "job").await?;
    sqlx::query(
        "INSERT INTO jobs (id, submission_id, track, candidate, base, state, created_ms) VALUES ($1, $2, $3, $4, $5, 'open', $6)",
    )
    .bind(id)
    .bind(submission_id)
    .bind(track)
    .bind(candidate)
    .bind(base)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_identity(
        &self,
        identity: &Identity,
        token_sha256: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
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

    async fn identity_by_token(&self, token_sha256: &str) -> Result<Option<Identity>, StoreError> {
        sqlx::query("SELECT * FROM identities WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| identity_from(&r))
            .transpose()
    }

    async fn identity(&self, id: &str) -> Result<Option<Identity>, StoreError> {
        sqlx::query("SELECT * FROM identities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| identity_from(&r))
            .transpose()
    }

    async fn create_track(&self, track: &TrackRecord, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT name FROM tracks WHERE name = $1")
            .bind(&track.name)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!(
                "track `{}` already exists",
                track.name
            )));
        }
        sqlx::query(
            "INSERT INTO tracks (name, baseline, head, metric, goal, reruns, alpha, min_delta, editable, spec_toml, created_ms) VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&track.name)
        .bind(&track.baseline)
        .bind(&track.metric)
        .bind(track.rule.goal.as_str())
        .bind(i64::from(track.rule.reruns))
        .bind(track.rule.alpha)
        .bind(track.rule.min_delta)
        .bind(to_json(&track.editable))
        .bind(&track.spec_toml)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO chain (track, seq, commit_id, parent, submission_id, at_ms) VALUES ($1, 0, $2, NULL, NULL, $3)")
            .bind(&track.name)
            .bind(&track.baseline)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let event = EventBody::TrackCreated {
            baseline: track.baseline.clone(),
            metric: track.metric.clone(),
            rule: track.rule,
            editable: track.editable.clone(),
        };
        self.append(&mut tx, &track.name, now, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn track(&self, name: &str) -> Result<Option<TrackRecord>, StoreError> {
        sqlx::query("SELECT * FROM tracks WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| track_from(&r))
            .transpose()
    }

    async fn tracks(&self) -> Result<Vec<TrackRecord>, StoreError> {
        sqlx::query("SELECT * FROM tracks ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(track_from)
            .collect()
    }

    async fn chain(&self, track: &str) -> Result<Vec<ChainEntry>, StoreError> {
        sqlx::query("SELECT * FROM chain WHERE track = $1 ORDER BY seq")
            .bind(track)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(ChainEntry {
                    seq: r.try_get("seq")?,
                    commit: r.try_get("commit_id")?,
                    parent: r.try_get("parent")?,
                    submission_id: r.try_get("submission_id")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect()
    }

    async fn add_idea(
        &self,
        track: &str,
        text: &str,
        tags: &[String],
        author: &str,
        threshold: f64,
        now: i64,
    ) -> Result<IdeaInfo, StoreError> {
        let mut tx = self.pool.begin().await?;
        track_in(&mut tx, track).await?;
        let earlier: Vec<(i64, String)> =
            sqlx::query("SELECT id, text FROM ideas WHERE track = $1 ORDER BY id")
                .bind(track)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("text")?)))
                .collect::<Result<_, StoreError>>()?;
        let dup = idea::nearest_duplicate(
            text,
            earlier.iter().map(|(id, t)| (*id, t.as_str())),
            threshold,
        );
        let id = next_id(&mut tx, "idea").await?;
        sqlx::query(
            "INSERT INTO ideas (id, track, text, tags, author, state, duplicate_of, similarity, created_ms) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8)",
        )
        .bind(id)
        .bind(track)
        .bind(text)
        .bind(to_json(&tags))
        .bind(author)
        .bind(dup.map(|d| d.0))
        .bind(dup.map(|d| d.1))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let info = idea_in(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("idea {id}")))?;
        tx.commit().await?;
        Ok(info)
    }

    async fn idea(&self, id: i64) -> Result<Option<IdeaInfo>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let info = idea_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(info)
    }

    async fn ideas(&self, track: &str) -> Result<Vec<IdeaInfo>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query("SELECT id FROM ideas WHERE track = $1 ORDER BY id")
            .bind(track)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(idea_in(&mut tx, id).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn lease_idea(
        &self,
        track: &str,
        worker: &str,
        now: i64,
        deadline: i64,
    ) -> Result<Option<IdeaInfo>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT id FROM ideas WHERE track = $1 AND (state = 'open' OR (state = 'leased' AND lease_deadline_ms <= $2)) ORDER BY id LIMIT 1",
        )
        .bind(track)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id: i64 = row.try_get("id")?;
        sqlx::query("UPDATE ideas SET state = 'leased', lease_holder = $1, lease_deadline_ms = $2 WHERE id = $3")
            .bind(worker)
            .bind(deadline)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let info = idea_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(info)
    }

    async fn heartbeat_idea(
        &self,
        id: i64,
        worker: &str,
        now: i64,
        deadline: i64,
    ) -> Result<(), StoreError> {
        self.extend_lease(Leased::Idea, id, worker, now, deadline)
            .await
    }

    async fn finish_idea(&self, id: i64, worker: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE ideas SET state = 'done', lease_deadline_ms = NULL WHERE id = $1 AND state = 'leased' AND lease_holder = $2 AND lease_deadline_ms > $3",
        )
        .bind(id)
        .bind(worker)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done != 1 {
            return Err(StoreError::Conflict(format!(
                "idea {id} is not leased to you (the lease may have expired)"
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn sweep(&self, now: i64) -> Result<Swept, StoreError> {
        let mut tx = self.pool.begin().await?;
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

    async fn nonce_used(&self, identity: &str, nonce: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT nonce FROM nonces WHERE identity = $1 AND nonce = $2")
                .bind(identity)
                .bind(nonce)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    async fn record_submission(
        &self,
        new: &NewSubmission,
        now: i64,
    ) -> Result<SubmissionInfo, StoreError> {
        let mut tx = self.pool.begin().await?;
        track_in(&mut tx, &new.track).await?;
        let replay = sqlx::query("SELECT nonce FROM nonces WHERE identity = $1 AND nonce = $2")
            .bind(&new.worker)
            .bind(&new.claim.nonce)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        let mut intake = new.intake.clone();
        if replay {
            intake = Intake::Invalid("replay".into());
        } else {
            sqlx::query("INSERT INTO nonces (identity, nonce) VALUES ($1, $2)")
                .bind(&new.worker)
                .bind(&new.claim.nonce)
                .execute(&mut *tx)
                .await?;
        }
        if matches!(intake, Intake::Queued { .. }) {
            // The earliest receipt of a normalised diff wins; later ones are duplicates.
            let earlier = sqlx::query(
                "SELECT id FROM submissions WHERE track = $1 AND diff_hash = $2 AND status <> 'invalid' ORDER BY id LIMIT 1",
            )
            .bind(&new.track)
            .bind(&new.diff_hash)
            .fetch_optional(&mut *tx)
            .await?;
            if earlier.is_some() {
                intake = Intake::Rejected("duplicate".into());
            }
        }
        let (status, reason, candidate, base) = match &intake {
            Intake::Queued { candidate, base } => {
                ("queued", None, Some(candidate.clone()), Some(base.clone()))
            }
            Intake::Invalid(r) => ("invalid", Some(r.clone()), None, None),
            Intake::Rejected(r) => ("rejected", Some(r.clone()), None, None),
        };
        let id = next_id(&mut tx, "submission").await?;
        sqlx::query(
            "INSERT INTO submissions (id, track, worker, idea_id, parent, commit_id, candidate, base, diff_hash, claim_json, signature, log, status, reason, received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(id)
        .bind(&new.track)
        .bind(&new.worker)
        .bind(new.claim.idea_id)
        .bind(&new.claim.parent)
        .bind(&new.claim.commit)
        .bind(&candidate)
        .bind(&base)
        .bind(&new.diff_hash)
        .bind(to_json(&new.claim))
        .bind(&new.signature)
        .bind(&new.log)
        .bind(status)
        .bind(&reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let (Some(candidate), Some(base)) = (&candidate, &base) {
            insert_job(&mut tx, id, &new.track, candidate, base, now).await?;
        }
        if let (Some(idea_id), false) = (new.claim.idea_id, replay) {
            // The idea this tried is done if the submitter held it.
            sqlx::query(
                "UPDATE ideas SET state = 'done', lease_deadline_ms = NULL WHERE id = $1 AND track = $2 AND state = 'leased' AND lease_holder = $3",
            )
            .bind(idea_id)
            .bind(&new.track)
            .bind(&new.worker)
            .execute(&mut *tx)
            .await?;
        }
        let event = EventBody::Submission {
            submission_id: id,
            worker: new.worker.clone(),
            parent: new.claim.parent.clone(),
            commit: new.claim.commit.clone(),
            diff_hash: new.diff_hash.clone(),
            status: status.to_string(),
            reason,
            claim_signature: new.signature.clone(),
        };
        self.append(&mut tx, &new.track, now, event).await?;
        let info = submission_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(info)
    }

    async fn submission(&self, id: i64) -> Result<Option<SubmissionInfo>, StoreError> {
        sqlx::query("SELECT * FROM submissions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| submission_from(&r))
            .transpose()
    }

    async fn reverify_pending(&self) -> Result<Vec<SubmissionInfo>, StoreError> {
        sqlx::query("SELECT * FROM submissions WHERE status = 'reverify' ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(submission_from)
            .collect()
    }

    async fn requeue(
        &self,
        submission_id: i64,
        candidate: &str,
        base: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let sub = submission_in(&mut tx, submission_id).await?;
        if sub.status != "reverify" {
            return Err(StoreError::Conflict(format!(
                "submission {submission_id} is {}, not waiting for re-verification",
                sub.status
            )));
        }
        sqlx::query(
            "UPDATE submissions SET status = 'queued', candidate = $1, base = $2 WHERE id = $3",
        )
        .bind(candidate)
        .bind(base)
        .bind(submission_id)
        .execute(&mut *tx)
        .await?;
        insert_job(&mut tx, submission_id, &sub.track, candidate, base, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reject_submission(
        &self,
        submission_id: i64,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let sub = submission_in(&mut tx, submission_id).await?;
        if matches!(sub.status.as_str(), "accepted" | "rejected" | "invalid") {
            return Err(StoreError::Conflict(format!(
                "submission {submission_id} is already {}",
                sub.status
            )));
        }
        sqlx::query("UPDATE submissions SET status = 'rejected', reason = $1 WHERE id = $2")
            .bind(reason)
            .bind(submission_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE jobs SET state = 'done' WHERE submission_id = $1")
            .bind(submission_id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT diff_hash, signature FROM submissions WHERE id = $1")
            .bind(submission_id)
            .fetch_one(&mut *tx)
            .await?;
        let diff_hash: String = row.try_get("diff_hash")?;
        let signature: String = row.try_get("signature")?;
        let event = EventBody::Submission {
            submission_id,
            worker: sub.worker.clone(),
            parent: sub.parent.clone(),
            commit: sub.commit.clone(),
            diff_hash,
            status: "rejected".into(),
            reason: Some(reason.to_string()),
            claim_signature: signature,
        };
        self.append(&mut tx, &sub.track, now, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn lease_job(
        &self,
        verifier: &str,
        now: i64,
        deadline: i64,
    ) -> Result<Option<JobLease>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT j.* FROM jobs j JOIN submissions s ON s.id = j.submission_id \
             WHERE (j.state = 'open' OR (j.state = 'leased' AND j.lease_deadline_ms <= $1)) \
             AND s.worker <> $2 \
             AND NOT EXISTS (SELECT 1 FROM job_leases l WHERE l.job_id = j.id AND l.verifier = $2 AND l.outcome = 'fault') \
             ORDER BY j.id LIMIT 1",
        )
        .bind(now)
        .bind(verifier)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let job = job_from(&row)?;
        sqlx::query(
            "UPDATE jobs SET state = 'leased', verifier = $1, lease_deadline_ms = $2 WHERE id = $3",
        )
        .bind(verifier)
        .bind(deadline)
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO job_leases (job_id, verifier, leased_ms) VALUES ($1, $2, $3) ON CONFLICT (job_id, verifier) DO NOTHING",
        )
        .bind(job.id)
        .bind(verifier)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE submissions SET status = 'verifying' WHERE id = $1")
            .bind(job.submission_id)
            .execute(&mut *tx)
            .await?;
        let track = track_in(&mut tx, &job.track).await?;
        tx.commit().await?;
        Ok(Some(JobLease {
            job_id: job.id,
            track: job.track,
            candidate: job.candidate,
            base: job.base,
            metric: track.metric,
            goal: track.rule.goal.as_str().to_string(),
            reruns: track.rule.reruns.max(2),
            deadline_ms: deadline,
        }))
    }

    async fn heartbeat_job(
        &self,
        job_id: i64,
        verifier: &str,
        now: i64,
        deadline: i64,
    ) -> Result<(), StoreError> {
        self.extend_lease(Leased::Job, job_id, verifier, now, deadline)
            .await
    }

    async fn job(&self, job_id: i64) -> Result<Option<JobRecord>, StoreError> {
        sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| job_from(&r))
            .transpose()
    }

    async fn held_job(&self, job_id: i64, verifier: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT job_id FROM job_leases WHERE job_id = $1 AND verifier = $2")
                .bind(job_id)
                .bind(verifier)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    async fn record_report(&self, report: &Report, now: i64) -> Result<ReportOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let job = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(report.job_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {}", report.job_id)))?;
        let job = job_from(&job)?;
        if job.state == "done" {
            return Err(StoreError::Conflict(format!(
                "job {} is already decided",
                job.id
            )));
        }
        let held =
            sqlx::query("SELECT outcome FROM job_leases WHERE job_id = $1 AND verifier = $2")
                .bind(job.id)
                .bind(&report.verifier)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(held) = held else {
            return Err(StoreError::Forbidden(format!(
                "job {} was never leased to you",
                job.id
            )));
        };
        if held.try_get::<Option<String>, _>("outcome")?.as_deref() == Some("fault") {
            return Err(StoreError::Conflict(format!(
                "you reported a fault on job {}; it was reissued",
                job.id
            )));
        }
        let (decision, reason, p_value) = match &report.kind {
            ReportKind::Continue => {
                sqlx::query("UPDATE jobs SET partial = $1 WHERE id = $2")
                    .bind(to_json(&report.measurements))
                    .bind(job.id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(ReportOutcome::Continued);
            }
            ReportKind::Fault => {
                sqlx::query(
                    "UPDATE job_leases SET outcome = 'fault' WHERE job_id = $1 AND verifier = $2",
                )
                .bind(job.id)
                .bind(&report.verifier)
                .execute(&mut *tx)
                .await?;
                if job.verifier.as_deref() == Some(report.verifier.as_str()) {
                    sqlx::query("UPDATE jobs SET state = 'open', verifier = NULL, lease_deadline_ms = NULL WHERE id = $1")
                        .bind(job.id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE submissions SET status = 'queued' WHERE id = $1")
                        .bind(job.submission_id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                return Ok(ReportOutcome::Retry);
            }
            ReportKind::Reject { reason, p_value } => ("reject", Some(reason.clone()), *p_value),
            ReportKind::Accept { p_value } => ("accept", None, Some(*p_value)),
        };
        let track = track_in(&mut tx, &job.track).await?;
        let verdict_id = next_id(&mut tx, "verdict").await?;
        sqlx::query(
            "INSERT INTO verdicts (id, job_id, submission_id, verifier, decision, reason, p_value, measurements, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(verdict_id)
        .bind(job.id)
        .bind(job.submission_id)
        .bind(&report.verifier)
        .bind(decision)
        .bind(&reason)
        .bind(p_value)
        .bind(to_json(&report.measurements))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE jobs SET state = 'done', lease_deadline_ms = NULL WHERE id = $1")
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
        let event = EventBody::Verdict {
            verdict_id,
            submission_id: job.submission_id,
            candidate: job.candidate.clone(),
            base: job.base.clone(),
            decision: decision.to_string(),
            reason: reason.clone(),
            p_value,
            rule: track.rule,
            measurements: report.measurements.clone(),
            verifier_signature: report.signature.clone(),
        };
        let verdict_seq = self.append(&mut tx, &job.track, now, event).await?;
        let outcome = if let Some(reason) = reason {
            sqlx::query("UPDATE submissions SET status = 'rejected', reason = $1 WHERE id = $2")
                .bind(&reason)
                .bind(job.submission_id)
                .execute(&mut *tx)
                .await?;
            ReportOutcome::Rejected(reason)
        } else {
            // Compare-and-swap on the parent: the head moves only from the commit measured.
            let moved = sqlx::query("UPDATE tracks SET head = $1 WHERE name = $2 AND head = $3")
                .bind(&job.candidate)
                .bind(&job.track)
                .bind(&job.base)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved == 1 {
                let seq: i64 = sqlx::query("SELECT MAX(seq) AS m FROM chain WHERE track = $1")
                    .bind(&job.track)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("m")?;
                sqlx::query("INSERT INTO chain (track, seq, commit_id, parent, submission_id, at_ms) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&job.track)
                    .bind(seq + 1)
                    .bind(&job.candidate)
                    .bind(&job.base)
                    .bind(job.submission_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE submissions SET status = 'accepted', reason = NULL WHERE id = $1",
                )
                .bind(job.submission_id)
                .execute(&mut *tx)
                .await?;
                let event = EventBody::HeadMove {
                    from: job.base.clone(),
                    to: job.candidate.clone(),
                    submission_id: job.submission_id,
                    verdict_seq,
                };
                self.append(&mut tx, &job.track, now, event).await?;
                ReportOutcome::Accepted {
                    head: job.candidate.clone(),
                }
            } else {
                sqlx::query("UPDATE submissions SET status = 'reverify' WHERE id = $1")
                    .bind(job.submission_id)
                    .execute(&mut *tx)
                    .await?;
                ReportOutcome::Reverify {
                    submission_id: job.submission_id,
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn ledger(&self, track: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query("SELECT line FROM ledger WHERE track = $1 ORDER BY seq")
            .bind(track)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("line")?))
            .collect()
    }
}
