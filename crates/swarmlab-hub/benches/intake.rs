//! What one submission costs the hub: CPU time (the hub's threads and its git children)
//! per submission for an honest bundle and for hostile ones, side by side in one run, and
//! beside each what `git bundle unbundle` alone would have cost (the unguarded intake:
//! unbundling came before any check).
//!
//! ```sh
//! cargo bench -p swarmlab-hub --bench intake -- [--rounds N]
//! ```
//!
//! The hostile bundles: a small change carrying an unreferenced blob that inflates to 256
//! MiB; a pack of 20 000 objects; a tree 1 000 folders deep; 1 900 files (just under the
//! object cap); a 60 MiB blob (just under the inflated-size cap). Run without `--bench` (as
//! `cargo test --benches` does) it is a smoke run at small sizes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use swarmlab_hub::{Hub, HubConfig, SystemClock};
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{AddTrackRequest, Claim, Role, SubmitRequest};

/// The same test track as the integration tests.
const SPEC: &str = swarmlab_testkit::hub::TRACK_SPEC;

/// Sizes of the run: the full one, or a smoke run.
struct Sizes {
    rounds: usize,
    bomb_bytes: usize,
    many_objects: usize,
    depth: usize,
    at_cap_files: usize,
    at_cap_bytes: usize,
    max_objects: u32,
    max_inflated: u64,
}

fn sizes() -> Sizes {
    let args: Vec<String> = std::env::args().collect();
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok());
    if args.iter().any(|a| a == "--bench") {
        Sizes {
            rounds: rounds.unwrap_or(10),
            bomb_bytes: 256 << 20,
            many_objects: 20_000,
            depth: 1_000,
            at_cap_files: 1_900,
            at_cap_bytes: 60 << 20,
            max_objects: 2_000,
            max_inflated: 64 << 20,
        }
    } else {
        Sizes {
            rounds: rounds.unwrap_or(1),
            bomb_bytes: 4 << 20,
            many_objects: 300,
            depth: 50,
            at_cap_files: 150,
            at_cap_bytes: 900 << 10,
            max_objects: 200,
            max_inflated: 1 << 20,
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    git_in(dir, args, None)
}

fn git_in(dir: &Path, args: &[&str], input: Option<&[u8]>) -> String {
    let mut child = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .spawn()
        .expect("git runs");
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        let input = input.to_vec();
        std::thread::spawn(move || stdin.write_all(&input));
    }
    let out = child.wait_with_output().expect("git runs");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// This process's CPU time and its waited-for children's, in seconds (1/100 s ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .collect();
    fields[11..15]
        .iter()
        .map(|f| f.parse::<f64>().expect("ticks"))
        .sum::<f64>()
        / 100.0
}

/// A candidate to submit again and again: its commit and its bundle (raw bytes).
struct Candidate {
    name: String,
    commit: String,
    bundle: Vec<u8>,
}

/// The track's repository (a copy of the integration tests' track).
fn track_repo(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::write(dir.join("swarmlab.toml"), SPEC).expect("write");
    std::fs::write(dir.join("train.sh"), "echo loss: 1\n").expect("write");
    std::fs::write(dir.join("params.txt"), "lr = 0.01\nwidth = 64\n").expect("write");
    std::fs::write(dir.join("src/model.txt"), "layers = 2\n").expect("write");
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "baseline"]);
    git(dir, &["rev-parse", "HEAD"])
}

/// Commits what `edit` does on `base` and returns the commit.
fn commit(dir: &Path, base: &str, message: &str, edit: impl FnOnce(&Path)) -> String {
    git(dir, &["checkout", "-q", "--detach", base]);
    edit(dir);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A bundle of `commit` on `base` whose pack also carries `extra` objects.
fn bundle(dir: &Path, commit: &str, base: &str, extra: &[String]) -> Vec<u8> {
    let objects = git(dir, &["rev-list", "--objects", commit, &format!("^{base}")]);
    let mut ids: String = objects
        .lines()
        .map(|l| format!("{}\n", l.split(' ').next().unwrap_or_default()))
        .collect();
    for id in extra {
        ids.push_str(id);
        ids.push('\n');
    }
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(["pack-objects", "--stdout", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(ids.as_bytes()));
    let out = child.wait_with_output().expect("git runs");
    let _ = writer.join();
    let mut bytes =
        format!("# v2 git bundle\n-{base} base\n{commit} refs/heads/c\n\n").into_bytes();
    bytes.extend(out.stdout);
    bytes
}

/// An object nothing references: `bytes` zero bytes, streamed to git.
fn zeros_blob(dir: &Path, bytes: usize) -> String {
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(["hash-object", "-w", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let chunk = vec![0u8; 1 << 20];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            stdin.write_all(&chunk[..n])?;
            left -= n;
        }
        Ok::<(), std::io::Error>(())
    });
    let out = child.wait_with_output().expect("git runs");
    let _ = writer.join();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `count` distinct small blobs nothing references, written at once by fast-import.
fn many_blobs(dir: &Path, count: usize) -> Vec<String> {
    let marks = dir.join(".git/bench-marks");
    let mut stream = String::new();
    for i in 1..=count {
        let data = format!("blob {i}\n");
        stream.push_str(&format!("blob\nmark :{i}\ndata {}\n{data}\n", data.len()));
    }
    let export = format!("--export-marks={}", marks.display());
    git_in(
        dir,
        &["fast-import", "--quiet", &export],
        Some(stream.as_bytes()),
    );
    let text = std::fs::read_to_string(&marks).expect("marks");
    text.lines()
        .filter_map(|l| l.split_once(' ').map(|(_, id)| id.to_string()))
        .collect()
}

fn candidates(dir: &Path, base: &str, s: &Sizes) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut add = |name: String, commit: String, bundle: Vec<u8>| {
        out.push(Candidate {
            name,
            commit,
            bundle,
        })
    };
    let honest = commit(dir, base, "honest", |d| {
        std::fs::write(d.join("params.txt"), "lr = 0.02\nwidth = 64\n").expect("write")
    });
    add(
        "honest: one file changed".into(),
        honest.clone(),
        bundle(dir, &honest, base, &[]),
    );
    let bomb = zeros_blob(dir, s.bomb_bytes);
    add(
        format!("an unreferenced blob of {}", human(s.bomb_bytes)),
        honest.clone(),
        bundle(dir, &honest, base, &[bomb]),
    );
    let blobs = many_blobs(dir, s.many_objects);
    add(
        format!("{} objects", s.many_objects),
        honest.clone(),
        bundle(dir, &honest, base, &blobs),
    );
    let deep = commit(dir, base, "deep", |d| {
        let mut path = d.join("src");
        for _ in 0..s.depth {
            path.push("d");
        }
        std::fs::create_dir_all(&path).expect("mkdir");
        std::fs::write(path.join("x.txt"), "x\n").expect("write");
    });
    add(
        format!("a tree {} folders deep", s.depth),
        deep.clone(),
        bundle(dir, &deep, base, &[]),
    );
    let wide = commit(dir, base, "wide", |d| {
        std::fs::create_dir_all(d.join("src/gen")).expect("mkdir");
        for i in 0..s.at_cap_files {
            std::fs::write(d.join(format!("src/gen/f{i}.txt")), format!("{i}\n")).expect("write");
        }
    });
    add(
        format!("{} files (under the object cap)", s.at_cap_files),
        wide.clone(),
        bundle(dir, &wide, base, &[]),
    );
    let big = zeros_blob(dir, s.at_cap_bytes);
    add(
        format!(
            "an unreferenced blob of {} (under the size cap)",
            human(s.at_cap_bytes)
        ),
        honest.clone(),
        bundle(dir, &honest, base, &[big]),
    );
    out
}

/// CPU seconds of `git bundle unbundle` of `bundle` into a fresh copy of the track, the
/// mean of `rounds` runs.
fn unbundle_alone(src: &Path, scratch: &Path, bundle: &[u8], rounds: usize) -> f64 {
    (0..rounds)
        .map(|_| unbundle_once(src, scratch, bundle))
        .sum::<f64>()
        / rounds as f64
}

fn unbundle_once(src: &Path, scratch: &Path, bundle: &[u8]) -> f64 {
    let copy = scratch.join("copy");
    let _ = std::fs::remove_dir_all(&copy);
    git(
        scratch,
        &[
            "clone",
            "-q",
            "--bare",
            "--no-local",
            src.to_str().expect("utf-8"),
            "copy",
        ],
    );
    let path = scratch.join("b.bundle");
    std::fs::write(&path, bundle).expect("write");
    let before = cpu_seconds();
    // Refusals are fine: what it cost to get there is the point.
    let _ = Command::new("git")
        .current_dir(&copy)
        .args(["bundle", "unbundle", path.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let spent = cpu_seconds() - before;
    let _ = std::fs::remove_dir_all(&copy);
    spent
}

#[tokio::main]
async fn main() {
    let s = sizes();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let src = tmp.path().join("src-repo");
    let base = track_repo(&src);
    let config = HubConfig {
        data_dir: tmp.path().join("hub"),
        max_bundle_objects: s.max_objects,
        max_bundle_inflated_bytes: s.max_inflated,
        quota: swarmlab_hub::domain::config::QuotaConfig {
            initial: 1_000_000,
            max: 1_000_000,
            unproven_pool: 0,
        },
        ..HubConfig::default()
    };
    let hub = Hub::open(config, Arc::new(SystemClock))
        .await
        .expect("the hub opens");
    hub.add_track(&AddTrackRequest {
        repo: src.display().to_string(),
        baseline: "main".into(),
    })
    .await
    .expect("the track is added");
    let key = signing::signing_key(&[7; 32]);
    let token = hub
        .create_identity("bench", Role::Worker, Some(signing::public_key_hex(&key)))
        .await
        .expect("a worker");
    let worker = hub.authenticate(&token.token).await.expect("its token");
    let prepared = Instant::now();
    let candidates = candidates(&src, &base, &s);
    eprintln!(
        "prepared {} bundles in {:.1}s; {} rounds each",
        candidates.len(),
        prepared.elapsed().as_secs_f64(),
        s.rounds
    );

    println!(
        "{:<54} {:>10} {:>14} {:>9} {:>16}  outcome",
        "bundle", "size", "hub CPU/sub", "× honest", "unbundle alone"
    );
    let mut honest_cpu = None;
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).expect("mkdir");
    let mut nonce = 0u64;
    for c in &candidates {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&c.bundle);
        let mut outcome = String::new();
        let before = cpu_seconds();
        for _ in 0..s.rounds {
            nonce += 1;
            let claim = Claim {
                track: "toy".into(),
                parent: base.clone(),
                commit: c.commit.clone(),
                metrics: [("loss".to_string(), 0.9)].into(),
                idea_id: None,
                worker_id: worker.id.clone(),
                nonce: format!("bench-{nonce}"),
                spent_s: None,
            };
            let signature = sign(&key, &claim);
            let req = SubmitRequest {
                claim,
                signature,
                bundle: encoded.clone(),
                log: String::new(),
            };
            let info = hub.submit(&worker, "toy", req).await.expect("an answer");
            outcome = info.reason.unwrap_or(info.status);
        }
        let per = (cpu_seconds() - before) / s.rounds as f64;
        let honest = *honest_cpu.get_or_insert(per);
        let alone = unbundle_alone(&src, &scratch, &c.bundle, s.rounds.min(3));
        println!(
            "{:<54} {:>10} {:>11.1} ms {:>9.2} {:>13.1} ms  {}",
            c.name,
            human(c.bundle.len()),
            per * 1e3,
            per / honest.max(1e-9),
            alone * 1e3,
            outcome,
        );
    }
    println!(
        "(CPU in 1/100 s ticks of this process and its git children, averaged over the rounds \
         (unbundling alone: up to 3); repeated submissions of one change after the first are \
         `duplicate`, refused after the same git work)"
    );
}

fn sign(key: &SigningKey, claim: &Claim) -> String {
    signing::sign(key, &claim.signed_bytes())
}

fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
