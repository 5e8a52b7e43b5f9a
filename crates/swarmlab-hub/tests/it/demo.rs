//! A hub that looks like a swarm has worked on it: a real server on loopback, a toy track
//! whose chain has a dozen verified commits, rejected and crashed candidates, ideas (one of
//! them a `<script>`), and a submission still waiting for its verdict. Everything goes
//! through the hub's own operations with real git bundles, signed claims and signed
//! verifier reports, so the pages see exactly what a live swarm would leave behind.
//!
//! The dashboard's page tests read it; the browser test runs against a live `swarmlab demo`
//! instead (`crates/swarmlab/tests/it/dashboard.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use swarmlab_hub::{Hub, HubConfig};
use swarmlab_proto::signing;
use swarmlab_proto::{Measurements, ReportRequest, Role, RunOutcome};
use swarmlab_testkit::bundle::Candidate;
use swarmlab_testkit::git::Repo;
use swarmlab_testkit::hub::{member, Member, Seed, Served, TRACK_SPEC};

/// The text of the idea that must show up inert.
pub const SCRIPT_IDEA: &str = "<script>document.title='pwned'</script> try a wider MLP";

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
    src: Repo,
    served: Served,
    _tmp: tempfile::TempDir,
}

/// The steps of the demo's chain: what each commit changed and its verified metric.
/// The parameters of [`Demo::pending`]'s change: the last step's and a dropout.
fn pending_params() -> String {
    format!("{}dropout = 0.1\n", STEPS.last().unwrap().0)
}

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
        Demo::start_with(|_| {}).await
    }

    /// [`Demo::start`] with the hub's config adjusted.
    pub async fn start_with(adjust: impl FnOnce(&mut HubConfig)) -> Demo {
        // The toy track with an entropy floor for the chart's reference line.
        let spec = TRACK_SPEC.replace("goal = \"minimize\"", "goal = \"minimize\"\nfloor = 0.55");
        let (seeded, served) = Seed::new()
            .config(adjust)
            .spec(&spec)
            .admin("maintainer")
            .worker("alice", 2)
            .verifier("verifier-eu-1", 4)
            .serve()
            .await;
        let mut demo = Demo {
            addr: served.addr,
            hub: seeded.hub,
            admin: seeded.admin,
            worker: seeded.worker,
            verifier: seeded.verifier,
            pending: 0,
            src: seeded.repo,
            served,
            _tmp: seeded.tmp,
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
                    source: None,
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
        self.pending = self
            .submit(
                &self.worker,
                &pending_params(),
                "Dropout 0.1 in the MLP",
                None,
            )
            .await;
    }

    /// The pending submission's change once more, as another commit: a duplicate.
    pub async fn submit_pending_again(&self) -> swarmlab_proto::SubmissionInfo {
        self.submit_any(&self.worker, &pending_params(), "Dropout again", None)
            .await
    }

    /// Submits a commit on the head that writes `params`; returns the submission's id.
    pub async fn submit(&self, w: &Member, params: &str, message: &str, idea: Option<i64>) -> i64 {
        let sub = self.submit_any(w, params, message, idea).await;
        assert_eq!(sub.status, "queued", "{sub:?}");
        sub.id
    }

    /// As [`Demo::submit`], whatever intake makes of it.
    pub async fn submit_any(
        &self,
        w: &Member,
        params: &str,
        message: &str,
        idea: Option<i64>,
    ) -> swarmlab_proto::SubmissionInfo {
        let head = self.hub.track_info("toy").await.unwrap().head;
        let commit = self
            .src
            .commit_on(&head, &[("params.txt", params.as_bytes())], message);
        let mut candidate = Candidate::new(&self.src, &head, &commit, &w.identity.id);
        candidate.claim.idea_id = idea;
        candidate.log =
            format!("step 100 loss 1.02\nstep 200 loss 0.95\n---\nloss: 0.9\n# {message}\n");
        self.hub
            .submit(&w.identity, "toy", candidate.signed(&w.key))
            .await
            .unwrap()
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
            unsandboxed: false,
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

    /// Stops the server (it must stop even with event streams open).
    pub async fn stop(self) {
        self.served.stop().await;
    }
}
