//! The dashboard in a real browser against a live `swarmlab demo`: `e2e/dashboard.mjs` drives
//! Debian's headless Chromium (through playwright-core) over every page, checks that the chart
//! shows the chain's points, follows a submission to its verdict, adds an idea, promotes a
//! commit as a maintainer and fails to as a worker, and writes a screenshot of every page to
//! `target/screenshots/`.
//!
//! The swarm is paused (SIGSTOP) while a hand-made candidate is submitted, so the page sees it
//! queued; the verifier is let go when the script waits for the verdict.
//!
//! Without node, Chromium or `npm ci` in `e2e/`, the test says why and passes, unless
//! `SWARMLAB_E2E=required` (as `.ci/run` sets), when it fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use swarmlab_testkit::git::{git, Repo};

use crate::harness::{send, swarmlab, BIN};
use crate::hubs::{client, is_final, status_of, submission_ids};

/// The toy track's known optimum: loss 1 plus noise, better than any head the demo reaches
/// in seconds.
const OPTIMUM: &str = "lr = 0.01\nmomentum = 0.9\nwidth = 128\ndepth = 4\ndropout = 0.1\nwarmup = 200\nweight_decay = 0.001\n";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Why the browser test cannot run here, if it cannot.
fn missing(root: &Path) -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    if !root.join("e2e/node_modules/playwright-core").is_dir() {
        return Some("run `npm ci` in e2e/ first".into());
    }
    if !chromium().exists() {
        return Some(format!(
            "{} is missing (apt-get install chromium)",
            chromium().display()
        ));
    }
    None
}

/// The demo, stopped with Ctrl-C (or killed) when dropped.
struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Demo {
    /// Waits for a line with `prefix` and returns it.
    fn line(&self, what: impl Fn(&str) -> bool, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if what(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("the demo did not print the line expected"),
            }
        }
    }

    /// Pids of the demo's own children whose command line names `role` (work or verify).
    fn children(&self, role: &str) -> Vec<i32> {
        let demo = self.child.id().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                // The parent pid is the second field after the parenthesised command name.
                let parent = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1));
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                parent == Some(demo.as_str())
                    && cmdline.split(|b| *b == 0).nth(1) == Some(role.as_bytes())
            })
            .collect()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        for pid in self
            .children("work")
            .into_iter()
            .chain(self.children("verify"))
        {
            send(pid, libc::SIGCONT);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_dashboard_of_a_live_demo_works_in_a_browser() {
    let root = repo_root();
    if let Some(why) = missing(&root) {
        let required = std::env::var("SWARMLAB_E2E").is_ok_and(|v| v == "required");
        assert!(!required, "browser tests required but cannot run: {why}");
        eprintln!("skipped the browser tests: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let mut child = Command::new(BIN)
        .args(["demo", "--listen", "127.0.0.1:0", "--for", "600s", "--dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let demo = Demo { child, lines };
    let hub = demo.line(
        |l| l.trim_start().starts_with("hub "),
        Duration::from_secs(60),
    );
    let url = hub
        .split_whitespace()
        .nth(1)
        .unwrap()
        .split("/api/")
        .next()
        .unwrap()
        .to_string();
    let address = url.trim_start_matches("http://");
    let admin = demo.line(
        |l| l.trim_start().starts_with("admin "),
        Duration::from_secs(10),
    );
    let admin = admin.split_whitespace().last().unwrap().to_string();
    let as_admin = client(address, &admin);
    demo.line(|l| l.contains("chain #3:"), Duration::from_secs(120));

    // Pause the workers and let the verifier drain the queue (a verdict in flight would move
    // the head under our candidate); then pause the verifier and submit the optimum as
    // worker-1, so the page sees it queued.
    let workers = demo.children("work");
    let verifier = demo.children("verify");
    assert_eq!(
        (workers.len(), verifier.len()),
        (2, 1),
        "two workers and a verifier"
    );
    workers.iter().for_each(|pid| send(*pid, libc::SIGSTOP));
    let drained = crate::harness::poll_until(Duration::from_secs(120), || {
        std::thread::sleep(Duration::from_millis(300));
        let ledger = as_admin.get("/api/v1/tracks/toy/ledger").body;
        submission_ids(&ledger)
            .into_iter()
            .all(|id| is_final(&status_of(&as_admin, id)))
    });
    assert!(drained, "the verifier did not drain the queue");
    verifier.iter().for_each(|pid| send(*pid, libc::SIGSTOP));
    let paused: Vec<i32> = workers.into_iter().chain(verifier).collect();
    let identity: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("worker-1/identity.json")).unwrap())
            .unwrap();
    let worker_token = identity["token"].as_str().unwrap().to_string();
    let info = as_admin.get("/api/v1/tracks/toy").json();
    let head = info["head"].as_str().unwrap().to_string();
    let checkout = tmp.path().join("mine");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            dir.join("worker-1/track").to_str().unwrap(),
            checkout.to_str().unwrap(),
        ],
    );
    let c = checkout.to_str().unwrap();
    let mine = Repo::open(&checkout);
    mine.git(&["checkout", "-q", "--detach", &head]);
    mine.write("params.txt", OPTIMUM);
    mine.git(&["commit", "-qam", "every knob at the optimum"]);
    let submitted = swarmlab(
        &[
            "submit",
            "--hub",
            &url,
            "--track",
            "toy",
            "--repo",
            c,
            "--dir",
            dir.join("worker-1").to_str().unwrap(),
            "--claim",
            "1.0",
        ],
        None,
    )
    .success();
    let id: i64 = submitted
        .stdout
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_start_matches('#')
        .parse()
        .unwrap();

    let screenshots = root.join("target/screenshots");
    let mut node = Command::new("node")
        .arg(root.join("e2e/dashboard.mjs"))
        .current_dir(root.join("e2e"))
        .env("SWARMLAB_E2E_URL", &url)
        .env("SWARMLAB_E2E_ADMIN_TOKEN", &admin)
        .env("SWARMLAB_E2E_WORKER_TOKEN", &worker_token)
        .env("SWARMLAB_E2E_TRACK", "toy")
        .env("SWARMLAB_E2E_SUBMISSION", id.to_string())
        .env("SWARMLAB_E2E_SCREENSHOTS", &screenshots)
        .env("CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let (tx, out) = mpsc::channel::<String>();
    for stream in [
        Box::new(node.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(node.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while let Ok(line) = out.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if line.starts_with("need-verdict ") {
            // Let the swarm go: the verifier decides the submission the page is following.
            paused.iter().for_each(|pid| send(*pid, libc::SIGCONT));
        }
        log.push_str(&line);
        log.push('\n');
    }
    let status = node.wait().unwrap();
    assert!(
        status.success(),
        "the browser tests failed ({status}):\n{log}"
    );
    eprintln!("{log}");
}
