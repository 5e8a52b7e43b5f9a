//! The presets against the real agent CLIs, as `.ci/run` installs them at the versions
//! docs/agents.md names (see `swarmlab_testkit::agent_cli`): each preset's flags are listed by
//! its installed CLI's help; Claude Code gets past its root check and Gemini CLI keeps its
//! approval mode in an untrusted folder (no model is reachable: both then stop at their
//! missing login, which is the proof they got that far); Codex CLI with its home under /tmp is
//! stopped before the baseline; Codex CLI and Gemini CLI, with a key but their model provider
//! at a closed loopback port, are stopped at the line they print while retrying, long before
//! the agent timeout; aider edits only the editable file through a fake OpenAI-compatible
//! server on loopback. Without the CLIs these tests say so and pass.

use std::fs;
use std::path::{Path, PathBuf};

use swarmlab_testkit::agent_cli::{self, documented_version, path_with};
use swarmlab_testkit::{closed_port, Canned, FakeServer};

use crate::harness::{Output, Track, FAKE_TRAINER};

/// A fresh home folder outside /tmp (Codex refuses to make its sandbox helper under /tmp).
fn home() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("home")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// The agent timeout of most runs: a CLI that waited on a network that drops its packets must
/// not hold the suite.
const AGENT_TIMEOUT: &str = "2m";

/// The agent timeout of the offline runs: far beyond the seconds a CLI takes to print its
/// retry line, so that a run stopped before it was stopped by that line.
const OFFLINE_AGENT_TIMEOUT: &str = "5m";

/// `swarmlab run TRACK --proposer command --agent PRESET --pipeline off --agent-timeout
/// TIMEOUT --experiments N` with `bin` first on `PATH` and `home` as `HOME`, plus `env`.
fn run_real(
    track: &Track,
    preset: &str,
    (experiments, timeout): (u64, &str),
    bin: &Path,
    home: &Path,
    env: &[(&str, &str)],
) -> Output {
    let n = experiments.to_string();
    let args = [
        "run",
        "--proposer",
        "command",
        "--agent",
        preset,
        "--pipeline",
        "off",
        "--agent-timeout",
        timeout,
        "--experiments",
        &n,
    ];
    let path = path_with(bin);
    let mut all = vec![("PATH", path.as_str()), ("HOME", home.to_str().unwrap())];
    all.extend_from_slice(env);
    track.swarmlab_env(&args, &all)
}

/// What the agent printed in every proposal of the run, its help and version runs left out.
fn agent_output(track: &Track) -> String {
    let mut logs: Vec<PathBuf> = fs::read_dir(track.path(".swarmlab/agent"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".log") && !name.contains(".help.") && !name.contains(".version.")
        })
        .collect();
    logs.sort();
    assert!(!logs.is_empty(), "no proposal ran");
    logs.iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect()
}

#[test]
fn each_npm_preset_agrees_with_the_help_of_the_documented_version() {
    let Some(bin) = agent_cli::npm_clis() else {
        return;
    };
    for preset in agent_cli::NPM_CLIS {
        let track = Track::fake();
        let home = home();
        let out = run_real(&track, preset, (0, AGENT_TIMEOUT), &bin, home.path(), &[]).success();
        let version = documented_version(preset);
        let installed = format!("agent: {preset} preset, installed ");
        let line = out
            .stderr
            .lines()
            .find(|l| l.starts_with(&installed))
            .unwrap_or_else(|| panic!("no version line: {out}"));
        assert!(
            line.contains(&version),
            "docs/agents.md says {version}: {line}"
        );
        assert_eq!(track.statuses(), ["keep"], "the baseline ran: {out}");
    }
}

#[test]
fn the_real_claude_gets_past_its_root_check() {
    let Some(bin) = agent_cli::npm_clis() else {
        return;
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("note: not root, so Claude Code's root check is not in play");
    }
    let track = Track::fake();
    let home = home();
    let out = run_real(&track, "claude", (1, AGENT_TIMEOUT), &bin, home.path(), &[]).fails_with(5);
    let said = agent_output(&track);
    assert!(!said.contains("root/sudo"), "{said}\n{out}");
    assert!(said.contains("Not logged in"), "{said}\n{out}");
}

#[test]
fn the_real_gemini_keeps_its_approval_mode_in_an_untrusted_folder() {
    let Some(bin) = agent_cli::npm_clis() else {
        return;
    };
    let track = Track::fake();
    let home = home();
    let out = run_real(&track, "gemini", (1, AGENT_TIMEOUT), &bin, home.path(), &[]).fails_with(5);
    let said = agent_output(&track);
    assert!(said.contains("YOLO mode is enabled"), "{said}\n{out}");
    assert!(!said.contains("not trusted"), "{said}\n{out}");
    assert!(said.contains("Auth method"), "{said}\n{out}");
}

#[test]
fn the_real_codex_with_its_home_under_tmp_stops_before_the_baseline() {
    let Some(bin) = agent_cli::npm_clis() else {
        return;
    };
    let track = Track::fake();
    let home = home();
    let codex_home = tempfile::tempdir().unwrap();
    let out = run_real(
        &track,
        "codex",
        (1, AGENT_TIMEOUT),
        &bin,
        home.path(),
        &[("CODEX_HOME", codex_home.path().to_str().unwrap())],
    )
    .fails_with(5);
    assert!(
        out.stderr
            .contains("set CODEX_HOME to a folder outside /tmp"),
        "{out}"
    );
    assert!(track.records().is_empty(), "an experiment ran: {out}");
}

#[test]
fn the_real_codex_without_a_reachable_model_is_stopped_at_its_reconnect_line() {
    let Some(bin) = agent_cli::npm_clis() else {
        return;
    };
    let track = Track::fake();
    let home = home();
    // Codex 0.171 ignores OPENAI_BASE_URL; `openai_base_url` in its config moves its built-in
    // provider (CODEX_HOME is `~/.codex` by default).
    let config = home.path().join(".codex/config.toml");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    let url = format!("http://127.0.0.1:{}/v1", closed_port());
    fs::write(&config, format!("openai_base_url = \"{url}\"\n")).unwrap();
    let out = run_real(
        &track,
        "codex",
        (1, OFFLINE_AGENT_TIMEOUT),
        &bin,
        home.path(),
        &[("OPENAI_API_KEY", "sk-test")],
    )
    .fails_with(5);
    let log = stopped_at(&track, &out, "Reconnecting... waiting for network");
    // Its own reconnects to the closed port ran out first: the model was refused, not looked
    // up on a network the machine may lack.
    let gave_up = log.find("Reconnecting... 5/5").expect(&log);
    assert!(gave_up < log.find("waiting for network").unwrap(), "{log}");
    assert!(log.contains("Connection refused"), "{log}");
}

#[test]
fn the_real_gemini_without_a_reachable_model_is_stopped_at_its_fourth_retry() {
    let Some(bin) = agent_cli::npm_clis() else {
        return;
    };
    let track = Track::fake();
    let home = home();
    // GOOGLE_GEMINI_BASE_URL alone selects Gemini CLI 0.61's `gateway` auth, which its
    // headless mode refuses ("Invalid auth method selected."): the API key's auth is chosen in
    // its settings.
    let settings = home.path().join(".gemini/settings.json");
    fs::create_dir_all(settings.parent().unwrap()).unwrap();
    fs::write(
        &settings,
        r#"{"security": {"auth": {"selectedType": "gemini-api-key"}}}"#,
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let out = run_real(
        &track,
        "gemini",
        (1, OFFLINE_AGENT_TIMEOUT),
        &bin,
        home.path(),
        &[
            ("GEMINI_API_KEY", "test-key"),
            ("GOOGLE_GEMINI_BASE_URL", &url),
        ],
    )
    .fails_with(5);
    let log = stopped_at(&track, &out, "Attempt 4 failed. Retrying with backoff");
    // Each attempt before it failed the same way, refused at the closed port; the stop came
    // before a fifth.
    for attempt in 1..4 {
        let failed = format!(
            "Attempt {attempt} failed. Retrying with backoff... Error: exception TypeError: \
             fetch failed"
        );
        assert!(log.contains(&failed), "{log}");
    }
    assert!(!log.contains("Attempt 5 failed"), "{log}");
}

/// What the fake model has Codex run: a patch in Codex's own format piped to `apply_patch`,
/// which Codex applies itself.
const CODEX_PATCH: &str = "apply_patch <<'EOF'
*** Begin Patch
*** Update File: params.txt
@@
-value = 2.0
+value = 1.25
*** End Patch
EOF
";

#[test]
fn the_real_codex_edits_only_the_editable_file_through_a_local_model() {
    let Some(bin) = agent_cli::npm_clis() else {
        return;
    };
    let track = Track::fake();
    let server = FakeServer::start(vec![
        Canned::response_call(
            "exec_command",
            serde_json::json!({ "cmd": CODEX_PATCH }),
            "call_1",
        ),
        Canned::response_message("I lowered the value.\nDESCRIPTION: lower the value to 1.25"),
    ]);
    let home = home();
    // A custom provider must speak the Responses API; its key comes from `env_key`.
    let config = home.path().join(".codex/config.toml");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    let provider = format!(
        "model = \"fake-model\"\nmodel_provider = \"fake\"\n\n[model_providers.fake]\n\
         name = \"fake\"\nbase_url = \"{}\"\nwire_api = \"responses\"\nenv_key = \"FAKE_API_KEY\"\n",
        server.base_url
    );
    fs::write(&config, provider).unwrap();
    let out = run_real(
        &track,
        "codex",
        (1, AGENT_TIMEOUT),
        &bin,
        home.path(),
        &[("FAKE_API_KEY", "sk-test")],
    )
    .success();
    let record = track.record(1);
    assert_eq!(record["status"], "keep", "{out}");
    assert_eq!(record["metric"], 1.25);
    assert_eq!(record["description"], "lower the value to 1.25");
    assert_eq!(track.porcelain(), "", "codex left files in the track");
    let received = server.received();
    assert_eq!(received.len(), 2, "{out}");
    assert_eq!(received[0].json()["model"], "fake-model");
    assert!(
        received[0].body.contains("You may edit only: `params.txt`"),
        "the prompt went to the model"
    );
    // The second turn carries what the tool call did.
    let second = received[1].json();
    let output = second["input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "function_call_output" && item["call_id"] == "call_1")
        .unwrap_or_else(|| panic!("no output of the call: {second}"));
    let said = output["output"].as_str().unwrap();
    assert!(
        said.contains("Success. Updated the following files:"),
        "{said}"
    );
}

/// Checks that each of the five proposals of an offline run was stopped by the preset's
/// detection of `line` (the run's output says so, with the seconds it took, and never that the
/// agent timed out) and that the agent's log holds it; returns the log of the last proposal
/// (each one writes the same `1.log`).
fn stopped_at(track: &Track, out: &Output, line: &str) -> String {
    assert!(
        out.stderr
            .contains("no proposal succeeded: 5 of the last 5 proposals failed"),
        "{out}"
    );
    assert!(!out.stderr.contains("timed out"), "{out}");
    assert_eq!(track.statuses(), ["keep"], "only the baseline ran: {out}");
    let seconds: Vec<u64> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("#1 failed: ") && l.contains(line))
        .map(|l| {
            let (_, after) = l.split_once("and was stopped after ").expect(l);
            after.split('s').next().unwrap().parse().expect(l)
        })
        .collect();
    assert_eq!(seconds.len(), 5, "{out}");
    let timeout = swarmlab_core::spec::parse_duration(OFFLINE_AGENT_TIMEOUT)
        .unwrap()
        .as_secs();
    assert!(seconds.iter().all(|s| *s < timeout), "{out}");
    eprintln!("stopped after {seconds:?} s (agent timeout {timeout} s)");
    let log = fs::read_to_string(track.path(".swarmlab/agent/1.log")).unwrap();
    assert!(log.contains(line), "{log}\n{out}");
    log
}

/// An answer in aider's SEARCH/REPLACE format that names the trusted `train.sh`, as a model's
/// explanation would.
const AIDER_ANSWER: &str = "\
I lower the value; train.sh and program.md stay as they are.

params.txt
```
<<<<<<< SEARCH
value = 2.0
=======
value = 1.25
>>>>>>> REPLACE
```

DESCRIPTION: lower the value to 1.25
";

#[test]
fn the_real_aider_edits_only_the_editable_file_through_a_local_model() {
    let Some(aider) = agent_cli::aider() else {
        return;
    };
    let track = Track::fake();
    let server = FakeServer::start(vec![Canned::answer(AIDER_ANSWER)]);
    let home = tempfile::tempdir().unwrap();
    let bin = aider.parent().expect("aider lies in a folder");
    let out = track
        .swarmlab_env(
            &[
                "run",
                "--proposer",
                "command",
                "--agent",
                "aider",
                "--pipeline",
                "off",
                "--experiments",
                "1",
            ],
            &[
                ("PATH", &path_with(bin)),
                ("HOME", home.path().to_str().unwrap()),
                ("OPENAI_API_BASE", &server.base_url),
                ("OPENAI_API_KEY", "sk-test"),
                ("AIDER_MODEL", "openai/fake-model"),
                ("AIDER_EDIT_FORMAT", "diff"),
                ("AIDER_SHOW_MODEL_WARNINGS", "false"),
            ],
        )
        .success();
    let installed = format!(
        "agent: aider preset, installed aider {}",
        documented_version("aider")
    );
    assert!(out.stderr.contains(&installed), "{out}");
    let record = track.record(1);
    assert_eq!(record["status"], "keep", "{out}");
    assert_eq!(record["metric"], 1.25);
    assert_eq!(record["description"], "lower the value to 1.25");
    let received = server.received();
    // Had aider added the trusted train.sh that the answer names, it would have asked again.
    assert_eq!(received.len(), 1, "{out}");
    let prompt = received[0].body.clone();
    assert!(prompt.contains("value = 2.0"), "the editable file is shown");
    assert!(
        !prompt.contains(FAKE_TRAINER.lines().nth(1).unwrap()),
        "the trusted file's text was sent as part of the chat"
    );
    assert_eq!(track.porcelain(), "", "aider left files in the track");
    let aider_files: Vec<_> = fs::read_dir(track.path(""))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".aider"))
        .map(|e| e.file_name())
        .collect();
    assert!(aider_files.is_empty(), "{aider_files:?}");
}
