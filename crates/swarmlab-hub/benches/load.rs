//! Load benchmark for the hub's HTTP API.
//!
//! Starts a hub in-process on 127.0.0.1:0 (testkit's seeded hub: SQLite in a temp dir, or a
//! fresh PostgreSQL database on the server of `SWARMLAB_TEST_DATABASE_URL` when set, the
//! system clock, the default configuration, one track from a temp git repository), creates N
//! worker identities (each with its own ed25519 key and token), seeds ideas, leases some of
//! them, prepares signed submissions, then drives a mixed open-loop load at a target rate from
//! many keep-alive connections (a thread each) and prints per-endpoint latency percentiles.
//!
//! ```sh
//! cargo bench -p swarmlab-hub --bench load -- [--workers N] [--rate R] [--seconds S] \
//!     [--ideas I] [--connections C] [--hubs H]
//! ```
//!
//! `--hubs 2` serves a second hub on the same database and data folder (PostgreSQL only: it
//! stands for a second process behind a load balancer) and spreads the connections over both.
//!
//! Run without `--bench` (as `cargo test --benches` does) it does a one-second smoke run.
//! All traffic goes to 127.0.0.1; the run is bounded in requests and time and stops by itself.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use swarmlab_hub::HubConfig;
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{NewIdea, Role};
use swarmlab_testkit::bundle::Candidate;
use swarmlab_testkit::git::Repo;
use swarmlab_testkit::http::Client;
use swarmlab_testkit::hub::Seed;

const TRACK: &str = "toy";

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
    hubs: usize,
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
            hubs: 1,
        }
    } else {
        Args {
            workers: 50,
            rate: 100.0,
            seconds: 1.0,
            ideas: 40,
            connections: 8,
            hubs: 1,
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
            "--hubs" => args.hubs = (value("--hubs") as usize).clamp(1, 8),
            _ => {} // `--bench` and anything else cargo passes
        }
    }
    args.workers = args.workers.max(1);
    args.connections = args.connections.clamp(1, 1024);
    args
}

/// `count` distinct candidates on `baseline`, each of a worker (by index) of `workers`.
fn candidates(
    repo: &Repo,
    baseline: &str,
    workers: &[Worker],
    count: usize,
) -> Vec<(usize, Candidate)> {
    (0..count)
        .map(|n| {
            let params = format!("lr = 0.{n:05}1\nwidth = {}\n", 64 + n);
            let commit = repo.commit_on(
                baseline,
                &[("params.txt", params.as_bytes())],
                &format!("candidate {n}"),
            );
            let w = (n * 7) % workers.len();
            (w, Candidate::new(repo, baseline, &commit, &workers[w].id))
        })
        .collect()
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

/// What the load tasks share.
struct Shared {
    workers: Vec<Worker>,
    /// (worker index, idea id) pairs whose lease the worker holds.
    held: Mutex<Vec<(usize, i64)>>,
    /// Prepared candidates not yet submitted, with their worker's index.
    pending: Mutex<Vec<(usize, Candidate)>>,
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
fn client(
    task: usize,
    args: Arc<Args>,
    addr: SocketAddr,
    shared: Arc<Shared>,
    start: Instant,
) -> TaskStats {
    let conn = Client::new(addr).keep_alive();
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
        let now = Instant::now();
        if now >= start + end {
            // Behind schedule at the end of the run: the rest is counted as unsent.
            break;
        }
        if now < due_at {
            std::thread::sleep(due_at - now);
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
                let (w, mut candidate) = submission.take().unwrap();
                candidate.claim.nonce = format!("bench-{task}-{k}");
                let req = candidate.signed(&shared.workers[w].key);
                (
                    w,
                    "POST",
                    format!("/api/v1/tracks/{TRACK}/submissions"),
                    serde_json::to_vec(&req).unwrap(),
                )
            }
        };
        let as_worker = conn.bearer(&shared.workers[worker].token);
        let sent = Instant::now();
        let result = as_worker.try_send(method, &path, &body);
        let micros = sent.elapsed().as_micros() as u64;
        let s = stats.by_endpoint.entry(endpoint).or_default();
        s.latencies_us.push(micros);
        match result {
            Ok(r) if (200..300).contains(&r.status) => {
                s.ok += 1;
                // Only leases and submissions are read back; parsing the rest (a list of
                // ideas is ~100 kB) would take CPU from the hub it shares the machine with.
                let value: Value = match endpoint {
                    Endpoint::Lease | Endpoint::Submit => {
                        serde_json::from_slice(&r.bytes).unwrap_or(Value::Null)
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
            Ok(r) if r.status == 409 => s.conflicts += 1,
            Ok(r) => {
                s.errors += 1;
                *s.statuses.entry(format!("HTTP {}", r.status)).or_default() += 1;
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

    // The hub runs on a runtime of its own, the load generator on threads (they still share
    // the CPUs).
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hub")
        .build()
        .unwrap();

    let setup = Instant::now();
    // A hub as deployed (the default configuration, not the tests' small limits) on the
    // system clock, with the track. Workers and ideas are made in-process (registration over
    // HTTP is rate limited per address, so 2,000 would take minutes).
    let (seeded, served) = server_rt.block_on(
        Seed::new()
            .admin("bench-admin")
            .config(|c| {
                *c = HubConfig {
                    data_dir: c.data_dir.clone(),
                    database_url: c.database_url.clone(),
                    listen: c.listen.clone(),
                    ..HubConfig::default()
                }
            })
            .serve(),
    );
    let addr = served.addr;
    assert!(addr.ip().is_loopback());
    let hub = seeded.hub.clone();

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
                source: None,
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
    let pending = candidates(&seeded.repo, &seeded.baseline, &workers, submissions);
    eprintln!(
        "setup: {} workers, {} ideas ({} leased), {} prepared submissions in {:.1} s; hub at {addr}",
        workers.len(),
        args.ideas,
        held.len(),
        pending.len(),
        setup.elapsed().as_secs_f64()
    );

    // More hubs on the same database and folder, as more processes behind a balancer.
    let mut more = Vec::new();
    for _ in 1..args.hubs {
        let config = hub.config().clone();
        let server = server_rt
            .block_on(swarmlab_hub::Server::bind(
                config,
                Arc::new(swarmlab_hub::SystemClock),
            ))
            .expect("another hub opens on the same database");
        let at = server.local_addr().expect("a bound address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = server_rt.spawn(server.run(async {
            let _ = stopped.await;
        }));
        more.push((at, stop, task));
    }
    let addrs: Vec<SocketAddr> = std::iter::once(addr)
        .chain(more.iter().map(|(at, _, _)| *at))
        .collect();

    let shared = Arc::new(Shared {
        workers,
        held: Mutex::new(held),
        pending: Mutex::new(pending),
    });
    let cpu_before = cpu_seconds();
    let start = Instant::now() + Duration::from_millis(50);
    let threads: Vec<_> = (0..args.connections)
        .map(|t| {
            let (args, shared) = (args.clone(), shared.clone());
            let at = addrs[t % addrs.len()];
            std::thread::spawn(move || client(t, args, at, shared, start))
        })
        .collect();
    // Each thread ends with its schedule; a request that hangs times out.
    let results: Vec<TaskStats> = threads
        .into_iter()
        .map(|t| t.join().expect("a load thread does not panic"))
        .collect();
    let wall = start.elapsed();
    let cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);

    for (_, stop, task) in more {
        let _ = stop.send(());
        let _ = server_rt.block_on(task);
    }
    server_rt.block_on(served.stop());
    drop((hub, seeded));
    server_rt.shutdown_timeout(Duration::from_secs(2));

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
