//! Two `swarmlab hub serve` processes on one PostgreSQL database and one data folder, one
//! killed (SIGKILL) while both take ideas: every idea either process acknowledged is there
//! once, the survivor goes on serving, and the ledger audits. Runs where
//! `SWARMLAB_TEST_DATABASE_URL` names a PostgreSQL server whose user may create databases
//! or else on a throwaway cluster of its own (`swarmlab_testkit::postgres`); where
//! PostgreSQL is not installed it skips, unless `SWARMLAB_TEST_POSTGRES=required`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use swarmlab_testkit::postgres::Cluster;

use crate::harness::{send, swarmlab};
use crate::hubs::{client, free_address};

/// A fresh database on the test server (`SWARMLAB_TEST_DATABASE_URL`, else a throwaway
/// cluster kept alive by the guard), or `None` where PostgreSQL is not installed.
fn fresh_database() -> Option<(Option<Cluster>, String)> {
    let (cluster, server) = match std::env::var("SWARMLAB_TEST_DATABASE_URL") {
        Ok(server) => (None, server),
        Err(_) => {
            let cluster = Cluster::start()?;
            let url = cluster.url.clone();
            (Some(cluster), url)
        }
    };
    let name = format!("swarmlab_processes_{}", std::process::id());
    let out = Command::new("psql")
        .args([server.as_str(), "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (base, _) = server.rsplit_once('/').unwrap();
    Some((cluster, format!("{base}/{name}")))
}

/// A hub process, its address, and its stderr (kept open: a hub that writes to a closed pipe
/// does not stop cleanly).
fn serve(data: &str, database: &str) -> (Child, String, BufReader<ChildStderr>) {
    let address = free_address();
    let mut child = Command::new(crate::harness::BIN)
        .args(["hub", "serve", "--data-dir", data, "--listen", &address])
        .args(["--database-url", database])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("serving"), "the hub did not start: {line}");
    (child, address, stderr)
}

#[test]
fn a_hub_process_killed_under_load_loses_nothing_another_acknowledged_or_it_did() {
    let Some((_cluster, database)) = fresh_database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let data = data.to_str().unwrap();
    let repo = dir.path().join("toy");
    swarmlab(&["init", "--track", "toy", repo.to_str().unwrap()], None).success();
    let db = ["--database-url", database.as_str()];
    let admin = swarmlab(
        &[&["hub", "admin-token", "--data-dir", data][..], &db].concat(),
        None,
    )
    .success()
    .stdout
    .trim()
    .to_string();
    let add = [
        "hub",
        "add-track",
        "--data-dir",
        data,
        repo.to_str().unwrap(),
    ];
    swarmlab(&[&add[..], &db].concat(), None).success();
    let (mut first, first_address, _first_err) = serve(data, &database);
    let (mut second, second_address, _second_err) = serve(data, &database);

    // Each process takes ideas as fast as it answers; what it acknowledged is kept.
    let acknowledged = Arc::new(Mutex::new(BTreeMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = |address: String, tag: &'static str| {
        let (acknowledged, stop, admin) = (acknowledged.clone(), stop.clone(), admin.clone());
        std::thread::spawn(move || {
            let hub = client(&address, &admin);
            for i in 0.. {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let text = format!("{tag} idea {i}: widen layer {i} by {} units", i * 13 + 7);
                let body = serde_json::json!({ "text": text, "tags": [] }).to_string();
                let Ok(response) =
                    hub.try_send("POST", "/api/v1/tracks/toy/ideas", body.as_bytes())
                else {
                    return; // the process is gone
                };
                if matches!(response.status, 200 | 201) {
                    let id = serde_json::from_str::<Value>(&response.body).unwrap()["id"]
                        .as_i64()
                        .unwrap();
                    acknowledged.lock().unwrap().insert(id, text);
                }
            }
        })
    };
    let first_load = load(first_address, "first");
    let second_load = load(second_address.clone(), "second");
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 40 {
        assert!(Instant::now() < deadline, "the hubs took too few ideas");
        std::thread::yield_now();
    }
    send(first.id() as i32, libc::SIGKILL);
    first.wait().unwrap();
    first_load.join().unwrap();
    let at_kill = acknowledged.lock().unwrap().len();
    while acknowledged.lock().unwrap().len() < at_kill + 20 {
        assert!(
            Instant::now() < deadline,
            "the survivor stopped taking ideas"
        );
        std::thread::yield_now();
    }
    stop.store(true, Ordering::SeqCst);
    second_load.join().unwrap();

    let hub = client(&second_address, &admin);
    let listed: Value = serde_json::from_str(&hub.get("/api/v1/tracks/toy/ideas").body).unwrap();
    let mut held: BTreeMap<i64, String> = BTreeMap::new();
    for idea in listed.as_array().unwrap() {
        let id = idea["id"].as_i64().unwrap();
        let text = idea["text"].as_str().unwrap().to_string();
        assert!(held.insert(id, text).is_none(), "idea {id} twice");
    }
    let texts: std::collections::BTreeSet<&String> = held.values().collect();
    assert_eq!(texts.len(), held.len(), "an idea was applied twice");
    for (id, text) in acknowledged.lock().unwrap().iter() {
        assert_eq!(held.get(id), Some(text), "acknowledged idea {id} lost");
    }

    let ledger = dir.path().join("ledger.jsonl");
    std::fs::write(&ledger, hub.get("/api/v1/tracks/toy/ledger").body).unwrap();
    let info: Value = serde_json::from_str(&hub.get("/api/v1/hub").body).unwrap();
    let key = info["public_key"].as_str().unwrap();
    swarmlab(&["audit", ledger.to_str().unwrap(), "--key", key], None).success();

    send(second.id() as i32, libc::SIGINT);
    let status = second.wait().unwrap();
    assert!(
        status.success(),
        "the survivor did not stop cleanly: {status}"
    );
}
