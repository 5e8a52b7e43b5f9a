//! Stopping and resuming: Ctrl-C stops cleanly, kill -9 loses at most the experiment in
//! flight, and the next run goes on from the branch and the log.

use std::time::Duration;

use crate::harness::{
    alive, assert_all_dead, first_then, set_params, wait_for_file, Track, FAKE_PARAMS,
};

/// Experiment 1 sleeps (well within the timeout); later ones are worse than the baseline.
fn sleeping_track() -> (Track, String) {
    let track = Track::builder().run("timeout", r#""120s""#).build();
    let script = first_then(
        &set_params("sleep", "1"),
        &set_params("good", "3.$SWARMLAB_INDEX"),
    );
    (track, script)
}

fn start(track: &Track, script: &str) -> crate::harness::Running {
    let running = track.spawn(&["run", "--proposer", "script", "--script", script]);
    wait_for_file(&track.run_dir(1).join("pids"), Duration::from_secs(30));
    running
}

#[test]
fn ctrl_c_stops_cleanly_and_the_next_run_resumes() {
    stop_cleanly_and_resume(libc::SIGINT);
}

#[test]
fn sigterm_stops_like_ctrl_c() {
    stop_cleanly_and_resume(libc::SIGTERM);
}

fn stop_cleanly_and_resume(signal: i32) {
    let (track, script) = sleeping_track();
    let running = start(&track, &script);
    running.signal(signal);
    let out = running.wait(Duration::from_secs(15)).fails_with(130);

    assert_eq!(track.statuses(), ["keep", "interrupted"], "{out}");
    assert_all_dead(&track.pids(1));
    let baseline = track.record(0)["commit"].clone();
    assert_eq!(track.tip(), baseline);
    assert_eq!(track.rev("HEAD"), baseline);
    assert_eq!(track.read("params.txt"), FAKE_PARAMS);
    assert_eq!(track.porcelain(), "");
    assert!(!track.path(".swarmlab/pending-main.json").exists());

    let out = track.run_script(&script, 1).success();
    assert!(!out.stderr.contains("repaired"), "{out}");
    assert_eq!(track.statuses(), ["keep", "interrupted", "discard"]);
    assert_eq!(track.record(2)["metric"], 3.2);
}

#[test]
fn kill_9_loses_only_the_experiment_in_flight() {
    let (track, script) = sleeping_track();
    let running = start(&track, &script);
    let trainer = track.pids(1);
    running.signal(libc::SIGKILL);
    let out = running
        .wait(Duration::from_secs(15))
        .fails_with(128 + libc::SIGKILL);
    assert_eq!(track.statuses(), ["keep"], "{out}");
    let experiment = track.rev("HEAD");
    assert_ne!(
        experiment,
        track.record(0)["commit"],
        "experiment 1 was committed"
    );

    // The orphaned trainer outlives swarmlab; the next start must find and kill it.
    assert!(
        trainer.iter().any(|p| alive(*p)),
        "the trainer died with swarmlab"
    );

    let out = track.run_script(&script, 1).success();
    assert!(out.stderr.contains("repaired"), "{out}");
    assert!(out.stderr.contains("killed"), "{out}");
    assert_all_dead(&trainer);
    assert_eq!(track.statuses(), ["keep", "interrupted", "discard"]);
    let lost = track.record(1);
    assert_eq!(lost["commit"], experiment);
    assert_eq!(lost["parent"], track.record(0)["commit"]);
    assert_eq!(track.tip(), track.record(0)["commit"]);
    assert_eq!(track.read("params.txt"), FAKE_PARAMS);
    assert_eq!(track.porcelain(), "");
    assert_eq!(track.tsv().len(), 1 + track.records().len());
}

#[test]
fn a_torn_results_line_is_cut_off_and_the_tsv_rebuilt() {
    let track = Track::fake();
    track.run_script(&set_params("good", "1.5"), 1).success();
    // As if swarmlab was killed while appending: a partial JSON line and no TSV row.
    let mut jsonl = track.read("results.jsonl");
    jsonl.push_str(r#"{"index":2,"branch":"swarm"#);
    track.write("results.jsonl", &jsonl);
    let tsv = track.read("results.tsv");
    let first_rows: Vec<&str> = tsv.lines().take(2).collect();
    track.write("results.tsv", &(first_rows.join("\n") + "\n"));

    track
        .run_script(&set_params("good", "3.$SWARMLAB_INDEX"), 1)
        .success();
    assert_eq!(track.statuses(), ["keep", "keep", "discard"]);
    assert_eq!(track.tsv().len(), 1 + 3);
}

#[test]
fn a_journal_left_after_the_record_was_logged_keeps_the_logged_outcome() {
    let track = Track::fake();
    track.run_script(&set_params("good", "1.5"), 1).success();
    assert_eq!(track.statuses(), ["keep", "keep"]);
    let kept = track.record(1)["commit"].as_str().unwrap().to_string();
    // As if swarmlab died between logging experiment 1 and clearing its journal.
    let journal = format!(
        r#"{{"index":1,"parent":"{}","started_at":"t","marker":"gone"}}"#,
        track.record(0)["commit"].as_str().unwrap()
    );
    track.write(".swarmlab/pending-main.json", &journal);

    let out = track.run_script(&set_params("good", "1.2"), 1).success();
    assert!(out.stderr.contains("repaired"), "{out}");
    assert_eq!(track.statuses(), ["keep", "keep", "keep"], "{out}");
    assert_eq!(track.record(2)["parent"], kept.as_str());
}
