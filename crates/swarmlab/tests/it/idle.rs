//! A worker whose proposer has nothing left to try on the head: it says so once per head
//! (and tells the hub), keeps asking the hub for ideas without flooding it, and runs an idea
//! added afterwards at once; when the head moves it proposes again.

use std::time::Duration;

use crate::harness::{poll_until, swarmlab};
use crate::hubs::{client, enroll_verifier, free_address};
use crate::swarm::{Client, HubProcess};

/// Without an idea it proposes `dropout 0.5` (worse than the toy's baseline), then the same
/// change again, which the loop skips as already tried: nothing left to propose. With an idea
/// on a head whose momentum is still 0.5 it proposes `momentum 0.9`, a clear gain.
const SCRIPT: &str = "if [ -n \"$SWARMLAB_IDEA\" ] && grep -q '^momentum = 0.5' params.txt; then \
     sed -i 's/^momentum = .*/momentum = 0.9/' params.txt; echo \"momentum 0.9, as the idea says\"; \
     else sed -i 's/^dropout = .*/dropout = 0.5/' params.txt; echo 'dropout 0.5'; fi";

/// The worker's lines that say it is idle, as (head, whole line).
fn idle_lines(log: &str) -> Vec<(String, String)> {
    log.lines()
        .filter(|l| l.contains("nothing left to propose"))
        .map(|l| {
            let head = l
                .split("head ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_default()
                .to_string();
            (head, l.to_string())
        })
        .collect()
}

#[test]
fn an_idle_worker_says_so_once_per_head_and_runs_an_idea_added_later() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let data_str = data.to_str().unwrap();
    let repo = dir.path().join("toy");
    swarmlab(&["init", "--track", "toy", repo.to_str().unwrap()], None).success();
    let admin = swarmlab(&["hub", "admin-token", "--data-dir", data_str], None).success();
    let admin = admin.stdout.trim().to_string();
    let add_track = ["hub", "add-track", "--data-dir", data_str];
    swarmlab(&[&add_track[..], &[repo.to_str().unwrap()]].concat(), None).success();
    let address = free_address();
    let url = format!("http://{address}");
    let _hub = HubProcess::start(&data, &address);
    let as_admin = client(&address, &admin);
    let verifier_dir = dir.path().join("verifier");
    let verifier_str = verifier_dir.to_str().unwrap();
    let token = enroll_verifier(&url, data_str, verifier_str);
    let log = dir.path().join("worker.log");
    let worker_dir = dir.path().join("worker");
    let mut worker = Client::start(
        &[
            "work",
            "--hub",
            &url,
            "--track",
            "toy",
            "--dir",
            worker_dir.to_str().unwrap(),
            "--proposer",
            "script",
            "--script",
            SCRIPT,
        ],
        &log,
    );
    let read = || std::fs::read_to_string(&log).unwrap_or_default();

    // On the baseline the script runs out after one experiment; the worker says so once.
    let idle = poll_until(Duration::from_secs(60), || idle_lines(&read()).len() == 1);
    assert!(idle, "the worker never said it was idle\n{}", read());
    let (first_head, line) = idle_lines(&read()).remove(0);
    assert!(line.contains("(#0, loss "), "{line}");
    assert!(line.contains(&format!("{url}/tracks/toy/ideas")), "{line}");

    // An idea added now is leased by the idle worker, run, and its gain submitted.
    let added = as_admin.post_json(
        "/api/v1/tracks/toy/ideas",
        &serde_json::json!({ "text": "momentum 0.9" }),
    );
    assert_eq!(added.status, 200, "{}", added.body);
    let idea = added.json()["id"].as_i64().unwrap();
    let submitted = poll_until(Duration::from_secs(60), || {
        read().contains("worker: submitted #")
    });
    assert!(submitted, "the idea was not run and submitted\n{}", read());
    assert!(
        read().contains(&format!("worker: leased idea #{idea}: momentum 0.9")),
        "{}",
        read()
    );

    // The verifier accepts it; on the new head the worker proposes again, runs out again,
    // and says so once more: once per head.
    let mut verifier = Client::start(
        &[
            "verify",
            "--hub",
            &url,
            "--dir",
            verifier_str,
            "--sandbox",
            "off",
            "--token",
            &token,
        ],
        &dir.path().join("verifier.log"),
    );
    let moved = poll_until(Duration::from_secs(90), || idle_lines(&read()).len() >= 2);
    // The hub hears it too: the worker is idle on the head the chain has now.
    let head = as_admin.get("/api/v1/tracks/toy").json()["head"]
        .as_str()
        .unwrap()
        .to_string();
    let told = poll_until(Duration::from_secs(10), || {
        let all = as_admin.get("/api/v1/tracks/toy/activity").json();
        all.as_array().is_some_and(|a| {
            a.iter()
                .any(|w| w["role"] == "worker" && w["idle_on"] == head.as_str())
        })
    });
    // An observation window longer than the old worker's 5 s between two idle lines, and
    // than a few of the new one's polls of the hub.
    std::thread::sleep(Duration::from_secs(8));
    worker.stop();
    verifier.stop();
    let log_text = read();
    assert!(moved, "the worker said nothing on a new head\n{log_text}");
    let lines = idle_lines(&log_text);
    assert_eq!(lines.len(), 2, "one idle line per head\n{log_text}");
    assert_ne!(lines[1].0, first_head, "{log_text}");
    assert!(lines[1].1.contains("(#1, loss "), "{log_text}");
    assert!(head.starts_with(&lines[1].0), "{head} {log_text}");
    assert!(told, "the hub was not told the worker is idle on {head}");
    let idea_now = as_admin.get(&format!("/api/v1/ideas/{idea}")).json();
    assert_eq!(idea_now["state"], "done", "{idea_now}");
}
