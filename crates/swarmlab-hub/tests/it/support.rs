//! The hub's test fixture: testkit's seeded hub on a manual clock, two workers and two
//! verifiers that sign like real clients, candidates made in the track's repository.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use swarmlab_hub::{Hub, HubConfig, ManualClock};
use swarmlab_proto::signing;
use swarmlab_proto::{
    Claim, EventBody, JobLease, LedgerEntry, Measurements, ReportRequest, ReportResponse, Role,
    RunOutcome, SubmissionInfo,
};
use swarmlab_testkit::bundle::{self, Candidate};
use swarmlab_testkit::git::Repo;
use swarmlab_testkit::hub::{Member, Seed, SeededHub, Served};

/// A change to make in a candidate.
pub enum Edit<'a> {
    Write(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Gitlink(&'a str),
}

pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub hub: Arc<Hub>,
    pub src: Repo,
    pub baseline: String,
    pub w1: Member,
    pub w2: Member,
    pub v1: Member,
    pub v2: Member,
    counter: std::cell::Cell<u32>,
}

impl Fixture {
    pub async fn new() -> Fixture {
        Fixture::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut HubConfig)) -> Fixture {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let seeded = Seed::new().clock(clock.clone()).config(adjust).open().await;
        Fixture::of(seeded, clock).await
    }

    /// The fixture's hub behind a server on loopback.
    pub async fn served() -> (Fixture, Served) {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let (seeded, served) = Seed::new().clock(clock.clone()).serve().await;
        (Fixture::of(seeded, clock).await, served)
    }

    async fn of(seeded: SeededHub, clock: Arc<ManualClock>) -> Fixture {
        let w2 = seeded.member("worker-2", Role::Worker, 2).await;
        let v2 = seeded.member("verifier-4", Role::Verifier, 4).await;
        Fixture {
            tmp: seeded.tmp,
            clock,
            hub: seeded.hub,
            src: seeded.repo,
            baseline: seeded.baseline,
            w1: seeded.worker,
            w2,
            v1: seeded.verifier,
            v2,
            counter: std::cell::Cell::new(0),
        }
    }

    /// A commit on `parent` with `edits`, and a bundle (base64) carrying it.
    pub fn candidate(&self, parent: &str, edits: &[Edit]) -> (String, String) {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let repo = &self.src;
        repo.git(&["checkout", "-q", "--detach", parent]);
        for edit in edits {
            match edit {
                Edit::Write(path, content) => repo.write(path, content),
                Edit::Symlink(path, target) => {
                    std::os::unix::fs::symlink(target, repo.root().join(path)).unwrap();
                }
                Edit::Gitlink(_) => {}
            }
        }
        repo.git(&["add", "-A"]);
        for edit in edits {
            if let Edit::Gitlink(path) = edit {
                let cacheinfo = format!("160000,{parent},{path}");
                repo.git(&["update-index", "--add", "--cacheinfo", &cacheinfo]);
            }
        }
        repo.git(&[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            &format!("candidate {n}"),
        ]);
        let commit = repo.head();
        (commit.clone(), self.bundle_of(&commit, parent))
    }

    pub fn bundle_of(&self, commit: &str, exclude: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(bundle::bundle(&self.src, commit, exclude))
    }

    pub fn claim(&self, w: &Member, parent: &str, commit: &str, loss: f64, nonce: &str) -> Claim {
        Claim {
            metrics: BTreeMap::from([("loss".to_string(), loss)]),
            nonce: nonce.into(),
            ..bundle::claim(parent, commit, &w.identity.id)
        }
    }

    pub async fn submit_claim(&self, w: &Member, claim: Claim, bundle: String) -> SubmissionInfo {
        let request = Candidate {
            claim,
            bundle,
            log: "loss: 0.9\n".into(),
        }
        .signed(&w.key);
        self.hub.submit(&w.identity, "toy", request).await.unwrap()
    }

    /// Submits a change of `params.txt` on `parent`.
    pub async fn submit(&self, w: &Member, parent: &str, params: &str) -> SubmissionInfo {
        let (commit, bundle) =
            self.candidate(parent, &[Edit::Write("params.txt", params.as_bytes())]);
        let nonce = format!("n-{commit}-{}", self.counter.get());
        let claim = self.claim(w, parent, &commit, 0.9, &nonce);
        self.submit_claim(w, claim, bundle).await
    }

    pub async fn lease(&self, v: &Member) -> Option<JobLease> {
        self.hub.lease_job(&v.identity).await.unwrap()
    }

    pub fn measurements(
        &self,
        v: &Member,
        job: i64,
        outcome: RunOutcome,
        candidate: &[f64],
        head: &[f64],
    ) -> ReportRequest {
        let m = Measurements {
            job_id: job,
            verifier_id: v.identity.id.clone(),
            hardware_class: "cpu".into(),
            outcome,
            candidate: candidate.to_vec(),
            head: head.to_vec(),
            detail: None,
            unsandboxed: false,
            pairs: None,
        };
        let signature = signing::sign(&v.key, &m.signed_bytes());
        ReportRequest {
            measurements: m,
            signature,
        }
    }

    pub async fn report(
        &self,
        v: &Member,
        job: i64,
        candidate: &[f64],
        head: &[f64],
    ) -> Result<ReportResponse, swarmlab_hub::HubError> {
        let req = self.measurements(v, job, RunOutcome::Ok, candidate, head);
        self.hub.report(&v.identity, job, req).await
    }

    pub async fn head(&self) -> String {
        self.hub.track_info("toy").await.unwrap().head
    }
}

/// Clearly better and clearly not better measurements for a minimised metric.
pub const BETTER: [f64; 3] = [0.80, 0.81, 0.79];
pub const HEAD: [f64; 3] = [1.00, 1.01, 0.99];

/// The events of an exported ledger, each with its time, in order.
pub fn events(ledger: &str) -> Vec<(i64, EventBody)> {
    ledger
        .lines()
        .map(|line| {
            let entry: LedgerEntry = serde_json::from_str(line).unwrap();
            (entry.at_ms, entry.event)
        })
        .collect()
}

/// `events` sealed into a ledger of track `toy` with `key`: what a hub that rewrote its own
/// ledger could publish, every hash and hub signature sound.
pub fn resealed(events: &[(i64, EventBody)], key: &signing::SigningKey) -> String {
    let mut out = String::new();
    let mut prev: Option<(u64, String)> = None;
    for (at_ms, event) in events {
        let entry = swarmlab_hub::domain::ledger::seal(
            key,
            "toy",
            prev.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
            *at_ms,
            event.clone(),
        );
        out.push_str(&entry.to_line());
        out.push('\n');
        prev = Some((entry.seq, entry.hash));
    }
    out
}
