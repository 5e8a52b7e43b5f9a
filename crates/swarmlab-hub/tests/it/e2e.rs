//! The dashboard in a real browser: `e2e/dashboard.mjs` drives Debian's headless Chromium
//! (through playwright-core) against a hub on loopback, and writes a screenshot of every
//! page to `target/screenshots/`.
//!
//! The browser side needs only a hub's address and tokens ([`BrowserRun`]); the hub and its
//! history come from [`Demo`]. When the script asks for a verdict (`need-verdict ID`), the
//! harness has the demo's verifier decide it.
//!
//! Without node, Chromium or `npm ci` in `e2e/`, the test says why and passes, unless
//! `SWARMLAB_E2E=required` (as `.ci/run` sets), when it fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::demo::Demo;

/// What the browser script needs to know about the hub it tests.
pub struct BrowserRun {
    pub url: String,
    pub admin_token: String,
    pub worker_token: String,
    pub track: String,
    /// A queued submission of the worker, for the script to follow to its verdict.
    pub submission: i64,
    pub screenshots: PathBuf,
}

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

/// Runs the browser script against `run`; `on_need_verdict` is called when it waits for a
/// submission's verdict. Panics with the script's output when it fails.
async fn run_browser<F, Fut>(run: &BrowserRun, mut on_need_verdict: F)
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let root = repo_root();
    let mut child = Command::new("node")
        .arg(root.join("e2e/dashboard.mjs"))
        .current_dir(root.join("e2e"))
        .env("SWARMLAB_E2E_URL", &run.url)
        .env("SWARMLAB_E2E_ADMIN_TOKEN", &run.admin_token)
        .env("SWARMLAB_E2E_WORKER_TOKEN", &run.worker_token)
        .env("SWARMLAB_E2E_TRACK", &run.track)
        .env("SWARMLAB_E2E_SUBMISSION", run.submission.to_string())
        .env("SWARMLAB_E2E_SCREENSHOTS", &run.screenshots)
        .env("CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    for stream in [
        Box::new(out) as Box<dyn std::io::Read + Send>,
        Box::new(err),
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
    let finished = tokio::time::timeout(Duration::from_secs(300), async {
        while let Some(line) = rx.recv().await {
            log.push_str(&line);
            log.push('\n');
            if let Some(id) = line.strip_prefix("need-verdict ") {
                on_need_verdict(id.trim().parse().expect("a submission id")).await;
            }
        }
    })
    .await;
    if finished.is_err() {
        let _ = child.kill();
    }
    let status = child.wait().expect("node ends");
    assert!(
        finished.is_ok() && status.success(),
        "the browser tests failed ({status}):\n{log}"
    );
    eprintln!("{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_browser() {
    let root = repo_root();
    if let Some(why) = missing(&root) {
        let required = std::env::var("SWARMLAB_E2E").is_ok_and(|v| v == "required");
        assert!(!required, "browser tests required but cannot run: {why}");
        eprintln!("skipped the browser tests: {why}");
        return;
    }
    let demo = Demo::start().await;
    let run = BrowserRun {
        url: demo.url(),
        admin_token: demo.admin.token.clone(),
        worker_token: demo.worker.token.clone(),
        track: "toy".into(),
        submission: demo.pending,
        screenshots: root.join("target/screenshots"),
    };
    run_browser(&run, |id| {
        assert_eq!(id, demo.pending);
        let demo = &demo;
        async move {
            assert_eq!(demo.verify_pending().await, "accepted");
        }
    })
    .await;
    demo.stop().await;
}
