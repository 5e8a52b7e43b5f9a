//! The presets against the real agent CLIs, as `.ci/run` installs them at the versions
//! docs/agents.md names (see `swarmlab_testkit::agent_cli`): each preset's flags are listed by
//! its installed CLI's help; Claude Code gets past its root check and Gemini CLI keeps its
//! approval mode in an untrusted folder (no model is reachable: both then stop at their
//! missing login, which is the proof they got that far); Codex CLI with its home under /tmp is
//! stopped before the baseline; aider edits only the editable file through a fake
//! OpenAI-compatible server on loopback. Without the CLIs these tests say so and pass.

use std::fs;
use std::path::{Path, PathBuf};

use swarmlab_testkit::agent_cli::{self, documented_version, path_with};
use swarmlab_testkit::{Canned, FakeServer};

use crate::harness::{Output, Track, FAKE_TRAINER};

/// A fresh home folder outside /tmp (Codex refuses to make its sandbox helper under /tmp).
fn home() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("home")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// `swarmlab run TRACK --proposer command --agent PRESET --pipeline off --agent-timeout 2m
/// --experiments N` with `bin` first on `PATH` and `home` as `HOME`, plus `env`.
fn run_real(
    track: &Track,
    preset: &str,
    experiments: u64,
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
        // A CLI that waited on a network that drops its packets must not hold the suite.
        "--agent-timeout",
        "2m",
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
        let out = run_real(&track, preset, 0, &bin, home.path(), &[]).success();
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
    let out = run_real(&track, "claude", 1, &bin, home.path(), &[]).fails_with(5);
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
    let out = run_real(&track, "gemini", 1, &bin, home.path(), &[]).fails_with(5);
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
        1,
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
