//! Request and response bodies of the JSON API under `/api/v1`.

use serde::{Deserialize, Serialize};

use crate::{Claim, Measurements};

/// Who an identity is to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Untrusted: leases ideas, submits candidates.
    Worker,
    /// Trusted: leases verification jobs, reports measurements.
    Verifier,
    /// Adds tracks and identities.
    Admin,
}

impl Role {
    /// The lowercase name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Verifier => "verifier",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "worker" => Some(Role::Worker),
            "verifier" => Some(Role::Verifier),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// `GET /api/v1/hub`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HubInfo {
    pub api_version: String,
    /// The key that signs the ledger, 64 hex digits.
    pub public_key: String,
    /// Whether anyone may register (`registration` is `open`).
    pub open_registration: bool,
    /// Who may register as a worker: `open`, `invite` (with a code an admin made) or
    /// `closed`. Absent from hubs older than the field.
    #[serde(default)]
    pub registration: Option<String>,
}

/// `POST /api/v1/register`: a worker registers its ed25519 key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub name: String,
    /// 64 hex digits.
    pub public_key: String,
    /// An invite code an admin made, on a hub whose registration is by invite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

/// `POST /api/v1/invites` (admin): an invite code for one worker to register with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InviteRequest {
    /// How long the code stays usable, e.g. `7d`; absent: until used.
    #[serde(default)]
    pub expires: Option<String>,
}

/// An invite code, shown once and stored only hashed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invite {
    pub code: String,
    pub expires_ms: Option<i64>,
}

/// `POST /api/v1/identities` (admin): any role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateIdentityRequest {
    pub name: String,
    pub role: Role,
    pub public_key: Option<String>,
}

/// A new identity and its bearer token; the token is shown once and stored only hashed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityToken {
    pub identity_id: String,
    pub role: Role,
    pub token: String,
}

/// `GET /api/v1/me`: the identity behind a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityInfo {
    pub identity_id: String,
    pub name: String,
    pub role: Role,
    pub public_key: Option<String>,
    /// Why a verifier was suspended (it decided a canary wrong); `None` when it is not.
    #[serde(default)]
    pub suspended: Option<String>,
}

/// `POST /api/v1/tracks` (admin): a repository on the hub's machine and its baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddTrackRequest {
    /// Path of a git repository readable by the hub.
    pub repo: String,
    /// A revision in it; `swarmlab.toml` is read from this commit.
    pub baseline: String,
}

/// One link of a track's verified chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainEntry {
    pub seq: i64,
    pub commit: String,
    pub parent: Option<String>,
    pub submission_id: Option<i64>,
    pub at_ms: i64,
}

/// A track as the hub knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackInfo {
    pub name: String,
    pub baseline: String,
    pub head: String,
    pub metric: String,
    pub goal: String,
    pub reruns: u32,
    /// The most reruns of each side the sequential test may ask for.
    #[serde(default)]
    pub max_reruns: u32,
    pub alpha: f64,
    pub min_delta: f64,
    pub editable: Vec<String>,
    pub chain: Vec<ChainEntry>,
}

/// `GET /api/v1/tracks/{track}/noise`: how the head's metric spreads between reruns on one
/// hardware class, from the head reruns of every decisive report against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadNoise {
    pub hardware_class: String,
    /// The head commit measured.
    pub commit: String,
    /// Reruns measured.
    pub n: u32,
    pub mean: f64,
    /// The sample standard deviation; `None` below two reruns.
    pub sd: Option<f64>,
}

/// `GET /api/v1/tracks/{track}/cost`: what verification has cost the track, in device-seconds
/// (wall seconds of runs), against the accepted commits it bought and the search the workers
/// said they spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationCost {
    pub track: String,
    /// Verdicts reached on the track (re-checks included: they cost as much).
    pub verdicts: u64,
    /// Of those, the verdicts whose reports say how long their runs took.
    pub measured_verdicts: u64,
    /// Wall seconds of every run, head and candidate, of the measured verdicts' reports.
    pub verifier_s: f64,
    /// Commits the chain gained after the baseline.
    pub accepted: u64,
    /// `verifier_s` per accepted commit; `None` before the first.
    pub verifier_s_per_accepted: Option<f64>,
    /// `verifier_s` per measured verdict: the expected cost of verifying one more submission
    /// (what the quota charges); `None` before the first.
    pub verifier_s_per_verdict: Option<f64>,
    /// Submissions whose workers said what their search cost (`spent_s` in the claim).
    pub reported_submissions: u64,
    /// What those workers said, together: wall seconds of their experiments.
    pub worker_s: f64,
    /// `verifier_s / (verifier_s + worker_s)`: the verifiers' share of all device-seconds;
    /// `None` until a worker has said what it spent.
    pub verifier_share: Option<f64>,
}

impl VerificationCost {
    /// What verification cost, in one line: `7.5 device-seconds per accepted commit (30.0 s
    /// over 6 verdicts); 8.1% of all device-seconds (340.0 s of search reported)`.
    pub fn line(&self) -> String {
        let per = self.verifier_s_per_accepted.map_or_else(
            || "no accepted commit".to_string(),
            |s| format!("{s:.1} device-seconds per accepted commit"),
        );
        let share = self.verifier_share.map_or_else(
            || "no worker said what its search cost".to_string(),
            |s| {
                format!(
                    "{:.1}% of all device-seconds ({:.1} s of search reported)",
                    s * 100.0,
                    self.worker_s
                )
            },
        );
        format!(
            "{per} ({:.1} s over {} verdicts); {share}",
            self.verifier_s, self.verdicts
        )
    }
}

/// `POST /api/v1/tracks/{track}/ideas`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewIdea {
    pub text: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Where the idea came from, when it was drawn from a document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<IdeaSource>,
}

/// The provenance of an idea: the document it was drawn from and the passage it cites,
/// quoted. `swarmlab ideas` posts only ideas whose passage it found in the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdeaSource {
    /// The document, as the poster named it (a path, a URL, `track history`).
    pub document: String,
    /// The passage the idea rests on, quoted from the document.
    pub passage: String,
}

/// An idea in a track's queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdeaInfo {
    pub id: i64,
    pub track: String,
    pub text: String,
    pub tags: Vec<String>,
    pub author: String,
    /// `open`, `leased` or `done`.
    pub state: String,
    pub lease_holder: Option<String>,
    pub lease_deadline_ms: Option<i64>,
    /// The earlier idea this one nearly repeats, if any.
    pub duplicate_of: Option<i64>,
    pub similarity: Option<f64>,
    /// Submissions that tried this idea.
    pub submissions: Vec<i64>,
    /// Where the idea came from, when its poster said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<IdeaSource>,
}

/// A lease's new deadline (idea or job heartbeat).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseDeadline {
    pub deadline_ms: i64,
}

/// `POST /api/v1/tracks/{track}/submissions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitRequest {
    pub claim: Claim,
    /// The worker's signature over [`Claim::signed_bytes`].
    pub signature: String,
    /// A git bundle carrying the candidate commit, base64.
    pub bundle: String,
    /// The worker's run log.
    pub log: String,
}

/// A submission as its submitter, verifiers and admins see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionInfo {
    pub id: i64,
    pub track: String,
    pub worker: String,
    pub idea_id: Option<i64>,
    pub parent: String,
    pub commit: String,
    /// The commit verified: `commit`, or it rebased onto the head.
    pub candidate: Option<String>,
    /// The head it is verified against.
    pub base: Option<String>,
    /// `invalid`, `queued`, `verifying`, `reverify`, `accepted` or `rejected`.
    pub status: String,
    pub reason: Option<String>,
    pub received_ms: i64,
    /// An accepted submission that a re-check rejected: the id of that verdict.
    #[serde(default)]
    pub disputed_by: Option<i64>,
    /// The reruns of each side its latest verdict took: the cost of verifying it.
    #[serde(default)]
    pub reruns: Option<u32>,
    /// The faults verifiers reported on it, oldest first: why one ended `unverifiable`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultInfo>,
}

/// A verifier's report that it could not verify a job (not the candidate's fault, as it
/// judged): a submission that enough verifiers fault on ends `rejected` as `unverifiable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultInfo {
    pub verifier: String,
    pub at_ms: i64,
    /// What the verifier said went wrong.
    pub detail: Option<String>,
}

/// `POST /api/v1/canaries` (admin): a submission whose right verdict is known, to test
/// verifiers with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddCanaryRequest {
    pub submission_id: i64,
    /// `accept` (a known improvement) or `reject` (a known cheat or non-improvement).
    pub expect: String,
    /// What the canary is, for maintainers.
    #[serde(default)]
    pub note: String,
}

/// A canary and how verifiers fared on it (`GET /api/v1/canaries`, admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryInfo {
    pub id: i64,
    pub track: String,
    pub submission_id: i64,
    pub expect: String,
    pub note: String,
    /// Canary jobs decided (`accept` or `reject`).
    pub checks: u32,
    /// Of those, decided the other way.
    pub failures: u32,
    pub created_ms: i64,
}

/// A verification job leased to a verifier. The claim is withheld: the verifier is blind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobLease {
    pub job_id: i64,
    pub track: String,
    pub candidate: String,
    pub base: String,
    pub metric: String,
    pub goal: String,
    /// Reruns of each side to make before the hub's answer may be final.
    pub reruns: u32,
    /// Reruns of each side the hub may ask for in all, answering `continue` while the
    /// evidence is promising; absent from hubs that predate it (then `reruns`).
    #[serde(default)]
    pub max_reruns: Option<u32>,
    pub deadline_ms: i64,
}

/// `POST /api/v1/verifiers/activity` and `POST /api/v1/workers/activity`: what a verifier
/// or a worker is doing now, in a few words ("building the baseline", "rerun 2 of 3",
/// "experiment 4"), for the pages. Sent when it changes and now and then while it lasts; it
/// decides nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityReport {
    /// The track it works for, when it works for one.
    pub track: Option<String>,
    pub doing: String,
    /// The head a worker has nothing left to propose on: it waits for a new head or an
    /// idea. Absent while it works, and from verifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_on: Option<String>,
}

/// A verifier's or a worker's latest activity (`GET /api/v1/tracks/{track}/activity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientActivity {
    /// The identity's id.
    pub identity: String,
    pub name: String,
    pub role: Role,
    pub track: Option<String>,
    pub doing: String,
    /// The head a worker has nothing left to propose on ([`ActivityReport::idle_on`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_on: Option<String>,
    /// When it began doing it, by the hub's clock.
    pub since_ms: i64,
    /// When the hub last heard of it.
    pub seen_ms: i64,
}

impl ClientActivity {
    /// `verifier-1: building the baseline for 3m05s`, as of `now_ms` by the hub's clock.
    pub fn line(&self, now_ms: i64) -> String {
        let s = ((now_ms - self.since_ms) / 1000).max(0);
        format!(
            "{}: {} for {}m{:02}s",
            self.name,
            self.doing,
            s / 60,
            s % 60
        )
    }
}

/// `POST /api/v1/jobs/{id}/report`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportRequest {
    pub measurements: Measurements,
    /// The verifier's signature over [`Measurements::signed_bytes`].
    pub signature: String,
}

/// The hub's answer to a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportResponse {
    /// `continue` (run more reruns), `accepted`, `rejected`, `reverify` or `retry` (fault).
    pub decision: String,
    pub reason: Option<String>,
    pub p_value: Option<f64>,
    /// The reruns of each side the report held.
    #[serde(default)]
    pub reruns: Option<u32>,
}

/// `POST /api/v1/tracks/{track}/promote` (admin): move the track's `main` to a chain commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromoteRequest {
    /// The full id of a commit on the track's verified chain.
    pub commit: String,
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionInfo {
    pub track: String,
    pub commit: String,
    /// The commit's place on the chain (0 is the baseline).
    pub chain_seq: u64,
    /// Where `main` pointed before, when it pointed at a commit.
    pub previous: Option<String>,
    /// The ledger entry that records it.
    pub ledger_seq: u64,
}

/// Every error the API returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `unauthorized`.
    pub error: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost() -> VerificationCost {
        VerificationCost {
            track: "toy".into(),
            verdicts: 6,
            measured_verdicts: 6,
            verifier_s: 30.0,
            accepted: 4,
            verifier_s_per_accepted: Some(7.5),
            verifier_s_per_verdict: Some(5.0),
            reported_submissions: 6,
            worker_s: 340.0,
            verifier_share: Some(0.081),
        }
    }

    #[test]
    fn the_cost_line_says_per_commit_and_share_or_why_not() {
        assert_eq!(
            cost().line(),
            "7.5 device-seconds per accepted commit (30.0 s over 6 verdicts); \
             8.1% of all device-seconds (340.0 s of search reported)"
        );
        let none = VerificationCost {
            verifier_s_per_accepted: None,
            verifier_share: None,
            ..cost()
        };
        assert_eq!(
            none.line(),
            "no accepted commit (30.0 s over 6 verdicts); no worker said what its search cost"
        );
    }
}
