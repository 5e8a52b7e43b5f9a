//! Page-time benchmark of the dashboard.
//!
//! Builds a hub in a temp dir at two scales, the demo's (12 chain entries, 40 submissions)
//! and a large one (10,000 chain entries, 100,000 submissions, 30,000 verdicts, 2,000
//! ideas, 200 workers), then requests every page over loopback and reports the server's
//! own time for each (its `Server-Timing` header): the first request after start, which
//! fills the in-memory caches, and the median, p95 and worst of the requests after it.
//!
//! The chain's commits are real (written with `git fast-import`), so entry pages run git
//! for their diffs as they would on a live hub; the rows are written straight into the
//! store's tables, with ledger entries sealed by the hub's key.
//!
//! ```sh
//! cargo bench -p swarmlab-hub --bench pages -- [--scale demo|large|both] [--repeat N] [--keep]
//! ```
//!
//! `--keep` leaves the hub's data directory behind (its path is printed), to look into.
//!
//! Without `--bench` (as `cargo test --benches` runs it) it only does a small smoke run.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use swarmlab_core::Goal;
use swarmlab_hub::domain::ledger::seal;
use swarmlab_hub::{HubConfig, Server, SystemClock};
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{AddTrackRequest, Claim, EventBody, Measurements, Rule, RunOutcome};
use swarmlab_testkit::git;
use swarmlab_testkit::http::Client;
use swarmlab_testkit::hub::{track_repo, TRACK_SPEC};

const TRACK: &str = "toy";

/// How big a hub to build.
#[derive(Clone, Copy)]
struct Scale {
    name: &'static str,
    chain: usize,
    submissions: usize,
    rejected: usize,
    ideas: usize,
    workers: usize,
}

const DEMO: Scale = Scale {
    name: "demo",
    chain: 11,
    submissions: 40,
    rejected: 20,
    ideas: 6,
    workers: 3,
};

const LARGE: Scale = Scale {
    name: "large",
    chain: 10_000,
    submissions: 100_000,
    rejected: 20_000,
    ideas: 2_000,
    workers: 200,
};

const SMOKE: Scale = Scale {
    name: "smoke",
    chain: 30,
    submissions: 300,
    rejected: 60,
    ideas: 20,
    workers: 5,
};

/// A track repository whose `chain` branch has `n` commits on the baseline; their ids.
fn repository(dir: &Path, n: usize) -> (String, Vec<String>) {
    let baseline = track_repo(dir, TRACK_SPEC).head();
    let mut stream = Vec::new();
    for k in 1..=n {
        let message = format!("Step {k}: learning rate {:.5}\n", 0.01 + k as f64 * 1e-6);
        let content = format!(
            "lr = {:.6}\nwidth = {}\n",
            0.01 + k as f64 * 1e-6,
            64 + k % 7
        );
        write!(
            stream,
            "commit refs/heads/chain\nmark :{k}\ncommitter b <b@b> {} +0000\ndata {}\n{message}",
            1_700_000_000 + k,
            message.len()
        )
        .unwrap();
        if k == 1 {
            writeln!(stream, "from {baseline}").unwrap();
        }
        write!(
            stream,
            "M 100644 inline params.txt\ndata {}\n{content}\n",
            content.len()
        )
        .unwrap();
    }
    let marks = dir.join("../marks");
    let mut child = git::command(dir)
        .args([
            "fast-import",
            "--quiet",
            &format!("--export-marks={}", marks.display()),
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success());
    let mut chain = vec![String::new(); n];
    for line in std::fs::read_to_string(&marks).unwrap_or_default().lines() {
        let (mark, sha) = line.split_once(' ').unwrap();
        let k: usize = mark.trim_start_matches(':').parse().unwrap();
        chain[k - 1] = sha.to_string();
    }
    (baseline, chain)
}

fn fake_commit(i: usize) -> String {
    format!("{:040x}", 0xfeed_0000_0000u64 as usize + i)
}

/// Writes `scale`'s history straight into the hub's tables, ledger entries included.
async fn seed(data_dir: &Path, baseline: &str, chain: &[String], scale: Scale, key: &SigningKey) {
    let mut db = SqliteConnectOptions::new()
        .filename(data_dir.join("hub.db"))
        .connect()
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let now = swarmlab_hub::Clock::now_ms(&SystemClock);
    let rule = Rule {
        goal: Goal::Minimize,
        alpha: 0.05,
        min_delta: 0.0,
        reruns: 3,
        max_reruns: None,
    };
    for w in 0..scale.workers {
        sqlx::query("INSERT INTO identities (id, name, role, public_key, token_sha256, created_ms) VALUES ($1, $2, 'worker', $3, $4, 0)")
            .bind(format!("worker-{w}"))
            .bind(format!("worker {w}"))
            .bind("00".repeat(32))
            .bind(format!("w{w}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    for v in 0..8 {
        sqlx::query("INSERT INTO identities (id, name, role, public_key, token_sha256, created_ms) VALUES ($1, $2, 'verifier', $3, $4, 0)")
            .bind(format!("verifier-{v}"))
            .bind(format!("verifier {v}"))
            .bind("00".repeat(32))
            .bind(format!("v{v}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    for i in 1..=scale.ideas {
        sqlx::query("INSERT INTO ideas (id, track, text, tags, author, state, created_ms) VALUES ($1, $2, $3, '[\"bench\"]', $4, $5, $6)")
            .bind(i as i64)
            .bind(TRACK)
            .bind(format!("Idea {i}: try a learning rate of {:.5} with a longer warmup", 1e-3 * i as f64))
            .bind(format!("worker-{}", i % scale.workers))
            .bind(if i % 3 == 0 { "done" } else { "open" })
            .bind(now - (scale.ideas - i) as i64 * 60_000)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let (mut seq, mut prev_hash): (Option<u64>, String) = {
        use sqlx::Row;
        let row =
            sqlx::query("SELECT seq, hash FROM ledger WHERE track = $1 ORDER BY seq DESC LIMIT 1")
                .bind(TRACK)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        (Some(row.get::<i64, _>("seq") as u64), row.get("hash"))
    };
    let mut append = |event: EventBody, at: i64| {
        let entry = seal(key, TRACK, seq.map(|s| (s, prev_hash.as_str())), at, event);
        seq = Some(entry.seq);
        prev_hash = entry.hash.clone();
        entry
    };
    let value = |k: usize| 1.0 - 0.5 * (k as f64 / scale.chain as f64).sqrt();
    let around = |m: f64| vec![m - 0.002, m + 0.0005, m + 0.0015];
    let per_step = scale.submissions / scale.chain;
    let (mut job, mut verdict, mut rejected) = (0i64, 0i64, 0usize);
    let span = 30 * 24 * 3_600_000i64;
    for id in 1..=scale.submissions {
        let at = now - span + span * id as i64 / scale.submissions as i64;
        let per = per_step.max(1);
        // Chain entry k is accepted at submission k * per; the others try the head of
        // their time.
        let accepted = id % per == 0 && (1..=scale.chain).contains(&(id / per));
        let k = (id / per).min(scale.chain);
        let entry = |i: usize| {
            if i == 0 {
                baseline.to_string()
            } else {
                chain[i - 1].clone()
            }
        };
        let verified = accepted || (rejected < scale.rejected && id % 3 == 1);
        let worker = format!("worker-{}", (id * 7) % scale.workers);
        let parent = if accepted { entry(k - 1) } else { entry(k) };
        let commit = if accepted { entry(k) } else { fake_commit(id) };
        let status = if accepted {
            "accepted"
        } else if verified {
            "rejected"
        } else if id > scale.submissions - 20 {
            "queued"
        } else {
            "invalid"
        };
        let reason = match status {
            "rejected" => Some("not_better"),
            "invalid" => Some("outside_editable"),
            _ => None,
        };
        let claim = Claim {
            track: TRACK.into(),
            parent: parent.clone(),
            commit: commit.clone(),
            metrics: [("loss".to_string(), 0.8)].into(),
            idea_id: (id % 5 == 0).then_some((id % scale.ideas.max(1)) as i64 + 1),
            worker_id: worker.clone(),
            nonce: format!("n{id}"),
            spent_s: None,
        };
        let queued = status != "invalid";
        sqlx::query("INSERT INTO submissions (id, track, worker, idea_id, parent, commit_id, candidate, base, diff_hash, claim_json, signature, log, status, reason, received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '', 'loss: 0.8', $11, $12, $13)")
            .bind(id as i64)
            .bind(TRACK)
            .bind(&worker)
            .bind(claim.idea_id)
            .bind(&parent)
            .bind(&commit)
            .bind(queued.then_some(&commit))
            .bind(queued.then_some(&parent))
            .bind(format!("{id:016x}"))
            .bind(serde_json::to_string(&claim).unwrap())
            .bind(status)
            .bind(reason)
            .bind(at)
            .execute(&mut *tx)
            .await
            .unwrap();
        let entries = [append(
            EventBody::Submission {
                submission_id: id as i64,
                worker: worker.clone(),
                parent: parent.clone(),
                commit: commit.clone(),
                diff_hash: format!("{id:016x}"),
                status: if queued { "queued" } else { "invalid" }.into(),
                reason: (!queued).then(|| "outside_editable".to_string()),
                claim_signature: String::new(),
                idea_id: None,
            },
            at,
        )];
        let mut entries = entries.to_vec();
        if queued {
            job += 1;
            sqlx::query("INSERT INTO jobs (id, submission_id, track, candidate, base, state, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(job)
                .bind(id as i64)
                .bind(TRACK)
                .bind(&commit)
                .bind(&parent)
                .bind(if verified { "done" } else { "open" })
                .bind(at)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        if verified {
            verdict += 1;
            if !accepted {
                rejected += 1;
            }
            let head = if accepted { value(k - 1) } else { value(k) };
            let m = Measurements {
                job_id: job,
                verifier_id: format!("verifier-{}", id % 8),
                hardware_class: "cpu".into(),
                outcome: RunOutcome::Ok,
                candidate: around(if accepted { value(k) } else { head + 0.01 }),
                head: around(head),
                detail: None,
                unsandboxed: false,
                pairs: None,
            };
            let decision = if accepted { "accept" } else { "reject" };
            sqlx::query("INSERT INTO verdicts (id, job_id, submission_id, verifier, decision, reason, p_value, measurements, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(verdict)
                .bind(job)
                .bind(id as i64)
                .bind(&m.verifier_id)
                .bind(decision)
                .bind(reason)
                .bind(if accepted { 0.001 } else { 0.9 })
                .bind(serde_json::to_string(&m).unwrap())
                .bind(at + 1000)
                .execute(&mut *tx)
                .await
                .unwrap();
            entries.push(append(
                EventBody::Verdict {
                    verdict_id: verdict,
                    submission_id: id as i64,
                    candidate: commit.clone(),
                    base: parent.clone(),
                    decision: decision.into(),
                    reason: reason.map(str::to_string),
                    p_value: Some(if accepted { 0.001 } else { 0.9 }),
                    rule,
                    measurements: m,
                    verifier_signature: String::new(),
                    prior: Vec::new(),
                },
                at + 1000,
            ));
        }
        if accepted {
            sqlx::query("INSERT INTO chain (track, seq, commit_id, parent, submission_id, at_ms) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(TRACK)
                .bind(k as i64)
                .bind(&commit)
                .bind(&parent)
                .bind(id as i64)
                .bind(at + 1000)
                .execute(&mut *tx)
                .await
                .unwrap();
            let verdict_seq = entries.last().unwrap().seq;
            entries.push(append(
                EventBody::HeadMove {
                    from: parent.clone(),
                    to: commit.clone(),
                    submission_id: id as i64,
                    verdict_seq,
                    credit: None,
                },
                at + 1000,
            ));
        }
        for e in entries {
            sqlx::query("INSERT INTO ledger (track, seq, hash, line) VALUES ($1, $2, $3, $4)")
                .bind(TRACK)
                .bind(e.seq as i64)
                .bind(&e.hash)
                .bind(e.to_line())
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    let head = chain
        .last()
        .cloned()
        .unwrap_or_else(|| baseline.to_string());
    sqlx::query("UPDATE tracks SET head = $1 WHERE name = $2")
        .bind(&head)
        .bind(TRACK)
        .execute(&mut *tx)
        .await
        .unwrap();
    for (name, value) in [
        ("idea", scale.ideas as i64),
        ("submission", scale.submissions as i64),
        ("job", job),
        ("verdict", verdict),
    ] {
        sqlx::query("UPDATE counters SET value = $1 WHERE name = $2")
            .bind(value)
            .bind(name)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    db.close().await.unwrap();
}

/// The server's own time for a page, in milliseconds, from its `Server-Timing` header.
fn server_time(page: &swarmlab_testkit::http::Response) -> f64 {
    page.header("server-timing")
        .and_then(|t| t.strip_prefix("app;dur=")?.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn run(scale: Scale, repeat: usize, keep: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let src = tmp.path().join("src");
    let (baseline, chain) = repository(&src, scale.chain);
    let config = HubConfig {
        data_dir: tmp.path().join("hub"),
        listen: "127.0.0.1:0".into(),
        // The bench measures pages, not the rate limiter.
        rate_limit: swarmlab_hub::RateLimitConfig {
            burst: 1_000_000,
            per_second: 1e6,
        },
        ..HubConfig::default()
    };
    let hub = swarmlab_hub::Hub::open(config.clone(), Arc::new(SystemClock))
        .await
        .unwrap();
    hub.add_track(&AddTrackRequest {
        repo: src.display().to_string(),
        baseline: "main".into(),
    })
    .await
    .unwrap();
    let admin = hub.bootstrap_admin("bench").await.unwrap().token;
    drop(hub);
    let secret = std::fs::read_to_string(config.key_path()).unwrap();
    let key = signing::signing_key(&hex::decode(secret.trim()).unwrap().try_into().unwrap());
    seed(&config.data_dir, &baseline, &chain, scale, &key).await;
    eprintln!(
        "{}: {} chain entries, {} submissions, seeded in {:.1} s",
        scale.name,
        scale.chain + 1,
        scale.submissions,
        started.elapsed().as_secs_f64()
    );
    let server = Server::bind(config, Arc::new(SystemClock)).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let mid = scale.chain as i64 / 2;
    let accepted = (scale.submissions / scale.chain) as i64 * mid;
    let pages = [
        "/".to_string(),
        format!("/tracks/{TRACK}"),
        format!("/tracks/{TRACK}/chain"),
        format!(
            "/tracks/{TRACK}/chain?page={}",
            (scale.chain / 50 / 2).max(1)
        ),
        format!("/tracks/{TRACK}/chain/{mid}"),
        format!("/tracks/{TRACK}/ideas"),
        format!("/tracks/{TRACK}/leaderboard"),
        "/submissions".to_string(),
        format!("/submissions/{accepted}"),
    ];
    println!(
        "\n{} scale ({} chain entries, {} submissions): server time per page, ms",
        scale.name,
        scale.chain + 1,
        scale.submissions
    );
    println!(
        "{:<32} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "page", "first", "median", "p95", "worst", "bytes"
    );
    // A fresh connection per request, signed in by the admin's token as the session.
    let browser = Client::new(addr)
        .cookie(&admin)
        .timeout(Duration::from_secs(600));
    for path in &pages {
        let page = browser.get(path);
        assert_eq!(page.status, 200, "{path}");
        let first = server_time(&page);
        if path.contains("/chain/") {
            assert!(page.body.contains("class=\"diff\""), "{path} shows no diff");
        }
        let mut times = Vec::with_capacity(repeat);
        let mut bytes = 0;
        for _ in 0..repeat {
            let page = browser.get(path);
            assert_eq!(page.status, 200, "{path}");
            times.push(server_time(&page));
            bytes = page.bytes.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{:<32} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9}",
            path,
            first,
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times.last().copied().unwrap_or(f64::NAN),
            bytes
        );
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the hub stops")
        .unwrap()
        .unwrap();
    if keep {
        eprintln!("kept {}", tmp.keep().display());
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if !args.iter().any(|a| a == "--bench") {
        run(SMOKE, 2, false).await;
        return;
    }
    let repeat = value("--repeat").and_then(|v| v.parse().ok()).unwrap_or(20);
    let keep = args.iter().any(|a| a == "--keep");
    match value("--scale").as_deref().unwrap_or("both") {
        "demo" => run(DEMO, repeat, keep).await,
        "large" => run(LARGE, repeat, keep).await,
        _ => {
            run(DEMO, repeat, keep).await;
            run(LARGE, repeat, keep).await;
        }
    }
}
