//! Load benchmark for the hub's HTTP API.
//!
//! Starts a hub in-process on 127.0.0.1:0 (SQLite in a temp dir, system clock), adds one track
//! from a temp git repository, creates N worker identities (each with its own ed25519 key and
//! token), seeds ideas, leases some of them, prepares signed submissions, then drives a mixed
//! open-loop load at a target rate from many keep-alive connections and prints per-endpoint
//! latency percentiles.
//!
//! ```sh
//! cargo bench -p swarmlab-hub --bench load -- [--workers N] [--rate R] [--seconds S] \
//!     [--ideas I] [--connections C]
//! ```
//!
//! Run without `--bench` (as `cargo test --benches` does) it does a one-second smoke run.
//! All traffic goes to 127.0.0.1; the run is bounded in requests and time and stops by itself.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;
use swarmlab_hub::{HubConfig, Server, SystemClock};
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{AddTrackRequest, Claim, NewIdea, Role, SubmitRequest};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const TRACK: &str = "toy";

/// The same test track as the integration tests.
const SPEC: &str = include_str!("../tests/fixtures/swarmlab.toml");

/// The endpoints driven, with their share of requests in percent.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Endpoint {
    Heartbeat,
    Lease,
    Track,
    ListIdeas,
    Submit,
}

const MIX: [(Endpoint, u32); 5] = [
    (Endpoint::Heartbeat, 40),
    (Endpoint::Lease, 15),
    (Endpoint::Track, 34),
    (Endpoint::ListIdeas, 10),
    (Endpoint::Submit, 1),
];

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::Heartbeat => "POST ideas/{id}/heartbeat",
            Endpoint::Lease => "POST tracks/{t}/ideas/lease",
            Endpoint::Track => "GET tracks/{t}",
            Endpoint::ListIdeas => "GET tracks/{t}/ideas",
            Endpoint::Submit => "POST tracks/{t}/submissions",
        }
    }
}

struct Args {
    workers: usize,
    rate: f64,
    seconds: f64,
    ideas: usize,
    connections: usize,
}

fn parse_args() -> Args {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let bench = raw.iter().any(|a| a == "--bench");
    let mut args = if bench {
        Args {
            workers: 2000,
            rate: 1000.0,
            seconds: 20.0,
            ideas: 500,
            connections: 64,
        }
    } else {
        Args {
            workers: 50,
            rate: 100.0,
            seconds: 1.0,
            ideas: 40,
            connections: 8,
        }
    };
    let mut it = raw.iter();
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> f64 {
            it.next()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v > 0.0)
                .unwrap_or_else(|| panic!("{name} needs a positive number"))
        };
        match flag.as_str() {
            "--workers" => args.workers = value("--workers") as usize,
            "--rate" => args.rate = value("--rate"),
            "--seconds" => args.seconds = value("--seconds").min(600.0),
            "--ideas" => args.ideas = value("--ideas") as usize,
            "--connections" => args.connections = value("--connections") as usize,
            _ => {} // `--bench` and anything else cargo passes
        }
    }
    args.workers = args.workers.max(1);
    args.connections = args.connections.clamp(1, 1024);
    args
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "-c",
            "commit.gpgSign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn track_repo(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("swarmlab.toml"), SPEC).unwrap();
    std::fs::write(dir.join("train.sh"), "echo loss: 1\n").unwrap();
    std::fs::write(dir.join("params.txt"), "lr = 0.01\nwidth = 64\n").unwrap();
    std::fs::write(dir.join("src/model.txt"), "layers = 2\n").unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "baseline"]);
    git(dir, &["rev-parse", "HEAD"])
}

/// `count` distinct candidate commits on `baseline`, each as (commit, base64 bundle).
fn candidates(dir: &Path, scratch: &Path, baseline: &str, count: usize) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        git(dir, &["checkout", "-q", "--detach", baseline]);
        std::fs::write(
            dir.join("params.txt"),
            format!("lr = 0.{n:05}1\nwidth = {}\n", 64 + n),
        )
        .unwrap();
        git(dir, &["commit", "-qam", &format!("candidate {n}")]);
        let commit = git(dir, &["rev-parse", "HEAD"]);
        let branch = format!("c{n}");
        git(dir, &["branch", "-f", &branch, &commit]);
        let path = scratch.join(format!("{branch}.bundle"));
        git(
            dir,
            &[
                "bundle",
                "create",
                "-q",
                path.to_str().unwrap(),
                &branch,
                &format!("^{baseline}"),
            ],
        );
        let bundle =
            base64::engine::general_purpose::STANDARD.encode(std::fs::read(&path).unwrap());
        out.push((commit, bundle));
    }
    out
}

struct Worker {
    id: String,
    token: String,
    key: SigningKey,
}

fn worker_key(i: usize) -> SigningKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    signing::signing_key(&seed)
}

/// A minimal HTTP/1.1 keep-alive client over one TcpStream.
struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn { addr, stream: None }
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let reused = self.stream.is_some();
        match self.attempt(method, path, token, body).await {
            Ok(r) => Ok(r),
            Err(_) if reused => {
                // The server may have closed an idle keep-alive connection: one fresh try.
                self.stream = None;
                self.attempt(method, path, token, body).await
            }
            Err(e) => Err(e),
        }
    }

    async fn attempt(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let result = self.exchange(method, path, token, body).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        use std::io::{Error, ErrorKind};
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::new(s));
        }
        let stream = self.stream.as_mut().unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: hub\r\n");
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ));
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        stream.get_mut().write_all(&out).await?;

        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Err(Error::new(ErrorKind::UnexpectedEof, "connection closed"));
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::new(ErrorKind::InvalidData, "bad status line"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Err(Error::new(ErrorKind::UnexpectedEof, "eof in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            } else if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                stream.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16)
                    .map_err(|_| Error::new(ErrorKind::InvalidData, "bad chunk size"))?;
                let mut chunk = vec![0; size + 2];
                stream.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            stream.read_exact(&mut body).await?;
        } else {
            stream.read_to_end(&mut body).await?;
            close = true;
        }
        if close {
            self.stream = None;
        }
        Ok((status, body))
    }
}

/// What the load tasks share.
struct Shared {
    workers: Vec<Worker>,
    /// (worker index, idea id) pairs whose lease the worker holds.
    held: Mutex<Vec<(usize, i64)>>,
    /// Prepared candidates not yet submitted: (worker index, commit, bundle).
    pending: Mutex<Vec<(usize, String, String)>>,
    baseline: String,
}

#[derive(Default)]
struct EndpointStats {
    latencies_us: Vec<u64>,
    ok: u64,
    conflicts: u64,
    errors: u64,
    statuses: BTreeMap<String, u64>,
}

#[derive(Default)]
struct TaskStats {
    by_endpoint: BTreeMap<Endpoint, EndpointStats>,
    late: u64,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn pick(rng: &mut Rng) -> Endpoint {
    let total: u32 = MIX.iter().map(|(_, w)| w).sum();
    let mut roll = (rng.next() % u64::from(total)) as u32;
    for (e, w) in MIX {
        if roll < w {
            return e;
        }
        roll -= w;
    }
    Endpoint::Track
}

/// One client connection: sends its share of the schedule (request k at start + k/rate).
async fn client(
    task: usize,
    args: Arc<Args>,
    addr: SocketAddr,
    shared: Arc<Shared>,
    start: tokio::time::Instant,
) -> TaskStats {
    let mut conn = Conn::new(addr);
    let mut rng =
        Rng(0x9E37_79B9_7F4A_7C15 ^ (task as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut stats = TaskStats::default();
    let end = Duration::from_secs_f64(args.seconds);
    let mut k = task as u64;
    loop {
        let due = Duration::from_secs_f64(k as f64 / args.rate);
        if due >= end {
            break;
        }
        k += args.connections as u64;
        let due_at = start + due;
        let now = tokio::time::Instant::now();
        if now >= start + end {
            // Behind schedule at the end of the run: the rest is counted as unsent.
            break;
        }
        if now < due_at {
            tokio::time::sleep_until(due_at).await;
        } else if now - due_at > Duration::from_millis(10) {
            stats.late += 1;
        }
        let mut endpoint = pick(&mut rng);
        let mut held_pair = None;
        let mut submission = None;
        if endpoint == Endpoint::Heartbeat {
            let held = shared.held.lock().unwrap();
            if held.is_empty() {
                endpoint = Endpoint::Lease;
            } else {
                held_pair = Some(held[rng.below(held.len())]);
            }
        }
        if endpoint == Endpoint::Submit {
            submission = shared.pending.lock().unwrap().pop();
            if submission.is_none() {
                endpoint = Endpoint::Track;
            }
        }
        let w = rng.below(shared.workers.len());
        let (worker, method, path, body) = match endpoint {
            Endpoint::Heartbeat => {
                let (w, idea) = held_pair.unwrap();
                (w, "POST", format!("/api/v1/ideas/{idea}/heartbeat"), vec![])
            }
            Endpoint::Lease => (
                w,
                "POST",
                format!("/api/v1/tracks/{TRACK}/ideas/lease"),
                vec![],
            ),
            Endpoint::Track => (w, "GET", format!("/api/v1/tracks/{TRACK}"), vec![]),
            Endpoint::ListIdeas => (w, "GET", format!("/api/v1/tracks/{TRACK}/ideas"), vec![]),
            Endpoint::Submit => {
                let (w, commit, bundle) = submission.take().unwrap();
                let me = &shared.workers[w];
                let claim = Claim {
                    track: TRACK.into(),
                    parent: shared.baseline.clone(),
                    commit,
                    metrics: BTreeMap::from([("loss".to_string(), 0.9)]),
                    idea_id: None,
                    worker_id: me.id.clone(),
                    nonce: format!("bench-{task}-{k}"),
                };
                let signature = signing::sign(&me.key, &claim.signed_bytes());
                let req = SubmitRequest {
                    claim,
                    signature,
                    bundle,
                    log: "loss: 0.9\n".into(),
                };
                (
                    w,
                    "POST",
                    format!("/api/v1/tracks/{TRACK}/submissions"),
                    serde_json::to_vec(&req).unwrap(),
                )
            }
        };
        let token = shared.workers[worker].token.clone();
        let sent = Instant::now();
        let result = conn.request(method, &path, Some(&token), &body).await;
        let micros = sent.elapsed().as_micros() as u64;
        let s = stats.by_endpoint.entry(endpoint).or_default();
        s.latencies_us.push(micros);
        match result {
            Ok((status, body)) if (200..300).contains(&status) => {
                s.ok += 1;
                // Only leases and submissions are read back; parsing the rest (a list of
                // ideas is ~100 kB) would take CPU from the hub it shares the machine with.
                let value: Value = match endpoint {
                    Endpoint::Lease | Endpoint::Submit => {
                        serde_json::from_slice(&body).unwrap_or(Value::Null)
                    }
                    _ => Value::Null,
                };
                match endpoint {
                    Endpoint::Lease => {
                        if let Some(id) = value["id"].as_i64() {
                            shared.held.lock().unwrap().push((worker, id));
                            *s.statuses.entry("leased".into()).or_default() += 1;
                        } else {
                            *s.statuses.entry("queue empty".into()).or_default() += 1;
                        }
                    }
                    Endpoint::Submit => {
                        let st = value["status"].as_str().unwrap_or("?").to_string();
                        let reason = value["reason"].as_str().map(|r| format!(" ({r})"));
                        *s.statuses
                            .entry(format!("{st}{}", reason.unwrap_or_default()))
                            .or_default() += 1;
                    }
                    _ => {}
                }
            }
            Ok((409, _)) => s.conflicts += 1,
            Ok((status, _)) => {
                s.errors += 1;
                *s.statuses.entry(format!("HTTP {status}")).or_default() += 1;
            }
            Err(e) => {
                s.errors += 1;
                *s.statuses.entry(format!("io: {e}")).or_default() += 1;
            }
        }
    }
    stats
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn main() {
    let args = Arc::new(parse_args());
    let tmp = tempfile::tempdir().expect("temp dir");
    let src = tmp.path().join("src-repo");
    let baseline = track_repo(&src);

    // The hub and the load generator run on separate runtimes (they still share the CPUs).
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hub")
        .build()
        .unwrap();
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let config = HubConfig {
        data_dir: tmp.path().join("hub"),
        listen: "127.0.0.1:0".into(),
        ..HubConfig::default()
    };
    let setup = Instant::now();
    let (server, hub) = server_rt.block_on(async {
        let server = Server::bind(config, Arc::new(SystemClock)).await.unwrap();
        let hub = server.hub();
        (server, hub)
    });
    let addr = server.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = server_rt.spawn(async move {
        server
            .run(async {
                let _ = stop_rx.await;
            })
            .await
    });

    // Bootstrap: an admin adds the track over HTTP; workers and ideas are made in-process
    // (registration over HTTP is rate limited per address, so 2,000 would take minutes).
    let admin = server_rt
        .block_on(hub.bootstrap_admin("bench-admin"))
        .unwrap()
        .token;
    let add = serde_json::to_vec(&AddTrackRequest {
        repo: src.display().to_string(),
        baseline: "main".into(),
    })
    .unwrap();
    let (status, body) = client_rt
        .block_on(Conn::new(addr).request("POST", "/api/v1/tracks", Some(&admin), &add))
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    let workers: Vec<Worker> = server_rt.block_on(async {
        let mut out = Vec::with_capacity(args.workers);
        for i in 0..args.workers {
            let key = worker_key(i);
            let t = hub
                .create_identity(
                    &format!("bench-worker-{i}"),
                    Role::Worker,
                    Some(signing::public_key_hex(&key)),
                )
                .await
                .unwrap();
            out.push(Worker {
                id: t.identity_id,
                token: t.token,
                key,
            });
        }
        out
    });
    let held: Vec<(usize, i64)> = server_rt.block_on(async {
        let topics = [
            "learning rate",
            "warmup",
            "width",
            "depth",
            "dropout",
            "weight decay",
            "batch size",
            "optimizer",
            "schedule",
            "init",
        ];
        for i in 0..args.ideas {
            let author = hub
                .authenticate(&workers[i % workers.len()].token)
                .await
                .unwrap();
            let idea = NewIdea {
                text: format!(
                    "idea {i}: try {} variant {} with seed {} and factor {}",
                    topics[i % topics.len()],
                    i / topics.len(),
                    i * 7919 % 1000,
                    i % 13
                ),
                tags: vec![topics[i % topics.len()].into()],
            };
            hub.add_idea(&author, TRACK, &idea).await.unwrap();
        }
        // Half of the ideas start leased, so heartbeats have leases to extend.
        let mut held = Vec::new();
        for i in 0..args.ideas / 2 {
            let w = i % workers.len();
            let me = hub.authenticate(&workers[w].token).await.unwrap();
            if let Some(idea) = hub.lease_idea(&me, TRACK).await.unwrap() {
                held.push((w, idea.id));
            }
        }
        held
    });
    let submissions =
        ((args.rate * args.seconds * f64::from(MIX[4].1) / 100.0) * 1.5).ceil() as usize + 2;
    let scratch = tmp.path().join("bundles");
    std::fs::create_dir_all(&scratch).unwrap();
    let pending: Vec<(usize, String, String)> = candidates(&src, &scratch, &baseline, submissions)
        .into_iter()
        .enumerate()
        .map(|(i, (commit, bundle))| ((i * 7) % workers.len(), commit, bundle))
        .collect();
    eprintln!(
        "setup: {} workers, {} ideas ({} leased), {} prepared submissions in {:.1} s; hub at {addr}",
        workers.len(),
        args.ideas,
        held.len(),
        pending.len(),
        setup.elapsed().as_secs_f64()
    );

    let shared = Arc::new(Shared {
        workers,
        held: Mutex::new(held),
        pending: Mutex::new(pending),
        baseline,
    });
    let cpu_before = cpu_seconds();
    let (results, wall) = client_rt.block_on(async {
        let start = tokio::time::Instant::now() + Duration::from_millis(50);
        let tasks: Vec<_> = (0..args.connections)
            .map(|t| tokio::spawn(client(t, args.clone(), addr, shared.clone(), start)))
            .collect();
        let limit = Duration::from_secs_f64(args.seconds + 60.0);
        let mut out = Vec::new();
        let all = async {
            for t in tasks {
                out.push(t.await.unwrap());
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            eprintln!("load tasks did not finish within {limit:?}; reporting what finished");
        }
        (out, start.elapsed())
    });
    let cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);

    let _ = stop_tx.send(());
    let _ =
        server_rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), served).await });
    server_rt.shutdown_timeout(Duration::from_secs(2));
    client_rt.shutdown_timeout(Duration::from_secs(2));

    report(&args, results, wall, cpu);
}

/// CPU seconds this process and its finished children (git) have used, from
/// `/proc/self/stat` (utime, stime, cutime, cstime, in clock ticks of 1/100 s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<f64>().ok())
        .sum::<Option<f64>>()?;
    Some(ticks / 100.0)
}

fn report(args: &Args, results: Vec<TaskStats>, wall: Duration, cpu: Option<f64>) {
    let mut merged: BTreeMap<Endpoint, EndpointStats> = BTreeMap::new();
    let mut late = 0;
    for r in results {
        late += r.late;
        for (e, s) in r.by_endpoint {
            let m = merged.entry(e).or_default();
            m.latencies_us.extend(s.latencies_us);
            m.ok += s.ok;
            m.conflicts += s.conflicts;
            m.errors += s.errors;
            for (k, v) in s.statuses {
                *m.statuses.entry(k).or_default() += v;
            }
        }
    }
    let secs = wall.as_secs_f64().max(args.seconds);
    println!();
    println!(
        "hub load: target {:.0} req/s for {:.0} s, {} workers, {} ideas, {} connections",
        args.rate, args.seconds, args.workers, args.ideas, args.connections
    );
    println!(
        "{:<29} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>5} {:>6}",
        "endpoint", "count", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "409", "errors"
    );
    let mut all = Vec::new();
    let (mut conflicts, mut errors) = (0, 0);
    let row = |name: &str, lat: &mut Vec<u64>, c: u64, e: u64| {
        lat.sort_unstable();
        println!(
            "{:<29} {:>7} {:>8.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>5} {:>6}",
            name,
            lat.len(),
            lat.len() as f64 / secs,
            percentile(lat, 50.0),
            percentile(lat, 90.0),
            percentile(lat, 99.0),
            percentile(lat, 100.0),
            c,
            e
        );
    };
    for (e, s) in merged.iter_mut() {
        row(e.label(), &mut s.latencies_us, s.conflicts, s.errors);
        all.extend_from_slice(&s.latencies_us);
        conflicts += s.conflicts;
        errors += s.errors;
    }
    row("all", &mut all, conflicts, errors);
    for (e, s) in &merged {
        if !s.statuses.is_empty() {
            let parts: Vec<String> = s
                .statuses
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            println!("  {}: {}", e.label(), parts.join(", "));
        }
    }
    let achieved = all.len() as f64 / secs;
    let scheduled = (args.rate * args.seconds).ceil() as usize;
    let unsent = scheduled.saturating_sub(all.len());
    let p99 = percentile(&all, 99.0);
    println!(
        "achieved {achieved:.1} req/s of {:.0} targeted ({:.1}%) over {secs:.1} s; {late} requests started >10 ms late, {unsent} of {scheduled} scheduled never sent (behind at the end)",
        args.rate,
        100.0 * achieved / args.rate
    );
    if let Some(cpu) = cpu {
        println!(
            "CPU used by the hub, the load generator and git: {cpu:.1} s in {secs:.1} s ({:.2} cores)",
            cpu / secs
        );
    }
    let met = p99 < 50.0 && achieved >= 0.95 * args.rate && errors == 0;
    println!(
        "target (p99 < 50 ms at the target rate, no errors): {} (p99 {p99:.2} ms)",
        if met { "MET" } else { "NOT MET" }
    );
}
