//! Shared by the benches: a fresh track made by the real binary (the toy unless named),
//! reading its results, and the few statistics their tables print.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const SWARMLAB: &str = env!("CARGO_BIN_EXE_swarmlab");

/// `swarmlab init --track toy` into a new folder under `parent`.
pub fn init(parent: &Path, name: &str) -> PathBuf {
    init_track(parent, name, "toy")
}

/// `swarmlab init --track TRACK` into a new folder under `parent`.
pub fn init_track(parent: &Path, name: &str, track: &str) -> PathBuf {
    let dir = parent.join(name);
    let status = Command::new(SWARMLAB)
        .args(["init", "--track", track])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("swarmlab runs");
    assert!(status.success(), "swarmlab init failed");
    dir
}

/// Runs `swarmlab run DIR ARGS...` quietly and panics when it fails.
pub fn run(dir: &Path, args: &[&str]) {
    let output = Command::new(SWARMLAB)
        .arg("run")
        .arg(dir)
        .args(args)
        .output()
        .expect("swarmlab runs");
    assert!(
        output.status.success(),
        "swarmlab run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every record of results.jsonl, as JSON values.
pub fn records(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .expect("results.jsonl exists")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record per line"))
        .collect()
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The mean of `values` and its standard error.
pub fn mean_and_error(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (variance / n).sqrt())
}

/// The efficacy table: for each proposer (the sweep first) and milestone, the share closed
/// as median, mean and its standard error over the seeds, and on how many seeds it beats the
/// sweep at the last milestone. `shares[proposer][seed][milestone]`.
pub fn print_shares(proposers: &[&str], shares: &[Vec<Vec<f64>>], milestones: &[u64]) {
    let width = proposers.iter().map(|p| p.len()).max().unwrap_or(8).max(8);
    print!("  {:<width$}", "proposer");
    for m in milestones {
        print!("  {:>28}", format!("after {m}: median, mean ± se"));
    }
    let last = milestones.len() - 1;
    println!("  {:>16}", format!("> sweep at {}", milestones[last]));
    for (p, proposer) in proposers.iter().enumerate() {
        print!("  {proposer:<width$}");
        for k in 0..milestones.len() {
            let mut column: Vec<f64> = shares[p].iter().map(|s| s[k]).collect();
            let (mean, error) = mean_and_error(&column);
            let median = median(&mut column);
            print!("  {:>28}", format!("{median:.3}, {mean:.3} ± {error:.3}"));
        }
        let seeds = shares[p].len();
        let wins = (0..seeds)
            .filter(|&s| shares[p][s][last] > shares[0][s][last])
            .count();
        println!("  {:>16}", format!("{wins} of {seeds}"));
    }
}
