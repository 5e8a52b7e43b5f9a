use std::fs;

use super::*;

const GOOD: &str = r#"
[track]
name = "toy"
program = "program.md"

[run]
command = ["sh", "train.sh"]
budget = "2s"
timeout = "10s"

[metric]
name = "loss"
goal = "minimize"

[files]
editable = ["params.txt"]
trusted = ["train.sh"]

[knobs]
lr = { file = "params.txt", pattern = 'lr = (?P<v>[0-9.e-]+)', range = [1e-4, 1e-1], scale = "log" }
act = { file = "params.txt", pattern = 'act = (\w+)', choices = ["relu", "gelu"] }
"#;

fn track(
    spec: &str,
) -> (
    tempfile::TempDir,
    Result<(TrackSpec, Vec<Warning>), SpecError>,
) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("program.md"), "do research").unwrap();
    fs::write(dir.path().join("params.txt"), "lr = 0.01\nact = relu\n").unwrap();
    fs::write(dir.path().join("train.sh"), "echo hi").unwrap();
    fs::write(dir.path().join(SPEC_FILE), spec).unwrap();
    let loaded = TrackSpec::load(dir.path());
    (dir, loaded)
}

fn error(spec: &str) -> String {
    match track(spec).1 {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn loads_a_good_spec_with_defaults() {
    let (_dir, loaded) = track(GOOD);
    let (spec, warnings) = loaded.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(spec.name, "toy");
    assert_eq!(spec.run.budget, Budget::Time(Duration::from_secs(2)));
    assert_eq!(spec.run.grace, Duration::from_secs(5));
    assert_eq!(spec.metric.goal, Goal::Minimize);
    assert_eq!(spec.knobs.len(), 2);
    assert!(spec.files.is_editable("params.txt"));
    assert!(!spec.files.is_editable("train.sh"));
    let act = spec.knobs.iter().find(|k| k.name == "act").unwrap();
    let (range, value) = act.locate("lr = 1\nact = gelu\n").unwrap();
    assert_eq!((range, value), (13..17, "gelu"));
}

#[test]
fn step_and_token_budgets_parse() {
    let (_d, loaded) = track(&GOOD.replace("budget = \"2s\"", "budget = { steps = 2000 }"));
    assert_eq!(loaded.unwrap().0.run.budget, Budget::Steps(2000));
    let (_d, loaded) = track(&GOOD.replace("budget = \"2s\"", "budget = { tokens = 5_000_000 }"));
    assert_eq!(loaded.unwrap().0.run.budget, Budget::Tokens(5_000_000));
}

#[test]
fn syntax_errors_name_the_line() {
    let message = error(&GOOD.replace("goal = \"minimize\"", "goal = minimize"));
    assert!(message.contains("swarmlab.toml at line 13"), "{message}");
}

#[test]
fn wrong_goal_is_an_error_with_its_line() {
    let message = error(&GOOD.replace("\"minimize\"", "\"minimise\""));
    assert!(message.contains("at line 13"), "{message}");
    assert!(message.contains("minimize"), "{message}");
}

#[test]
fn unknown_keys_warn_with_a_suggestion() {
    let (_d, loaded) =
        track(&GOOD.replace("timeout = \"10s\"", "timeout = \"10s\"\nbugdet = \"5s\""));
    let (_, warnings) = loaded.unwrap();
    assert_eq!(
        warnings[0].to_string(),
        "swarmlab.toml line 10: unknown key `bugdet` in [run] (did you mean `budget`?); it is ignored"
    );
}

#[test]
fn timeout_below_budget_is_refused() {
    let message = error(&GOOD.replace("timeout = \"10s\"", "timeout = \"1s\""));
    assert!(message.contains("at line 9"), "{message}");
    assert!(
        message.contains("`run.timeout` (1s) must be at least the budget (2s)"),
        "{message}"
    );
}

#[test]
fn missing_editable_path_is_refused() {
    let message = error(&GOOD.replace("editable = [\"params.txt\"]", "editable = [\"nope.rs\"]"));
    assert!(
        message.contains("`files.editable` entry `nope.rs` does not exist"),
        "{message}"
    );
}

#[test]
fn paths_escaping_the_track_are_refused() {
    let message = error(&GOOD.replace("trusted = [\"train.sh\"]", "trusted = [\"../etc/passwd\"]"));
    assert!(
        message.contains("must be a relative path inside the track"),
        "{message}"
    );
}

#[test]
fn overlapping_editable_and_trusted_is_refused() {
    let message = error(&GOOD.replace("trusted = [\"train.sh\"]", "trusted = [\"params.txt\"]"));
    assert!(
        message.contains("`params.txt` is both trusted and editable"),
        "{message}"
    );
}

#[test]
fn duration_nonsense_is_refused() {
    let message = error(&GOOD.replace("budget = \"2s\"", "budget = \"a while\""));
    assert!(
        message.contains("at line 8: `run.budget`: `a while` is not a duration"),
        "{message}"
    );
}

#[test]
fn knob_outside_editable_is_refused() {
    let message =
        error(&GOOD.replace("lr = { file = \"params.txt\"", "lr = { file = \"train.sh\""));
    assert!(
        message.contains("knob `lr`: file `train.sh` is not in `files.editable`"),
        "{message}"
    );
}

#[test]
fn knob_pattern_must_match_the_file() {
    let message = error(&GOOD.replace("'lr = (?P<v>", "'rate = (?P<v>"));
    assert!(
        message.contains("knob `lr`: pattern does not match anything in `params.txt`"),
        "{message}"
    );
}

#[test]
fn log_knob_needs_a_positive_range() {
    let message = error(&GOOD.replace("range = [1e-4, 1e-1]", "range = [0.0, 1e-1]"));
    assert!(
        message.contains("a log scale needs a positive range"),
        "{message}"
    );
}

#[test]
fn missing_section_is_named() {
    let message = error("[track]\nname = \"x\"\n");
    assert!(message.contains("missing section [run]"), "{message}");
}

#[test]
fn unreadable_spec_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let message = TrackSpec::load(dir.path()).unwrap_err().to_string();
    assert!(message.starts_with("failed to read "), "{message}");
    assert!(message.contains("swarmlab.toml"), "{message}");
}

#[test]
fn experiment_env_carries_budget_and_seed() {
    let (_d, loaded) = track(GOOD);
    let env = loaded.unwrap().0.experiment_env(7);
    assert!(env.contains(&("SWARMLAB_BUDGET_SECONDS".into(), "2".into())));
    assert!(env.contains(&("SWARMLAB_SEED".into(), "7".into())));
}

#[test]
fn a_budget_override_keeps_the_timeout_margin() {
    let (_d, loaded) = track(GOOD);
    let mut spec = loaded.unwrap().0;
    spec.override_budget(Duration::from_secs(20));
    assert_eq!(spec.run.budget, Budget::Time(Duration::from_secs(20)));
    assert_eq!(spec.run.timeout, Duration::from_secs(28));
    spec.override_budget(Duration::from_secs(1));
    assert_eq!(
        spec.run.timeout,
        Duration::from_secs(28),
        "the timeout never shrinks"
    );
}

#[test]
fn the_reference_spec_loads_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["program.md", "train.py", "prepare.py"] {
        fs::write(dir.path().join(file), "LR = 0.01\n").unwrap();
    }
    fs::write(dir.path().join(SPEC_FILE), REFERENCE).unwrap();
    let (spec, warnings) = TrackSpec::load(dir.path()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(spec.metric.name, "val_bpb");
    assert_eq!(spec.run.timeout, Duration::from_secs(600));
}
