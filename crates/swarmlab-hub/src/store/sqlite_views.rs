//! [`SqliteViews`]: the dashboard's reads on the hub's SQLite database, and its one write,
//! a promotion's ledger entry.
//!
//! Reads go through their own small pool of query-only connections, so a page never waits
//! behind the single writer (WAL lets readers and the writer work at once). Two things would
//! cost a scan per page at scale, so they are kept in memory and brought up to date
//! incrementally from ever-growing ids: each track's verdict series (the chart's points) and
//! its ledger index (which entry hashes belong to which submission). Both are caches of the
//! database, rebuilt from it after a restart; the database stays the truth.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};
use swarmlab_core::Goal;
use swarmlab_proto::signing::SigningKey;
use swarmlab_proto::{Measurements, SubmissionInfo};

use super::views::{
    mean_sigma, thin, AuthorRow, ChainRow, ContributorRow, IdeaCounts, IdeaRow, JobView,
    Leaderboard, LedgerRef, Paged, Paging, Party, Point, Progress, Reference, SubmissionRow,
    SubmissionView, TrackSummary, VerdictView, VerifierRow, Views, HOUR_MS, ONLINE_WINDOW_MS,
};
use super::StoreError;

mod cache;
mod promotion;

use cache::{ledger_ref, Indexed, LedgerIndex, Series};

/// Rows fetched per round when a cache catches up.
const CHUNK: i64 = 5_000;
/// Points in an overview sparkline.
const TREND_POINTS: usize = 48;
/// Bytes of a run log shown on a submission's page.
const LOG_TAIL: usize = 8 * 1024;
/// Rows per leaderboard.
const LEADERS: usize = 50;

/// The dashboard's side of the hub's database.
pub struct SqliteViews {
    read: SqlitePool,
    /// The store's writer: a promotion's entry is appended on the same single connection as
    /// every other ledger entry, so entries never interleave.
    write: SqlitePool,
    key: SigningKey,
    series: Mutex<HashMap<String, Arc<Series>>>,
    ledger: Mutex<HashMap<String, LedgerIndex>>,
    /// Each track's leaderboards, with what they were made at.
    leaders: Mutex<HashMap<String, (BoardKey, Leaderboard)>>,
}

/// The ledger's length and the last idea's id: the boards change only when one does.
type BoardKey = (i64, i64);

/// What the track row says, for the caches.
struct TrackRow {
    name: String,
    metric: String,
    goal: Goal,
    baseline: String,
    head: String,
    spec_toml: String,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn count(row: &SqliteRow, column: &str) -> Result<u64, StoreError> {
    let n: i64 = row.try_get(column)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn party(row: &SqliteRow, id: &str, name: &str) -> Result<Option<Party>, StoreError> {
    let Some(id) = row.try_get::<Option<String>, _>(id)? else {
        return Ok(None);
    };
    let name = row
        .try_get::<Option<String>, _>(name)?
        .unwrap_or(id.clone());
    Ok(Some(Party { id, name }))
}

fn limit(paging: Paging) -> (i64, i64) {
    (
        i64::from(paging.per_page),
        i64::try_from(paging.offset()).unwrap_or(i64::MAX),
    )
}

fn measurements(text: &str) -> Result<Measurements, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

/// The optional reference line a track's spec declares: `[metric] floor = …` or `target = …`.
pub fn spec_reference(spec_toml: &str) -> Option<Reference> {
    let doc: toml::Table = spec_toml.parse().ok()?;
    let metric = doc.get("metric")?.as_table()?;
    ["floor", "target"].into_iter().find_map(|key| {
        let value = metric.get(key)?;
        let value = value
            .as_float()
            .or_else(|| value.as_integer().map(|i| i as f64))?;
        value.is_finite().then(|| Reference {
            label: key.to_string(),
            value,
        })
    })
}

impl SqliteViews {
    /// Opens query-only connections to the database at `path`; `write` is the store's
    /// writer and `key` the hub's ledger key, for promotions.
    pub async fn open(
        path: &Path,
        write: SqlitePool,
        key: SigningKey,
    ) -> Result<SqliteViews, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .busy_timeout(Duration::from_secs(10))
            .pragma("query_only", "ON");
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(SqliteViews {
            read,
            write,
            key,
            series: Mutex::new(HashMap::new()),
            ledger: Mutex::new(HashMap::new()),
            leaders: Mutex::new(HashMap::new()),
        })
    }

    async fn track_row(&self, name: &str) -> Result<Option<TrackRow>, StoreError> {
        let row = sqlx::query(
            "SELECT name, metric, goal, baseline, head, spec_toml FROM tracks WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            let goal = match r.try_get::<String, _>("goal")?.as_str() {
                "maximize" => Goal::Maximize,
                _ => Goal::Minimize,
            };
            Ok(TrackRow {
                name: r.try_get("name")?,
                metric: r.try_get("metric")?,
                goal,
                baseline: r.try_get("baseline")?,
                head: r.try_get("head")?,
                spec_toml: r.try_get("spec_toml")?,
            })
        })
        .transpose()
    }

    async fn summarize(&self, track: &TrackRow, now: i64) -> Result<TrackSummary, StoreError> {
        let series = self.series(track).await?;
        let recent = now - ONLINE_WINDOW_MS;
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM chain WHERE track = $1) AS chain_len, \
             (SELECT COUNT(*) FROM submissions WHERE track = $1 AND received_ms > $2) AS per_hour, \
             (SELECT COUNT(*) FROM submissions WHERE track = $1 \
               AND status IN ('queued', 'verifying', 'reverify')) AS pending, \
             (SELECT COUNT(*) FROM ideas WHERE track = $1 AND (state = 'open' \
               OR (state = 'leased' AND lease_deadline_ms <= $4))) AS open_ideas, \
             (SELECT COUNT(*) FROM (SELECT worker FROM submissions WHERE track = $1 AND received_ms > $3 \
               UNION SELECT lease_holder FROM ideas WHERE track = $1 AND state = 'leased' \
               AND lease_deadline_ms > $4) AS w) AS workers",
        )
        .bind(&track.name)
        .bind(now - HOUR_MS)
        .bind(recent)
        .bind(now)
        .fetch_one(&self.read)
        .await?;
        let mut verifiers: HashSet<String> = sqlx::query(
            "SELECT DISTINCT verifier FROM jobs WHERE track = $1 AND state = 'leased' AND lease_deadline_ms > $2",
        )
        .bind(&track.name)
        .bind(now)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| r.try_get::<Option<String>, _>("verifier"))
        .filter_map(Result::transpose)
        .collect::<Result<_, _>>()?;
        let mut verifications = 0;
        for m in series.measured.iter().rev() {
            if m.point.at_ms <= now - HOUR_MS {
                break;
            }
            verifications += 1;
            if m.point.at_ms > recent {
                verifiers.insert(m.verifier.clone());
            }
        }
        let mut trend: Vec<f64> = series.baseline_value.into_iter().collect();
        trend.extend(
            series
                .measured
                .iter()
                .filter(|m| m.point.kept)
                .filter_map(|m| m.point.value),
        );
        let head_value = series
            .measured
            .iter()
            .rev()
            .find(|m| m.point.kept)
            .and_then(|m| m.point.value)
            .or(series.baseline_value);
        Ok(TrackSummary {
            name: track.name.clone(),
            metric: track.metric.clone(),
            goal: track.goal,
            baseline: track.baseline.clone(),
            head: track.head.clone(),
            chain_len: count(&row, "chain_len")?,
            baseline_value: series.baseline_value,
            head_value,
            experiments_per_hour: count(&row, "per_hour")?,
            verifications_per_hour: verifications,
            workers_online: count(&row, "workers")?,
            verifiers_online: verifiers.len() as u64,
            pending: count(&row, "pending")?,
            open_ideas: count(&row, "open_ideas")?,
            trend: thin(&trend, TREND_POINTS),
            local: false,
        })
    }

    async fn chain_rows(
        &self,
        track: &str,
        from_seq: i64,
        to_seq: i64,
    ) -> Result<Vec<ChainRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.seq, c.commit_id, c.parent, c.submission_id, c.at_ms, \
             s.worker, wi.name AS worker_name, s.idea_id, i.text AS idea_text, \
             v.id AS verdict_id, v.verifier, vi.name AS verifier_name, v.decision, v.reason, \
             v.p_value, v.measurements, v.at_ms AS verdict_at \
             FROM chain c \
             LEFT JOIN submissions s ON s.id = c.submission_id \
             LEFT JOIN identities wi ON wi.id = s.worker \
             LEFT JOIN ideas i ON i.id = s.idea_id \
             LEFT JOIN verdicts v ON v.id = (SELECT MAX(v2.id) FROM verdicts v2 \
               JOIN jobs j2 ON j2.id = v2.job_id WHERE v2.submission_id = c.submission_id \
               AND v2.decision = 'accept' AND j2.candidate = c.commit_id) \
             LEFT JOIN identities vi ON vi.id = v.verifier \
             WHERE c.track = $1 AND c.seq >= $2 AND c.seq <= $3 ORDER BY c.seq DESC",
        )
        .bind(track)
        .bind(from_seq)
        .bind(to_seq)
        .fetch_all(&self.read)
        .await?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<Option<i64>, _>("submission_id"))
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?;
        let (mut by_submission, promotions) = self
            .with_ledger(track, |index| {
                let entries: HashMap<i64, Vec<Indexed>> = ids
                    .iter()
                    .filter_map(|id| Some((*id, index.by_submission.get(id)?.clone())))
                    .collect();
                (entries, index.promotions.clone())
            })
            .await?;
        let main = promotions.last().map(|p| p.commit.clone());
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let submission_id: Option<i64> = row.try_get("submission_id")?;
            let commit: String = row.try_get("commit_id")?;
            let entries = submission_id
                .and_then(|id| by_submission.remove(&id))
                .unwrap_or_default();
            let verdict = match row.try_get::<Option<i64>, _>("verdict_id")? {
                Some(id) => Some(verdict_view(row, id, &entries)?),
                None => None,
            };
            let mut ledger: Vec<LedgerRef> = entries
                .iter()
                .filter(|e| e.kind == "head_move")
                .map(ledger_ref)
                .collect();
            ledger.extend(
                promotions
                    .iter()
                    .filter(|p| p.commit == commit)
                    .map(|p| LedgerRef {
                        seq: p.seq,
                        kind: "promotion",
                        hash: p.hash.clone(),
                    }),
            );
            let idea = match row.try_get::<Option<i64>, _>("idea_id")? {
                Some(id) => Some((
                    id,
                    row.try_get::<Option<String>, _>("idea_text")?
                        .unwrap_or_default(),
                )),
                None => None,
            };
            out.push(ChainRow {
                seq: row.try_get("seq")?,
                on_main: main.as_deref() == Some(commit.as_str()),
                commit,
                parent: row.try_get("parent")?,
                at_ms: row.try_get("at_ms")?,
                submission_id,
                submitter: party(row, "worker", "worker_name")?,
                idea,
                value: verdict
                    .as_ref()
                    .and_then(|v| mean_sigma(&v.candidate))
                    .map(|m| m.0),
                delta: verdict
                    .as_ref()
                    .and_then(|v| Some(mean_sigma(&v.candidate)?.0 - mean_sigma(&v.head)?.0)),
                description: None,
                verdict,
                ledger,
            });
        }
        Ok(out)
    }

    /// The boards with their parties' display names.
    async fn named(&self, mut board: Leaderboard) -> Result<Leaderboard, StoreError> {
        let mut ids: Vec<&str> = board
            .contributors
            .iter()
            .map(|r| r.party.id.as_str())
            .chain(board.authors.iter().map(|r| r.party.id.as_str()))
            .chain(board.verifiers.iter().map(|r| r.party.id.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(board);
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, name FROM identities WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(*id);
        }
        let names: HashMap<String, String> = query
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
            .collect::<Result<_, StoreError>>()?;
        let name = |p: &mut Party| {
            if let Some(n) = names.get(&p.id) {
                p.name = n.clone();
            }
        };
        board
            .contributors
            .iter_mut()
            .for_each(|r| name(&mut r.party));
        board.authors.iter_mut().for_each(|r| name(&mut r.party));
        board.verifiers.iter_mut().for_each(|r| name(&mut r.party));
        Ok(board)
    }
}

/// A verdict from a row with `verifier`, `verifier_name`, `decision`, `reason`, `p_value`,
/// `measurements` and `verdict_at` columns.
fn verdict_view(row: &SqliteRow, id: i64, entries: &[Indexed]) -> Result<VerdictView, StoreError> {
    let m = measurements(&row.try_get::<String, _>("measurements")?)?;
    Ok(VerdictView {
        id,
        verifier: party(row, "verifier", "verifier_name")?.unwrap_or_default(),
        decision: row.try_get("decision")?,
        reason: row.try_get("reason")?,
        p_value: row.try_get("p_value")?,
        hardware_class: m.hardware_class,
        candidate: m.candidate,
        head: m.head,
        at_ms: row.try_get("verdict_at")?,
        ledger: entries
            .iter()
            .find(|e| e.kind == "verdict" && e.verdict_id == Some(id))
            .map(ledger_ref),
    })
}

#[async_trait]
impl Views for SqliteViews {
    async fn summaries(&self, now: i64) -> Result<Vec<TrackSummary>, StoreError> {
        let names: Vec<String> = sqlx::query("SELECT name FROM tracks ORDER BY name")
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| r.try_get("name"))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if let Some(track) = self.track_row(&name).await? {
                out.push(self.summarize(&track, now).await?);
            }
        }
        Ok(out)
    }

    async fn summary(&self, track: &str, now: i64) -> Result<Option<TrackSummary>, StoreError> {
        match self.track_row(track).await? {
            Some(row) => Ok(Some(self.summarize(&row, now).await?)),
            None => Ok(None),
        }
    }

    async fn progress(&self, track: &str, now: i64) -> Result<Option<Progress>, StoreError> {
        let Some(row) = self.track_row(track).await? else {
            return Ok(None);
        };
        let summary = self.summarize(&row, now).await?;
        let series = self.series(&row).await?;
        let mut points = Vec::with_capacity(series.measured.len() + 1);
        points.push(Point {
            x: 0,
            value: series.baseline_value,
            sigma: None,
            kept: true,
            chain_seq: Some(0),
            commit: row.baseline.clone(),
            at_ms: 0,
            label: Some("baseline".into()),
        });
        points.extend(series.measured.iter().map(|m| m.point.clone()));
        Ok(Some(Progress {
            summary,
            points,
            reference: spec_reference(&row.spec_toml),
        }))
    }

    async fn chain_page(&self, track: &str, paging: Paging) -> Result<Paged<ChainRow>, StoreError> {
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM chain WHERE track = $1")
            .bind(track)
            .fetch_one(&self.read)
            .await?
            .try_get("n")?;
        let offset = i64::try_from(paging.offset()).unwrap_or(i64::MAX);
        // Sequence numbers run 0..total without gaps: a page is a range of them.
        let top = total - 1 - offset;
        let bottom = top - i64::from(paging.per_page) + 1;
        let items = if top < 0 {
            Vec::new()
        } else {
            self.chain_rows(track, bottom.max(0), top).await?
        };
        Ok(Paged {
            items,
            paging,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn chain_entry(&self, track: &str, seq: i64) -> Result<Option<ChainRow>, StoreError> {
        Ok(self.chain_rows(track, seq, seq).await?.into_iter().next())
    }

    async fn ideas_page(
        &self,
        track: &str,
        state: Option<&str>,
        paging: Paging,
    ) -> Result<(Paged<IdeaRow>, IdeaCounts), StoreError> {
        let mut counts = IdeaCounts::default();
        for row in
            sqlx::query("SELECT state, COUNT(*) AS n FROM ideas WHERE track = $1 GROUP BY state")
                .bind(track)
                .fetch_all(&self.read)
                .await?
        {
            let n = count(&row, "n")?;
            match row.try_get::<String, _>("state")?.as_str() {
                "open" => counts.open = n,
                "leased" => counts.leased = n,
                _ => counts.done += n,
            }
        }
        let total = match state {
            Some("open") => counts.open,
            Some("leased") => counts.leased,
            Some("done") => counts.done,
            _ => counts.open + counts.leased + counts.done,
        };
        let (per_page, offset) = limit(paging);
        let rows = sqlx::query(
            "SELECT i.id, i.text, i.tags, i.author, ai.name AS author_name, i.state, \
             i.lease_holder, li.name AS holder_name, i.duplicate_of, i.similarity, i.created_ms, \
             (SELECT COUNT(*) FROM submissions s WHERE s.idea_id = i.id) AS tried, \
             (SELECT COUNT(*) FROM submissions s WHERE s.idea_id = i.id AND s.status = 'accepted') AS accepted \
             FROM ideas i \
             LEFT JOIN identities ai ON ai.id = i.author \
             LEFT JOIN identities li ON li.id = i.lease_holder \
             WHERE i.track = $1 AND ($2 IS NULL OR i.state = $2) \
             ORDER BY i.id DESC LIMIT $3 OFFSET $4",
        )
        .bind(track)
        .bind(state)
        .bind(per_page)
        .bind(offset)
        .fetch_all(&self.read)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(IdeaRow {
                    id: r.try_get("id")?,
                    text: r.try_get("text")?,
                    tags: serde_json::from_str(&r.try_get::<String, _>("tags")?)
                        .map_err(corrupt)?,
                    author: party(r, "author", "author_name")?.unwrap_or_default(),
                    state: r.try_get("state")?,
                    lease_holder: party(r, "lease_holder", "holder_name")?,
                    duplicate_of: r.try_get("duplicate_of")?,
                    similarity: r.try_get("similarity")?,
                    tried: count(r, "tried")?,
                    accepted: count(r, "accepted")?,
                    created_ms: r.try_get("created_ms")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((
            Paged {
                items,
                paging,
                total,
            },
            counts,
        ))
    }

    async fn leaderboard(&self, track: &str) -> Result<Leaderboard, StoreError> {
        let Some(row) = self.track_row(track).await? else {
            return Ok(Leaderboard::default());
        };
        // The boards change only with the ledger (submissions, verdicts) and the ideas.
        let ledger_len = self.with_ledger(track, |index| index.next_seq).await?;
        let ideas: i64 =
            sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM ideas WHERE track = $1")
                .bind(track)
                .fetch_one(&self.read)
                .await?
                .try_get("m")?;
        let key = (ledger_len, ideas);
        if let Some((k, board)) = self.leaders.lock().expect("never poisoned").get(track) {
            if *k == key {
                return Ok(board.clone());
            }
        }
        let series = self.series(&row).await?;
        // What was accepted, and what it brought, is in the verdict series already.
        let mut accepted: HashMap<&str, (u64, f64)> = HashMap::new();
        let mut fruitful: HashMap<&str, (HashSet<i64>, f64)> = HashMap::new();
        let mut verifiers: HashMap<&str, VerifierRow> = HashMap::new();
        for m in &series.measured {
            let v = verifiers
                .entry(m.verifier.as_str())
                .or_insert_with(|| VerifierRow {
                    party: Party::unnamed(&m.verifier),
                    verdicts: 0,
                    accepted: 0,
                    rejected: 0,
                });
            v.verdicts += 1;
            if !m.point.kept {
                v.rejected += 1;
                continue;
            }
            v.accepted += 1;
            let g = m.gain.unwrap_or(0.0);
            let w = accepted.entry(m.worker.as_str()).or_default();
            w.0 += 1;
            w.1 += g;
            if let Some((idea, author)) = &m.idea {
                let a = fruitful.entry(author.as_str()).or_default();
                a.0.insert(*idea);
                a.1 += g;
            }
        }
        let mut contributors = sqlx::query(
            "SELECT worker, COUNT(*) AS n FROM submissions WHERE track = $1 GROUP BY worker",
        )
        .bind(track)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            let id: String = r.try_get("worker")?;
            let (n, gain) = accepted.get(id.as_str()).copied().unwrap_or_default();
            Ok(ContributorRow {
                party: Party::unnamed(&id),
                submissions: count(r, "n")?,
                accepted: n,
                gain,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        contributors.sort_by(|a, b| {
            b.gain
                .total_cmp(&a.gain)
                .then(b.accepted.cmp(&a.accepted))
                .then(a.submissions.cmp(&b.submissions))
        });
        contributors.truncate(LEADERS);
        let mut authors =
            sqlx::query("SELECT author, COUNT(*) AS n FROM ideas WHERE track = $1 GROUP BY author")
                .bind(track)
                .fetch_all(&self.read)
                .await?
                .iter()
                .map(|r| {
                    let id: String = r.try_get("author")?;
                    let (ideas, gain) = fruitful
                        .get(id.as_str())
                        .map_or((0, 0.0), |(set, g)| (set.len() as u64, *g));
                    Ok(AuthorRow {
                        party: Party::unnamed(&id),
                        ideas: count(r, "n")?,
                        fruitful: ideas,
                        gain,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
        authors.sort_by(|a, b| {
            b.gain
                .total_cmp(&a.gain)
                .then(b.fruitful.cmp(&a.fruitful))
                .then(b.ideas.cmp(&a.ideas))
        });
        authors.truncate(LEADERS);
        let mut verifiers: Vec<VerifierRow> = verifiers.into_values().collect();
        verifiers.sort_by(|a, b| {
            b.verdicts
                .cmp(&a.verdicts)
                .then(a.party.id.cmp(&b.party.id))
        });
        verifiers.truncate(LEADERS);
        let board = Leaderboard {
            contributors,
            authors,
            verifiers,
        };
        let board = self.named(board).await?;
        self.leaders
            .lock()
            .expect("never poisoned")
            .insert(track.to_string(), (key, board.clone()));
        Ok(board)
    }

    async fn submissions_page(
        &self,
        worker: Option<&str>,
        paging: Paging,
    ) -> Result<Paged<SubmissionRow>, StoreError> {
        // Two statements rather than `$1 IS NULL OR …`, so each can use its index.
        let (count_sql, page_sql) = match worker {
            Some(_) => (
                "SELECT COUNT(*) AS n FROM submissions WHERE worker = $1",
                "SELECT s.id, s.track, s.worker, wi.name AS worker_name, s.status, s.reason, \
                 s.received_ms FROM submissions s LEFT JOIN identities wi ON wi.id = s.worker \
                 WHERE s.worker = $1 ORDER BY s.id DESC LIMIT $2 OFFSET $3",
            ),
            None => (
                "SELECT COUNT(*) AS n FROM submissions WHERE $1 IS NULL",
                "SELECT s.id, s.track, s.worker, wi.name AS worker_name, s.status, s.reason, \
                 s.received_ms FROM submissions s LEFT JOIN identities wi ON wi.id = s.worker \
                 WHERE $1 IS NULL ORDER BY s.id DESC LIMIT $2 OFFSET $3",
            ),
        };
        let total = count(
            &sqlx::query(count_sql)
                .bind(worker)
                .fetch_one(&self.read)
                .await?,
            "n",
        )?;
        let (per_page, offset) = limit(paging);
        let items = sqlx::query(page_sql)
            .bind(worker)
            .bind(per_page)
            .bind(offset)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                Ok(SubmissionRow {
                    id: r.try_get("id")?,
                    track: r.try_get("track")?,
                    worker: party(r, "worker", "worker_name")?.unwrap_or_default(),
                    status: r.try_get("status")?,
                    reason: r.try_get("reason")?,
                    received_ms: r.try_get("received_ms")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Paged {
            items,
            paging,
            total,
        })
    }

    async fn submission(&self, id: i64) -> Result<Option<SubmissionView>, StoreError> {
        let Some(r) = sqlx::query(
            "SELECT s.*, wi.name AS worker_name, i.text AS idea_text FROM submissions s \
             LEFT JOIN identities wi ON wi.id = s.worker LEFT JOIN ideas i ON i.id = s.idea_id \
             WHERE s.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let info = SubmissionInfo {
            id: r.try_get("id")?,
            track: r.try_get("track")?,
            worker: r.try_get("worker")?,
            idea_id: r.try_get("idea_id")?,
            parent: r.try_get("parent")?,
            commit: r.try_get("commit_id")?,
            candidate: r.try_get("candidate")?,
            base: r.try_get("base")?,
            status: r.try_get("status")?,
            reason: r.try_get("reason")?,
            received_ms: r.try_get("received_ms")?,
            disputed_by: r.try_get("disputed_by")?,
        };
        let claim: swarmlab_proto::Claim =
            serde_json::from_str(&r.try_get::<String, _>("claim_json")?).map_err(corrupt)?;
        let log: String = r.try_get("log")?;
        let mut cut = log.len().saturating_sub(LOG_TAIL);
        while !log.is_char_boundary(cut) {
            cut += 1;
        }
        let jobs = sqlx::query(
            "SELECT j.id, j.state, j.verifier, vi.name AS verifier_name, j.lease_deadline_ms, j.partial \
             FROM jobs j LEFT JOIN identities vi ON vi.id = j.verifier \
             WHERE j.submission_id = $1 ORDER BY j.id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|j| {
            let partial = match j.try_get::<Option<String>, _>("partial")? {
                Some(text) => {
                    let m = measurements(&text)?;
                    Some((m.candidate, m.head))
                }
                None => None,
            };
            let state: String = j.try_get("state")?;
            Ok(JobView {
                id: j.try_get("id")?,
                verifier: if state == "leased" {
                    party(j, "verifier", "verifier_name")?
                } else {
                    None
                },
                state,
                lease_deadline_ms: j.try_get("lease_deadline_ms")?,
                partial,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let entries = self.ledger_refs(&info.track, id).await?;
        let verdicts = sqlx::query(
            "SELECT v.id, v.verifier, vi.name AS verifier_name, v.decision, v.reason, v.p_value, \
             v.measurements, v.at_ms AS verdict_at \
             FROM verdicts v LEFT JOIN identities vi ON vi.id = v.verifier \
             WHERE v.submission_id = $1 ORDER BY v.id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|v| verdict_view(v, v.try_get("id")?, &entries))
        .collect::<Result<Vec<_>, StoreError>>()?;
        let chain_seq = sqlx::query(
            "SELECT seq FROM chain WHERE submission_id = $1 AND track = $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(id)
        .bind(&info.track)
        .fetch_optional(&self.read)
        .await?
        .map(|c| c.try_get("seq"))
        .transpose()?;
        Ok(Some(SubmissionView {
            submitter: party(&r, "worker", "worker_name")?.unwrap_or_default(),
            claimed: claim.metrics,
            idea: info
                .idea_id
                .map(|i| {
                    Ok::<_, StoreError>((
                        i,
                        r.try_get::<Option<String>, _>("idea_text")?
                            .unwrap_or_default(),
                    ))
                })
                .transpose()?,
            log_tail: log[cut..].to_string(),
            jobs,
            verdicts,
            chain_seq,
            ledger: entries.iter().map(ledger_ref).collect(),
            info,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_may_declare_a_floor_or_a_target() {
        let floor = spec_reference("[metric]\nname = \"bpb\"\nfloor = 1.25\n").unwrap();
        assert_eq!((floor.label.as_str(), floor.value), ("floor", 1.25));
        let target = spec_reference("[metric]\ntarget = 2\n").unwrap();
        assert_eq!(target.value, 2.0);
        assert!(spec_reference("[metric]\nname = \"bpb\"\n").is_none());
        assert!(spec_reference("not toml [").is_none());
    }
}
