//! [`Reader`]: the dashboard's reads on the hub's database ([`Views`] for the hub), on
//! query-only connections of its own. It holds no key and cannot write: every change goes
//! through the store's writer. Its queries are the concerns' files beside this one
//! (`summary`, `chain`, `ideas`, `board`, `credit`, `submissions`).
//!
//! Reads go through their own small pool, so a page never waits behind the single writer
//! (WAL lets readers and the writer work at once). Two things would cost a scan per page at
//! scale, so they are kept in memory and brought up to date incrementally from ever-growing
//! ids: each track's verdict series (the chart's points) and its ledger index (which entry
//! hashes belong to which submission). Both are caches of the database, rebuilt from it
//! after a restart; the database stays the truth (`cache.rs`).

mod board;
mod cache;
mod chain;
mod credit;
mod ideas;
mod submissions;
mod summary;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use swarmlab_core::Goal;
use swarmlab_proto::Measurements;

use super::views::{
    ChainRow, IdeaCounts, IdeaRow, Leaderboard, Paged, Paging, Party, Point, Progress, Reference,
    SubmissionFilter, SubmissionRow, SubmissionView, TrackSummary, Views,
};
use super::{database, Database, StoreError};
use cache::{LedgerIndex, Series};

/// Rows fetched per round when a cache catches up.
const CHUNK: i64 = 5_000;

/// The dashboard's side of the hub's database.
pub struct Reader {
    read: AnyPool,
    series: Mutex<HashMap<String, Arc<Series>>>,
    ledger: Mutex<HashMap<String, LedgerIndex>>,
    /// Each track's leaderboards, with what they were made at.
    leaders: Mutex<HashMap<String, (board::BoardKey, Leaderboard)>>,
}

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

fn count(row: &AnyRow, column: &str) -> Result<u64, StoreError> {
    let n: i64 = row.try_get(column)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn party(row: &AnyRow, id: &str, name: &str) -> Result<Option<Party>, StoreError> {
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

impl Reader {
    /// Opens query-only connections to `database`.
    pub async fn open(database: &Database) -> Result<Reader, StoreError> {
        database::install_drivers();
        let read = database.connect_reader(4)?;
        Ok(Reader {
            read,
            series: Mutex::new(HashMap::new()),
            ledger: Mutex::new(HashMap::new()),
            leaders: Mutex::new(HashMap::new()),
        })
    }

    /// Every track's row, by name.
    async fn track_rows(&self) -> Result<Vec<TrackRow>, StoreError> {
        let names: Vec<String> = sqlx::query("SELECT name FROM tracks ORDER BY name")
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| r.try_get("name"))
            .collect::<Result<_, _>>()?;
        let mut rows = Vec::with_capacity(names.len());
        for name in names {
            rows.extend(self.track_row(&name).await?);
        }
        Ok(rows)
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
}

#[async_trait]
impl Views for Reader {
    async fn summaries(&self, now: i64) -> Result<Vec<TrackSummary>, StoreError> {
        let tracks = self.track_rows().await?;
        let mut out = Vec::with_capacity(tracks.len());
        for track in &tracks {
            out.push(self.summarize(track, now).await?);
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
        self.idea_rows(track, state, paging).await
    }

    async fn leaderboard(&self, track: &str) -> Result<Leaderboard, StoreError> {
        self.board(track).await
    }

    async fn submissions_page(
        &self,
        filter: SubmissionFilter<'_>,
        paging: Paging,
    ) -> Result<Paged<SubmissionRow>, StoreError> {
        self.submission_rows(filter, paging).await
    }

    async fn submission(&self, id: i64) -> Result<Option<SubmissionView>, StoreError> {
        self.submission_view(id).await
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
