//! Pipelining: the next change is drafted in a side worktree while an experiment runs, then
//! brought into the track, rebased onto a kept experiment, or re-proposed on a conflict.

use crate::harness::Track;

/// A script agent that lowers `value` a little each time, so most experiments are kept.
const IMPROVING: &str = r#"printf "mode = good\nvalue = 1.%03d\n" $((900 - SWARMLAB_INDEX)) > params.txt && echo "value down, try $SWARMLAB_INDEX""#;

#[test]
fn drafts_made_during_a_run_are_rebased_or_re_proposed_and_the_chain_stays_sound() {
    let track = Track::fake();
    let out = track
        .swarmlab(&[
            "run",
            "--proposer",
            "script",
            "--script",
            IMPROVING,
            "--pipeline",
            "on",
            "--experiments",
            "6",
        ])
        .success();
    // Every draft edits the line the kept experiment changed: each must be re-proposed.
    assert!(out.stderr.contains("no longer applies"), "{out}");
    let statuses = track.statuses();
    assert_eq!(statuses.len(), 7, "{out}");
    assert!(statuses.iter().all(|s| s == "keep"), "{statuses:?}");
    let metrics: Vec<f64> = track
        .records()
        .iter()
        .map(|r| r["metric"].as_f64().expect("a metric"))
        .collect();
    assert!(metrics.windows(2).all(|w| w[1] < w[0]), "{metrics:?}");
    assert_eq!(track.tip(), track.records()[6]["commit"].as_str().unwrap());
    assert_eq!(track.porcelain(), "");
    let worktrees = track.git(&["worktree", "list"]);
    assert!(
        worktrees.contains(".swarmlab/worktrees/main"),
        "{worktrees}"
    );
}

#[test]
fn a_draft_made_while_a_discarded_experiment_ran_applies_unchanged() {
    let track = Track::fake();
    // Odd experiments are worse (discarded); even ones improve on the baseline.
    let script = r#"if [ $((SWARMLAB_INDEX % 2)) = 1 ]; then v=3.0; else v=1.$((500 - SWARMLAB_INDEX)); fi; printf "mode = good\nvalue = %s\n" $v > params.txt && echo "value $v""#;
    let out = track
        .swarmlab(&[
            "run",
            "--proposer",
            "script",
            "--script",
            script,
            "--pipeline",
            "on",
            "--experiments",
            "4",
        ])
        .success();
    assert_eq!(
        track.statuses(),
        ["keep", "discard", "keep", "discard", "keep"],
        "{out}"
    );
    // The draft of #2 was made during #1, which was discarded: it applied as drafted.
    assert_eq!(track.record(2)["description"], "value 1.498");
    assert_eq!(track.porcelain(), "");
}
