//! Parallel runs, two questions in one run:
//!
//! 1. Throughput: a fake trainer that only sleeps B seconds (no CPU contention, so N slots
//!    really can run N at once) and an agent that answers at once; runs per hour with
//!    `--parallel 1, 2, 4`, each as a fraction of N times one loop's. The baseline is one of
//!    the runs, and their number is a multiple of 4, so that every slot has as many.
//! 2. Search quality at equal experiment counts: the sweep on the noisy toy track with
//!    `--parallel 1` and `--parallel 4`, over the same seeds; the mean true loss of what each
//!    kept, with its standard error over the seeds, and the difference.
//!
//! `cargo bench -p swarmlab --bench parallel [-- SEEDS]`

#[path = "support/toy.rs"]
#[allow(dead_code)] // each bench uses its own part of the support module
mod toy;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use swarmlab_testkit::git::Repo;

const TRAIN_SECONDS: f64 = 3.0;
/// Runs per throughput measurement, the baseline included.
const RUNS: u64 = 16;
/// Experiments per search.
const SEARCH_EXPERIMENTS: &str = "50";

const SPEC: &str = r#"
[track]
name = "parallel-bench"
[run]
command = ["sh", "train.sh"]
budget = "3s"
timeout = "30s"
[metric]
name = "loss"
goal = "minimize"
[files]
editable = ["params.txt"]
trusted = ["train.sh"]
"#;

/// Four knobs far enough apart that concurrent changes to different ones merge cleanly.
const PARAMS: &str = "p0 = 0\n#\n#\n#\np1 = 0\n#\n#\n#\np2 = 0\n#\n#\n#\np3 = 0\n";

fn track(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    let train = format!(
        "sleep {TRAIN_SECONDS}\nawk -v s=\"$SWARMLAB_SEED\" 'BEGIN {{ srand(s); print \"---\"; printf \"loss: %.6f\\n\", rand() }}'\n"
    );
    Repo::init(
        &dir,
        &[
            ("swarmlab.toml", SPEC),
            ("params.txt", PARAMS),
            ("train.sh", &train),
        ],
        "bench track",
    );
    dir
}

/// Runs per hour of one `swarmlab run --parallel N`, the baseline counted as a run.
fn throughput(dir: &Path, parallel: u64) -> f64 {
    let script = "k=$((SWARMLAB_INDEX % 4)); sed -i \"s/^p$k = .*/p$k = $SWARMLAB_INDEX/\" params.txt; echo \"p$k -> $SWARMLAB_INDEX\"";
    let start = Instant::now();
    let output = Command::new(toy::SWARMLAB)
        .args(["run", "--proposer", "script", "--script", script])
        .args(["--parallel", &parallel.to_string()])
        .args(["--experiments", &(RUNS - 1).to_string()])
        .arg(dir)
        .output()
        .expect("swarmlab runs");
    let seconds = start.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = toy::records(dir);
    assert_eq!(records.len() as u64, RUNS, "every run was logged");
    let again = records
        .iter()
        .filter(|r| {
            r["note"]
                .as_str()
                .is_some_and(|n| n.contains("measured again"))
        })
        .count();
    eprintln!(
        "  (--parallel {parallel}: {seconds:.2}s, {again} results measured again after a merge)"
    );
    RUNS as f64 * 3600.0 / seconds
}

/// Mean and standard error of the mean.
fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (var / n).sqrt())
}

/// The true (noise-free) loss of what a search kept last.
fn kept_truth(dir: &Path) -> f64 {
    let records = toy::records(dir);
    let kept = records
        .iter()
        .rev()
        .find(|r| r["status"] == "keep")
        .expect("the baseline is kept at least");
    kept["metrics"]["true_loss"]
        .as_f64()
        .expect("the toy prints true_loss")
}

fn main() {
    let seeds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let scratch = tempfile::tempdir().expect("a temp dir");

    println!("throughput: a trainer that sleeps B = {TRAIN_SECONDS}s, an agent that answers at once, {RUNS} runs (baseline included) each");
    let one = throughput(&track(scratch.path(), "p1"), 1);
    println!("  --parallel 1   {one:7.0} runs/hour");
    for n in [2u64, 4] {
        let rate = throughput(&track(scratch.path(), &format!("p{n}")), n);
        println!(
            "  --parallel {n}   {rate:7.0} runs/hour   {:5.3} x N of one loop's",
            rate / (n as f64 * one)
        );
    }

    println!("search: the sweep on the noisy toy track (noise sigma 0.01, optimum 1.0), {SEARCH_EXPERIMENTS} experiments, {seeds} seeds");
    let mut table = Vec::new();
    for parallel in ["1", "4"] {
        let mut truth = Vec::new();
        for seed in 1..=seeds {
            let dir = toy::init(scratch.path(), &format!("search-{parallel}-{seed}"));
            toy::run(
                &dir,
                &[
                    "--seed",
                    &seed.to_string(),
                    "--experiments",
                    SEARCH_EXPERIMENTS,
                    "--parallel",
                    parallel,
                ],
            );
            truth.push(kept_truth(&dir));
        }
        let (mean, se) = mean_se(&truth);
        let median = toy::median(&mut truth);
        println!("  --parallel {parallel}   true loss of the kept config: mean {mean:.4} ± {se:.4} (standard error), median {median:.4}");
        table.push((mean, se));
    }
    let ((one, se_one), (four, se_four)) = (table[0], table[1]);
    let noise = (se_one.powi(2) + se_four.powi(2)).sqrt();
    println!(
        "  --parallel 4 minus --parallel 1: {:+.4}, {:.1} standard errors of the difference",
        four - one,
        (four - one) / noise
    );
}
