//! Talking to a hub from the binary's tests: GETs and JSON POSTs with a bearer token (tried
//! again while the hub rate-limits, as tests poll as one identity), a submission's status,
//! the submissions a ledger names, a free loopback address, and enrolling a verifier the way
//! a user does.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::harness::swarmlab;

/// One GET of `path` on the hub at `address` (`host:port`): its status and body.
pub fn get(address: &str, path: &str, token: &str) -> (u16, String) {
    send(address, "GET", path, token, None)
}

/// One POST of the JSON `body` to `path`: its status and body.
pub fn post(address: &str, path: &str, token: &str, body: &Value) -> (u16, String) {
    send(address, "POST", path, token, Some(body))
}

fn send(
    address: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, String) {
    loop {
        let (status, body) = send_once(address, method, path, token, body);
        if status != 429 {
            return (status, body);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// [`get`] of a JSON body.
pub fn get_json(address: &str, path: &str, token: &str) -> Value {
    let (_, body) = get(address, path, token);
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

/// The status of a submission, e.g. `queued` or `accepted`.
pub fn status_of(address: &str, id: i64, token: &str) -> String {
    let (_, body) = get(address, &format!("/api/v1/submissions/{id}"), token);
    serde_json::from_str::<Value>(&body).unwrap_or_default()["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Whether a submission has its final verdict.
pub fn is_final(status: &str) -> bool {
    matches!(status, "accepted" | "rejected" | "invalid")
}

/// Submission ids in a ledger, in order.
pub fn submission_ids(ledger: &str) -> Vec<i64> {
    ledger
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"]["kind"] == "submission")
        .filter_map(|e| e["event"]["submission_id"].as_i64())
        .collect()
}

/// A loopback address nothing listens on (for a hub the test restarts on the same port).
pub fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Enrolls the verifier in `verifier_dir` as a user does: `swarmlab verify` without a token
/// prints its key and stops, `hub add-identity` enrolls the key. Returns the token.
pub fn enroll_verifier(url: &str, data_dir: &str, verifier_dir: &str) -> String {
    let refused = swarmlab(
        &[
            "verify",
            "--hub",
            url,
            "--dir",
            verifier_dir,
            "--sandbox",
            "off",
        ],
        None,
    )
    .fails_with(1);
    let key = refused
        .stderr
        .split("--public-key ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no key to enroll\n{refused}"))
        .to_string();
    let args = [
        "hub",
        "add-identity",
        "--data-dir",
        data_dir,
        "--role",
        "verifier",
        "--name",
        "v1",
        "--public-key",
        &key,
    ];
    swarmlab(&args, None).success().stdout.trim().to_string()
}

/// One request on a fresh connection; status 0 when the hub cannot be reached.
fn send_once(
    address: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return (0, String::new());
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
