//! The tinygpt swarm moves its chain on a gain the verifier reproduced: a real hub, a
//! sandboxed `swarmlab verify` and a `swarmlab work`, all processes of the binary, on tinygpt
//! under a step budget. The verifier builds the baseline first (`--warm`); the worker starts
//! its build folder from that trusted build (`--build-from`), so that it compiles only the
//! track's crate; its proposer makes a change known to help (four times the batch for the
//! same steps) and it submits once its own measurement beats the head by `min_delta`. The
//! verifier reruns head and candidate in seed-matched pairs, the hub's paired test accepts,
//! and the head moves. The ledger's verdict carries the verifier's own measurements, the
//! seed of every pair and the budget kind, and the whole ledger audits.
//!
//! The hub serves the toy track too, and the same verifier then verifies a toy submission
//! from that track's own baseline, the tinygpt snapshot left as it was (docs/security.md,
//! "Builds").
//!
//! The track, its test spec (120 steps, two reruns) and the verifier's kept folder are the
//! tinygpt attack corpus's (`attacks_tinygpt`), one test at a time, so that only the first of
//! the two on a clean checkout pays for the cold build.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::attacks::{verdict_matches, Background, Change, Corpus, Expect};
use crate::attacks_tinygpt::{fill, verifier_dir};
use crate::harness::{poll_until, BIN};
use crate::hubs::client;
use crate::liveness::{params_with, toy};

#[test]
fn the_tinygpt_swarm_moves_its_chain_on_a_gain_the_verifier_reproduced() {
    let (verifier, _alone) = verifier_dir();
    let mut corpus = Corpus::serve_tracks("tinygpt", fill, &[("toy", toy)], &[]);
    let token = corpus.start_verifier(&verifier, &["--warm", "tinygpt"]);
    let log = |corpus: &Corpus| corpus.verifier_log();
    // The log: the snapshot may be kept from an earlier run, or from another baseline.
    assert!(
        poll_until(Duration::from_secs(45 * 60), || {
            log(&corpus).contains("the baseline of tinygpt is ready")
        }),
        "the verifier's build never finished\n--- verifier\n{}",
        log(&corpus)
    );
    let snapshot = swarmlab_client::build::snapshot(&verifier, "tinygpt", "target").unwrap();

    let worker_dir = corpus.dir.path().join("worker");
    let worker_log = std::fs::File::create(corpus.dir.path().join("worker.log")).unwrap();
    let mut worker = Command::new(BIN);
    worker
        .args(["work", "--hub", &corpus.url, "--track", "tinygpt", "--name", "w1"])
        .arg("--dir")
        .arg(&worker_dir)
        .args(["--experiments", "1", "--proposer", "script", "--script"])
        .arg(
            "sed -i 's/pub const BATCH_SIZE: usize = 16;/pub const BATCH_SIZE: usize = 64;/' src/train.rs && echo 'four times the batch'",
        )
        .arg("--build-from")
        .arg(&snapshot.build)
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(worker_log);
    if let Some(home) = &snapshot.cargo_home {
        worker
            .env("CARGO_HOME", home)
            .env("CARGO_NET_OFFLINE", "true");
    }
    let _worker = Background(worker.spawn().unwrap());
    let worker_log =
        || std::fs::read_to_string(corpus.dir.path().join("worker.log")).unwrap_or_default();

    let hub = client(&corpus.address, &token);
    let chain_len = || {
        hub.get("/api/v1/tracks/tinygpt").json()["chain"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let moved = poll_until(Duration::from_secs(30 * 60), || {
        // One look a second: the test asks as the verifier, within the verifier's rate limit.
        std::thread::sleep(Duration::from_secs(1));
        chain_len() > 1 || worker_log().contains("rejected") || log(&corpus).contains("rejected")
    });
    assert!(
        moved && chain_len() == 2,
        "the head did not move\n--- worker\n{}\n--- verifier\n{}",
        worker_log(),
        log(&corpus)
    );
    let worker_text = worker_log();
    assert!(
        worker_text.contains("the build folder starts from"),
        "{worker_text}"
    );
    corpus.assert_verifier_alive("the verdict");

    // The ledger's verdict: the verifier's own numbers, in seed-matched pairs on steps.
    let ledger = hub.get("/api/v1/tracks/tinygpt/ledger").body;
    let verdict: Value = ledger
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"]["kind"] == "verdict")
        .expect("a verdict in the ledger");
    let event = &verdict["event"];
    assert_eq!(event["decision"], "accept", "{event}");
    let m = &event["measurements"];
    let values = |side: &str| -> Vec<f64> {
        m[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (candidate, head) = (values("candidate"), values("head"));
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    assert!(candidate.len() >= 2 && candidate.len() == head.len(), "{m}");
    assert!(
        mean(&head) - mean(&candidate) > 0.01,
        "the verifier measured no gain above min_delta: {m}"
    );
    assert_eq!(m["pairs"]["budget"], "steps", "{m}");
    assert_eq!(
        m["pairs"]["seeds"].as_array().map(Vec::len),
        Some(candidate.len()),
        "{m}"
    );
    let pair_load = &m["pairs"]["load"][0];
    assert!(
        pair_load["candidate"]["wall_s"].as_f64().unwrap() > 0.0,
        "{m}"
    );

    let ledger_file = corpus.dir.path().join("ledger.jsonl");
    std::fs::write(&ledger_file, &ledger).unwrap();
    let info = hub.get("/api/v1/hub").json();
    let audit = Command::new(BIN)
        .arg("audit")
        .arg(&ledger_file)
        .args(["--key", info["public_key"].as_str().unwrap()])
        .output()
        .unwrap();
    let audited = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.status.success(), "{audited}");
    assert!(audited.contains("1 head move"), "{audited}");

    // The same verifier verifies the hub's other track, the toy, from a baseline tree of its
    // own: the tinygpt snapshot stays where it was, built once.
    let toy_track = corpus.other("toy");
    let gain = Change::File("params.txt", params_with("lr = 0.001", "lr = 0.01"));
    let commit = toy_track.commit(&toy_track.baseline, &gain, "a larger learning rate");
    let (_, verdict) = corpus.submit_to(toy_track, &commit, 1.0, "carol", true);
    let log = log(&corpus);
    assert!(
        verdict_matches(&verdict, Expect::Accepted),
        "the toy's gain got `{verdict}`\n--- verifier\n{log}"
    );
    corpus.assert_verifier_alive("the toy's verdict");
    assert!(
        log.matches("the baseline of tinygpt is built").count() <= 1,
        "{log}"
    );
    assert_eq!(
        swarmlab_client::build::snapshot(&verifier, "tinygpt", "target"),
        Some(snapshot)
    );
    let toy_track = corpus.other("toy");
    let tree_of = format!("{}^{{tree}}", toy_track.baseline);
    let content = swarmlab_testkit::git::git(&toy_track.repo, &["rev-parse", &tree_of]);
    let toy_tree = swarmlab_client::build::baseline_tree(&verifier, &content);
    assert!(toy_tree.join("toy.awk").is_file(), "{}", toy_tree.display());
}
