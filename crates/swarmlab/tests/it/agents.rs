//! LLM agents through the real binary: the `command` proposer with scripted fake agents (and
//! fake preset CLIs that behave as the real ones do), the `openai` proposer against a fake
//! chat-completions server, each outcome as it lands in results.jsonl. The presets against
//! the real CLIs are in `agent_clis`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use swarmlab_testkit::agent_cli::path_with;
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
    let out = run_agent(&track, &agent, &["--agent-timeout", "1s"]).fails_with(5);
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
fn an_agent_that_always_fails_is_reported_with_its_output_and_exits_5() {
    let track = Track::fake();
    let scratch = tempfile::tempdir().unwrap();
    let agent = agent(&scratch, "echo 'garbage: model overloaded'; exit 3");
    let out = run_agent(&track, &agent, &[]).fails_with(5);
    assert!(out.stderr.contains("model overloaded"), "{out}");
    assert!(
        out.stderr
            .contains("error: no proposal succeeded: 5 of the last 5 proposals failed"),
        "{out}"
    );
    assert!(out.stderr.contains("exited with code 3"), "{out}");
    assert!(
        out.stderr.contains("swarmlab/main: the baseline"),
        "the summary is still printed: {out}"
    );
    assert_eq!(track.statuses(), ["keep"]);
}

#[test]
fn an_agent_that_fails_after_a_success_still_exits_5() {
    let track = Track::fake();
    let scratch = tempfile::tempdir().unwrap();
    let agent = agent(
        &scratch,
        "grep -q 'value = 2.0' params.txt || { echo 'out of credits'; exit 1; }
printf 'mode = good\nvalue = 1.5\n' > params.txt",
    );
    let argv = format!("{} {{prompt_file}}", agent.display());
    let out = track
        .swarmlab(&[
            "run",
            "--proposer",
            "command",
            "--agent",
            &argv,
            "--experiments",
            "3",
            "--pipeline",
            "off",
        ])
        .fails_with(5);
    assert!(
        out.stderr
            .contains("the proposer stopped working after 1 experiments"),
        "{out}"
    );
    assert!(out.stderr.contains("out of credits"), "{out}");
    assert_eq!(track.statuses(), ["keep", "keep"]);
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
    let out = run_openai(&track, &server).fails_with(5);
    assert!(out.stderr.contains("gave up"), "{out}");
    assert_eq!(track.statuses(), ["keep"], "nothing but the baseline ran");
    assert_eq!(track.porcelain(), "");
}

/// Writes an executable shell script `name` into `bin`: a stand-in for an agent CLI.
fn fake_cli(bin: &Path, name: &str, body: &str) {
    let path = bin.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_preset(track: &Track, preset: &str, bin: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--proposer",
        "command",
        "--agent",
        preset,
        "--experiments",
        "1",
    ];
    args.extend_from_slice(extra);
    track.swarmlab_env(&args, &[("PATH", &path_with(bin))])
}

#[test]
fn a_preset_whose_flags_the_installed_cli_lacks_stops_before_the_baseline() {
    let track = Track::fake();
    let bin = tempfile::tempdir().unwrap();
    fake_cli(
        bin.path(),
        "claude",
        r#"case "$1" in
--help) echo "  -p, --print  Print response and exit"; echo "  --dangerously-skip-permissions" ;;
--version) echo "1.0.0 (Claude Code)" ;;
*) printf 'mode = good\nvalue = 1.5\n' > params.txt ;;
esac"#,
    );
    let out = run_preset(&track, "claude", bin.path(), &[]).fails_with(5);
    assert!(
        out.stderr.contains(
            "the `claude` preset passes `--permission-mode`, `acceptEdits` but `claude --help` \
             of the installed 1.0.0 (Claude Code) does not list them"
        ),
        "{out}"
    );
    assert!(out.stderr.contains("claude.help.log"), "{out}");
    assert!(track.records().is_empty(), "an experiment ran: {out}");
}

#[test]
fn a_missing_preset_cli_stops_before_the_baseline() {
    let track = Track::fake();
    let empty = tempfile::tempdir().unwrap();
    let out = track
        .swarmlab_env(
            &["run", "--proposer", "command", "--agent", "gemini"],
            &[("PATH", &format!("{}:/usr/bin:/bin", empty.path().display()))],
        )
        .fails_with(5);
    assert!(
        out.stderr.contains("agent `gemini` not found on PATH"),
        "{out}"
    );
    assert!(track.records().is_empty(), "an experiment ran: {out}");
}

#[test]
fn the_claude_preset_edits_as_root() {
    let track = Track::fake();
    let bin = tempfile::tempdir().unwrap();
    // Like Claude Code 2.1 as root: the flags that skip every permission refuse to start.
    fake_cli(
        bin.path(),
        "claude",
        r#"case "$1" in
--help) echo "  -p, --print  Print response and exit"; echo "  --dangerously-skip-permissions"
        echo '  --permission-mode <mode>  (choices: "acceptEdits", "bypassPermissions", "default")' ;;
--version) echo "2.1.197 (Claude Code)" ;;
*) case " $* " in *" --dangerously-skip-permissions "*|*" bypassPermissions "*)
     echo "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
     exit 1 ;;
   esac
   case " $* " in *" --permission-mode acceptEdits "*) ;; *) echo "asked for permission"; exit 1 ;; esac
   printf 'mode = good\nvalue = 1.5\n' > params.txt
   echo "DESCRIPTION: lower the value to 1.5" ;;
esac"#,
    );
    keeps_the_fake_clis_edit(&track, "claude", bin.path(), "2.1.197 (Claude Code)");
}

/// Runs `preset` from `bin` for one experiment: the preset's check names `version`, and the
/// fake CLI's edit (the value lowered to 1.5) is kept.
fn keeps_the_fake_clis_edit(track: &Track, preset: &str, bin: &Path, version: &str) {
    let out = run_preset(track, preset, bin, &[]).success();
    let said = format!("agent: {preset} preset, installed {version}");
    assert!(out.stderr.contains(&said), "{out}");
    let record = track.record(1);
    assert_eq!(record["status"], "keep", "{out}");
    assert_eq!(record["description"], "lower the value to 1.5");
}

#[test]
fn a_preset_runs_with_the_flags_its_cli_lists_in_an_untrusted_folder() {
    let track = Track::fake();
    let bin = tempfile::tempdir().unwrap();
    // Like Gemini CLI 0.61: without --skip-trust it falls back to asking, which fails.
    fake_cli(
        bin.path(),
        "gemini",
        r#"case "$1" in
--help) echo "  -p, --prompt  headless"; echo "      --skip-trust  Trust the folder"
        echo '      --approval-mode  [choices: "default", "auto_edit", "yolo", "plan"]' ;;
--version) echo "0.61.0" ;;
*) case " $* " in *" --skip-trust "*) ;; *) echo 'Approval mode overridden to "default"'; exit 1 ;; esac
   case " $* " in *" --approval-mode yolo "*) ;; *) echo "not yolo"; exit 1 ;; esac
   printf 'mode = good\nvalue = 1.5\n' > params.txt
   echo "DESCRIPTION: lower the value to 1.5" ;;
esac"#,
    );
    keeps_the_fake_clis_edit(&track, "gemini", bin.path(), "0.61.0");
}

#[test]
fn an_agent_that_cannot_reach_its_model_is_stopped_at_once() {
    let track = Track::fake();
    let bin = tempfile::tempdir().unwrap();
    // Like Codex CLI 0.171 offline: it waits for the network until killed.
    fake_cli(
        bin.path(),
        "codex",
        r#"case "$*" in
"exec --help") echo "  -s, --sandbox <SANDBOX_MODE>  [possible values: read-only, workspace-write]" ;;
--version) echo "codex-cli 0.171.0" ;;
*) echo "ERROR: Reconnecting... 5/5"; echo "ERROR: Reconnecting... waiting for network"; sleep 300 ;;
esac"#,
    );
    let out = run_preset(&track, "codex", bin.path(), &["--agent-timeout", "10m"]).fails_with(5);
    assert!(
        out.stderr
            .contains("codex cannot reach its model provider (no network"),
        "{out}"
    );
    assert!(out.stderr.contains("and was stopped after"), "{out}");
    assert!(!out.stderr.contains("timed out"), "{out}");
    assert_eq!(track.statuses(), ["keep"]);
}

#[test]
fn a_codex_without_its_sandbox_helper_stops_before_the_baseline() {
    let track = Track::fake();
    let bin = tempfile::tempdir().unwrap();
    // Codex CLI 0.171 with CODEX_HOME under /tmp: every command it runs fails in its sandbox.
    fake_cli(
        bin.path(),
        "codex",
        r#"echo 'WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper binaries under temporary dir "/tmp"' >&2
case "$*" in
"exec --help") echo "  -s, --sandbox <SANDBOX_MODE>  [possible values: read-only, workspace-write]" ;;
--version) echo "codex-cli 0.171.0" ;;
*) printf 'mode = good\nvalue = 1.5\n' > params.txt ;;
esac"#,
    );
    let out = run_preset(&track, "codex", bin.path(), &[]).fails_with(5);
    assert!(
        out.stderr
            .contains("set CODEX_HOME to a folder outside /tmp (`codex exec --help` printed"),
        "{out}"
    );
    assert!(track.records().is_empty(), "an experiment ran: {out}");
}
