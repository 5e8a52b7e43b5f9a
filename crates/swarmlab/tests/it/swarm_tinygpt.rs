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
//! The verifier's folder is `target/tinygpt-swarm-verifier` of this workspace and outlives
//! the test, as the attack corpus's does: its snapshot is keyed by the baseline's content,
//! so only the first run pays for the cold build.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::attacks::{Background, Corpus};
use crate::harness::{poll_until, BIN};
use crate::hubs::client;

const TRACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tracks/tinygpt");

/// The track's spec on a step budget small enough for a test, the rest as shipped but for a
/// looser `min_delta` and fewer scored windows.
fn test_spec() -> String {
    let mut out = std::fs::read_to_string(Path::new(TRACK).join("swarmlab.toml")).unwrap();
    for (from, to) in [
        ("budget = { steps = 2500 }", "budget = { steps = 120 }"),
        ("min_delta = 0.002", "min_delta = 0.01"),
        ("vocab = 256", "vocab = 256\nwindows = 64"),
    ] {
        assert!(out.contains(from), "the track's spec lost {from:?}");
        out = out.replace(from, to);
    }
    out
}

/// Copies the track's sources (not its build) into `repo`, with the test's spec.
fn fill(repo: &Path) {
    for sub in ["src", ".cargo"] {
        std::fs::create_dir_all(repo.join(sub)).unwrap();
        for entry in std::fs::read_dir(Path::new(TRACK).join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), repo.join(sub).join(entry.file_name())).unwrap();
        }
    }
    for file in ["Cargo.toml", "Cargo.lock", "program.md", ".gitignore"] {
        std::fs::copy(Path::new(TRACK).join(file), repo.join(file)).unwrap();
    }
    std::fs::write(repo.join("swarmlab.toml"), test_spec()).unwrap();
}

fn verifier_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tinygpt-swarm-verifier")
}

#[test]
fn the_tinygpt_swarm_moves_its_chain_on_a_gain_the_verifier_reproduced() {
    let verifier = verifier_dir();
    // A new identity for the new hub and no job of a killed run to resume; the build stays.
    for file in ["identity.json", "lease.json"] {
        let _ = std::fs::remove_file(verifier.join(file));
    }
    let mut corpus = Corpus::serve("tinygpt", fill, &[]);
    let token = corpus.start_verifier(&verifier, &["--warm", "tinygpt"]);
    let log = |corpus: &Corpus| corpus.verifier_log();
    assert!(
        poll_until(Duration::from_secs(45 * 60), || {
            swarmlab_client::build::snapshot(&verifier, "target").is_some()
        }),
        "the verifier's build never finished\n--- verifier\n{}",
        log(&corpus)
    );
    let snapshot = swarmlab_client::build::snapshot(&verifier, "target").unwrap();

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
}
