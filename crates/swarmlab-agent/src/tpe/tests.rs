use std::fs;

use swarmlab_core::{Record, Status, TrackSpec};
use swarmlab_testkit::record::record;

use super::*;
use crate::knobs::change::describe;

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
momentum = { file = "params.txt", pattern = 'momentum = (?P<v>\S+)', range = [0.0, 0.99], scale = "linear" }
width = { file = "params.txt", pattern = 'width = (?P<v>\d+)', choices = ["64", "128", "256"] }
warmup = { file = "params.txt", pattern = 'warmup = (?P<v>\d+)', range = [0, 10], scale = "int" }
"#;

const BASELINE: &str = "lr = 0.001\nmomentum = 0.5\nwidth = 64\nwarmup = 5\n";

fn track() -> (tempfile::TempDir, TrackSpec) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("params.txt"), BASELINE).unwrap();
    fs::write(dir.path().join("swarmlab.toml"), SPEC).unwrap();
    let (spec, _) = TrackSpec::load(dir.path()).unwrap();
    (dir, spec)
}

/// The knob values of the params file, by knob name.
fn values(spec: &TrackSpec, text: &str) -> Vec<(String, String)> {
    spec.knobs
        .iter()
        .map(|k| (k.name.clone(), k.locate(text).unwrap().1.to_string()))
        .collect()
}

fn value<'a>(values: &'a [(String, String)], name: &str) -> &'a str {
    &values.iter().find(|(n, _)| n == name).unwrap().1
}

/// A baseline (commit `c0`, the best) and `n` experiments started from it with knob values
/// drawn uniformly, each measured by `loss`.
fn history(spec: &TrackSpec, n: u64, loss: impl Fn(&[(String, String)]) -> f64) -> Vec<Record> {
    let base = values(spec, BASELINE);
    let mut records = vec![record(0)
        .commit("c0")
        .description("baseline")
        .metric(Some(loss(&base)))
        .build()];
    let mut rng = Rng::new(99);
    for index in 1..=n {
        let drawn: Vec<String> = spec
            .knobs
            .iter()
            .zip(&base)
            .map(|(k, (_, v))| knobs::uniform(k, v, &mut rng))
            .collect();
        let changes: Vec<(usize, &str, &str)> = drawn
            .iter()
            .enumerate()
            .filter(|(i, v)| **v != base[*i].1)
            .map(|(i, v)| (i, base[i].1.as_str(), v.as_str()))
            .collect();
        let ran: Vec<(String, String)> = base
            .iter()
            .zip(&drawn)
            .map(|((name, _), v)| (name.clone(), v.clone()))
            .collect();
        records.push(
            record(index)
                .commit(&format!("c{index}"))
                .parent("c0")
                .status(Status::Discard)
                .proposer("random")
                .description(&describe(&spec.knobs, &changes))
                .metric(Some(loss(&ran)))
                .build(),
        );
    }
    records
}

/// What the proposer makes of `history` at `index` and `seed`, from the baseline's files: the
/// proposal and the params file it wrote.
fn propose(
    spec: &TrackSpec,
    dir: &std::path::Path,
    history: &[Record],
    index: u64,
    seed: u64,
) -> (Proposal, String) {
    fs::write(dir.join("params.txt"), BASELINE).unwrap();
    let ctx = Context {
        spec,
        worktree: dir,
        best_commit: "c0",
        history,
        index,
        seed,
        idea: None,
    };
    let proposal = TpeProposer::new().propose(&ctx).unwrap();
    (
        proposal,
        fs::read_to_string(dir.join("params.txt")).unwrap(),
    )
}

/// Far from the optimum at lr 0.01 and width 256 in both knobs, flat in the others.
fn lr_and_width(values: &[(String, String)]) -> f64 {
    let lr: f64 = value(values, "lr").parse().unwrap();
    let wide = value(values, "width") == "256";
    (lr / 0.01).log10().abs() + if wide { 0.0 } else { 0.5 }
}

#[test]
fn proposals_stay_inside_their_domains_and_types() {
    let (dir, spec) = track();
    for past in [0, 30] {
        let history = history(&spec, past, lr_and_width);
        for index in past + 1..past + 40 {
            let (proposal, text) = propose(&spec, dir.path(), &history, index, 7);
            assert!(matches!(proposal, Proposal::Change { .. }), "{proposal:?}");
            let v = values(&spec, &text);
            let lr: f64 = value(&v, "lr").parse().unwrap();
            assert!((1e-4..=1e-1).contains(&lr), "lr {lr}");
            let momentum: f64 = value(&v, "momentum").parse().unwrap();
            assert!((0.0..=0.99).contains(&momentum), "momentum {momentum}");
            assert!(["64", "128", "256"].contains(&value(&v, "width")), "{text}");
            let warmup: u32 = value(&v, "warmup").parse().expect("an integer warmup");
            assert!(warmup <= 10, "warmup {warmup}");
        }
    }
}

#[test]
fn the_same_history_seed_and_index_give_the_same_proposal_after_a_resume() {
    let (dir, spec) = track();
    let history = history(&spec, 30, lr_and_width);
    let first = propose(&spec, dir.path(), &history, 31, 7);
    // A resumed run reads its history back from results.jsonl.
    let reread: Vec<Record> = history
        .iter()
        .map(|r| serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap())
        .collect();
    assert_eq!(propose(&spec, dir.path(), &reread, 31, 7), first);
    assert_ne!(propose(&spec, dir.path(), &history, 31, 8).1, first.1);
    assert_ne!(propose(&spec, dir.path(), &history, 32, 7).1, first.1);
}

#[test]
fn proposals_concentrate_where_the_history_was_better() {
    let (dir, spec) = track();
    let history = history(&spec, 40, lr_and_width);
    let (mut near, mut wide) = (0u64, 0u64);
    let proposals = 40;
    for index in 41..41 + proposals {
        let (_, text) = propose(&spec, dir.path(), &history, index, 3);
        let v = values(&spec, &text);
        let lr: f64 = value(&v, "lr").parse().unwrap();
        // A decade around 0.01: a third of the lr range, so a third of uniform draws.
        near += u64::from((0.01 / 10f64.sqrt()..=0.01 * 10f64.sqrt()).contains(&lr));
        wide += u64::from(value(&v, "width") == "256");
    }
    assert!(
        near >= proposals * 2 / 3,
        "{near} of {proposals} near lr 0.01"
    );
    assert!(
        wide >= proposals * 2 / 3,
        "{wide} of {proposals} at width 256"
    );
}

#[test]
fn the_first_experiments_are_drawn_at_random() {
    let (dir, spec) = track();
    let history = history(&spec, STARTUP as u64 - 2, lr_and_width);
    let (proposal, _) = propose(&spec, dir.path(), &history, STARTUP as u64 - 1, 7);
    let Proposal::Change { description } = proposal else {
        panic!("expected a change");
    };
    let mut random = crate::SweepProposer::new(crate::sweep::Strategy::Random);
    fs::write(dir.path().join("params.txt"), BASELINE).unwrap();
    let ctx = Context {
        spec: &spec,
        worktree: dir.path(),
        best_commit: "c0",
        history: &history,
        index: STARTUP as u64 - 1,
        seed: 7,
        idea: None,
    };
    assert_eq!(
        random.propose(&ctx).unwrap(),
        Proposal::Change { description },
        "the same draws as random search"
    );
}

#[test]
fn an_idea_written_as_knob_settings_is_tried_as_written() {
    let (dir, spec) = track();
    let history = history(&spec, 30, lr_and_width);
    let ctx = Context {
        spec: &spec,
        worktree: dir.path(),
        best_commit: "c0",
        history: &history,
        index: 31,
        seed: 1,
        idea: Some("width = 128, warmup = 2"),
    };
    assert_eq!(
        TpeProposer::new().propose(&ctx).unwrap(),
        Proposal::Change {
            description: "idea: warmup 5 -> 2, width 64 -> 128".into()
        }
    );
}

#[test]
fn a_track_without_knobs_is_unusable_with_a_clear_reason() {
    let (dir, mut spec) = track();
    spec.knobs.clear();
    let ctx = Context {
        spec: &spec,
        worktree: dir.path(),
        best_commit: "c0",
        history: &[],
        index: 1,
        seed: 1,
        idea: None,
    };
    let message = TpeProposer::new().propose(&ctx).unwrap_err().to_string();
    assert!(
        message.contains("has no [knobs]; the tpe proposer turns knobs"),
        "{message}"
    );
}
