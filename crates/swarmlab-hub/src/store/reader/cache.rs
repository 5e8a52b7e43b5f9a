//! The two caches of [`Reader`]: each track's verdict series (the chart's points,
//! with who did what) and its ledger index (which entries belong to which submission, and
//! the promotions). Both grow by ever-increasing ids, so catching up reads only what is new;
//! concurrent catch-ups append only what is still new when they finish.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use swarmlab_proto::{Credit, CreditedIdea};

use super::{corrupt, measurements, Reader, TrackRow, CHUNK};
use crate::domain::credit;
use crate::store::columns::flag;
use crate::store::views::{mean_sigma, LedgerRef, Point};
use crate::store::StoreError;

/// A track's verdicts in order: the chart's points and the improvements they verified.
#[derive(Default, Clone)]
pub(super) struct Series {
    pub(super) last_verdict: i64,
    pub(super) baseline_value: Option<f64>,
    pub(super) measured: Vec<Measured>,
}

#[derive(Clone)]
pub(super) struct Measured {
    pub(super) point: Point,
    pub(super) verdict_id: i64,
    pub(super) submission_id: i64,
    pub(super) verifier: String,
    /// For kept points: who the move is credited to (`domain::credit`), as its ledger entry
    /// records it.
    pub(super) credit: Option<Credit>,
}

/// Where each submission's entries are in a track's ledger.
#[derive(Default)]
pub(super) struct LedgerIndex {
    pub(super) next_seq: i64,
    pub(super) by_submission: HashMap<i64, Vec<Indexed>>,
    pub(super) promotions: Vec<Promoted>,
}

#[derive(Clone)]
pub(super) struct Indexed {
    pub(super) seq: u64,
    pub(super) kind: &'static str,
    pub(super) hash: String,
    pub(super) verdict_id: Option<i64>,
}

#[derive(Clone)]
pub(super) struct Promoted {
    pub(super) commit: String,
    pub(super) seq: u64,
    pub(super) hash: String,
}

/// The parts of a ledger line the index needs; serde skips the rest.
#[derive(Deserialize)]
struct LightEntry {
    event: LightEvent,
}

#[derive(Deserialize)]
struct LightEvent {
    kind: String,
    submission_id: Option<i64>,
    verdict_id: Option<i64>,
    commit: Option<String>,
}

impl Reader {
    /// Fills the caches of every track, so that the first pages after a start are as fast
    /// as the rest; what arrives meanwhile is caught up as usual.
    pub async fn warm(&self) -> Result<(), StoreError> {
        for track in self.track_rows().await? {
            self.series(&track).await?;
            self.with_ledger(&track.name, |_| ()).await?;
        }
        Ok(())
    }

    /// The track's verdict series, caught up with the database.
    pub(super) async fn series(&self, track: &TrackRow) -> Result<Arc<Series>, StoreError> {
        loop {
            let cached = self
                .series
                .lock()
                .expect("series lock is never poisoned: no panics while held")
                .get(&track.name)
                .cloned()
                .unwrap_or_default();
            // CROSS JOIN keeps SQLite walking the verdicts from `$2` on, rather than every
            // job of the track, so catching up costs what is new.
            let rows = sqlx::query(
                "SELECT v.id, v.submission_id, v.decision, v.verifier, v.measurements, v.at_ms, \
                 j.candidate, j.base, c.seq AS chain_seq, s.worker, s.idea_id, i.author, \
                 (c.seq IS NOT NULL AND EXISTS (SELECT 1 FROM chain e \
                 JOIN submissions es ON es.id = e.submission_id WHERE e.track = j.track \
                 AND e.seq < c.seq AND es.diff_hash = s.diff_hash AND es.id <> s.id)) AS on_chain \
                 FROM verdicts v CROSS JOIN jobs j \
                 JOIN submissions s ON s.id = v.submission_id \
                 LEFT JOIN ideas i ON i.id = s.idea_id AND i.track = s.track \
                 LEFT JOIN chain c ON c.track = j.track AND c.commit_id = j.candidate \
                 AND c.submission_id = v.submission_id \
                 WHERE j.id = v.job_id AND j.track = $1 AND v.id > $2 ORDER BY v.id LIMIT $3",
            )
            .bind(&track.name)
            .bind(cached.last_verdict)
            .bind(CHUNK)
            .fetch_all(&self.read)
            .await?;
            if rows.is_empty() {
                return Ok(cached);
            }
            let full = rows.len() as i64 == CHUNK;
            let mut more = Vec::with_capacity(rows.len());
            let mut baseline_value = None;
            let mut last = cached.last_verdict;
            for row in &rows {
                let (measured, baseline_head) = measured(row, track)?;
                if baseline_value.is_none() {
                    baseline_value = baseline_head;
                }
                last = measured.verdict_id;
                more.push(measured);
            }
            let mut all = self
                .series
                .lock()
                .expect("series lock is never poisoned: no panics while held");
            let shared = all.entry(track.name.clone()).or_default();
            // Another request may have caught up meanwhile: append only what is still new.
            if shared.last_verdict == cached.last_verdict {
                let entry = Arc::make_mut(shared);
                let start = entry.measured.len() as u64;
                for (i, mut m) in more.into_iter().enumerate() {
                    m.point.x = start + i as u64 + 1;
                    entry.measured.push(m);
                }
                entry.last_verdict = last;
                if entry.baseline_value.is_none() {
                    entry.baseline_value = baseline_value;
                }
            }
            if !full {
                return Ok(shared.clone());
            }
        }
    }

    /// The track's ledger index, caught up with the database; `f` reads it under the lock.
    pub(super) async fn with_ledger<T>(
        &self,
        track: &str,
        f: impl FnOnce(&LedgerIndex) -> T,
    ) -> Result<T, StoreError> {
        loop {
            let next = self
                .ledger
                .lock()
                .expect("ledger lock is never poisoned: no panics while held")
                .get(track)
                .map_or(0, |l| l.next_seq);
            let rows = sqlx::query(
                "SELECT seq, hash, line FROM ledger WHERE track = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(track)
            .bind(next)
            .bind(CHUNK)
            .fetch_all(&self.read)
            .await?;
            let mut all = self
                .ledger
                .lock()
                .expect("ledger lock is never poisoned: no panics while held");
            let index = all.entry(track.to_string()).or_default();
            if index.next_seq == next {
                for row in &rows {
                    let seq: i64 = row.try_get("seq")?;
                    let hash: String = row.try_get("hash")?;
                    let line: String = row.try_get("line")?;
                    let entry: LightEntry = serde_json::from_str(&line).map_err(corrupt)?;
                    let seq_u = u64::try_from(seq).map_err(corrupt)?;
                    let e = entry.event;
                    let kind = match e.kind.as_str() {
                        "submission" => "submission",
                        "verdict" => "verdict",
                        "head_move" => "head_move",
                        "promotion" => "promotion",
                        "unverifiable" => "unverifiable",
                        _ => "track_created",
                    };
                    if kind == "promotion" {
                        index.promotions.push(Promoted {
                            commit: e.commit.unwrap_or_default(),
                            seq: seq_u,
                            hash: hash.clone(),
                        });
                    }
                    if let Some(id) = e.submission_id {
                        index.by_submission.entry(id).or_default().push(Indexed {
                            seq: seq_u,
                            kind,
                            hash,
                            verdict_id: e.verdict_id,
                        });
                    }
                    index.next_seq = seq + 1;
                }
            }
            if (rows.len() as i64) < CHUNK {
                return Ok(f(index));
            }
        }
    }

    /// The ledger entries of a submission, in order.
    pub(super) async fn ledger_refs(
        &self,
        track: &str,
        submission_id: i64,
    ) -> Result<Vec<Indexed>, StoreError> {
        self.with_ledger(track, |index| {
            index
                .by_submission
                .get(&submission_id)
                .cloned()
                .unwrap_or_default()
        })
        .await
    }
}

pub(super) fn ledger_ref(e: &Indexed) -> LedgerRef {
    LedgerRef {
        seq: e.seq,
        kind: e.kind,
        hash: e.hash.clone(),
    }
}

/// One verdict of the series as its chart point, with who the move is credited to when it
/// was kept; beside it, the head's mean when the verdict measured against the baseline.
fn measured(row: &AnyRow, track: &TrackRow) -> Result<(Measured, Option<f64>), StoreError> {
    let m = measurements(&row.try_get::<String, _>("measurements")?)?;
    let base: String = row.try_get("base")?;
    let chain_seq: Option<i64> = row.try_get("chain_seq")?;
    let kept = row.try_get::<String, _>("decision")? == "accept" && chain_seq.is_some();
    let candidate = mean_sigma(&m.candidate);
    let head = mean_sigma(&m.head).map(|h| h.0);
    let baseline_head = if base == track.baseline { head } else { None };
    let named = match (
        row.try_get::<Option<i64>, _>("idea_id")?,
        row.try_get::<Option<String>, _>("author")?,
    ) {
        (Some(id), Some(author)) => Some(CreditedIdea { id, author }),
        _ => None,
    };
    let finder: String = row.try_get("worker")?;
    let diff_on_chain = flag(row, "on_chain")?;
    let credit = kept.then(|| {
        credit::credit(credit::Move {
            finder: &finder,
            measurements: &m,
            goal: track.goal,
            named_idea: named.as_ref(),
            diff_on_chain,
        })
    });
    let measured = Measured {
        point: Point {
            x: 0,
            value: candidate.map(|c| c.0),
            sigma: candidate.and_then(|c| c.1),
            kept,
            chain_seq,
            commit: row.try_get("candidate")?,
            at_ms: row.try_get("at_ms")?,
            label: None,
        },
        verdict_id: row.try_get("id")?,
        submission_id: row.try_get("submission_id")?,
        verifier: row.try_get("verifier")?,
        credit,
    };
    Ok((measured, baseline_head))
}
