//! Canaries end to end, on a real hub: a lazy verifier (it runs nothing and accepts whatever
//! it is given, signing its reports like any verifier) buys a cheat a place on the chain. A
//! maintainer makes that cheat a canary with `swarmlab hub add-canary`; the lazy verifier
//! accepts the canary too and is suspended; a real, sandboxed `swarmlab verify` passes its own
//! canary, re-checks the lazy verifier's verdict and disputes the cheat. The ledger audits.

use std::time::Duration;

use serde_json::{json, Value};
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{JobLease, Measurements, ReportRequest, RunOutcome};
use swarmlab_testkit::http::Client;

use crate::attacks::{attack_track, Change, Corpus};
use crate::harness::{poll_until, swarmlab};
use crate::hubs::client;

/// A verifier that reports a clear gain for every job without running anything.
struct Lazy {
    hub: Client,
    id: String,
    key: SigningKey,
}

impl Lazy {
    /// Leases a job and accepts it: the job and the hub's answer; `Err` with the status and
    /// body when the lease is refused.
    fn accept_next(&self) -> Result<(JobLease, Value), (u16, String)> {
        let r = self.hub.post_json("/api/v1/jobs/lease", &json!({}));
        if r.status != 200 {
            return Err((r.status, r.body));
        }
        let body = r.body;
        let lease: JobLease = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("no job for the lazy verifier: {body}"));
        let measurements = Measurements {
            job_id: lease.job_id,
            verifier_id: self.id.clone(),
            hardware_class: "cpu".into(),
            outcome: RunOutcome::Ok,
            candidate: vec![1.0, 1.01, 0.99],
            head: vec![2.0, 2.01, 1.99],
            detail: None,
            unsandboxed: false,
            pairs: None,
        };
        let signature = signing::sign(&self.key, &measurements.signed_bytes());
        let report = ReportRequest {
            measurements,
            signature,
        };
        let path = format!("/api/v1/jobs/{}/report", lease.job_id);
        let r = self.hub.post_json(&path, &report);
        assert_eq!(r.status, 200, "{}", r.body);
        Ok((lease, serde_json::from_str(&r.body).unwrap()))
    }
}

#[test]
fn a_lazy_verifier_fails_a_canary_and_its_verdict_is_checked_again() {
    // A canary before each verifier's first job and after every real one.
    let mut corpus = Corpus::serve(
        "attack",
        attack_track,
        &[("SWARMLAB_HUB_CANARY_EVERY", "1")],
    );
    let (address, baseline) = (corpus.address.clone(), corpus.baseline.clone());
    let data = corpus.hub_data.to_str().unwrap().to_string();
    let admin = swarmlab(&["hub", "admin-token", "--data-dir", &data], None)
        .success()
        .stdout
        .trim()
        .to_string();
    let key = signing::signing_key(&[9; 32]);
    let public_key = signing::public_key_hex(&key);
    let lazy_token = swarmlab(
        &[
            "hub",
            "add-identity",
            "--data-dir",
            &data,
            "--role",
            "verifier",
            "--name",
            "lazy",
            "--public-key",
            &public_key,
        ],
        None,
    )
    .success()
    .stdout
    .trim()
    .to_string();
    let hub = client(&address, &lazy_token);
    let lazy = Lazy {
        id: hub.get("/api/v1/me").json()["identity_id"]
            .as_str()
            .unwrap()
            .to_string(),
        hub,
        key,
    };
    let as_admin = client(&address, &admin);
    // The cheat prints a fake metric line; its model is the baseline's.
    let cheat = corpus.commit(
        &baseline,
        &Change::Model(
            "OUT=\"$SWARMLAB_RUN_DIR/model.txt\"\necho '---'; echo 'loss: 0.000001'; echo \"w = 2.0\" > \"$OUT\"\n"
                .into(),
        ),
        "a much better model",
    );

    // The cheat is submitted; the lazy verifier is the only one about, and accepts it.
    let (id, line) = corpus.submit(&cheat, 0.000001, "mallory", false);
    let cheat_id: i64 = id
        .trim_start_matches('#')
        .parse()
        .unwrap_or_else(|_| panic!("no submission id in `{line}`"));
    let (job, answer) = lazy.accept_next().unwrap();
    assert_eq!(job.candidate, cheat);
    assert_eq!(answer["decision"], "accepted");
    let head = || as_admin.get("/api/v1/tracks/attack").json()["head"].clone();
    assert_eq!(
        head(),
        cheat.as_str(),
        "the cheat bought its way onto the chain"
    );

    // A maintainer knows better and makes the cheat a canary.
    swarmlab(
        &[
            "hub",
            "add-canary",
            "--data-dir",
            &data,
            &cheat_id.to_string(),
            "--expect",
            "reject",
            "--note",
            "prints a fake metric line",
        ],
        None,
    )
    .success();
    // The lazy verifier's next job is the canary: the cheat's tree under another commit.
    let (job, answer) = lazy.accept_next().unwrap();
    assert_ne!(job.candidate, cheat);
    assert_eq!(job.base, baseline);
    assert_eq!(answer["decision"], "accepted", "answered as for any job");
    assert_eq!(head(), cheat.as_str(), "a canary moves no head");
    let (status, body) = lazy.accept_next().unwrap_err();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("suspended"), "{body}");
    let me = lazy.hub.get("/api/v1/me").json();
    assert!(
        me["suspended"]
            .as_str()
            .is_some_and(|why| why.contains("canary")),
        "{me}"
    );

    // A real verifier: its own canary first (it rejects it), then the re-check.
    let verifier_dir = corpus.dir.path().join("verifier");
    let honest_token =
        corpus.start_verifier(&verifier_dir, &["--memory-mb", "256", "--file-mb", "64"]);
    let submission = format!("/api/v1/submissions/{cheat_id}");
    let disputed = poll_until(Duration::from_secs(120), || {
        !as_admin.get(&submission).json()["disputed_by"].is_null()
    });
    let log = corpus.verifier_log();
    assert!(
        disputed,
        "the re-check did not dispute the cheat\n--- verifier\n{log}"
    );
    let cheat_now = as_admin.get(&submission).json();
    assert_eq!(cheat_now["status"], "accepted", "{cheat_now}");
    let canaries = as_admin.get("/api/v1/canaries").json();
    assert_eq!(canaries[0]["failures"], 1, "{canaries}");
    assert_eq!(
        canaries[0]["checks"], 2,
        "the honest verifier decided it right: {canaries}"
    );
    let honest = client(&address, &honest_token);
    assert!(honest.get("/api/v1/me").json()["suspended"].is_null());
    // Only maintainers see the canaries.
    let status = honest.get("/api/v1/canaries").status;
    assert_eq!(status, 403);

    // The ledger records the suspension with the lazy verifier's signed report, and audits.
    let ledger = as_admin.get("/api/v1/tracks/attack/ledger").body;
    assert_eq!(ledger.matches("\"kind\":\"verifier_suspended\"").count(), 1);
    assert!(ledger.contains(&lazy.id));
    let ledger_path = corpus.dir.path().join("ledger.jsonl");
    std::fs::write(&ledger_path, &ledger).unwrap();
    let hub_key = as_admin.get("/api/v1/hub").json()["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let audited = swarmlab(
        &["audit", ledger_path.to_str().unwrap(), "--key", &hub_key],
        None,
    )
    .success();
    assert!(
        audited.stdout.contains("1 verifier suspended"),
        "{}",
        audited.stdout
    );
}
