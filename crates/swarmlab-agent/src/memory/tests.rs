use std::collections::BTreeMap;

use swarmlab_core::{DiffStat, Goal, Record, Status};

use super::*;

fn record(index: u64, status: Status, metric: Option<f64>, description: &str) -> Record {
    Record {
        index,
        branch: "swarmlab/t".into(),
        commit: format!("{index:040}"),
        parent: String::new(),
        status,
        description: description.into(),
        proposer: "command".into(),
        metric,
        metrics: BTreeMap::new(),
        memory_gb: 0.0,
        peak_rss_bytes: 0,
        wall_seconds: 1.0,
        exit: "exit 0".into(),
        seed: 1,
        diff: DiffStat::default(),
        log: String::new(),
        started_at: String::new(),
        note: None,
        diff_hash: None,
        usage: None,
        slot: None,
        device: None,
    }
}

fn small_history() -> Vec<Record> {
    vec![
        record(0, Status::Keep, Some(2.0), "baseline"),
        record(1, Status::Discard, Some(2.1), "lr 0.002 -> 0.004"),
        record(2, Status::Keep, Some(1.9), "increase width to 256"),
        record(3, Status::Crash, None, "lr 0.002 -> 0.02"),
        record(4, Status::Discard, Some(1.95), "lr 0.002 -> 0.001"),
        record(5, Status::Keep, Some(1.8), "Increase depth to 6"),
        record(6, Status::Timeout, None, "increase width to 1024"),
        record(7, Status::Interrupted, None, "stopped"),
    ]
}

#[test]
fn summary_lists_counts_kept_changes_with_deltas_and_groups() {
    let text = summarize(&small_history(), "loss", Goal::Minimize, 40);
    assert!(
        text.starts_with("Experiments so far: 7 (3 keep, 2 discard, 1 crash, 1 timeout)\n"),
        "{text}"
    );
    assert!(text.contains("Baseline loss: 2.000000; best: 1.800000 (#5, -0.200000 vs baseline)"));
    assert!(
        text.contains("  #2 1.900000 (-0.100000) increase width to 256\n"),
        "{text}"
    );
    // The delta is to the best before it, not to the baseline.
    assert!(
        text.contains("  #5 1.800000 (-0.100000) Increase depth to 6\n"),
        "{text}"
    );
    assert!(
        text.contains("  lr ×3: crash 1, discard 2; best 1.950000 #4 \"lr 0.002 -> 0.001\"\n"),
        "{text}"
    );
    assert!(
        text.contains("  increase width ×1: timeout 1; last #6"),
        "{text}"
    );
    assert!(
        !text.contains("stopped"),
        "interrupted experiments are not listed"
    );
}

#[test]
fn maximize_picks_the_highest_best() {
    let history = vec![
        record(0, Status::Keep, Some(0.5), "baseline"),
        record(1, Status::Keep, Some(0.7), "a"),
        record(2, Status::Discard, Some(0.6), "b"),
    ];
    let text = summarize(&history, "acc", Goal::Maximize, 20);
    assert!(
        text.contains("best: 0.700000 (#1, +0.200000 vs baseline)"),
        "{text}"
    );
}

#[test]
fn summary_of_hundreds_of_experiments_stays_within_its_lines() {
    let mut history = vec![record(0, Status::Keep, Some(10.0), "baseline")];
    let mut best = 10.0;
    for i in 1..=600u64 {
        let (status, metric) = if i % 7 == 0 {
            best -= 0.01;
            (Status::Keep, Some(best))
        } else if i % 11 == 0 {
            (Status::Crash, None)
        } else {
            (Status::Discard, Some(best + 0.5))
        };
        history.push(record(i, status, metric, &format!("knob{} to {i}", i % 37)));
    }
    for max in [6, 20, 60] {
        let text = summarize(&history, "loss", Goal::Minimize, max);
        let lines = text.lines().count();
        assert!(lines <= max, "{lines} lines > {max}:\n{text}");
        assert!(text.contains("Experiments so far: 601"), "{text}");
    }
    let text = summarize(&history, "loss", Goal::Minimize, 60);
    assert!(text.contains("earlier kept changes"), "{text}");
    assert!(text.contains("smaller groups"), "{text}");
    // The newest kept change is always shown.
    assert!(text.contains("  #595 "), "{text}");
}

#[test]
fn empty_history_says_so() {
    assert_eq!(
        summarize(&[], "loss", Goal::Minimize, 10),
        "No experiments have run yet.\n"
    );
}

#[test]
fn group_key_takes_the_knob_or_the_verb_and_its_object() {
    assert_eq!(group_key("lr 0.002 -> 0.003, wd 0.1 -> 0.2"), "lr");
    assert_eq!(group_key("Increase LR to 3e-3"), "increase lr");
    assert_eq!(group_key("**Rotary** embeddings"), "rotary");
    assert_eq!(group_key(""), "(no description)");
}

const DIFF: &str = "--- a/params.txt\n+++ b/params.txt\n-lr = 0.002\n+lr = 0.003\n";

#[test]
fn already_tried_finds_a_measured_experiment_with_the_same_hash() {
    let hash = normalised_diff_hash(DIFF);
    let hex = diff_hash_hex(hash);
    let mut history = vec![
        record(0, Status::Keep, Some(1.0), "baseline"),
        record(1, Status::Invalid, None, "same, but never ran"),
        record(2, Status::Discard, Some(1.1), "same"),
    ];
    for r in history.iter_mut().skip(1) {
        r.diff_hash = Some(hex.clone());
    }
    let found = already_tried(&history, hash).map(|r| r.index);
    assert_eq!(found, Some(2));
    assert!(already_tried(&history, hash ^ 1).is_none());
}
