//! Talking to a hub from the binary's tests: a client of one identity (testkit's, tried
//! again while the hub rate-limits, as tests poll as one identity), a submission's status,
//! the submissions a ledger names, a free loopback address, and enrolling a verifier the way
//! a user does.

use serde_json::Value;
use swarmlab_testkit::http::Client;

use crate::harness::swarmlab;

/// A client of the hub at `address` (`host:port`) as the identity of `token`.
pub fn client(address: &str, token: &str) -> Client {
    Client::new(address).bearer(token).retry_on_429()
}

/// The status of a submission, e.g. `queued` or `accepted`.
pub fn status_of(hub: &Client, id: i64) -> String {
    let body = hub.get(&format!("/api/v1/submissions/{id}")).body;
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
