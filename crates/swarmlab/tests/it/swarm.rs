//! The swarm through the binary: `swarmlab demo` grows a chain whose ledger audits, a
//! verifier is enrolled by its key, and workers and a verifier ride out a hub killed with
//! SIGKILL again and again without an accepted commit lost or applied twice.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{poll_until, send, swarmlab, BIN};
use crate::hubs::{client, enroll_verifier, free_address, is_final, status_of, submission_ids};

#[test]
fn the_demo_grows_the_chain_and_its_ledger_audits_until_one_byte_changes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("demo");
    let out = swarmlab(
        &[
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--commits",
            "3",
            "--for",
            "150s",
            "--dir",
            state.to_str().unwrap(),
        ],
        None,
    )
    .success();
    let chain: usize = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("chain: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no chain line\n{out}"));
    assert!(chain >= 3, "the chain grew by {chain} only\n{out}");

    let key = out
        .stdout
        .lines()
        .find_map(|l| l.split("--key ").nth(1))
        .unwrap_or_else(|| panic!("no key\n{out}"))
        .trim()
        .to_string();
    let ledger = state.join("ledger-toy.jsonl");
    let ledger_str = ledger.to_str().unwrap();
    let audit = swarmlab(&["audit", ledger_str, "--key", &key], None).success();
    assert!(
        audit.stdout.contains(&format!("{chain} head moves")),
        "{audit}"
    );

    // One digit of one measurement, changed.
    let text = std::fs::read_to_string(&ledger).unwrap();
    let at = text.find("\"candidate\":[").unwrap() + "\"candidate\":[".len() + 2;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&ledger, bytes).unwrap();
    let tampered = swarmlab(&["audit", ledger_str, "--key", &key], None).fails_with(1);
    assert!(tampered.stderr.contains("does not audit"), "{tampered}");
}

/// A hub on a fixed port, killed and restarted by the test.
struct HubProcess {
    data_dir: String,
    address: String,
    child: Option<Child>,
}

impl HubProcess {
    fn start(data_dir: &Path, address: &str) -> HubProcess {
        let mut hub = HubProcess {
            data_dir: data_dir.to_str().unwrap().to_string(),
            address: address.to_string(),
            child: None,
        };
        hub.restart();
        hub
    }

    fn restart(&mut self) {
        let mut child = Command::new(BIN)
            .args(["hub", "serve", "--data-dir", &self.data_dir])
            .args(["--listen", &self.address])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("serving"), "the hub did not start: {line}");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A worker or verifier, stopped with SIGTERM (or killed) when dropped.
struct Client(Child);

impl Client {
    fn start(args: &[&str], log: &Path) -> Client {
        let log = std::fs::File::create(log).unwrap();
        Client(
            Command::new(BIN)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }

    fn stop(&mut self) {
        send(self.0.id() as i32, libc::SIGTERM);
        let stopped = poll_until(Duration::from_secs(30), || {
            self.0.try_wait().unwrap().is_some()
        });
        assert!(stopped, "a client ignored SIGTERM");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn workers_and_a_verifier_ride_out_a_hub_killed_again_and_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let data_str = data.to_str().unwrap();
    let repo = dir.path().join("toy");
    swarmlab(&["init", "--track", "toy", repo.to_str().unwrap()], None).success();
    let admin = swarmlab(&["hub", "admin-token", "--data-dir", data_str], None).success();
    let admin = admin.stdout.trim().to_string();
    swarmlab(
        &[
            "hub",
            "add-track",
            "--data-dir",
            data_str,
            repo.to_str().unwrap(),
        ],
        None,
    )
    .success();
    let address = free_address();
    let url = format!("http://{address}");
    let mut hub = HubProcess::start(&data, &address);
    let as_admin = client(&address, &admin);

    // A verifier without a token says how to enroll its key.
    let verifier_dir = dir.path().join("verifier");
    let verifier_str = verifier_dir.to_str().unwrap();
    let token = enroll_verifier(&url, data_str, verifier_str);

    let logs = dir.path();
    let verify = |token: &str, log: &str| {
        let mut args = vec![
            "verify",
            "--hub",
            &url,
            "--dir",
            verifier_str,
            "--sandbox",
            "off",
        ];
        if !token.is_empty() {
            args.extend(["--token", token]);
        }
        Client::start(&args, &logs.join(log))
    };
    let mut verifier = verify(&token, "verifier-first.log");
    let mut workers: Vec<Client> = (1..=2)
        .map(|i| {
            let worker_dir = dir.path().join(format!("worker-{i}"));
            Client::start(
                &[
                    "work",
                    "--hub",
                    &url,
                    "--track",
                    "toy",
                    "--dir",
                    worker_dir.to_str().unwrap(),
                    "--seed",
                    &i.to_string(),
                ],
                &logs.join(format!("worker-{i}.log")),
            )
        })
        .collect();

    // Kill the hub at pseudo-random moments, restart it at once each time; halfway, kill
    // the verifier too: restarted without a token, it resumes as the same identity.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..8 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        std::thread::sleep(Duration::from_millis(700 + state % 2300));
        hub.kill();
        hub.restart();
        if round == 4 {
            drop(verifier);
            verifier = verify("", "verifier.log");
        }
    }
    let grew = poll_until(Duration::from_secs(60), || {
        let r = as_admin.get("/api/v1/tracks/toy");
        r.status == 200 && r.json()["chain"].as_array().is_some_and(|c| c.len() >= 3)
    });
    workers.iter_mut().for_each(Client::stop);

    // With the workers stopped, the verifier drains the queue: nothing stays stuck.
    let ledger = as_admin.get("/api/v1/tracks/toy/ledger").body;
    let ids = submission_ids(&ledger);
    let finished = |id: &i64| is_final(&status_of(&as_admin, *id));
    let settled = poll_until(Duration::from_secs(90), || {
        std::thread::sleep(Duration::from_millis(300));
        ids.iter().all(finished)
    });
    verifier.stop();
    let worker_log = std::fs::read_to_string(logs.join("worker-1.log")).unwrap();
    assert!(
        grew,
        "the chain did not grow to 3 through the restarts\n{worker_log}"
    );
    let unfinished: Vec<&i64> = ids.iter().filter(|id| !finished(id)).collect();
    let verifier_log = std::fs::read_to_string(logs.join("verifier.log")).unwrap();
    assert!(
        settled,
        "submissions {unfinished:?} stayed unfinished after the restarts\n--- verifier\n{verifier_log}"
    );

    let track = as_admin.get("/api/v1/tracks/toy").json();
    let chain = track["chain"].as_array().unwrap();
    let mut commits: Vec<&str> = chain
        .iter()
        .map(|e| e["commit"].as_str().unwrap())
        .collect();
    let mut moved_by: Vec<i64> = chain
        .iter()
        .filter_map(|e| e["submission_id"].as_i64())
        .collect();
    assert_eq!(moved_by.len(), chain.len() - 1);
    commits.sort();
    commits.dedup();
    moved_by.sort();
    moved_by.dedup();
    assert_eq!(commits.len(), chain.len(), "a commit is on the chain twice");
    assert_eq!(
        moved_by.len(),
        chain.len() - 1,
        "a submission moved the head twice"
    );
    let accepted: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| status_of(&as_admin, *id) == "accepted")
        .collect();
    assert_eq!(
        accepted, moved_by,
        "accepted submissions and head moves differ"
    );

    let ledger = as_admin.get("/api/v1/tracks/toy/ledger").body;
    let info = as_admin.get("/api/v1/hub").json();
    let key = info["public_key"].as_str().unwrap().to_string();
    let path = dir.path().join("ledger.jsonl");
    std::fs::write(&path, ledger).unwrap();
    swarmlab(&["audit", path.to_str().unwrap(), "--key", &key], None).success();
}

#[test]
fn a_worker_pointed_at_something_that_is_not_a_hub_stops_with_a_clear_error() {
    // A web server that answers every request with a page.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let page = "<html>hello</html>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = swarmlab(
        &[
            "work",
            "--hub",
            &format!("http://{address}"),
            "--track",
            "toy",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
        None,
    )
    .fails_with(1);
    assert!(
        out.stderr.contains("is not the JSON a swarmlab hub gives"),
        "{out}"
    );
    assert!(
        !dir.path().join("identity.json").exists(),
        "nothing registered"
    );
}
