//! The embedded toy track end to end: init, run, the results files, git, report.

use crate::harness::Track;

#[test]
fn thirty_experiments_leave_a_branch_of_improvements_and_consistent_results() {
    let track = Track::toy();
    track.swarmlab(&["run", "--experiments", "30"]).success();

    let tsv = track.tsv();
    assert_eq!(
        tsv[0],
        ["commit", "loss", "memory_gb", "status", "description"]
    );
    assert_eq!(tsv.len(), 1 + 31, "a header and 31 rows");
    for row in &tsv {
        assert_eq!(row.len(), 5, "five columns in {row:?}");
    }
    let records = track.records();
    assert_eq!(records.len(), 31);
    for (row, record) in tsv[1..].iter().zip(&records) {
        let commit = record["commit"].as_str().expect("a commit");
        assert!(commit.starts_with(&row[0]), "{row:?} vs {record}");
        assert_eq!(row[3], record["status"].as_str().expect("a status"));
    }

    // The branch holds exactly the kept experiments, in order, each better than its parent.
    let kept: Vec<_> = records.iter().filter(|r| r["status"] == "keep").collect();
    assert!(
        kept.len() >= 2,
        "the sweep found no improvement in 30 tries"
    );
    assert_eq!(kept[0]["index"], 0);
    assert_eq!(kept[0]["commit"].as_str(), Some(track.rev("main").as_str()));
    let on_branch = track.git(&["rev-list", "--reverse", "--parents", "main..swarmlab/main"]);
    let on_branch: Vec<Vec<&str>> = on_branch.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(on_branch.len(), kept.len() - 1, "{on_branch:?}");
    for (pair, line) in kept.windows(2).zip(&on_branch) {
        let (parent, child) = (pair[0], pair[1]);
        assert_eq!(line[0], child["commit"].as_str().expect("a commit"));
        assert_eq!(line[1..], [parent["commit"].as_str().expect("a commit")]);
        assert_eq!(child["parent"], parent["commit"]);
        let (before, after) = (
            parent["metric"].as_f64().expect("a metric"),
            child["metric"].as_f64().expect("a metric"),
        );
        assert!(after < before, "kept {after} after {before}");
    }
    assert_eq!(track.tip(), kept.last().expect("kept")["commit"]);
    assert_eq!(track.porcelain(), "", "results are untracked but excluded");

    let out = track.swarmlab(&["report"]).success();
    assert!(out.stdout.contains("31 experiments"), "{out}");
    let svg = track.read("progress.svg");
    let doc = roxmltree::Document::parse(&svg).expect("progress.svg is XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let points = |class: &str| {
        doc.descendants()
            .filter(|n| {
                n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|c| c == class))
            })
            .count()
    };
    let count = |status: &str| records.iter().filter(|r| r["status"] == status).count();
    assert_eq!(points("kept"), count("keep"));
    assert_eq!(points("discarded"), count("discard"));
    let summary = track.read("summary.md");
    assert!(summary.contains("Experiments: 31"), "{summary}");
}

#[test]
fn a_duplicate_proposal_is_skipped_and_the_sweep_moves_on() {
    let track = Track::toy();
    let out = track.swarmlab(&["run", "--experiments", "100"]).success();
    assert!(
        out.stderr
            .contains("skipped: the same change as experiment"),
        "no duplicate met: {out}"
    );
    assert_eq!(track.records().len(), 101, "the loop gave up on duplicates");
    let mut hashes: Vec<&str> = Vec::new();
    let records = track.records();
    for record in records.iter().skip(1) {
        hashes.push(record["diff_hash"].as_str().expect("a diff hash"));
    }
    let kept_and_measured = hashes.len();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), kept_and_measured, "a duplicate ran");
}

/// The `(status, description)` of every experiment after the baseline.
fn outcomes(track: &Track) -> Vec<(String, String)> {
    track
        .records()
        .iter()
        .skip(1)
        .map(|r| {
            let text = |key: &str| r[key].as_str().expect("a string").to_string();
            (text("status"), text("description"))
        })
        .collect()
}

#[test]
fn the_tpe_proposer_improves_on_the_baseline_and_resumes_where_it_stopped() {
    let track = Track::toy();
    let run = ["run", "--proposer", "tpe", "--seed", "5", "--experiments"];
    track.swarmlab(&[&run[..], &["20"]].concat()).success();

    let records = track.records();
    assert_eq!(records.len(), 21);
    assert_eq!(track.tsv().len(), 1 + 21, "a header and a row per record");
    let true_loss = |r: &serde_json::Value| r["metrics"]["true_loss"].as_f64().expect("printed");
    let kept: Vec<_> = records.iter().filter(|r| r["status"] == "keep").collect();
    let best = kept.last().expect("the baseline is kept");
    assert!(
        true_loss(best) < true_loss(&records[0]) - 0.1,
        "tpe kept nothing clearly better than the baseline: {best}"
    );
    // Each experiment started from the best before it and says which knobs it turned.
    let mut parent = records[0]["commit"].clone();
    for record in &records[1..] {
        assert_eq!(record["proposer"], "tpe");
        assert_eq!(record["parent"], parent, "{record}");
        let description = record["description"].as_str().expect("a description");
        assert!(description.contains(" -> "), "{description}");
        if record["status"] == "keep" {
            parent = record["commit"].clone();
        }
    }
    assert_eq!(track.tip(), parent.as_str().expect("a commit"));

    // Stopped after 8 and run again, it proposes what the uninterrupted run did.
    let resumed = Track::toy();
    resumed.swarmlab(&[&run[..], &["8"]].concat()).success();
    resumed.swarmlab(&[&run[..], &["12"]].concat()).success();
    assert_eq!(outcomes(&resumed), outcomes(&track));
}

#[test]
fn screening_runs_only_promoted_changes_in_full_and_resumes_alike() {
    let track = Track::toy();
    let run = [
        "run",
        "--proposer",
        "tpe",
        "--seed",
        "5",
        "--screen",
        "0.5",
        "-n",
    ];
    track.swarmlab(&[&run[..], &["12"]].concat()).success();

    let records = track.records();
    assert_eq!(records.len(), 13);
    assert!(
        records[0]["metrics"].get("screen_loss").is_none(),
        "the baseline runs in full"
    );
    let mut screens = Vec::new();
    for record in &records[1..] {
        let screen = record["metrics"]["screen_loss"].as_f64();
        let screen = screen.unwrap_or_else(|| panic!("no screen in {record}"));
        // Promoted exactly when among the best third of the screens so far, ties included.
        let ahead = screens.iter().filter(|&&s| s < screen).count();
        let promoted = ahead < (screens.len() + 1).div_ceil(3);
        screens.push(screen);
        if promoted {
            assert!(record["metric"].as_f64().is_some(), "{record}");
            assert!(record["metrics"]["loss"].as_f64().is_some(), "{record}");
        } else {
            assert_eq!(record["status"], "discard", "{record}");
            assert!(record["metric"].is_null(), "{record}");
            let note = record["note"].as_str().expect("a note");
            assert!(note.starts_with("screened out: loss "), "{note}");
            assert!(note.contains("at 50% of the budget"), "{note}");
            let log = record["log"].as_str().expect("a log");
            assert!(log.ends_with("/screen/run.log"), "{log}");
            assert!(track.path(log).exists(), "{log}");
        }
    }
    let full = records[1..]
        .iter()
        .filter(|r| !r["metric"].is_null())
        .count();
    assert!((1..12).contains(&full), "{full} of 12 promoted");

    // Stopped after 5 and run again, it screens and promotes what the uninterrupted run did.
    let resumed = Track::toy();
    resumed.swarmlab(&[&run[..], &["5"]].concat()).success();
    resumed.swarmlab(&[&run[..], &["7"]].concat()).success();
    assert_eq!(outcomes(&resumed), outcomes(&track));
    let notes = |t: &Track| -> Vec<serde_json::Value> {
        t.records().iter().map(|r| r["note"].clone()).collect()
    };
    assert_eq!(notes(&resumed), notes(&track));
}

#[test]
fn a_screen_outside_zero_to_one_or_beside_parallel_runs_is_refused() {
    let track = Track::toy();
    for bad in ["0", "1", "1.5", "-0.2", "half"] {
        let out = track.swarmlab(&["run", "-n", "1", &format!("--screen={bad}")]);
        assert_eq!(out.code, 2, "{out}");
        assert!(
            out.stderr.contains("is not a fraction of the budget"),
            "{out}"
        );
    }
    let out = track.swarmlab(&["run", "-n", "1", "--screen", "0.5", "--parallel", "2"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("cannot be used with"), "{out}");
    assert!(!track.path("results.jsonl").exists(), "nothing ran");
}
