use std::fs;

use swarmlab_core::{Record, TrackSpec};

use super::*;

const SPEC: &str = r#"
[track]
name = "t"
[run]
command = ["true"]
budget = "1s"
timeout = "2s"
[metric]
name = "loss"
goal = "minimize"
[files]
editable = ["params.txt"]
[knobs]
lr = { file = "params.txt", pattern = 'lr = (?P<v>\S+)', range = [1e-4, 1e-1], scale = "log" }
width = { file = "params.txt", pattern = 'width = (?P<v>\d+)', choices = ["64", "128", "256"] }
warmup = { file = "params.txt", pattern = 'warmup = (?P<v>\d+)', range = [0, 10], scale = "int" }
"#;

fn track() -> (tempfile::TempDir, TrackSpec) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("params.txt"),
        "lr = 0.003\nwidth = 128\nwarmup = 5\n",
    )
    .unwrap();
    fs::write(dir.path().join("swarmlab.toml"), SPEC).unwrap();
    let (spec, _) = TrackSpec::load(dir.path()).unwrap();
    (dir, spec)
}

fn propose(
    strategy: Strategy,
    spec: &TrackSpec,
    dir: &std::path::Path,
    index: u64,
    history: &[Record],
) -> Proposal {
    let ctx = Context {
        spec,
        worktree: dir,
        best_commit: "HEAD",
        history,
        index,
        seed: 42,
        idea: None,
    };
    SweepProposer::new(strategy).propose(&ctx).unwrap()
}

#[test]
fn a_proposal_changes_values_inside_their_domains_and_describes_them() {
    let (dir, spec) = track();
    for index in 1..40 {
        fs::write(
            dir.path().join("params.txt"),
            "lr = 0.003\nwidth = 128\nwarmup = 5\n",
        )
        .unwrap();
        let Proposal::Change { description } =
            propose(Strategy::Evolution, &spec, dir.path(), index, &[])
        else {
            panic!("expected a change");
        };
        let text = fs::read_to_string(dir.path().join("params.txt")).unwrap();
        assert_ne!(text, "lr = 0.003\nwidth = 128\nwarmup = 5\n");
        for knob in &spec.knobs {
            let (_, value) = knob.locate(&text).unwrap();
            match &knob.domain {
                Domain::Choices(c) => assert!(c.iter().any(|x| x == value), "{value}"),
                Domain::Range { low, high, .. } => {
                    let x: f64 = value.parse().unwrap();
                    assert!(x >= *low && x <= *high, "{} = {x}", knob.name);
                }
            }
        }
        for change in description.split(", ") {
            let (name_old, new) = change.split_once(" -> ").expect("`name old -> new`");
            let (_, old) = name_old.split_once(' ').unwrap();
            assert_ne!(old, new, "{description}");
        }
    }
}

#[test]
fn the_same_seed_and_index_give_the_same_proposal() {
    let (dir, spec) = track();
    let first = propose(Strategy::Evolution, &spec, dir.path(), 7, &[]);
    fs::write(
        dir.path().join("params.txt"),
        "lr = 0.003\nwidth = 128\nwarmup = 5\n",
    )
    .unwrap();
    let second = propose(Strategy::Evolution, &spec, dir.path(), 7, &[]);
    assert_eq!(first, second);
}

#[test]
fn random_search_draws_every_knob() {
    let (dir, spec) = track();
    let Proposal::Change { description } = propose(Strategy::Random, &spec, dir.path(), 1, &[])
    else {
        panic!("expected a change");
    };
    assert!(description.contains("lr 0.003 -> "), "{description}");
}

#[test]
fn step_size_follows_the_one_fifth_rule() {
    let sweep = SweepProposer::new(Strategy::Evolution);
    let record = |index, status| Record {
        index,
        branch: "b".into(),
        commit: "c".into(),
        parent: "p".into(),
        status,
        description: String::new(),
        proposer: "sweep".into(),
        metric: None,
        metrics: Default::default(),
        memory_gb: 0.0,
        peak_rss_bytes: 0,
        wall_seconds: 0.0,
        exit: String::new(),
        seed: 0,
        diff: Default::default(),
        log: String::new(),
        started_at: String::new(),
        note: None,
        diff_hash: None,
        usage: None,
        slot: None,
        device: None,
    };
    assert_eq!(sweep.step_size(&[]), INITIAL_STEP);
    let kept = [record(0, Status::Keep), record(1, Status::Keep)];
    assert!(
        (sweep.step_size(&kept) - INITIAL_STEP * 1.5).abs() < 1e-12,
        "the baseline does not count"
    );
    let four_failures: Vec<Record> = (1..=4).map(|i| record(i, Status::Discard)).collect();
    assert!((sweep.step_size(&four_failures) - INITIAL_STEP / 1.5).abs() < 1e-12);
}

#[test]
fn values_keep_the_style_of_the_text_they_replace() {
    assert_eq!(format_value(0.0031234, Scale::Log, "0.003"), "0.003123");
    assert_eq!(format_value(3.0, Scale::Linear, "2.5"), "3.0");
    assert_eq!(format_value(0.00031234, Scale::Log, "3e-4"), "3.12e-4");
    assert_eq!(format_value(41.6, Scale::Int, "40"), "42");
    assert_eq!(format_value(123.456, Scale::Linear, "100.0"), "123.5");
}

#[test]
fn a_track_without_knobs_is_unusable_with_a_clear_reason() {
    let (dir, mut spec) = track();
    spec.knobs.clear();
    let ctx = Context {
        spec: &spec,
        worktree: dir.path(),
        best_commit: "HEAD",
        history: &[],
        index: 1,
        seed: 1,
        idea: None,
    };
    let message = SweepProposer::new(Strategy::Evolution)
        .propose(&ctx)
        .unwrap_err()
        .to_string();
    assert!(message.contains("has no [knobs]"), "{message}");
}

fn propose_idea(
    strategy: Strategy,
    spec: &TrackSpec,
    dir: &std::path::Path,
    idea: &str,
) -> Proposal {
    let ctx = Context {
        spec,
        worktree: dir,
        best_commit: "HEAD",
        history: &[],
        index: 1,
        seed: 42,
        idea: Some(idea),
    };
    SweepProposer::new(strategy).propose(&ctx).unwrap()
}

#[test]
fn an_idea_written_as_knob_settings_is_tried_as_written() {
    for strategy in [Strategy::Evolution, Strategy::Random] {
        let (dir, spec) = track();
        let proposal = propose_idea(
            strategy,
            &spec,
            dir.path(),
            "lr = 0.02; width: 256\nwarmup -> 0.",
        );
        assert_eq!(
            proposal,
            Proposal::Change {
                description: "idea: lr 0.003 -> 0.02, warmup 5 -> 0, width 128 -> 256".into()
            }
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("params.txt")).unwrap(),
            "lr = 0.02\nwidth = 256\nwarmup = 0\n"
        );
    }
}

#[test]
fn an_idea_in_prose_leaves_the_sweep_to_step_as_usual() {
    let (dir, spec) = track();
    let Proposal::Change { description } = propose_idea(
        Strategy::Evolution,
        &spec,
        dir.path(),
        "Note: try a deeper model, it may help",
    ) else {
        panic!("the sweep stepped");
    };
    assert!(!description.starts_with("idea: "), "{description}");
}

#[test]
fn an_idea_with_a_bad_setting_says_what_the_track_allows_and_changes_nothing() {
    let cases = [
        ("lr = 0.5", "takes values from 0.0001 to 0.1"),
        ("warmup = 2.5", "takes an integer values from 0 to 10"),
        ("width = 96", "not one of its choices (64, 128, 256)"),
        (
            "lr = 0.01, lrr = 0.02",
            "`lrr`, which is not a knob of this track (its knobs: lr, warmup, width)",
        ),
        ("lr = fast", "not a number"),
        ("lr = 0.003", "what the best already has"),
    ];
    for (idea, says) in cases {
        let (dir, spec) = track();
        match propose_idea(Strategy::Evolution, &spec, dir.path(), idea) {
            Proposal::Nothing { reason } => assert!(reason.contains(says), "{idea}: {reason}"),
            other => panic!("{idea}: {other:?}"),
        }
        assert_eq!(
            fs::read_to_string(dir.path().join("params.txt")).unwrap(),
            "lr = 0.003\nwidth = 128\nwarmup = 5\n",
            "{idea}"
        );
    }
}
