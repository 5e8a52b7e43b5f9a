//! `swarmlab contest --evolve`: rounds of the toy's program against variants a writer
//! drafts, with the contest's script proposer, which finds more when the program says "lower
//! the lr". A writer that says so wins and is committed; one that says nothing better is not.

use std::time::Duration;

use swarmlab_testkit::{Canned, FakeServer};

use crate::contest::{GOOD, PROPOSER};
use crate::harness::{poll_until, swarmlab, Output, Track};

/// Variant 1 says "lower the lr"; 2 leaves the champion as it is; 3 empties the program; any
/// other fails.
const WRITER: &str = r#"case "$SWARMLAB_INDEX" in
1) printf 'Lower the lr: it is far too high.\n' > program.md ;;
2) : ;;
3) : > program.md ;;
*) echo "out of ideas" >&2; exit 1 ;;
esac
echo "variant $SWARMLAB_INDEX""#;

/// Writes a variant that says nothing the proposer acts on.
const NO_BETTER: &str = r#"printf 'Try whatever seems best, and say why.\n' > program.md
echo reworded"#;

/// The toy track with the proposer and `writer` as scripts beside it, outside the track.
fn setup(writer: &str) -> (Track, [String; 2]) {
    let track = Track::toy();
    let write = |name: &str, text: &str| {
        let path = track.path("..").join(name);
        std::fs::write(&path, text).expect("write a script beside the track");
        format!("sh {}", path.to_str().expect("UTF-8 paths"))
    };
    let scripts = [write("propose.sh", PROPOSER), write("write.sh", writer)];
    (track, scripts)
}

fn evolve(track: &Track, scripts: &[String; 2], extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "contest",
        track.root_str(),
        "--runs",
        "2",
        "--experiments",
        "2",
        "--proposer",
        "script",
        "--script",
        &scripts[0],
    ];
    args.extend_from_slice(extra);
    args.iter().map(|a| a.to_string()).collect()
}

fn run(args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    swarmlab(&args, None)
}

#[test]
fn a_variant_that_wins_clearly_is_committed_and_bad_drafts_are_skipped() {
    let (track, scripts) = setup(WRITER);
    let before = track.rev("main");
    let writer = ["--writer", "script", "--writer-script", &scripts[1]];
    let mut extra = vec!["--evolve", "1", "--variants", "4"];
    extra.extend_from_slice(&writer);
    let out = run(&evolve(&track, &scripts, &extra)).success();
    assert_eq!(track.read("program.md").trim(), GOOD.trim(), "{out}");
    assert_eq!(track.git(&["show", "main:program.md"]), GOOD.trim());
    assert_eq!(track.rev("main~1"), before, "one commit on main");
    let message = track.git(&["log", "-1", "--format=%B", "main"]);
    assert!(
        message.starts_with("evolve: round 1 keeps evolve-r1-v1 as program.md"),
        "{message}"
    );
    assert!(
        message.contains("1. evolve-r1-v1: mean best loss"),
        "{message}"
    );
    assert!(
        message.contains("2. evolve-r1-champion: mean best loss"),
        "{message}"
    );
    for line in [
        "no evolve-r1-v2: its program is identical to the champion",
        "no evolve-r1-v3: it left an empty program",
        "no evolve-r1-v4: it failed: script exited",
        "round 1: evolve-r1-v1 leads clearly",
    ] {
        assert!(out.stderr.contains(line), "{line}\n{out}");
    }
    assert_eq!(track.git(&["branch", "--show-current"]), "main");
    assert_eq!(track.porcelain(), "", "the checkout is clean");
    let standings = track.read(".swarmlab/contest/evolve/round-1/contest.json");
    assert!(standings.contains("evolve-r1-champion"), "{standings}");
    assert!(!standings.contains("evolve-r1-v2"), "{standings}");
}

#[test]
fn a_variant_no_better_is_not_committed_and_finished_rounds_are_not_run_again() {
    let (track, scripts) = setup(NO_BETTER);
    let before = track.rev("main");
    let extra = [
        "--evolve",
        "2",
        "--variants",
        "1",
        "--writer",
        "script",
        "--writer-script",
        &scripts[1],
    ];
    let args = evolve(&track, &scripts, &extra);
    let out = run(&args).success();
    assert_eq!(track.rev("main"), before, "nothing committed\n{out}");
    for round in [1, 2] {
        let line = format!("round {round}: no variant leads clearly");
        assert!(out.stderr.contains(&line), "{line}\n{out}");
        assert!(out.stderr.contains("the champion stays"), "{out}");
    }
    // Round 2's writer saw round 1's standings and both programs' texts.
    let brief = track.read(".swarmlab/contest/evolve/round-2/writer-v1/WRITER.md");
    assert!(brief.contains("## The last contest (round 1)"), "{brief}");
    assert!(brief.contains("| evolve-r1-v1 |"), "{brief}");
    assert!(
        brief.contains("Try whatever seems best, and say why."),
        "{brief}"
    );
    assert!(brief.contains("stayed the champion"), "{brief}");

    let logged = track.records().len();
    let again = run(&args).success();
    assert!(
        again.stderr.contains("round 1 was decided before"),
        "{again}"
    );
    assert!(
        again.stderr.contains("round 2 was decided before"),
        "{again}"
    );
    assert_eq!(track.records().len(), logged, "nothing ran again");
}

#[test]
fn an_evolution_killed_midway_completes_on_rerun_and_commits_once() {
    let (track, scripts) = setup(WRITER);
    let before = track.rev("main");
    let extra = [
        "--evolve",
        "1",
        "--variants",
        "1",
        "--writer",
        "script",
        "--writer-script",
        &scripts[1],
    ];
    let args = evolve(&track, &scripts, &extra);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_swarmlab"))
        .args(&args)
        .env("CONTEST_SLEEP", "0.1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("swarmlab starts");
    let midway = poll_until(Duration::from_secs(20), || track.records().len() >= 5);
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    assert!(midway, "too little logged: {:?}", track.records());
    assert!(
        track.records().len() < 12,
        "the evolution was not stopped midway"
    );

    let out = run(&args).success();
    assert!(out.stderr.contains("evolve-r1-v1 leads clearly"), "{out}");
    assert_eq!(track.rev("main~1"), before, "one commit\n{out}");
    assert_eq!(track.git(&["show", "main:program.md"]), GOOD.trim());
    let steps = track
        .records()
        .iter()
        .filter(|r| r["status"] != "interrupted")
        .count();
    assert_eq!(
        steps, 12,
        "2 programs, 2 runs, a baseline and 2 experiments each"
    );
}

/// Replaces the toy program's last line with advice to lower the lr.
const MODEL_EDIT: &str = "DESCRIPTION: tell the agent to lower the lr
program.md
<<<<<<< SEARCH
- Simpler is better: a change that does not improve the loss is not worth keeping.
=======
- Lower the lr: it is far too high.
>>>>>>> REPLACE
";

#[test]
fn an_openai_writer_sees_the_standings_and_its_winning_variant_is_committed() {
    let (track, scripts) = setup(NO_BETTER);
    let server = FakeServer::start(vec![Canned::answer(MODEL_EDIT)]);
    let extra = [
        "--evolve",
        "2",
        "--variants",
        "1",
        "--writer",
        "openai",
        "--model",
        "fake-model",
        "--base-url",
        &server.base_url,
        "--api-key-env",
        "SWARMLAB_TEST_NO_KEY",
        "--api-retries",
        "1",
    ];
    let out = run(&evolve(&track, &scripts, &extra)).success();
    assert!(
        out.stderr.contains("round 1: evolve-r1-v1 leads clearly"),
        "{out}"
    );
    let program = track.git(&["show", "main:program.md"]);
    assert!(
        program.ends_with("- Lower the lr: it is far too high."),
        "{program}"
    );
    // Round 2: the same edit no longer applies to the new champion, so the writer fails
    // and the round goes on without a variant.
    assert!(out.stderr.contains("no evolve-r2-v1: it failed"), "{out}");
    assert!(out.stderr.contains("round 2: no variant to run"), "{out}");

    let prompts: Vec<String> = server
        .received()
        .iter()
        .map(|r| {
            r.json()["messages"][1]["content"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        prompts[0].contains("No contest has run yet"),
        "{}",
        prompts[0]
    );
    assert!(
        prompts[0].contains("is not worth keeping"),
        "the champion: {}",
        prompts[0]
    );
    let second = prompts.get(1).expect("round 2 asked the model");
    assert!(second.contains("## The last contest (round 1)"), "{second}");
    assert!(second.contains("| 1 | evolve-r1-v1 |"), "{second}");
    assert!(second.contains("95% interval"), "{second}");
    assert!(second.contains("`evolve-r1-v1` led clearly"), "{second}");
    assert!(second.contains("What its runs kept"), "{second}");
}

#[test]
fn bad_evolve_input_is_refused_with_the_usage_code() {
    let (track, scripts) = setup(WRITER);
    let cases: [(&[&str], &str); 6] = [
        (
            &["--evolve", "1", "--writer", "sweep"],
            "the writer of --evolve edits",
        ),
        (&["--evolve", "1"], "--writer-script"),
        (
            &["--evolve", "0", "--writer", "openai", "--model", "m"],
            "1 or more",
        ),
        (
            &["--evolve", "1", "--programs", "a.md", "b.md"],
            "cannot be used with",
        ),
        (
            &["--programs", "a.md", "b.md", "--variants", "3"],
            "cannot be used with",
        ),
        (
            &["--programs", "a.md", "b.md", "--writer", "openai"],
            "cannot be used with",
        ),
    ];
    for (extra, message) in cases {
        let out = run(&evolve(&track, &scripts, extra)).fails_with(2);
        assert!(out.stderr.contains(message), "{extra:?}: {message}\n{out}");
    }
    track.git(&["checkout", "--quiet", "--detach"]);
    let extra = [
        "--evolve",
        "1",
        "--writer",
        "script",
        "--writer-script",
        "true",
    ];
    let out = run(&evolve(&track, &scripts, &extra)).fails_with(2);
    assert!(out.stderr.contains("HEAD is detached"), "{out}");
    assert!(track.records().is_empty(), "nothing ran");
}
