//! Shared by the benches: a fresh toy track made by the real binary, and reading its results.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const SWARMLAB: &str = env!("CARGO_BIN_EXE_swarmlab");

/// `swarmlab init --track toy` into a new folder under `parent`.
pub fn init(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    let status = Command::new(SWARMLAB)
        .args(["init", "--track", "toy"])
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
