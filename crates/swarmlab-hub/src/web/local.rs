//! The dashboard of a local run (`swarmlab report --serve`): the same pages, read from the
//! track's `results.jsonl` instead of a hub's database. The chain is the run's kept
//! experiments, the chart every experiment, and every experiment — kept, discarded or
//! crashed — has its page with its log and diff. Everything is numbered by the experiment's
//! number, as the terminal and results.tsv number it. Nobody signs in and nothing can be
//! changed.
//! The file is re-read when it changes, and a change is an event, so the pages move while
//! the loop runs.
//!
//! The metric here is what the run's own program printed: trusted because it is one's own
//! run, which the pages say.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use swarmlab_core::{Goal, Record, ResultsLog, Status};
use tokio::net::TcpListener;

use super::caching::Caching;
use super::code::Code;
use super::Web;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::event::{EventKind, Events, HubEvent};
use crate::store::views::{
    thin, ChainRow, Experiment, LogTail, Paged, Paging, Party, Point, Progress, Reference,
    TrackSummary, Views, HOUR_MS,
};
use crate::store::StoreError;
use crate::HubError;

/// How often the results file is looked at for changes.
const POLL: Duration = Duration::from_secs(1);
/// The end of a run's log an experiment's page shows.
const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// A local run: the track's folder, its name and metric, and the loop's branch.
#[derive(Debug, Clone)]
pub struct LocalRun {
    pub dir: PathBuf,
    pub track: String,
    pub metric: String,
    pub goal: Goal,
    /// `swarmlab/<tag>`.
    pub branch: String,
}

/// [`Views`] over a local run's results.
pub struct LocalViews {
    run: LocalRun,
    log: ResultsLog,
    cache: Mutex<Option<(Stamp, Arc<Vec<Record>>)>>,
}

/// What tells a changed results file from an unchanged one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// `2026-01-01T00:00:00Z` (what the loop writes) as milliseconds since the epoch.
fn parse_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !text.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1000)
}

/// When `r` started, in milliseconds since the epoch (0 when its time does not parse).
pub(crate) fn started_ms(r: &Record) -> i64 {
    parse_time(&r.started_at).unwrap_or(0)
}

/// Whether `r` is on the local chain: the baseline or a kept experiment, measured.
fn on_chain(r: &Record) -> bool {
    (r.index == 0 || r.status == Status::Keep) && r.metric.is_some()
}

/// Kept experiments, the baseline first: the local chain.
fn chain(records: &[Record]) -> Vec<&Record> {
    records.iter().filter(|r| on_chain(r)).collect()
}

/// The end of the log at `relative` under `dir`: `None` when there is none, or when the
/// path would leave `dir`.
fn log_tail(dir: &Path, relative: &str) -> Option<LogTail> {
    use std::io::{Read, Seek, SeekFrom};
    let relative = Path::new(relative);
    let inside = relative
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if relative.as_os_str().is_empty() || !inside {
        return None;
    }
    let mut file = std::fs::File::open(dir.join(relative)).ok()?;
    let len = file.metadata().ok()?.len();
    let skipped = len.saturating_sub(LOG_TAIL_BYTES);
    file.seek(SeekFrom::Start(skipped)).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(LogTail {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        skipped,
    })
}

impl LocalViews {
    pub fn new(run: LocalRun) -> LocalViews {
        LocalViews {
            log: ResultsLog::new(&run.dir, &run.metric),
            run,
            cache: Mutex::new(None),
        }
    }

    /// The branch's records, re-read when the file changed.
    fn records(&self) -> Result<Arc<Vec<Record>>, StoreError> {
        let now = stamp(self.log.jsonl_path());
        if let Some((s, records)) = &*self.cache.lock().expect("never poisoned") {
            if Some(*s) == now {
                return Ok(records.clone());
            }
        }
        let records: Vec<Record> = match self.log.read() {
            Ok(all) => all
                .into_iter()
                .filter(|r| r.branch == self.run.branch)
                .collect(),
            Err(_) if now.is_none() => Vec::new(),
            Err(e) => return Err(StoreError::Corrupt(e.to_string())),
        };
        let records = Arc::new(records);
        if let Some(s) = now {
            *self.cache.lock().expect("never poisoned") = Some((s, records.clone()));
        }
        Ok(records)
    }

    fn summarize(&self, records: &[Record], now: i64) -> TrackSummary {
        let chain = chain(records);
        let values: Vec<f64> = chain.iter().filter_map(|r| r.metric).collect();
        TrackSummary {
            name: self.run.track.clone(),
            metric: self.run.metric.clone(),
            goal: self.run.goal,
            baseline: chain.first().map(|r| r.commit.clone()).unwrap_or_default(),
            head: chain.last().map(|r| r.commit.clone()).unwrap_or_default(),
            chain_len: chain.len() as u64,
            baseline_value: values.first().copied(),
            head_value: values.last().copied(),
            experiments_per_hour: records
                .iter()
                .filter(|r| parse_time(&r.started_at).is_some_and(|t| t > now - HOUR_MS))
                .count() as u64,
            verifications_per_hour: 0,
            workers_online: 0,
            verifiers_online: 0,
            pending: 0,
            open_ideas: 0,
            trend: thin(&values, 48),
            local: true,
        }
    }

    fn rows(&self, records: &[Record]) -> Vec<ChainRow> {
        let chain = chain(records);
        chain
            .iter()
            .enumerate()
            .map(|(place, r)| {
                let parent = place.checked_sub(1).map(|p| chain[p]);
                ChainRow {
                    // The experiment's own number, as the terminal and results.tsv give it.
                    seq: r.index as i64,
                    commit: r.commit.clone(),
                    parent: parent.map(|p| p.commit.clone()),
                    at_ms: started_ms(r),
                    submission_id: None,
                    submitter: Some(Party::unnamed(&r.proposer)),
                    idea: None,
                    value: r.metric,
                    delta: match (parent.and_then(|p| p.metric), r.metric) {
                        (Some(a), Some(b)) => Some(b - a),
                        _ => None,
                    },
                    description: Some(r.description.clone()),
                    verdict: None,
                    ledger: Vec::new(),
                    on_main: false,
                }
            })
            .collect()
    }
}

#[async_trait]
impl Views for LocalViews {
    async fn summaries(&self, now: i64) -> Result<Vec<TrackSummary>, StoreError> {
        Ok(vec![self.summarize(&self.records()?, now)])
    }

    async fn summary(&self, track: &str, now: i64) -> Result<Option<TrackSummary>, StoreError> {
        if track != self.run.track {
            return Ok(None);
        }
        Ok(Some(self.summarize(&self.records()?, now)))
    }

    async fn progress(&self, track: &str, now: i64) -> Result<Option<Progress>, StoreError> {
        if track != self.run.track {
            return Ok(None);
        }
        let records = self.records()?;
        let points = records
            .iter()
            .filter(|r| !matches!(r.status, Status::Invalid | Status::Interrupted))
            .map(|r| {
                let kept = on_chain(r);
                Point {
                    x: r.index,
                    value: r.metric.filter(|_| !r.status.is_failure()),
                    sigma: None,
                    kept,
                    chain_seq: kept.then_some(r.index as i64),
                    commit: r.commit.clone(),
                    at_ms: started_ms(r),
                    label: Some(r.description.clone()),
                }
            })
            .collect();
        // The run's own program may print the entropy floor of its data (tinygpt does).
        let reference = records.iter().rev().find_map(|r| {
            r.metrics
                .iter()
                .find(|(k, v)| k.contains("floor") && v.is_finite())
                .map(|(_, v)| Reference {
                    label: "entropy floor".into(),
                    value: *v,
                })
        });
        Ok(Some(Progress {
            summary: self.summarize(&records, now),
            points,
            reference,
        }))
    }

    async fn chain_page(&self, track: &str, paging: Paging) -> Result<Paged<ChainRow>, StoreError> {
        let rows = if track == self.run.track {
            self.rows(&self.records()?)
        } else {
            Vec::new()
        };
        let total = rows.len() as u64;
        let items = rows
            .into_iter()
            .rev()
            .skip(usize::try_from(paging.offset()).unwrap_or(usize::MAX))
            .take(paging.per_page as usize)
            .collect();
        Ok(Paged {
            items,
            paging,
            total,
        })
    }

    async fn chain_entry(&self, track: &str, seq: i64) -> Result<Option<ChainRow>, StoreError> {
        if track != self.run.track {
            return Ok(None);
        }
        Ok(self
            .rows(&self.records()?)
            .into_iter()
            .find(|r| r.seq == seq))
    }

    async fn experiment(&self, track: &str, index: u64) -> Result<Option<Experiment>, StoreError> {
        if track != self.run.track {
            return Ok(None);
        }
        let records = self.records()?;
        let Some(record) = records.iter().find(|r| r.index == index) else {
            return Ok(None);
        };
        // The latest kept experiment before it that holds the commit it started from.
        let parent = records
            .iter()
            .rfind(|r| r.index < index && on_chain(r) && r.commit == record.parent)
            .cloned();
        Ok(Some(Experiment {
            record: record.clone(),
            parent,
            log_tail: log_tail(&self.run.dir, &record.log),
        }))
    }
}

/// Serves a local run's dashboard on `listen` until `shutdown` completes; `ready` is told
/// the bound address first.
pub async fn serve(
    run: LocalRun,
    listen: &str,
    ready: impl FnOnce(std::net::SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| HubError::io(format!("failed to listen on {listen}"), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| HubError::io("failed to read the bound address", e))?;
    let events = Events::default();
    let views = Arc::new(LocalViews::new(run.clone()));
    let web = Arc::new(Web {
        views: views.clone(),
        hub: None,
        events: events.clone(),
        code: Arc::new(Code::local(run.dir.clone(), &run.track)),
        clock: Arc::new(SystemClock) as Arc<dyn Clock>,
        limiter: None,
        anonymous: None,
        caching: Caching::none(),
        csrf_secret: crate::domain::hub::random_bytes::<32>()?,
    });
    let watcher = {
        let (events, path, track) = (
            events.clone(),
            views.log.jsonl_path().to_path_buf(),
            run.track.clone(),
        );
        // Taken now, so that a change made once the address is announced is seen.
        let mut last = stamp(&path);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            loop {
                tick.tick().await;
                let now = stamp(&path);
                if now != last {
                    last = now;
                    events.publish(HubEvent::new(EventKind::Verdict, &track));
                }
            }
        })
    };
    ready(addr);
    let app = super::router(web).fallback(|| async { super::not_found() });
    let closing = events.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            closing.publish(HubEvent::new(EventKind::Closing, ""));
        })
        .await;
    watcher.abort();
    served.map_err(|e| HubError::io("server failed", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_s_timestamps_parse() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2000-03-01T00:00:01Z"), Some(951_868_801_000));
        assert_eq!(parse_time("2025-11-27T15:40:00Z"), Some(1_764_258_000_000));
        assert_eq!(parse_time("t"), None);
    }
}
