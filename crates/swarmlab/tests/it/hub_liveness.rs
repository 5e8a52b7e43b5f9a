//! The hub's half of "every submission gets a verdict; no request costs the hub more than
//! it pays", through the binary: `swarmlab submit --wait` returns when every verifier
//! faults on its job (`unverifiable`, audited), and a hub that registers workers by invite
//! admits one per code (`swarmlab hub invite`, `--invite`) and only a few per address.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use swarmlab_proto::{signing, Measurements, ReportRequest, RunOutcome};
use swarmlab_testkit::http::Client;

use crate::harness::{poll_until, swarmlab, BIN};
use crate::hubs::free_address;

/// A hub served by the binary from `data` with `config`, a toy track and an admin.
pub(crate) struct Served {
    child: Child,
    pub(crate) address: String,
    pub(crate) url: String,
    /// The admin's bearer token.
    pub(crate) admin: String,
    data: String,
    repo: std::path::PathBuf,
}

impl Served {
    pub(crate) fn start(dir: &Path, config: &str) -> Served {
        let data = dir.join("hub");
        let data_str = data.to_str().unwrap().to_string();
        let repo = dir.join("toy");
        swarmlab(&["init", "--track", "toy", repo.to_str().unwrap()], None).success();
        let admin = swarmlab(&["hub", "admin-token", "--data-dir", &data_str], None).success();
        let add = ["hub", "add-track", "--data-dir", &data_str];
        swarmlab(&[&add[..], &[repo.to_str().unwrap()]].concat(), None).success();
        let config_path = dir.join("hub.toml");
        std::fs::write(&config_path, config).unwrap();
        let address = free_address();
        let mut child = Command::new(BIN)
            .args([
                "hub",
                "serve",
                "--data-dir",
                &data_str,
                "--listen",
                &address,
            ])
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("serving"), "the hub did not start: {line}");
        Served {
            child,
            url: format!("http://{address}"),
            address,
            admin: admin.stdout.trim().to_string(),
            data: data_str,
            repo,
        }
    }

    /// A commit of the toy track whose `params.txt` has `line` for its `lr = 0.001` line.
    fn commit(&self, line: &str) -> String {
        let git = |args: &[&str]| {
            let out = Command::new("git")
                .current_dir(&self.repo)
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let path = self.repo.join("params.txt");
        let params = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, params.replace("lr = 0.001", line)).unwrap();
        git(&["commit", "-qam", "candidate"]);
        git(&["rev-parse", "HEAD"])
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A verifier the test plays: enrolled by its key, it reports a fault on whatever it leases.
struct FaultyVerifier {
    key: signing::SigningKey,
    id: String,
    token: String,
}

impl FaultyVerifier {
    fn enroll(hub: &Served, seed: u8) -> FaultyVerifier {
        let key = signing::signing_key(&[seed; 32]);
        let name = format!("v{seed}");
        let token = swarmlab(
            &[
                "hub",
                "add-identity",
                "--data-dir",
                &hub.data,
                "--role",
                "verifier",
                "--name",
                &name,
                "--public-key",
                &signing::public_key_hex(&key),
            ],
            None,
        )
        .success()
        .stdout
        .trim()
        .to_string();
        let me: Value = serde_json::from_str(&get(&hub.address, "/api/v1/me", &token).1).unwrap();
        FaultyVerifier {
            key,
            id: me["identity_id"].as_str().unwrap().to_string(),
            token,
        }
    }

    /// Leases the next job (waiting for one) and reports a fault on it: the hub's answer.
    fn fault_on_next(&self, hub: &Served) -> Value {
        let mut job = Value::Null;
        let leased = poll_until(Duration::from_secs(60), || {
            let (_, body) = post(&hub.address, "/api/v1/jobs/lease", &self.token, &json!({}));
            job = serde_json::from_str(&body).unwrap_or(Value::Null);
            job.get("job_id").is_some()
        });
        assert!(leased, "no job to lease");
        let job_id = job["job_id"].as_i64().unwrap();
        let measurements = Measurements {
            job_id,
            verifier_id: self.id.clone(),
            hardware_class: "cpu".into(),
            outcome: RunOutcome::VerifierFault,
            candidate: vec![],
            head: vec![],
            detail: Some("the sandbox self-test failed".into()),
            unsandboxed: false,
            pairs: None,
        };
        let signature = signing::sign(&self.key, &measurements.signed_bytes());
        let report = serde_json::to_value(ReportRequest {
            measurements,
            signature,
        })
        .unwrap();
        let path = format!("/api/v1/jobs/{job_id}/report");
        let (status, body) = post(&hub.address, &path, &self.token, &report);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

#[test]
fn submit_wait_returns_when_every_verifier_faults_and_the_ledger_audits() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Served::start(dir.path(), "unverifiable_after = 2\n");
    let v1 = FaultyVerifier::enroll(&hub, 31);
    let v2 = FaultyVerifier::enroll(&hub, 32);
    let commit = hub.commit("lr = 0.002");
    let worker = dir.path().join("worker");
    let mut submit = Command::new(BIN)
        .args(["submit", "--hub", &hub.url, "--track", "toy", "--repo"])
        .arg(&hub.repo)
        .arg("--dir")
        .arg(&worker)
        .args(["--claim", "0.5", &commit, "--wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    assert_eq!(v1.fault_on_next(&hub)["decision"], "retry");
    let last = v2.fault_on_next(&hub);
    assert_eq!(
        (&last["decision"], &last["reason"]),
        (&json!("rejected"), &json!("unverifiable"))
    );

    let ended = poll_until(Duration::from_secs(60), || {
        submit.try_wait().unwrap().is_some()
    });
    assert!(ended, "`swarmlab submit --wait` did not return");
    let mut stdout = String::new();
    submit
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(submit.wait().unwrap().success(), "{stdout}");
    let verdict = stdout.lines().last().unwrap_or_default();
    assert!(verdict.ends_with("rejected (unverifiable)"), "{stdout}");

    // The admin sees why, and the ledger audits with the submission counted.
    let id = verdict
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_start_matches('#');
    let (_, body) = get(
        &hub.address,
        &format!("/api/v1/submissions/{id}"),
        &hub.admin,
    );
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["faults"].as_array().map(Vec::len), Some(2), "{body}");
    let page = page(&hub.address, &format!("/submissions/{id}"), &hub.admin);
    assert!(
        page.contains("unverifiable"),
        "the dashboard does not say so\n{page}"
    );
    let (_, ledger) = get(&hub.address, "/api/v1/tracks/toy/ledger", &hub.admin);
    let path = dir.path().join("ledger.jsonl");
    std::fs::write(&path, ledger).unwrap();
    let (_, info) = get(&hub.address, "/api/v1/hub", &hub.admin);
    let key: Value = serde_json::from_str(&info).unwrap();
    let audit = swarmlab(
        &[
            "audit",
            path.to_str().unwrap(),
            "--key",
            key["public_key"].as_str().unwrap(),
        ],
        None,
    )
    .success();
    assert!(audit.stdout.contains("1 unverifiable"), "{audit}");
}

/// A dashboard page as the holder of `token` sees it (signed in by its session cookie).
fn page(address: &str, path: &str, token: &str) -> String {
    Client::new(address).cookie(token).get(path).body
}

/// One registration request, never retried: its status.
fn register(address: &str, invite: Option<&str>, seed: u8) -> u16 {
    let key = signing::public_key_hex(&signing::signing_key(&[seed; 32]));
    let body = json!({"name": format!("w{seed}"), "public_key": key, "invite": invite});
    Client::new(address)
        .post_json("/api/v1/register", &body)
        .status
}

/// GET `path` as the holder of `token` (none when empty): the status and the body.
fn get(address: &str, path: &str, token: &str) -> (u16, String) {
    let client = Client::new(address);
    let client = if token.is_empty() {
        client
    } else {
        client.bearer(token)
    };
    let answer = client.get(path);
    (answer.status, answer.body)
}

/// POST `body` as JSON to `path` as the holder of `token`: the status and the body.
fn post(address: &str, path: &str, token: &str, body: &Value) -> (u16, String) {
    let answer = Client::new(address).bearer(token).post_json(path, body);
    (answer.status, answer.body)
}

#[test]
fn a_hub_that_registers_by_invite_admits_one_worker_per_code_and_few_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Served::start(
        dir.path(),
        "[registration]\nmode = \"invite\"\nper_address = 3\nper_address_per_hour = 0\n",
    );
    let (_, info) = get(&hub.address, "/api/v1/hub", "");
    assert!(info.contains("\"registration\":\"invite\""), "{info}");
    let made = swarmlab(
        &["hub", "invite", "--data-dir", &hub.data, "--count", "2"],
        None,
    )
    .success();
    let codes: Vec<&str> = made.stdout.lines().collect();
    assert_eq!(codes.len(), 2, "{made}");

    let commit = hub.commit("lr = 0.003");
    let submit = |invite: Option<&str>| {
        let worker = dir.path().join("worker");
        let mut args = vec![
            "submit",
            "--hub",
            &hub.url,
            "--track",
            "toy",
            "--repo",
            hub.repo.to_str().unwrap(),
            "--dir",
            worker.to_str().unwrap(),
            "--claim",
            "0.5",
            &commit,
        ];
        if let Some(code) = invite {
            args.extend(["--invite", code]);
        }
        swarmlab(&args, None)
    };
    // Without a code: refused, saying what to do.
    let refused = submit(None);
    assert_ne!(refused.code, 0, "{refused}");
    assert!(refused.stderr.contains("invite"), "{refused}");
    // With one: registered and submitted.
    let admitted = submit(Some(codes[0])).success();
    assert!(admitted.stdout.contains("queued"), "{admitted}");
    // The code is spent; and this address has used its registrations.
    assert_eq!(register(&hub.address, Some(codes[0]), 41), 403);
    assert_eq!(register(&hub.address, Some(codes[1]), 42), 429);
}
