//! The hub's state behind one trait, [`Store`]: each method is one state transition and runs
//! as one database transaction, ledger entry included. SQLite (WAL) is the embedded
//! implementation; the migrations are portable SQL so that a PostgreSQL implementation can
//! follow with the same files (`$n` placeholders, `ON CONFLICT`, `RETURNING`, no
//! autoincrement). The store decides nothing statistical: it is handed decisions.

mod sqlite;
mod sqlite_views;
pub mod views;

use async_trait::async_trait;
use swarmlab_proto::{
    CanaryInfo, ChainEntry, Claim, IdeaInfo, JobLease, Measurements, Role, Rule, SubmissionInfo,
};

pub use sqlite::SqliteStore;
pub use sqlite_views::SqliteViews;
pub use views::Views;

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
];

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// The worker has as many submissions waiting for verification as its quota allows.
    #[error("{0}")]
    Quota(String),
}

/// A track as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRecord {
    pub name: String,
    pub baseline: String,
    pub head: String,
    pub metric: String,
    pub rule: Rule,
    pub editable: Vec<String>,
    pub spec_toml: String,
}

/// An authenticated party.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// ed25519, 64 hex digits; required for workers and verifiers.
    pub public_key: Option<String>,
}

/// How intake judged a submission (before replay and duplicate checks, which the store
/// makes inside the transaction).
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// Passed: verify `candidate` (the commit, or it rebased onto the head) against `base`.
    Queued { candidate: String, base: String },
    /// Broke an intake rule; final.
    Invalid(String),
    /// Well-formed but refused (`stale`, `rebase_conflict`); final.
    Rejected(String),
}

/// A submission to record.
#[derive(Debug, Clone)]
pub struct NewSubmission {
    pub track: String,
    pub worker: String,
    pub claim: Claim,
    pub signature: String,
    pub log: String,
    pub diff_hash: String,
    pub intake: Intake,
}

/// A verification job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: i64,
    pub submission_id: i64,
    pub track: String,
    pub candidate: String,
    pub base: String,
    /// `open`, `leased` or `done`.
    pub state: String,
    pub verifier: Option<String>,
    pub lease_deadline_ms: Option<i64>,
    /// A canary job: the canary it tests its verifier with (`submission_id` is the canary's
    /// submission, whose claim it carries).
    pub canary_id: Option<i64>,
    /// A re-check: the verdict (of a suspended verifier) this job verifies again.
    pub recheck_of: Option<i64>,
}

/// A submission whose right verdict is known, handed to verifiers to test them.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    pub id: i64,
    pub track: String,
    pub submission_id: i64,
    /// The commit whose tree is verified, against `base`.
    pub candidate: String,
    pub base: String,
    /// `accept` or `reject`.
    pub expect: String,
}

/// What a verifier's report amounts to, decided before the transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportKind {
    /// Keep the partial measurements; more reruns are needed.
    Continue,
    /// The verifier failed; retry on another verifier.
    Fault,
    /// The submission is rejected for `reason` (`not_better`, `not_reproduced`, `crash`,
    /// `timeout`).
    Reject {
        reason: String,
        p_value: Option<f64>,
    },
    /// The candidate satisfied the acceptance rule.
    Accept { p_value: f64 },
}

/// A verifier's signed report.
#[derive(Debug, Clone)]
pub struct Report {
    pub job_id: i64,
    pub verifier: String,
    pub measurements: Measurements,
    pub signature: String,
    pub kind: ReportKind,
}

/// What recording a report did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportOutcome {
    Continued,
    Retry,
    Rejected(String),
    /// The head moved to the candidate.
    Accepted {
        head: String,
    },
    /// The candidate won but the head had moved: it must be rebased and verified again.
    Reverify {
        submission_id: i64,
    },
    /// Decided, and recorded without moving anything: a canary job, or a re-check of a
    /// submission already on the chain. The verifier is answered as for any job.
    Recorded {
        accepted: bool,
        reason: Option<String>,
    },
}

/// The head reruns measured on one hardware class.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadRuns {
    pub hardware_class: String,
    /// In the order they were reported.
    pub values: Vec<f64>,
}

/// A worker's submissions waiting for verification and how many it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub waiting: u32,
    pub cap: u32,
}

impl Quota {
    /// Refuses one more submission when the worker is at its cap.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.waiting < self.cap {
            return Ok(());
        }
        Err(StoreError::Quota(format!(
            "{} of your submissions are waiting for verification, as many as your quota allows; \
             it grows as your submissions are accepted",
            self.waiting
        )))
    }
}

/// What a sweep returned to the queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Swept {
    pub ideas: u64,
    pub jobs: u64,
}

/// The hub's state. Every method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn create_identity(
        &self,
        identity: &Identity,
        token_sha256: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    async fn identity_by_token(&self, token_sha256: &str) -> Result<Option<Identity>, StoreError>;
    async fn identity(&self, id: &str) -> Result<Option<Identity>, StoreError>;

    /// Adds a track with its head at the baseline, and the ledger's first entry.
    async fn create_track(&self, track: &TrackRecord, now: i64) -> Result<(), StoreError>;
    async fn track(&self, name: &str) -> Result<Option<TrackRecord>, StoreError>;
    async fn tracks(&self) -> Result<Vec<TrackRecord>, StoreError>;
    async fn chain(&self, track: &str) -> Result<Vec<ChainEntry>, StoreError>;

    /// Adds an idea, flagged when it nearly repeats an earlier one (`threshold`).
    async fn add_idea(
        &self,
        track: &str,
        text: &str,
        tags: &[String],
        author: &str,
        threshold: f64,
        now: i64,
    ) -> Result<IdeaInfo, StoreError>;
    async fn idea(&self, id: i64) -> Result<Option<IdeaInfo>, StoreError>;
    async fn ideas(&self, track: &str) -> Result<Vec<IdeaInfo>, StoreError>;
    /// The oldest open idea (an expired lease counts as open), leased to `worker`.
    async fn lease_idea(
        &self,
        track: &str,
        worker: &str,
        now: i64,
        deadline: i64,
    ) -> Result<Option<IdeaInfo>, StoreError>;
    async fn heartbeat_idea(
        &self,
        id: i64,
        worker: &str,
        now: i64,
        deadline: i64,
    ) -> Result<(), StoreError>;
    async fn finish_idea(&self, id: i64, worker: &str, now: i64) -> Result<(), StoreError>;

    /// Returns expired idea and job leases to their queues.
    async fn sweep(&self, now: i64) -> Result<Swept, StoreError>;

    async fn nonce_used(&self, identity: &str, nonce: &str) -> Result<bool, StoreError>;
    /// A worker's submissions waiting for verification, and its cap.
    async fn quota(&self, worker: &str) -> Result<Quota, StoreError>;
    /// Records a submission: replay, duplicate and quota checks, a job when queued, a ledger
    /// entry.
    async fn record_submission(
        &self,
        new: &NewSubmission,
        now: i64,
    ) -> Result<SubmissionInfo, StoreError>;
    async fn submission(&self, id: i64) -> Result<Option<SubmissionInfo>, StoreError>;
    /// The claim a submission was made with.
    async fn claim(&self, submission_id: i64) -> Result<Option<Claim>, StoreError>;
    /// Submissions waiting to be rebased onto a head that moved.
    async fn reverify_pending(&self) -> Result<Vec<SubmissionInfo>, StoreError>;
    /// A `reverify` submission rebased: a new job for `candidate` against `base`.
    async fn requeue(
        &self,
        submission_id: i64,
        candidate: &str,
        base: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Ends a submission outside a verdict (e.g. its rebase conflicts), with a ledger entry.
    async fn reject_submission(
        &self,
        submission_id: i64,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    /// The oldest open job (an expired lease counts as open) that `verifier` did not submit
    /// and has not faulted on, leased to it.
    async fn lease_job(
        &self,
        verifier: &str,
        now: i64,
        deadline: i64,
    ) -> Result<Option<JobLease>, StoreError>;
    async fn heartbeat_job(
        &self,
        job_id: i64,
        verifier: &str,
        now: i64,
        deadline: i64,
    ) -> Result<(), StoreError>;
    async fn job(&self, job_id: i64) -> Result<Option<JobRecord>, StoreError>;
    /// Whether `verifier` ever held a lease on the job.
    async fn held_job(&self, job_id: i64, verifier: &str) -> Result<bool, StoreError>;
    /// Records a report; the first decisive report of a job wins, later ones conflict. A
    /// decisive report's head reruns are kept per hardware class.
    async fn record_report(&self, report: &Report, now: i64) -> Result<ReportOutcome, StoreError>;
    /// The head reruns kept for `commit` of `track`, per hardware class, by class name.
    async fn head_runs(&self, track: &str, commit: &str) -> Result<Vec<HeadRuns>, StoreError>;

    /// The track's ledger, one exported line per entry, in order.
    async fn ledger(&self, track: &str) -> Result<Vec<String>, StoreError>;

    /// Makes a decided submission a canary that verifiers should `expect` (`accept` or
    /// `reject`).
    async fn add_canary(
        &self,
        submission_id: i64,
        expect: &str,
        note: &str,
        by: &str,
        now: i64,
    ) -> Result<CanaryInfo, StoreError>;
    async fn canaries(&self) -> Result<Vec<CanaryInfo>, StoreError>;
    /// The canary `verifier` is due, if it is due one: the `pick`-th (modulo their number)
    /// of the canaries it did not submit.
    async fn canary_due(&self, verifier: &str, pick: u64) -> Result<Option<Canary>, StoreError>;
    /// Leases `canary` to `verifier` as a job of `candidate` (the canary's tree under a fresh
    /// commit); its next canary comes after `next` real jobs.
    #[allow(clippy::too_many_arguments)]
    async fn lease_canary(
        &self,
        verifier: &str,
        canary: &Canary,
        candidate: &str,
        now: i64,
        deadline: i64,
        next: u32,
    ) -> Result<JobLease, StoreError>;
    /// Why `verifier` is suspended, if it is.
    async fn suspension(&self, verifier: &str) -> Result<Option<String>, StoreError>;
    /// Lifts a verifier's suspension.
    async fn reinstate(&self, verifier: &str) -> Result<(), StoreError>;
}
