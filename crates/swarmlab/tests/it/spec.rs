//! Problems in swarmlab.toml: unknown keys warn with a suggestion, invalid values fail with
//! exit code 3 and their line.

use crate::harness::{set_params, Track};

const SPEC: &str = r#"[track]
name = "fake"

[run]
command = ["sh", "train.sh"]
BUDGET
timeout = "10m"

[metric]
name = "loss"
goal = "GOAL"

[files]
editable = ["params.txt"]
"#;

fn spec(budget_line: &str, goal: &str) -> String {
    SPEC.replace("BUDGET", budget_line).replace("GOAL", goal)
}

#[test]
fn a_misspelt_key_warns_with_a_suggestion() {
    let track = Track::builder()
        .spec(&spec(r#"bugdet = "1s""#, "minimize"))
        .build();
    let out = track.swarmlab(&["track", "check"]).success();
    assert!(
        out.stderr.contains(
            "warning: swarmlab.toml line 6: unknown key `bugdet` in [run] (did you mean `budget`?)"
        ),
        "{out}"
    );
    // The run warns too, and goes on.
    let out = track.run_script(&set_params("good", "1.5"), 0).success();
    assert!(out.stderr.contains("did you mean `budget`"), "{out}");
}

#[test]
fn a_misspelt_key_is_reported_even_when_the_spec_then_fails() {
    // Without `budget` the default (5m) exceeds this timeout: the typo is the real cause.
    let text = spec(r#"bugdet = "1s""#, "minimize").replace(r#""10m""#, r#""2s""#);
    let track = Track::builder().spec(&text).build();
    let out = track.swarmlab(&["track", "check"]).fails_with(3);
    assert!(out.stderr.contains("did you mean `budget`"), "{out}");
}

#[test]
fn an_invalid_goal_fails_with_its_line() {
    let track = Track::builder()
        .spec(&spec(r#"budget = "1s""#, "minimise"))
        .build();
    let out = track.swarmlab(&["track", "check"]).fails_with(3);
    assert!(out.stderr.contains("line 11"), "{out}");
    assert!(out.stderr.contains("minimise"), "{out}");
    let out = track
        .run_script(&set_params("good", "1.5"), 1)
        .fails_with(3);
    assert!(out.stderr.contains("line 11"), "{out}");
    assert!(track.records().is_empty());
}

#[test]
fn a_missing_spec_fails_with_exit_code_3() {
    let track = Track::fake();
    std::fs::remove_file(track.path("swarmlab.toml")).expect("remove the spec");
    let out = track.swarmlab(&["track", "check"]).fails_with(3);
    assert!(out.stderr.contains("swarmlab.toml"), "{out}");
}
