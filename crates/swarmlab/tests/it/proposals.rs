//! What the loop does with a proposal: refuse changes outside `files.editable`, discard a
//! worse result and keep it reachable for inspection.

use crate::harness::{set_params, Track, FAKE_PARAMS, FAKE_TRAINER};

#[test]
fn a_change_outside_editable_is_invalid_reverted_and_never_run() {
    let track = Track::fake();
    let script = format!(
        "echo '# tampered' >> train.sh; touch stray.txt; {}",
        set_params("good", "0.5")
    );
    track.run_script(&script, 1).success();
    let baseline = track.record(0)["commit"].clone();

    let record = track.record(1);
    assert_eq!(record["status"], "invalid", "{record}");
    let note = record["note"].as_str().expect("a note");
    assert!(note.contains("train.sh"), "{note}");
    assert_eq!(track.read("train.sh"), FAKE_TRAINER);
    assert_eq!(track.read("params.txt"), FAKE_PARAMS);
    assert!(
        !track.path("stray.txt").exists(),
        "a new file was left behind"
    );
    assert!(!track.run_dir(1).exists(), "the experiment ran");
    assert_eq!(track.tip(), baseline);
    assert_eq!(track.porcelain(), "");
}

#[test]
fn a_worse_result_is_discarded_and_kept_under_a_ref() {
    let track = Track::fake();
    track.run_script(&set_params("good", "3.0"), 1).success();
    let baseline = track.record(0)["commit"].clone();

    let record = track.record(1);
    assert_eq!(record["status"], "discard", "{record}");
    assert_eq!(record["metric"], 3.0);
    assert_eq!(track.tip(), baseline);
    assert_eq!(track.read("params.txt"), FAKE_PARAMS);
    let discarded = track.rev("refs/swarmlab/main/discarded/1");
    assert_eq!(discarded, record["commit"]);
    assert_ne!(discarded, baseline);
    let params = track.git(&["show", &format!("{discarded}:params.txt")]);
    assert_eq!(params, "mode = good\nvalue = 3.0");
}

#[test]
fn a_better_result_is_kept_and_the_branch_advances() {
    let track = Track::fake();
    track.run_script(&set_params("good", "1.5"), 1).success();
    let record = track.record(1);
    assert_eq!(record["status"], "keep", "{record}");
    assert_eq!(track.tip(), record["commit"]);
    assert_eq!(track.rev("swarmlab/main~1"), track.record(0)["commit"]);
    assert_eq!(track.read("params.txt"), "mode = good\nvalue = 1.5\n");
    assert_eq!(record["description"], "good 1.5");
}

#[test]
fn a_proposer_that_keeps_failing_stops_the_loop_with_exit_5() {
    let track = Track::fake();
    let out = track
        .run_script("echo 'no idea' >&2; exit 1", 100)
        .fails_with(5);
    assert!(out.stderr.contains("no idea"), "{out}");
    assert!(out.stderr.contains("no proposal succeeded"), "{out}");
    assert!(out.stderr.contains("5 proposals in a row"), "{out}");
    assert_eq!(track.statuses(), ["keep"]);
    assert_eq!(track.porcelain(), "");
}

#[test]
fn a_failing_baseline_stops_before_any_proposal() {
    let track = Track::builder()
        .file("params.txt", "mode = crash\nvalue = 1\n")
        .build();
    let out = track.run_script("touch proposed", 5).fails_with(1);
    assert!(out.stderr.contains("the baseline failed (crash)"), "{out}");
    assert!(out.stderr.contains("run.log"), "{out}");
    assert_eq!(track.statuses(), ["crash"]);
    assert!(!track.path("proposed").exists(), "the proposer ran");
}
