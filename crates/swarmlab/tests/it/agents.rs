//! LLM agents through the real binary: the `command` proposer with scripted fake agents and
//! the `openai` proposer against a fake chat-completions server, each outcome as it lands in
//! results.jsonl.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use swarmlab_testkit::{Canned, FakeServer};

use crate::harness::{alive, poll_until, Output, Track, FAKE_TRAINER};

/// Writes `body` as an executable agent script outside the track; returns its path.
fn agent(dir: &tempfile::TempDir, body: &str) -> PathBuf {
    let path = dir.path().join("agent.sh");
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn run_agent(track: &Track, agent: &Path, extra: &[&str]) -> Output {
    let argv = format!("{} {{prompt_file}}", agent.display());
    let mut args = vec![
        "run",
        "--proposer",
        "command",
        "--agent",
        &argv,
        "--experiments",
        "1",
    ];
    args.extend_from_slice(extra);
    track.swarmlab(&args)
}

#[test]
fn a_good_agent_gets_the_prompt_and_its_change_is_kept_with_its_description() {
    let track = Track::fake();
    let scratch = tempfile::tempdir().unwrap();
    let agent = agent(
        &scratch,
        r#"grep -q "You may edit only" "$1" || exit 9
printf "mode = good\nvalue = 1.5\n" > params.txt
echo "thinking..."
echo "DESCRIPTION: lower the value to 1.5""#,
    );
    let out = run_agent(&track, &agent, &[]).success();
    let record = track.record(1);
    assert_eq!(record["status"], "keep", "{out}");
    assert_eq!(record["proposer"], "command");
    assert_eq!(record["description"], "lower the value to 1.5");
    assert!(track.path(".swarmlab/agent/1.prompt.md").exists());
    assert!(track.path(".swarmlab/agent/1.log").exists());
}

#[test]
fn an_agent_that_edits_a_trusted_file_is_invalid_and_never_run() {
    let track = Track::fake();
    let scratch = tempfile::tempdir().unwrap();
    let agent = agent(
        &scratch,
        "echo '# better metric' >> train.sh; printf 'mode = good\\nvalue = 0.1\\n' > params.txt",
    );
    let out = run_agent(&track, &agent, &[]).success();
    let record = track.record(1);
    assert_eq!(record["status"], "invalid", "{out}");
    assert!(record["note"].as_str().unwrap().contains("train.sh"));
    assert_eq!(track.read("train.sh"), FAKE_TRAINER);
    assert!(!track.run_dir(1).exists());
}

#[test]
fn a_hanging_agent_is_killed_at_its_timeout_and_nothing_runs() {
    let track = Track::fake();
    let scratch = tempfile::tempdir().unwrap();
    let pid_file = scratch.path().join("agent.pid");
    let agent = agent(
        &scratch,
        &format!("echo $$ > {}; trap '' TERM; sleep 300", pid_file.display()),
    );
    let out = run_agent(&track, &agent, &["--agent-timeout", "1s"]).success();
    assert!(
        out.stderr.contains("timed out") || out.stderr.contains("timeout"),
        "{out}"
    );
    assert_eq!(track.statuses(), ["keep"], "only the baseline ran");
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        poll_until(std::time::Duration::from_secs(5), || !alive(pid)),
        "the agent survived"
    );
}

#[test]
fn an_agent_that_fails_is_reported_with_its_output() {
    let track = Track::fake();
    let scratch = tempfile::tempdir().unwrap();
    let agent = agent(&scratch, "echo 'garbage: model overloaded'; exit 3");
    let out = run_agent(&track, &agent, &[]).success();
    assert!(out.stderr.contains("model overloaded"), "{out}");
    assert_eq!(track.statuses(), ["keep"]);
}

const GOOD_EDIT: &str = "\
DESCRIPTION: lower the value
params.txt
<<<<<<< SEARCH
value = 2.0
=======
value = 1.25
>>>>>>> REPLACE
";

fn run_openai(track: &Track, server: &FakeServer) -> Output {
    track.swarmlab(&[
        "run",
        "--proposer",
        "openai",
        "--model",
        "fake-model",
        "--base-url",
        &server.base_url,
        "--api-key-env",
        "SWARMLAB_TEST_NO_KEY",
        "--api-retries",
        "1",
        "--price-in",
        "2",
        "--price-out",
        "8",
        "--experiments",
        "1",
    ])
}

#[test]
fn a_model_edit_is_applied_and_its_tokens_and_cost_logged() {
    let track = Track::fake();
    let server = FakeServer::start(vec![Canned::answer(GOOD_EDIT)]);
    let out = run_openai(&track, &server).success();
    let record = track.record(1);
    assert_eq!(record["status"], "keep", "{out}");
    assert_eq!(record["metric"], 1.25);
    assert_eq!(record["description"], "lower the value");
    assert_eq!(record["usage"]["prompt_tokens"], 1000);
    assert_eq!(record["usage"]["completion_tokens"], 50);
    assert!((record["usage"]["cost_usd"].as_f64().unwrap() - 0.0024).abs() < 1e-9);
}

#[test]
fn a_malformed_answer_is_repaired_in_a_second_turn() {
    let track = Track::fake();
    let malformed = "DESCRIPTION: oops\nparams.txt\n<<<<<<< SEARCH\nvalue = 9.9\n=======\nvalue = 1.0\n>>>>>>> REPLACE\n";
    let server = FakeServer::start(vec![Canned::answer(malformed), Canned::answer(GOOD_EDIT)]);
    let out = run_openai(&track, &server).success();
    assert_eq!(track.record(1)["status"], "keep", "{out}");
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert!(
        received[1].body.contains("value = 9.9"),
        "the repair turn carries the failed answer"
    );
}

#[test]
fn a_rate_limit_is_retried() {
    let track = Track::fake();
    let server = FakeServer::start(vec![
        Canned::error(429, "Rate limit reached").with_header("Retry-After", "0"),
        Canned::answer(GOOD_EDIT),
    ]);
    let out = run_openai(&track, &server).success();
    assert_eq!(track.record(1)["status"], "keep", "{out}");
    assert_eq!(server.received().len(), 2);
}

#[test]
fn a_server_that_keeps_failing_stops_the_loop_with_a_clear_error() {
    let track = Track::fake();
    let server = FakeServer::start(vec![Canned::error(500, "internal error")]);
    let out = run_openai(&track, &server).fails_with(1);
    assert!(out.stderr.contains("gave up"), "{out}");
    assert_eq!(track.statuses(), ["keep"], "nothing but the baseline ran");
    assert_eq!(track.porcelain(), "");
}
