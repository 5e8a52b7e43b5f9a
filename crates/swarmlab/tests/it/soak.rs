//! The soak test: a hub, two workers and a sandboxed verifier, each the real binary, run for
//! a minute and a quarter while the test submits every kind of hostile candidate (an
//! editable file deleted, a folder in its place, a knob's line broken, a setup that fails, a
//! bundle that inflates past the hub's caps), floods the hub with registrations, kills every
//! process with SIGKILL at random moments (restarting it at once), and fills the disk of the
//! hub's data folder (a small tmpfs mounted for the test) for a while.
//!
//! Then, the workers stopped: every submission has its verdict, every accepted one moved the
//! head exactly once, no hostile one was accepted, the verifier never blamed itself, the
//! ledger audits, the flood got few identities (registration is limited per address), and
//! nothing is left in the hub's scratch folder nor in its repository of what it refused. It
//! needs root (the mount, the sandbox's uid); on 2 cores it takes about a minute and a half.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use swarmlab_proto::signing;
use swarmlab_testkit::http::Client;

use crate::harness::{poll_until, send, swarmlab, BIN};
use crate::hubs::{client, enroll_verifier, free_address, is_final, status_of};
use crate::liveness::{toy_repo, Hostile};

/// How long processes are killed, submissions refused and the disk filled.
const CHAOS: Duration = Duration::from_secs(75);
/// The disk of the hub's data folder is full during this part of the chaos.
const DISK_FULL: (Duration, Duration) = (Duration::from_secs(25), Duration::from_secs(37));
/// When the registrations flood in.
const FLOOD_AT: Duration = Duration::from_secs(55);
/// Registrations in the flood, all from one address.
const FLOOD: usize = 300;
/// Registrations one address may make at once: the soak's own 7 (two workers, five hostile
/// submitters, all on loopback) and 3 to spare for answers a kill lost.
const PER_ADDRESS: usize = 10;
/// The most identities the flood may get: one address's allowance (whole, as a restarted hub
/// may count afresh) and what its hourly refill adds in the minute or so the soak lasts.
const FLOOD_GRANTED_AT_MOST: usize = PER_ADDRESS + 2;
/// How long the verifier has, once the workers stop, to give every submission its verdict.
const DRAIN: Duration = Duration::from_secs(150);
/// The size of the hub's data folder.
const DATA_MB: u64 = 64;
/// A file that compresses to a few hundred kilobytes and inflates past the hub's cap.
const INFLATED_BYTES: usize = 96 << 20;

#[test]
fn a_swarm_under_attack_and_faults_gives_every_submission_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let data = root.join("hub");
    let _mount = Tmpfs::mount(&data, DATA_MB);
    let data_str = data.to_str().unwrap().to_string();

    // The track, and every hostile commit, made before anything runs.
    let repo = toy_repo(&root.join("toy"));
    let baseline = repo.head();
    let mut hostile: Vec<(String, String)> = Hostile::ALL
        .iter()
        .map(|h| (format!("{h:?}"), h.commit(&repo, &baseline)))
        .collect();
    let inflating = repo.commit_on(
        &baseline,
        &[("params.txt", &vec![b'#'; INFLATED_BYTES])],
        "inflates",
    );
    let inflated_blob = repo.rev("HEAD:params.txt");
    repo.git(&["checkout", "-q", "--detach", &baseline]);
    hostile.push(("Inflating".into(), inflating));

    let repo_str = repo.root().to_str().unwrap();
    swarmlab(
        &["hub", "add-track", "--data-dir", &data_str, repo_str],
        None,
    )
    .success();
    let admin = swarmlab(&["hub", "admin-token", "--data-dir", &data_str], None)
        .success()
        .stdout
        .trim()
        .to_string();
    let address = free_address();
    let url = format!("http://{address}");
    let logs = root.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let mut hub = Daemon::new(
        "hub",
        &logs,
        &[
            "hub",
            "serve",
            "--data-dir",
            &data_str,
            "--listen",
            &address,
        ],
    );
    let per_address = PER_ADDRESS.to_string();
    hub.env = [
        ("SWARMLAB_HUB_JOB_LEASE", "20s"),
        ("SWARMLAB_HUB_IDEA_LEASE", "30s"),
        ("SWARMLAB_HUB_SWEEP_INTERVAL", "2s"),
        (
            "SWARMLAB_HUB_REGISTRATION_PER_ADDRESS",
            per_address.as_str(),
        ),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec();
    hub.ready = Some(address.clone());
    hub.start();

    let verifier_dir = root.join("verifier");
    let verifier_str = verifier_dir.to_str().unwrap();
    let token = enroll_verifier(&url, &data_str, verifier_str);
    let verify = [
        "verify",
        "--hub",
        &url,
        "--dir",
        verifier_str,
        "--sandbox",
        "on",
    ];
    // The first start binds the token; restarts find it in the identity file.
    let mut verifier = Daemon::new(
        "verifier",
        &logs,
        &[&verify[..], &["--token", &token]].concat(),
    );
    verifier.start();
    verifier.args.truncate(verify.len());
    let enrolled = poll_until(Duration::from_secs(60), || has_token(&verifier_dir));
    assert!(
        enrolled,
        "the verifier did not bind its token\n{}",
        verifier.log()
    );
    let mut workers: Vec<Daemon> = (1..=2)
        .map(|i| {
            let dir = root.join(format!("worker-{i}"));
            let seed = i.to_string();
            let args = [
                "work", "--hub", &url, "--track", "toy", "--seed", &seed, "--dir",
            ];
            let mut worker = Daemon::new(
                &format!("worker-{i}"),
                &logs,
                &[&args[..], &[dir.to_str().unwrap()]].concat(),
            );
            worker.start();
            // Registered before the chaos, so that no restart registers again.
            let registered = poll_until(Duration::from_secs(60), || has_token(&dir));
            assert!(registered, "worker-{i} did not register\n{}", worker.log());
            worker
        })
        .collect();

    // The chaos.
    let started = Instant::now();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut next_kill = started + Duration::from_secs(2);
    let mut submitters: Vec<(String, String, JoinHandle<Submitted>)> = Vec::new();
    let mut filler: Option<PathBuf> = None;
    let mut flood: Option<Vec<u16>> = None;
    let mut kills = 0;
    while started.elapsed() < CHAOS {
        std::thread::sleep(Duration::from_millis(200));
        let now = started.elapsed();
        // Whatever died on its own (a hub on a full disk) comes back too.
        for daemon in [&mut hub, &mut verifier]
            .into_iter()
            .chain(workers.iter_mut())
        {
            if !daemon.alive() {
                daemon.start();
            }
        }
        if Instant::now() >= next_kill {
            let victim = match rng.next() % 4 {
                0 => &mut hub,
                1 => &mut verifier,
                n => &mut workers[n as usize - 2],
            };
            victim.kill();
            victim.start();
            kills += 1;
            next_kill = Instant::now() + Duration::from_millis(2000 + rng.next() % 3000);
        }
        // A hostile submission every six seconds from the third on, each by an identity of
        // its own.
        let due = (now.as_secs().saturating_sub(3) / 6 + 1) as usize;
        while submitters.len() < due.min(hostile.len()) {
            let (kind, commit) = hostile[submitters.len()].clone();
            let identity = root.join(format!("mallory-{}", submitters.len()));
            let handle = submit(&url, repo.root(), &identity, &commit);
            submitters.push((kind, commit, handle));
        }
        if filler.is_none() && now >= DISK_FULL.0 && now < DISK_FULL.1 {
            filler = Some(fill(&data));
        }
        if now >= DISK_FULL.1 {
            if let Some(path) = filler.take() {
                std::fs::remove_file(path).unwrap();
            }
        }
        if flood.is_none() && now >= FLOOD_AT {
            flood = Some(register_many(&address, FLOOD));
        }
    }
    assert!(filler.is_none(), "the disk was never freed");

    // The workers stop; the verifier drains the queue.
    workers.iter_mut().for_each(Daemon::stop);
    let outcomes: Vec<(String, String, Submitted)> = submitters
        .into_iter()
        .map(|(kind, commit, handle)| (kind, commit, handle.join().unwrap()))
        .collect();
    let hub_client = client(&address, &admin);
    let ledger = || hub_client.get("/api/v1/tracks/toy/ledger").body;
    let unfinished = || -> Vec<(i64, String)> {
        submissions(&ledger())
            .into_iter()
            .map(|(id, _)| (id, status_of(&hub_client, id)))
            .filter(|(_, status)| !is_final(status))
            .collect()
    };
    let drained = poll_until(DRAIN, || {
        for daemon in [&mut hub, &mut verifier] {
            if !daemon.alive() {
                daemon.start();
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        unfinished().is_empty()
    });
    assert!(
        drained,
        "submissions without a verdict: {:?}\n--- verifier\n{}\n--- hub\n{}",
        unfinished(),
        verifier.log(),
        hub.log()
    );
    verifier.stop();

    // A clean restart of the hub, as an operator would after a crash.
    hub.stop();
    hub.start();
    let ledger = ledger();
    let all = submissions(&ledger);
    let verifier_log = verifier.log();
    let context = format!(
        "{kills} kills, {} submissions\n--- verifier\n{verifier_log}",
        all.len()
    );

    // Every hostile candidate got the candidate's verdict, or was refused at the door.
    for (kind, commit, outcome) in &outcomes {
        let received: Vec<i64> = all
            .iter()
            .filter(|(_, c)| c == commit)
            .map(|(id, _)| *id)
            .collect();
        if received.is_empty() {
            let (Submitted::Received(said)
            | Submitted::Refused(said)
            | Submitted::Unanswered(said)) = outcome;
            assert!(
                kind == "Inflating" && matches!(outcome, Submitted::Refused(_)),
                "{kind} never reached the hub; `swarmlab submit` said: {said}\n{context}"
            );
        }
        for id in received {
            let status = status_of(&hub_client, id);
            assert!(
                is_final(&status) && status != "accepted",
                "{kind} (#{id}) is {status}\n{context}"
            );
        }
    }

    // Every accepted submission moved the head once, and no commit is on the chain twice.
    let track = hub_client.get("/api/v1/tracks/toy").json();
    let chain = track["chain"].as_array().unwrap();
    let mut commits: Vec<&str> = chain
        .iter()
        .map(|e| e["commit"].as_str().unwrap())
        .collect();
    commits.sort_unstable();
    commits.dedup();
    assert_eq!(commits.len(), chain.len(), "a commit is on the chain twice");
    let mut moved_by: Vec<i64> = chain
        .iter()
        .filter_map(|e| e["submission_id"].as_i64())
        .collect();
    moved_by.sort_unstable();
    let moves = moved_by.len();
    moved_by.dedup();
    assert_eq!(moved_by.len(), moves, "a submission moved the head twice");
    let accepted: Vec<i64> = all
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| status_of(&hub_client, *id) == "accepted")
        .collect();
    assert_eq!(
        accepted, moved_by,
        "accepted submissions and head moves differ"
    );
    assert!(!accepted.is_empty(), "nothing was accepted\n{context}");

    // The verifier never took a candidate's doing, or the hub's, for its own fault.
    assert!(
        !verifier_log.contains(" fault: "),
        "the verifier faulted\n{context}"
    );

    // The ledger audits.
    let key = hub_client.get("/api/v1/hub").json()["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let path = root.join("ledger.jsonl");
    std::fs::write(&path, &ledger).unwrap();
    swarmlab(&["audit", path.to_str().unwrap(), "--key", &key], None).success();

    // Registrations are limited per source address.
    let flood = flood.expect("the flood ran");
    let granted = flood.iter().filter(|s| (200..300).contains(*s)).count();
    assert!(
        granted <= FLOOD_GRANTED_AT_MOST,
        "{granted} of {FLOOD} registrations from one address were granted"
    );

    // Nothing of a refused or cancelled request is left behind: looked at with the hub
    // stopped, as a running one may be writing an object this moment.
    hub.stop();
    let left = leftovers(&data);
    assert!(left.is_empty(), "left in the hub's data folder: {left:?}");
    let has = |object: &str| {
        Command::new("git")
            .arg("-C")
            .arg(data.join("tracks").join("toy"))
            .args(["cat-file", "-e", object])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    assert!(has(&baseline), "the track's repository lacks its baseline");
    assert!(
        !has(&inflated_blob),
        "the inflating blob stayed in the track's repository"
    );
}

/// What one `swarmlab submit` came to.
enum Submitted {
    /// The hub received it: its first status line.
    Received(String),
    /// The hub refused it (a 4xx): what `submit` said.
    Refused(String),
    /// No answer before the chaos ended.
    Unanswered(String),
}

/// `swarmlab submit` of `commit` as the identity in `identity`, in a thread of its own, tried
/// again while the hub cannot answer.
fn submit(url: &str, repo: &Path, identity: &Path, commit: &str) -> JoinHandle<Submitted> {
    let mut command = Command::new(BIN);
    command
        .args([
            "submit", "--hub", url, "--track", "toy", "--claim", "1.0", "--repo",
        ])
        .arg(repo)
        .arg("--dir")
        .arg(identity)
        .arg(commit)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::thread::spawn(move || {
        let deadline = Instant::now() + CHAOS;
        let mut last = String::new();
        while Instant::now() < deadline {
            let Ok(child) = command.spawn() else {
                return Submitted::Unanswered("failed to start".into());
            };
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            if out.status.success() {
                return Submitted::Received(stdout);
            }
            if stderr.contains("the hub refused") {
                return Submitted::Refused(stderr);
            }
            last = stderr;
            std::thread::sleep(Duration::from_millis(500));
        }
        Submitted::Unanswered(last)
    })
}

/// `count` registrations of fresh keys, as fast as one client can: their HTTP statuses.
fn register_many(address: &str, count: usize) -> Vec<u16> {
    // Not tried again on a 429: a refusal is what is counted.
    let hub = Client::new(address);
    (0..count)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let key = signing::public_key_hex(&signing::signing_key(&seed));
            let body = json!({ "name": format!("flood-{i}"), "public_key": key });
            hub.post_json("/api/v1/register", &body).status
        })
        .collect()
}

/// Whether the identity in `dir` holds its token: it is enrolled, and a restart needs none.
fn has_token(dir: &Path) -> bool {
    std::fs::read(dir.join("identity.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .is_some_and(|identity| identity["token"].is_string())
}

/// Every submission in a ledger: its id and commit.
fn submissions(ledger: &str) -> Vec<(i64, String)> {
    ledger
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"]["kind"] == "submission")
        .filter_map(|e| {
            let id = e["event"]["submission_id"].as_i64()?;
            Some((id, e["event"]["commit"].as_str()?.to_string()))
        })
        .collect()
}

/// Fills the file system of `dir` with one file until no byte more fits; the file.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let bytes = vec![0u8; chunk];
        while file.write_all(&bytes).is_ok() {}
    }
    path
}

/// What a request may leave in the hub's data folder and must not: anything in its scratch
/// folder, git's temporary objects and packs, and lock files.
fn leftovers(data: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![data.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let scratch = path.parent() == Some(&data.join("tmp"));
            let temporary = name.starts_with("tmp_")
                || name.starts_with("incoming-")
                || name.ends_with(".lock");
            if scratch || temporary {
                found.push(path);
            } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            }
        }
    }
    found
}

/// A process of the swarm: started, killed with SIGKILL and started again by the test, its
/// stderr appended to one log.
struct Daemon {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    /// The `host:port` a hub serves on: `start` waits until it answers.
    ready: Option<String>,
    child: Option<Child>,
}

impl Daemon {
    fn new(name: &str, logs: &Path, args: &[&str]) -> Daemon {
        Daemon {
            name: name.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            log: logs.join(format!("{name}.log")),
            ready: None,
            child: None,
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(BIN)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Its own group, so that the test can end what it leaves running.
            .process_group(0)
            .spawn()
            .unwrap();
        self.child = Some(child);
        if let Some(address) = self.ready.clone() {
            // A hub that cannot start (its disk is full) ends; the next round tries again.
            poll_until(Duration::from_secs(20), || {
                std::net::TcpStream::connect(&address).is_ok() || !self.alive()
            });
        }
    }

    fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// SIGKILL to the process alone, as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and the time to stop cleanly.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            send(child.id() as i32, libc::SIGTERM);
            let stopped = poll_until(Duration::from_secs(30), || {
                child.try_wait().unwrap().is_some()
            });
            assert!(stopped, "{} ignored SIGTERM\n{}", self.name, self.log());
        }
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail = text.len().saturating_sub(12_000);
        let start = (tail..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(tail);
        text[start..].to_string()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            send(-(child.id() as i32), libc::SIGKILL);
            let _ = child.wait();
        }
    }
}

/// A tmpfs of its own size at a folder, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, megabytes: u64) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={megabytes}m,mode=0755"))
            .arg("tmpfs")
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the soak test mounts a tmpfs for the hub's data folder and needs root to: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("--lazy").arg(&self.0).status();
    }
}

/// The test's own randomness: the same schedule of kills every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
