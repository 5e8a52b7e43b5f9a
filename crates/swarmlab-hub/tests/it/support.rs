//! A track repository, a hub on a manual clock, and actors that sign like real clients.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use base64::Engine;
use swarmlab_hub::Identity;
use swarmlab_hub::{Hub, HubConfig, ManualClock};
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{
    Claim, JobLease, Measurements, ReportRequest, ReportResponse, Role, RunOutcome, SubmissionInfo,
    SubmitRequest,
};

/// The spec of the test track, shared with the load bench.
pub const SPEC: &str = include_str!("../fixtures/swarmlab.toml");

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgSign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub struct Actor {
    pub identity: Identity,
    pub key: SigningKey,
}

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
    pub src: PathBuf,
    pub baseline: String,
    pub w1: Actor,
    pub w2: Actor,
    pub v1: Actor,
    pub v2: Actor,
    counter: std::cell::Cell<u32>,
}

pub fn test_config(data_dir: &Path) -> HubConfig {
    HubConfig {
        data_dir: data_dir.to_path_buf(),
        listen: "127.0.0.1:0".into(),
        max_file_bytes: 4096,
        idea_lease: std::time::Duration::from_secs(60),
        job_lease: std::time::Duration::from_secs(600),
        ..HubConfig::default()
    }
}

pub fn track_repo(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("swarmlab.toml"), SPEC).unwrap();
    std::fs::write(dir.join("train.sh"), "echo loss: 1\n").unwrap();
    std::fs::write(dir.join("params.txt"), "lr = 0.01\nwidth = 64\n").unwrap();
    std::fs::write(dir.join("src/model.txt"), "layers = 2\n").unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "baseline"]);
    git(dir, &["rev-parse", "HEAD"])
}

impl Fixture {
    pub async fn new() -> Fixture {
        Fixture::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut HubConfig)) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src-repo");
        let baseline = track_repo(&src);
        let mut config = test_config(&tmp.path().join("hub"));
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(1_000_000));
        let hub = Arc::new(Hub::open(config, clock.clone()).await.unwrap());
        hub.add_track(&swarmlab_proto::AddTrackRequest {
            repo: src.display().to_string(),
            baseline: "main".into(),
        })
        .await
        .unwrap();
        let w1 = actor(&hub, Role::Worker, 1).await;
        let w2 = actor(&hub, Role::Worker, 2).await;
        let v1 = actor(&hub, Role::Verifier, 3).await;
        let v2 = actor(&hub, Role::Verifier, 4).await;
        Fixture {
            tmp,
            clock,
            hub,
            src,
            baseline,
            w1,
            w2,
            v1,
            v2,
            counter: std::cell::Cell::new(0),
        }
    }

    /// A commit on `parent` with `edits`, and a bundle (base64) carrying it.
    pub fn candidate(&self, parent: &str, edits: &[Edit]) -> (String, String) {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let dir = &self.src;
        git(dir, &["checkout", "-q", "--detach", parent]);
        for edit in edits {
            match edit {
                Edit::Write(path, content) => {
                    let p = dir.join(path);
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(p, content).unwrap();
                }
                Edit::Symlink(path, target) => {
                    std::os::unix::fs::symlink(target, dir.join(path)).unwrap();
                }
                Edit::Gitlink(_) => {}
            }
        }
        git(dir, &["add", "-A"]);
        for edit in edits {
            if let Edit::Gitlink(path) = edit {
                let cacheinfo = format!("160000,{parent},{path}");
                git(dir, &["update-index", "--add", "--cacheinfo", &cacheinfo]);
            }
        }
        git(
            dir,
            &[
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                &format!("candidate {n}"),
            ],
        );
        let commit = git(dir, &["rev-parse", "HEAD"]);
        (commit.clone(), self.bundle_of(&commit, parent))
    }

    pub fn bundle_of(&self, commit: &str, exclude: &str) -> String {
        let branch = format!("b{}", self.counter.get() + 1000);
        git(&self.src, &["branch", "-f", &branch, commit]);
        let path = self.tmp.path().join(format!("{branch}.bundle"));
        git(
            &self.src,
            &[
                "bundle",
                "create",
                "-q",
                path.to_str().unwrap(),
                &branch,
                &format!("^{exclude}"),
            ],
        );
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).unwrap())
    }

    pub fn claim(&self, w: &Actor, parent: &str, commit: &str, loss: f64, nonce: &str) -> Claim {
        Claim {
            track: "toy".into(),
            parent: parent.into(),
            commit: commit.into(),
            metrics: BTreeMap::from([("loss".to_string(), loss)]),
            idea_id: None,
            worker_id: w.identity.id.clone(),
            nonce: nonce.into(),
        }
    }

    pub async fn submit_claim(&self, w: &Actor, claim: Claim, bundle: String) -> SubmissionInfo {
        let signature = signing::sign(&w.key, &claim.signed_bytes());
        self.hub
            .submit(
                &w.identity,
                "toy",
                SubmitRequest {
                    claim,
                    signature,
                    bundle,
                    log: "loss: 0.9\n".into(),
                },
            )
            .await
            .unwrap()
    }

    /// Submits a change of `params.txt` on `parent`.
    pub async fn submit(&self, w: &Actor, parent: &str, params: &str) -> SubmissionInfo {
        let (commit, bundle) =
            self.candidate(parent, &[Edit::Write("params.txt", params.as_bytes())]);
        let nonce = format!("n-{commit}-{}", self.counter.get());
        let claim = self.claim(w, parent, &commit, 0.9, &nonce);
        self.submit_claim(w, claim, bundle).await
    }

    pub async fn lease(&self, v: &Actor) -> Option<JobLease> {
        self.hub.lease_job(&v.identity).await.unwrap()
    }

    pub fn measurements(
        &self,
        v: &Actor,
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
        v: &Actor,
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

pub async fn actor(hub: &Hub, role: Role, seed: u8) -> Actor {
    let key = signing::signing_key(&[seed; 32]);
    let token = hub
        .create_identity(
            &format!("{}-{seed}", role.as_str()),
            role,
            Some(signing::public_key_hex(&key)),
        )
        .await
        .unwrap();
    let identity = hub.authenticate(&token.token).await.unwrap();
    Actor { identity, key }
}
