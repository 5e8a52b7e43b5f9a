//! The dashboard's read side: what its pages show, as plain data, behind one trait,
//! [`Views`]. The hub's implementation reads the database on query-only connections
//! ([`Reader`](super::Reader)); a local run's reads `results.jsonl` (`web::local`). Nothing
//! here decides anything or writes: the pages are rendered from these values alone.
//!
//! Every list a page shows is paginated, so a page costs the same on a hub with ten chain
//! entries and on one with ten thousand.

use std::collections::BTreeMap;

use async_trait::async_trait;
use swarmlab_core::{Goal, Record};
use swarmlab_proto::SubmissionInfo;

use super::StoreError;

/// How long after its last sign of life a worker or verifier still counts as online.
pub const ONLINE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// The window of the per-hour rates.
pub const HOUR_MS: i64 = 60 * 60 * 1000;

/// Which page of a list, counting from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u32,
    pub per_page: u32,
}

impl Paging {
    /// Page `page` (1 when 0) of `per_page` items.
    pub fn new(page: u32, per_page: u32) -> Paging {
        Paging {
            page: page.max(1),
            per_page: per_page.max(1),
        }
    }

    /// How many items come before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

/// One page of a list and the size of the whole list.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub paging: Paging,
    pub total: u64,
}

impl<T> Paged<T> {
    /// How many pages the whole list fills (at least 1).
    pub fn pages(&self) -> u32 {
        let per = u64::from(self.paging.per_page);
        u32::try_from(self.total.div_ceil(per).max(1)).unwrap_or(u32::MAX)
    }
}

/// An identity as pages name it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Party {
    pub id: String,
    /// The identity's display name; its id when unknown.
    pub name: String,
}

impl Party {
    /// A party known only by id.
    pub fn unnamed(id: &str) -> Party {
        Party {
            id: id.to_string(),
            name: id.to_string(),
        }
    }
}

/// A track at a glance: the overview's card and every track page's header.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSummary {
    pub name: String,
    pub metric: String,
    pub goal: Goal,
    pub baseline: String,
    pub head: String,
    /// Chain entries, the baseline included.
    pub chain_len: u64,
    /// The baseline's measured value, when a verifier has measured it.
    pub baseline_value: Option<f64>,
    /// The head's measured value (the baseline's while the chain has one entry).
    pub head_value: Option<f64>,
    /// Submissions received in the last hour.
    pub experiments_per_hour: u64,
    /// Verdicts reached in the last hour.
    pub verifications_per_hour: u64,
    /// Workers with a live idea lease or a submission in the last [`ONLINE_WINDOW_MS`].
    pub workers_online: u64,
    /// Verifiers with a live job lease or a verdict in the last [`ONLINE_WINDOW_MS`].
    pub verifiers_online: u64,
    /// Submissions waiting for or under verification.
    pub pending: u64,
    pub open_ideas: u64,
    /// The head's value after each chain step, thinned to a few dozen, for a sparkline.
    pub trend: Vec<f64>,
    /// What the local loop calls experiments and the hub verifications.
    pub local: bool,
}

impl TrackSummary {
    /// Head minus baseline, when both are measured.
    pub fn improvement(&self) -> Option<f64> {
        Some(self.head_value? - self.baseline_value?)
    }
}

/// A line the metric cannot cross (an entropy floor) or a target, drawn on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub label: String,
    pub value: f64,
}

/// One verified measurement (or, locally, one experiment) on the progress chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Verdict number on the track (experiment number locally); the baseline is 0.
    pub x: u64,
    /// The mean of the candidate's reruns; `None` when it crashed or timed out.
    pub value: Option<f64>,
    /// The standard deviation of the reruns, when there were two or more.
    pub sigma: Option<f64>,
    /// On the chain: the head moved to it.
    pub kept: bool,
    pub chain_seq: Option<i64>,
    pub commit: String,
    pub at_ms: i64,
    /// What it changed, for kept points (filled by the page from git or the record).
    pub label: Option<String>,
}

/// One experiment of a local run, whatever became of it: its record, the experiment it
/// started from, and the end of its log.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub record: Record,
    /// The kept experiment (or baseline) whose commit it started from.
    pub parent: Option<Record>,
    /// The last bytes of its run's log, when the log is still there.
    pub log_tail: Option<LogTail>,
}

/// The end of a log: the text and how many bytes before it were left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTail {
    pub text: String,
    pub skipped: u64,
}

/// A track's progress chart: every measurement and, when known, a reference line.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub summary: TrackSummary,
    pub points: Vec<Point>,
    pub reference: Option<Reference>,
}

/// A ledger entry a page links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRef {
    pub seq: u64,
    /// `submission`, `verdict`, `head_move` or `promotion`.
    pub kind: &'static str,
    /// 64 hex digits.
    pub hash: String,
}

/// A verifier's decision on a job, with its measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictView {
    pub id: i64,
    pub verifier: Party,
    /// `accept` or `reject`.
    pub decision: String,
    pub reason: Option<String>,
    pub p_value: Option<f64>,
    pub hardware_class: String,
    /// The verifier ran the candidate without a sandbox (it says so in its signed report).
    pub unsandboxed: bool,
    pub candidate: Vec<f64>,
    pub head: Vec<f64>,
    /// How the reruns were paired (seeds, budget, load), when the verifier said.
    pub pairs: Option<swarmlab_proto::Pairs>,
    pub at_ms: i64,
    pub ledger: Option<LedgerRef>,
}

/// One entry of a track's chain, with how it got there.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainRow {
    pub seq: i64,
    pub commit: String,
    pub parent: Option<String>,
    pub at_ms: i64,
    pub submission_id: Option<i64>,
    pub submitter: Option<Party>,
    /// The idea the submission tried: id and text.
    pub idea: Option<(i64, String)>,
    /// The measured value (the verdict's candidate mean, or the local run's metric).
    pub value: Option<f64>,
    /// The value minus its parent's, as measured (by the same verification on a hub).
    pub delta: Option<f64>,
    /// What the change was, when the source knows it without git (a local description).
    pub description: Option<String>,
    pub verdict: Option<VerdictView>,
    /// The head-move entry and any promotions of this commit.
    pub ledger: Vec<LedgerRef>,
    /// Whether this commit is what `main` points at now.
    pub on_main: bool,
}

/// Counts of a track's ideas by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdeaCounts {
    pub open: u64,
    pub leased: u64,
    pub done: u64,
}

/// An idea in the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct IdeaRow {
    pub id: i64,
    pub text: String,
    pub tags: Vec<String>,
    pub author: Party,
    pub state: String,
    pub lease_holder: Option<Party>,
    pub duplicate_of: Option<i64>,
    pub similarity: Option<f64>,
    pub tried: u64,
    pub accepted: u64,
    pub created_ms: i64,
    /// The document and passage the idea was drawn from, when its poster said.
    pub source: Option<swarmlab_proto::IdeaSource>,
}

/// A worker's standing on a track.
#[derive(Debug, Clone, PartialEq)]
pub struct ContributorRow {
    pub party: Party,
    pub submissions: u64,
    pub accepted: u64,
    /// The verified improvements of its accepted commits, summed (in the goal's direction).
    pub gain: f64,
}

/// An idea author's standing on a track.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorRow {
    pub party: Party,
    pub ideas: u64,
    /// Ideas that led to an accepted commit.
    pub fruitful: u64,
    /// The verified improvements of the commits its ideas led to.
    pub gain: f64,
}

/// A verifier's work on a track.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifierRow {
    pub party: Party,
    pub verdicts: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// A track's three leaderboards, best first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Leaderboard {
    pub contributors: Vec<ContributorRow>,
    pub authors: Vec<AuthorRow>,
    pub verifiers: Vec<VerifierRow>,
}

/// Which submissions a list holds; the domain decides which a reader gets
/// (`domain::roles::submissions_visible_to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionFilter<'a> {
    /// Every submission.
    All,
    /// One worker's, whatever their status.
    Worker(&'a str),
    /// Every decided one (`invalid`, `accepted`, `rejected`), and the pending ones of the
    /// worker named.
    Decided(Option<&'a str>),
}

/// A submission in a list.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmissionRow {
    pub id: i64,
    pub track: String,
    pub worker: Party,
    pub status: String,
    pub reason: Option<String>,
    pub received_ms: i64,
}

/// A verification job of a submission.
#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    pub id: i64,
    /// `open`, `leased` or `done`.
    pub state: String,
    pub verifier: Option<Party>,
    pub lease_deadline_ms: Option<i64>,
    /// Reruns reported so far while the verifier goes on: candidate and head values.
    pub partial: Option<(Vec<f64>, Vec<f64>)>,
}

/// Everything a submission's status page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmissionView {
    pub info: SubmissionInfo,
    pub submitter: Party,
    /// What the worker claimed it measured: a hint, never the score.
    pub claimed: BTreeMap<String, f64>,
    pub idea: Option<(i64, String)>,
    /// The end of the worker's run log.
    pub log_tail: String,
    pub jobs: Vec<JobView>,
    pub verdicts: Vec<VerdictView>,
    /// Where it landed on the chain, when accepted.
    pub chain_seq: Option<i64>,
    pub ledger: Vec<LedgerRef>,
    /// The earlier submission that made the same change, when this one is its duplicate.
    pub duplicate_of: Option<i64>,
}

/// The dashboard's reads. Sources that have no queue, credit or submissions (a local run)
/// keep the defaults, which are empty.
#[async_trait]
pub trait Views: Send + Sync + 'static {
    /// Every track at a glance, by name.
    async fn summaries(&self, now: i64) -> Result<Vec<TrackSummary>, StoreError>;
    /// One track at a glance; `None` for an unknown track.
    async fn summary(&self, track: &str, now: i64) -> Result<Option<TrackSummary>, StoreError>;
    /// A track's progress chart; `None` for an unknown track.
    async fn progress(&self, track: &str, now: i64) -> Result<Option<Progress>, StoreError>;
    /// A page of a track's chain, newest first.
    async fn chain_page(&self, track: &str, paging: Paging) -> Result<Paged<ChainRow>, StoreError>;
    /// One chain entry.
    async fn chain_entry(&self, track: &str, seq: i64) -> Result<Option<ChainRow>, StoreError>;

    /// A page of a track's ideas, newest first, optionally of one state.
    async fn ideas_page(
        &self,
        _track: &str,
        _state: Option<&str>,
        paging: Paging,
    ) -> Result<(Paged<IdeaRow>, IdeaCounts), StoreError> {
        Ok((empty(paging), IdeaCounts::default()))
    }
    /// A track's leaderboards.
    async fn leaderboard(&self, _track: &str) -> Result<Leaderboard, StoreError> {
        Ok(Leaderboard::default())
    }
    /// A page of the submissions `filter` holds, newest first.
    async fn submissions_page(
        &self,
        _filter: SubmissionFilter<'_>,
        paging: Paging,
    ) -> Result<Paged<SubmissionRow>, StoreError> {
        Ok(empty(paging))
    }
    /// One submission with its jobs and verdicts (the caller checks who may see it).
    async fn submission(&self, _id: i64) -> Result<Option<SubmissionView>, StoreError> {
        Ok(None)
    }
    /// One experiment of a local run by its number; a hub has none.
    async fn experiment(
        &self,
        _track: &str,
        _index: u64,
    ) -> Result<Option<Experiment>, StoreError> {
        Ok(None)
    }
}

fn empty<T>(paging: Paging) -> Paged<T> {
    Paged {
        items: Vec::new(),
        paging,
        total: 0,
    }
}

/// Mean and (sample) standard deviation; σ is `None` under two values.
pub fn mean_sigma(values: &[f64]) -> Option<(f64, Option<f64>)> {
    match values {
        [] => None,
        [one] => Some((*one, None)),
        _ => crate::domain::stats::mean_var(values).map(|(mean, var)| (mean, Some(var.sqrt()))),
    }
}

/// At most `n` values of `values`, evenly spaced, always keeping the last.
pub fn thin(values: &[f64], n: usize) -> Vec<f64> {
    if values.len() <= n || n < 2 {
        return values.to_vec();
    }
    let step = (values.len() - 1) as f64 / (n - 1) as f64;
    (0..n)
        .map(|i| values[((i as f64 * step).round() as usize).min(values.len() - 1)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_counts_pages_and_offsets() {
        let p = Paging::new(0, 50);
        assert_eq!((p.page, p.offset()), (1, 0));
        assert_eq!(Paging::new(3, 50).offset(), 100);
        let paged: Paged<u8> = Paged {
            items: vec![],
            paging: p,
            total: 101,
        };
        assert_eq!(paged.pages(), 3);
        assert_eq!(empty::<u8>(p).pages(), 1);
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        let t = thin(&v, 5);
        assert_eq!(t, vec![0.0, 25.0, 50.0, 74.0, 99.0]);
        assert_eq!(thin(&v[..3], 5), vec![0.0, 1.0, 2.0]);
    }
}
