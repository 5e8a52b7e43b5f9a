//! `swarmlab hub serve`, `hub admin-token` and `audit` through the binary. The hub's
//! lifecycles are tested in its own crate; here: the glue starts, answers and stops cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use swarmlab_testkit::http::Client;

use crate::harness::{send, swarmlab, BIN};

#[test]
fn the_hub_serves_its_api_and_stops_on_ctrl_c() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let token = swarmlab(&["hub", "admin-token", "--data-dir", data_dir], None).success();
    assert!(token.stdout.trim().len() > 20, "{token}");

    let mut hub = Command::new(BIN)
        .args([
            "hub",
            "serve",
            "--data-dir",
            data_dir,
            "--listen",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(hub.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    let response = Client::new(&address).get("/api/v1/hub");
    assert!(response.head.starts_with("HTTP/1.1 200"), "{response:?}");
    assert!(
        response.body.contains("\"api_version\":\"v1\""),
        "{response:?}"
    );

    send(hub.id() as i32, libc::SIGINT);
    let status = hub.wait().unwrap();
    assert!(status.success(), "the hub did not stop cleanly: {status}");
}

#[test]
fn audit_refuses_a_key_that_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    std::fs::write(&ledger, "").unwrap();
    let out = swarmlab(
        &["audit", ledger.to_str().unwrap(), "--key", "not-hex"],
        None,
    )
    .fails_with(1);
    assert!(out.stderr.contains("not a hub public key"), "{out}");
}
