//! A hub that looks like a swarm has worked on it: a real server on loopback, a toy track
//! whose chain has a dozen verified commits, rejected and crashed candidates, ideas (one of
//! them a `<script>`), and a submission still waiting for its verdict. Everything goes
//! through the hub's own operations with real git bundles, signed claims and signed
//! verifier reports, so the pages see exactly what a live swarm would leave behind.
//!
//! The dashboard's page tests read it; the browser test runs against a live `swarmlab demo`
//! instead (`crates/swarmlab/tests/it/dashboard.rs`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use swarmlab_hub::Identity;
use swarmlab_hub::{Hub, Server, SystemClock};
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{Claim, Measurements, ReportRequest, Role, RunOutcome, SubmitRequest};

use crate::support::{git, test_config, SPEC};

/// The text of the idea that must show up inert.
pub const SCRIPT_IDEA: &str = "<script>document.title='pwned'</script> try a wider MLP";

pub struct Member {
    pub identity: Identity,
    pub token: String,
    key: SigningKey,
}

/// A running hub with a demo's worth of history.
pub struct Demo {
    pub addr: SocketAddr,
    pub hub: Arc<Hub>,
    pub admin: Member,
    /// The worker the browser signs in as; it owns [`Demo::pending`].
    pub worker: Member,
    pub verifier: Member,
    /// A queued submission of `worker`, waiting for [`Demo::verify_pending`].
    pub pending: i64,
    src: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _tmp: tempfile::TempDir,
}

async fn member(hub: &Hub, name: &str, role: Role, seed: u8) -> Member {
    let key = signing::signing_key(&[seed; 32]);
    let public = (role != Role::Admin).then(|| signing::public_key_hex(&key));
    let token = hub.create_identity(name, role, public).await.unwrap().token;
    let identity = hub.authenticate(&token).await.unwrap();
    Member {
        identity,
        token,
        key,
    }
}

/// The steps of the demo's chain: what each commit changed and its verified metric.
const STEPS: &[(&str, &str, f64)] = &[
    (
        "lr = 0.02\nwidth = 64\n",
        "Raise the learning rate to 0.02",
        0.931,
    ),
    ("lr = 0.02\nwidth = 128\n", "Widen the MLP to 128", 0.884),
    ("lr = 0.03\nwidth = 128\n", "Learning rate 0.03", 0.862),
    (
        "lr = 0.03\nwidth = 128\nwarmup = 200\n",
        "Warm up for 200 steps",
        0.815,
    ),
    (
        "lr = 0.03\nwidth = 192\nwarmup = 200\n",
        "Widen the MLP to 192",
        0.781,
    ),
    (
        "lr = 0.03\nwidth = 192\nwarmup = 200\nnorm = rms\n",
        "RMSNorm instead of LayerNorm",
        0.742,
    ),
    (
        "lr = 0.035\nwidth = 192\nwarmup = 200\nnorm = rms\n",
        "Learning rate 0.035",
        0.724,
    ),
    (
        "lr = 0.035\nwidth = 192\nwarmup = 300\nnorm = rms\n",
        "Longer warmup (300 steps)",
        0.697,
    ),
    (
        "lr = 0.035\nwidth = 256\nwarmup = 300\nnorm = rms\n",
        "Widen the MLP to 256",
        0.671,
    ),
    (
        "lr = 0.035\nwidth = 256\nwarmup = 300\nnorm = rms\ndecay = cosine\n",
        "Cosine learning-rate decay",
        0.652,
    ),
    (
        "lr = 0.04\nwidth = 256\nwarmup = 300\nnorm = rms\ndecay = cosine\n",
        "Learning rate 0.04 with cosine decay",
        0.641,
    ),
];

impl Demo {
    /// Starts a hub on loopback and gives it a demo's history.
    pub async fn start() -> Demo {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src-repo");
        demo_repo(&src);
        let config = test_config(&tmp.path().join("hub"));
        let server = Server::bind(config, Arc::new(SystemClock)).await.unwrap();
        let addr = server.local_addr().unwrap();
        let hub = server.hub();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        hub.add_track(&swarmlab_proto::AddTrackRequest {
            repo: src.display().to_string(),
            baseline: "main".into(),
        })
        .await
        .unwrap();
        let admin = member(&hub, "maintainer", Role::Admin, 1).await;
        let worker = member(&hub, "alice", Role::Worker, 2).await;
        let verifier = member(&hub, "verifier-eu-1", Role::Verifier, 4).await;
        let mut demo = Demo {
            addr,
            hub,
            admin,
            worker,
            verifier,
            pending: 0,
            src,
            stop: Some(tx),
            task: Some(task),
            _tmp: tmp,
        };
        demo.seed().await;
        demo
    }

    async fn seed(&mut self) {
        let hub = self.hub.clone();
        let bob = member(&hub, "bob", Role::Worker, 3).await;
        let carol = member(&hub, "carol", Role::Worker, 5).await;
        let v2 = member(&hub, "verifier-us-2", Role::Verifier, 6).await;
        for (who, text) in [
            (&self.worker, "Try RMSNorm instead of LayerNorm"),
            (&bob, "Cosine learning-rate decay after warmup"),
            (&carol, "Widen the MLP to 256 and lower the learning rate"),
            (&self.admin, "Rotary position embeddings"),
            (&bob, SCRIPT_IDEA),
        ] {
            hub.add_idea(
                &who.identity,
                "toy",
                &swarmlab_proto::NewIdea {
                    text: text.into(),
                    tags: vec!["architecture".into()],
                },
            )
            .await
            .unwrap();
        }
        let workers = [&self.worker, &bob, &carol];
        let verifiers = [&self.verifier, &v2];
        let mut head_value = 1.0;
        for (i, (params, message, value)) in STEPS.iter().enumerate() {
            // A couple of tries that do not beat the head, then one that does.
            for j in 0..(1 + i % 3) {
                let w = workers[(i + j + 1) % 3];
                let tried = head_value + 0.004 + 0.006 * ((i * 7 + j * 3) % 5) as f64;
                let outcome = if (i + j) % 7 == 3 {
                    RunOutcome::Crash
                } else {
                    RunOutcome::Ok
                };
                let params = format!("{params}seed = {i}{j}\n");
                let id = self
                    .submit(w, &params, &format!("Try seed {i}{j}"), None)
                    .await;
                self.verify(verifiers[j % 2], id, outcome, tried, head_value)
                    .await;
            }
            // Some steps came from the queue: their ideas' authors share the credit.
            let idea = match i {
                5 => Some(1),
                8 => Some(3),
                9 => Some(2),
                _ => None,
            };
            let w = workers[i % 3];
            let id = self.submit(w, params, message, idea).await;
            let verdict = self
                .verify(verifiers[i % 2], id, RunOutcome::Ok, *value, head_value)
                .await;
            assert_eq!(verdict, "accepted", "step {i}: {message}");
            head_value = *value;
        }
        let last = STEPS.last().unwrap().0;
        self.pending = self
            .submit(
                &self.worker,
                &format!("{last}dropout = 0.1\n"),
                "Dropout 0.1 in the MLP",
                None,
            )
            .await;
    }

    /// Submits a commit on the head that writes `params`; returns the submission's id.
    pub async fn submit(&self, w: &Member, params: &str, message: &str, idea: Option<i64>) -> i64 {
        let head = self.hub.track_info("toy").await.unwrap().head;
        let (commit, bundle) = self.candidate(&head, params, message);
        let claim = Claim {
            track: "toy".into(),
            parent: head,
            commit: commit.clone(),
            metrics: BTreeMap::from([("loss".to_string(), 0.9)]),
            idea_id: idea,
            worker_id: w.identity.id.clone(),
            nonce: format!("nonce-{commit}"),
        };
        let signature = signing::sign(&w.key, &claim.signed_bytes());
        let sub = self
            .hub
            .submit(
                &w.identity,
                "toy",
                SubmitRequest {
                    claim,
                    signature,
                    bundle,
                    log: format!(
                        "step 100 loss 1.02\nstep 200 loss 0.95\n---\nloss: 0.9\n# {message}\n"
                    ),
                },
            )
            .await
            .unwrap();
        assert_eq!(sub.status, "queued", "{sub:?}");
        sub.id
    }

    /// A verifier leases the next job (that of `submission`) and reports three reruns of
    /// the candidate around `value` and of the head around `head`.
    pub async fn verify(
        &self,
        v: &Member,
        submission: i64,
        outcome: RunOutcome,
        value: f64,
        head: f64,
    ) -> String {
        let lease = self.hub.lease_job(&v.identity).await.unwrap().unwrap();
        let sub = self
            .hub
            .submission(&self.admin.identity, submission)
            .await
            .unwrap();
        assert_eq!(
            sub.candidate.as_deref(),
            Some(lease.candidate.as_str()),
            "the job leased is not the submission's"
        );
        let around = |m: f64| vec![m - 0.003, m + 0.001, m + 0.002];
        let ok = outcome == RunOutcome::Ok;
        let m = Measurements {
            job_id: lease.job_id,
            verifier_id: v.identity.id.clone(),
            hardware_class: "cpu-x86-8c".into(),
            outcome,
            candidate: if ok { around(value) } else { Vec::new() },
            head: if ok { around(head) } else { Vec::new() },
            detail: (!ok).then(|| "exit 101".to_string()),
            pairs: None,
        };
        let signature = signing::sign(&v.key, &m.signed_bytes());
        self.hub
            .report(
                &v.identity,
                lease.job_id,
                ReportRequest {
                    measurements: m,
                    signature,
                },
            )
            .await
            .unwrap()
            .decision
    }

    /// The verifier accepts the pending submission (what a demo verifier would do).
    pub async fn verify_pending(&self) -> String {
        let head = STEPS.last().unwrap().2;
        self.verify(
            &self.verifier,
            self.pending,
            RunOutcome::Ok,
            head - 0.02,
            head,
        )
        .await
    }

    fn candidate(&self, parent: &str, params: &str, message: &str) -> (String, String) {
        let dir = &self.src;
        git(dir, &["checkout", "-q", "--detach", parent]);
        std::fs::write(dir.join("params.txt"), params).unwrap();
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
        let commit = git(dir, &["rev-parse", "HEAD"]);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let branch = format!("d{n}");
        git(dir, &["branch", "-f", &branch, &commit]);
        let path = dir.join(format!("../{branch}.bundle"));
        git(
            dir,
            &[
                "bundle",
                "create",
                "-q",
                path.to_str().unwrap(),
                &branch,
                &format!("^{parent}"),
            ],
        );
        let bundle =
            base64::engine::general_purpose::STANDARD.encode(std::fs::read(&path).unwrap());
        (commit, bundle)
    }

    /// Stops the server (it must stop even with event streams open).
    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            self.task.take().unwrap(),
        )
        .await
        .expect("graceful shutdown")
        .unwrap();
    }
}

static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The toy track with an entropy floor for the chart's reference line.
fn demo_repo(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let spec = SPEC.replace("goal = \"minimize\"", "goal = \"minimize\"\nfloor = 0.55");
    std::fs::write(dir.join("swarmlab.toml"), spec).unwrap();
    std::fs::write(dir.join("train.sh"), "echo loss: 1\n").unwrap();
    std::fs::write(dir.join("params.txt"), "lr = 0.01\nwidth = 64\n").unwrap();
    std::fs::write(dir.join("src/model.txt"), "layers = 2\n").unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "baseline"]);
}
