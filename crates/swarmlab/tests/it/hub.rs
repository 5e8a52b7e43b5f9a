//! `swarmlab hub serve`, `hub admin-token` and `audit` through the binary. The hub's
//! lifecycles are tested in its own crate; here: the glue starts, answers and stops cleanly,
//! and the audit says what it checked or which entry failed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use swarmlab_core::Goal;
use swarmlab_hub::domain::ledger::seal;
use swarmlab_proto::{signing, EventBody, Measurements, Rule, RunOutcome};
use swarmlab_testkit::http::Client;

use crate::harness::{send, swarmlab, swarmlab_with_env, BIN};

#[test]
fn the_hub_serves_its_api_and_stops_on_ctrl_c() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let token = swarmlab(&["hub", "admin-token", "--data-dir", data_dir], None).success();
    assert!(token.stdout.trim().len() > 20, "{token}");

    let mut hub = Command::new(BIN)
        .args([
            "hub",
            "serve",
            "--data-dir",
            data_dir,
            "--listen",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(hub.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    let response = Client::new(&address).get("/api/v1/hub");
    assert!(response.head.starts_with("HTTP/1.1 200"), "{response:?}");
    assert!(
        response.body.contains("\"api_version\":\"v1\""),
        "{response:?}"
    );

    send(hub.id() as i32, libc::SIGINT);
    let status = hub.wait().unwrap();
    assert!(status.success(), "the hub did not stop cleanly: {status}");
}

#[test]
fn a_database_url_from_the_flag_or_the_environment_that_names_no_database_stops_the_hub() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let flag = swarmlab(
        &[
            "hub",
            "serve",
            "--data-dir",
            data_dir,
            "--database-url",
            "mysql://root:hunter2@db/hub",
        ],
        None,
    )
    .fails_with(1);
    assert!(
        flag.stderr
            .contains("bad database URL mysql://root:***@db/hub"),
        "{flag}"
    );
    assert!(!flag.stderr.contains("hunter2"), "{flag}");
    let env = swarmlab_with_env(
        &["hub", "serve", "--data-dir", data_dir],
        None,
        &[("SWARMLAB_DATABASE_URL", "oracle://db/hub")],
    )
    .fails_with(1);
    assert!(env.stderr.contains("unsupported scheme `oracle`"), "{env}");
}

#[test]
fn audit_refuses_a_key_that_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    std::fs::write(&ledger, "").unwrap();
    let out = swarmlab(
        &["audit", ledger.to_str().unwrap(), "--key", "not-hex"],
        None,
    )
    .fails_with(1);
    assert!(out.stderr.contains("not a hub public key"), "{out}");
}

/// A ledger of track `t` sealed with `hub`: the track, verifier `v1` enrolled with `v1`'s key,
/// and a verdict on `v1`'s report with `candidate` as its first rerun, signed over the rerun
/// `signed_first`.
fn ledger(
    hub: &signing::SigningKey,
    v1: &signing::SigningKey,
    signed_first: f64,
    candidate: f64,
) -> String {
    let mut m = Measurements {
        job_id: 1,
        verifier_id: "v1".into(),
        hardware_class: "cpu".into(),
        outcome: RunOutcome::Ok,
        candidate: vec![signed_first, 0.51, 0.49],
        head: vec![1.0, 1.01, 0.99],
        detail: None,
        unsandboxed: false,
        pairs: None,
    };
    let signature = signing::sign(v1, &m.signed_bytes());
    m.candidate[0] = candidate;
    let rule = Rule {
        goal: Goal::Minimize,
        alpha: 0.05,
        min_delta: 0.0,
        reruns: 3,
        max_reruns: None,
    };
    let events = vec![
        EventBody::TrackCreated {
            baseline: "b0".into(),
            metric: "loss".into(),
            rule,
            editable: vec!["a".into()],
            format: swarmlab_proto::ledger::FORMAT,
        },
        EventBody::VerifierEnrolled {
            verifier: "v1".into(),
            public_key: signing::public_key_hex(v1),
        },
        EventBody::Verdict {
            verdict_id: 1,
            submission_id: 1,
            candidate: "c1".into(),
            base: "b0".into(),
            decision: "accept".into(),
            reason: None,
            p_value: None,
            rule,
            measurements: m,
            verifier_signature: signature,
            prior: Vec::new(),
        },
    ];
    sealed(hub, events)
}

/// `events` as the lines of track `t`'s ledger, sealed with `hub`.
fn sealed(hub: &signing::SigningKey, events: Vec<EventBody>) -> String {
    let mut out = String::new();
    let mut prev: Option<(u64, String)> = None;
    for event in events {
        let entry = seal(
            hub,
            "t",
            prev.as_ref().map(|(s, h)| (*s, h.as_str())),
            5,
            event,
        );
        out.push_str(&entry.to_line());
        out.push('\n');
        prev = Some((entry.seq, entry.hash));
    }
    out
}

#[test]
fn audit_counts_the_verifier_signatures_it_checked_and_names_an_altered_report() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, v1) = (
        signing::signing_key(&[1; 32]),
        signing::signing_key(&[2; 32]),
    );
    let key = signing::public_key_hex(&hub);
    let path = dir.path().join("ledger.jsonl");
    let path_str = path.to_str().unwrap();
    std::fs::write(&path, ledger(&hub, &v1, 0.5, 0.5)).unwrap();
    let out = swarmlab(&["audit", path_str, "--key", &key], None).success();
    assert!(
        out.stdout.starts_with("ok: track t: 3 entries (0 submissions, 1 verdicts, 0 head moves, 0 promotions); 1 verifier signature checked against 1 enrolled key; head b0;"),
        "{out}"
    );
    // The hub (or whoever holds its key) improved the verifier's number after it signed.
    std::fs::write(&path, ledger(&hub, &v1, 0.5, 0.45)).unwrap();
    let out = swarmlab(&["audit", path_str, "--key", &key], None).fails_with(1);
    assert!(
        out.stderr.contains("line 3: the report of `v1` does not verify against the key enrolled at line 2: it was forged or altered after signing"),
        "{out}"
    );
}

#[test]
fn audit_counts_credited_head_moves_and_names_an_altered_credit() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, v1) = (
        signing::signing_key(&[1; 32]),
        signing::signing_key(&[2; 32]),
    );
    let key = signing::public_key_hex(&hub);
    let path = dir.path().join("ledger.jsonl");
    let path_str = path.to_str().unwrap();
    // The verdict's ledger with the submission before it and the head move after it.
    let with_move = |finder: &str| {
        let mut events: Vec<EventBody> = ledger(&hub, &v1, 0.5, 0.5)
            .lines()
            .map(|l| {
                serde_json::from_str::<swarmlab_proto::LedgerEntry>(l)
                    .unwrap()
                    .event
            })
            .collect();
        events.insert(
            2,
            EventBody::Submission {
                submission_id: 1,
                worker: "w1".into(),
                parent: "b0".into(),
                commit: "c1".into(),
                diff_hash: "00000000000000d1".into(),
                status: "queued".into(),
                reason: None,
                claim_signature: String::new(),
                idea_id: Some(3),
            },
        );
        events.push(EventBody::HeadMove {
            from: "b0".into(),
            to: "c1".into(),
            submission_id: 1,
            verdict_seq: 3,
            credit: Some(swarmlab_proto::Credit {
                finder: finder.into(),
                verifiers: vec!["v1".into()],
                // The head's mean less the candidate's.
                gain: (1.0 + 1.01 + 0.99) / 3.0 - (0.5 + 0.51 + 0.49) / 3.0,
                idea: Some(swarmlab_proto::CreditedIdea {
                    id: 3,
                    author: "a".into(),
                }),
            }),
        });
        sealed(&hub, events)
    };
    std::fs::write(&path, with_move("w1")).unwrap();
    let out = swarmlab(&["audit", path_str, "--key", &key], None).success();
    assert!(
        out.stdout.contains(
            "(1 submissions, 1 verdicts, 1 head moves (1 credited, 1 to an idea), 0 promotions)"
        ),
        "{out}"
    );
    std::fs::write(&path, with_move("w2")).unwrap();
    let out = swarmlab(&["audit", path_str, "--key", &key], None).fails_with(1);
    assert!(
        out.stderr.contains("line 5: the head move's credit does not match the ledger: it credits `w2` with finding it, but submission 1 was made by `w1`"),
        "{out}"
    );
}
