//! Programs that misbehave: each failure is its own status, the log tail is kept, and the
//! whole process tree is gone when the experiment is logged.

use crate::harness::{alive, assert_all_dead, set_params, Track};

/// Runs the baseline and one experiment in `mode`, returning the track and the record.
fn one_experiment(track: Track, mode: &str, value: &str) -> (Track, serde_json::Value) {
    track.run_script(&set_params(mode, value), 1).success();
    let record = track.record(1);
    (track, record)
}

#[test]
fn a_program_that_sleeps_forever_times_out_and_its_tree_dies() {
    let (track, record) = one_experiment(Track::fake(), "sleep", "1");
    assert_eq!(record["status"], "timeout", "{record}");
    assert_eq!(record["exit"], "timeout");
    let pids = track.pids(1);
    assert_eq!(pids.len(), 2, "the shell and its background child");
    assert_all_dead(&pids);
}

#[test]
fn a_program_that_ignores_sigterm_is_killed_after_the_grace() {
    let (track, record) = one_experiment(Track::fake(), "stubborn", "1");
    assert_eq!(record["status"], "timeout", "{record}");
    let wall = record["wall_seconds"].as_f64().expect("wall seconds");
    assert!(
        wall >= 2.9,
        "killed after {wall}s, before timeout (2s) + grace (1s)"
    );
    assert_all_dead(&track.pids(1));
}

#[test]
fn a_grandchild_holding_the_output_open_does_not_hold_up_the_loop() {
    // The grandchild sleeps 60s; waiting for it would also run into the 30s timeout.
    let track = Track::builder().run("timeout", r#""30s""#).build();
    let (track, record) = one_experiment(track, "orphan", "1.5");
    assert_eq!(record["status"], "keep", "{record}");
    assert_eq!(record["metric"], 1.5);
    let wall = record["wall_seconds"].as_f64().expect("wall seconds");
    assert!(wall < 15.0, "the run took {wall}s");
    assert_all_dead(&track.pids(1));
}

#[test]
fn a_grandchild_in_its_own_session_is_killed_too() {
    let track = Track::builder().run("timeout", r#""30s""#).build();
    let (track, record) = one_experiment(track, "detach", "1.5");
    assert_eq!(record["status"], "keep", "{record}");
    let pids = track.pids(1);
    assert!(
        !alive(pids[1]),
        "the setsid grandchild {} survived",
        pids[1]
    );
}

#[test]
fn no_metric_printed_is_no_metric() {
    let (_track, record) = one_experiment(Track::fake(), "silent", "1");
    assert_eq!(record["status"], "no_metric", "{record}");
    assert_eq!(record["metric"], serde_json::Value::Null);
    let note = record["note"].as_str().expect("a note");
    assert!(note.contains("trained, but forgot the summary"), "{note}");
}

#[test]
fn a_nan_metric_is_non_finite() {
    let (track, record) = one_experiment(Track::fake(), "nan", "1");
    assert_eq!(record["status"], "non_finite", "{record}");
    assert_eq!(record["metric"], serde_json::Value::Null);
    // The TSV keeps autoresearch's convention for runs without a metric.
    let row = &track.tsv()[2];
    assert_eq!(row[3], "non_finite");
}

#[test]
fn a_non_zero_exit_is_a_crash_with_the_log_tail_in_the_note() {
    let (track, record) = one_experiment(Track::fake(), "crash", "1");
    assert_eq!(record["status"], "crash", "{record}");
    assert_eq!(record["exit"], "exit 3");
    let note = record["note"].as_str().expect("a note");
    assert!(note.contains("fatal: out of cheese"), "{note}");
    assert_eq!(
        track.tip(),
        track.record(0)["commit"],
        "a crash is not kept"
    );
}

#[test]
fn a_huge_log_is_capped_and_the_metric_still_read() {
    let track = Track::builder().run("timeout", r#""60s""#).build();
    let (track, record) = one_experiment(track, "huge", "1.25");
    assert_eq!(record["status"], "keep", "{record}");
    assert_eq!(record["metric"], 1.25);
    let log = track.run_dir(1).join("run.log");
    let size = std::fs::metadata(&log).expect("the run log").len();
    assert!(size < 70_000_000, "run.log is {size} bytes");
    assert!(size > 1_000_000, "run.log is only {size} bytes");
    let tail = log_tail(&log);
    assert!(tail.ends_with("\n---\nloss: 1.25\n"), "{tail:?}");
}

fn log_tail(path: &std::path::Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).expect("open the log");
    file.seek(SeekFrom::End(-200)).expect("the log is long");
    let mut tail = String::new();
    file.read_to_string(&mut tail).expect("the tail is text");
    tail
}
