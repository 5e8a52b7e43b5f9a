//! The budget and seed a program is given, and the limits of a whole run.

use crate::harness::{set_params, Track};

#[test]
fn the_time_budget_and_seed_reach_the_program() {
    let track = Track::fake();
    track.run_script(&set_params("good", "1.5"), 1).success();
    for index in [0, 1] {
        let env = track.run_env(index);
        assert_eq!(env["SWARMLAB_BUDGET_SECONDS"], "1", "{env:?}");
        assert!(!env.contains_key("SWARMLAB_BUDGET_STEPS"), "{env:?}");
        let seed = track.record(index)["seed"].to_string();
        assert_eq!(env["SWARMLAB_SEED"], seed, "{env:?}");
    }
    assert_ne!(
        track.run_env(0)["SWARMLAB_SEED"],
        track.run_env(1)["SWARMLAB_SEED"],
        "each experiment has its own seed"
    );
}

#[test]
fn budget_on_the_command_line_overrides_the_track() {
    let track = Track::fake();
    track
        .swarmlab(&["run", "--experiments", "0", "--budget", "3s"])
        .success();
    assert_eq!(track.run_env(0)["SWARMLAB_BUDGET_SECONDS"], "3");
}

#[test]
fn a_step_or_token_budget_on_the_command_line_overrides_the_track() {
    let track = Track::fake();
    track
        .swarmlab(&["run", "--experiments", "0", "--budget", "400steps"])
        .success();
    let env = track.run_env(0);
    assert_eq!(env["SWARMLAB_BUDGET_STEPS"], "400", "{env:?}");
    assert!(!env.contains_key("SWARMLAB_BUDGET_SECONDS"), "{env:?}");
    let refused = track
        .swarmlab(&["run", "--experiments", "0", "--budget", "0steps"])
        .fails_with(2);
    assert!(
        refused.stderr.contains("must be a positive integer"),
        "{refused}"
    );
}

#[test]
fn a_step_budget_and_a_fixed_seed_reach_the_program() {
    let track = Track::builder()
        .run("budget", "{ steps = 100 }")
        .run("seed", "42")
        .build();
    track.run_script(&set_params("good", "1.5"), 1).success();
    for index in [0, 1] {
        let env = track.run_env(index);
        assert_eq!(env["SWARMLAB_BUDGET_STEPS"], "100", "{env:?}");
        assert!(!env.contains_key("SWARMLAB_BUDGET_SECONDS"), "{env:?}");
        assert_eq!(env["SWARMLAB_SEED"], "42", "{env:?}");
    }
}

#[test]
fn for_stops_starting_experiments_after_the_duration() {
    let track = Track::builder().run("timeout", r#""10s""#).build();
    // Each experiment takes 0.3s: a thousand would take five minutes.
    let script = set_params("slow", "0.3$SWARMLAB_INDEX");
    track
        .swarmlab(&[
            "run",
            "--proposer",
            "script",
            "--script",
            &script,
            "--experiments",
            "1000",
            "--for",
            "1s",
        ])
        .success();
    let records = track.records();
    assert!(!records.is_empty());
    assert!(records.len() < 100, "{} experiments ran", records.len());
}
