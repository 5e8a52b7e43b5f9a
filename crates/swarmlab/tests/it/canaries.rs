//! Canaries end to end, on a real hub: a lazy verifier (it runs nothing and accepts whatever
//! it is given, signing its reports like any verifier) buys a cheat a place on the chain. A
//! maintainer makes that cheat a canary with `swarmlab hub add-canary`; the lazy verifier
//! accepts the canary too and is suspended; a real, sandboxed `swarmlab verify` passes its own
//! canary, re-checks the lazy verifier's verdict and disputes the cheat. The ledger audits.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{JobLease, Measurements, ReportRequest, RunOutcome};

use crate::harness::{poll_until, swarmlab, BIN};
use crate::hubs::{enroll_verifier, free_address, get, get_json, post};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/attack");

/// A verifier that reports a clear gain for every job without running anything.
struct Lazy {
    address: String,
    token: String,
    id: String,
    key: SigningKey,
}

impl Lazy {
    /// Leases a job and accepts it: the job and the hub's answer; `Err` with the status and
    /// body when the lease is refused.
    fn accept_next(&self) -> Result<(JobLease, Value), (u16, String)> {
        let (status, body) = post(&self.address, "/api/v1/jobs/lease", &self.token, &json!({}));
        if status != 200 {
            return Err((status, body));
        }
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
        };
        let signature = signing::sign(&self.key, &measurements.signed_bytes());
        let report = ReportRequest {
            measurements,
            signature,
        };
        let path = format!("/api/v1/jobs/{}/report", lease.job_id);
        let (status, body) = post(
            &self.address,
            &path,
            &self.token,
            &serde_json::to_value(&report).unwrap(),
        );
        assert_eq!(status, 200, "{body}");
        Ok((lease, serde_json::from_str(&body).unwrap()))
    }
}

struct Background(std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git(repo: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(repo)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_lazy_verifier_fails_a_canary_and_its_verdict_is_checked_again() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("attack");
    std::fs::create_dir(&repo).unwrap();
    for entry in std::fs::read_dir(FIXTURE).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), repo.join(entry.file_name())).unwrap();
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "attack track"]);
    let baseline = git(&repo, &["rev-parse", "HEAD"]);
    // The cheat: prints a fake metric line, and its model is the baseline's.
    std::fs::write(
        repo.join("model.sh"),
        "OUT=\"$SWARMLAB_RUN_DIR/model.txt\"\necho '---'; echo 'loss: 0.000001'; echo \"w = 2.0\" > \"$OUT\"\n",
    )
    .unwrap();
    git(&repo, &["commit", "-qam", "a much better model"]);
    let cheat = git(&repo, &["rev-parse", "HEAD"]);

    let address = free_address();
    let url = format!("http://{address}");
    let data = dir.path().join("hub");
    let data = data.to_str().unwrap();
    let repo_str = repo.to_str().unwrap();
    swarmlab(
        &[
            "hub",
            "add-track",
            "--data-dir",
            data,
            repo_str,
            "--baseline",
            &baseline,
        ],
        None,
    )
    .success();
    let admin = swarmlab(&["hub", "admin-token", "--data-dir", data], None)
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
            data,
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
    let verifier_dir = dir.path().join("verifier");
    let verifier_dir = verifier_dir.to_str().unwrap();
    let honest_token = enroll_verifier(&url, data, verifier_dir);
    let _hub = Background(
        Command::new(BIN)
            .args(["hub", "serve", "--data-dir", data, "--listen", &address])
            // A canary before each verifier's first job and after every real one.
            .env("SWARMLAB_HUB_CANARY_EVERY", "1")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(poll_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(&address).is_ok()
    }));
    let lazy = Lazy {
        id: get_json(&address, "/api/v1/me", &lazy_token)["identity_id"]
            .as_str()
            .unwrap()
            .to_string(),
        address: address.clone(),
        token: lazy_token,
        key,
    };

    // The cheat is submitted; the lazy verifier is the only one about, and accepts it.
    let worker = dir.path().join("mallory");
    let submitted = swarmlab(
        &[
            "submit",
            "--hub",
            &url,
            "--track",
            "attack",
            "--repo",
            repo_str,
            "--dir",
            worker.to_str().unwrap(),
            "--claim",
            "0.000001",
            &cheat,
        ],
        None,
    )
    .success();
    let last = submitted
        .stdout
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let cheat_id: i64 = last
        .split_whitespace()
        .nth(1)
        .and_then(|id| id.trim_start_matches('#').parse().ok())
        .unwrap_or_else(|| panic!("no submission id in `{last}`"));
    let (job, answer) = lazy.accept_next().unwrap();
    assert_eq!(job.candidate, cheat);
    assert_eq!(answer["decision"], "accepted");
    let head = || get_json(&address, "/api/v1/tracks/attack", &admin)["head"].clone();
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
            data,
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
    let me = get_json(&address, "/api/v1/me", &lazy.token);
    assert!(
        me["suspended"]
            .as_str()
            .is_some_and(|why| why.contains("canary")),
        "{me}"
    );

    // A real verifier: its own canary first (it rejects it), then the re-check.
    let log_path = dir.path().join("verifier.log");
    let _verifier = Background(
        Command::new(BIN)
            .args([
                "verify",
                "--hub",
                &url,
                "--dir",
                verifier_dir,
                "--token",
                &honest_token,
            ])
            .args(["--sandbox", "on", "--memory-mb", "256", "--file-mb", "64"])
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let submission = format!("/api/v1/submissions/{cheat_id}");
    let disputed = poll_until(Duration::from_secs(120), || {
        !get_json(&address, &submission, &admin)["disputed_by"].is_null()
    });
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        disputed,
        "the re-check did not dispute the cheat\n--- verifier\n{log}"
    );
    let cheat_now = get_json(&address, &submission, &admin);
    assert_eq!(cheat_now["status"], "accepted", "{cheat_now}");
    let canaries = get_json(&address, "/api/v1/canaries", &admin);
    assert_eq!(canaries[0]["failures"], 1, "{canaries}");
    assert_eq!(
        canaries[0]["checks"], 2,
        "the honest verifier decided it right: {canaries}"
    );
    assert!(get_json(&address, "/api/v1/me", &honest_token)["suspended"].is_null());
    // Workers see no canary: the honest verifier's canary job is on no public page.
    let (status, _) = get(&address, "/api/v1/canaries", &honest_token);
    assert_eq!(status, 403);

    // The ledger records the suspension with the lazy verifier's signed report, and audits.
    let (_, ledger) = get(&address, "/api/v1/tracks/attack/ledger", &admin);
    assert_eq!(ledger.matches("\"kind\":\"verifier_suspended\"").count(), 1);
    assert!(ledger.contains(&lazy.id));
    let ledger_path = dir.path().join("ledger.jsonl");
    std::fs::write(&ledger_path, &ledger).unwrap();
    let hub_key = get_json(&address, "/api/v1/hub", &admin)["public_key"]
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
