//! Search efficacy of the knob-turning proposers on tinygpt under a step budget: the same
//! table as the toy's `proposers` bench, on the real default track. For each proposer and each
//! of 25, 50 and 100 experiments, the share of the baseline's distance to the entropy floor
//! (`entropy_floor_bpb`, about 0.920) that the best configuration kept by then has closed, in
//! val_bpb: the median over seeds, the mean and its standard error, and on how many seeds each
//! proposer beats the sweep. `tpe+screen` is `tpe` with successive halving (`--screen 0.25`):
//! its milestones count cost in full runs (a screen a quarter of one), not experiments, and
//! it runs in pieces of at most 10 experiments, each a resumed `swarmlab run`. The training
//! seed is the track's, so a configuration's val_bpb is
//! the same every time it runs, and a step budget makes the result independent of the load.
//!
//! One build for all of it: tinygpt is built once (testkit's, in `target/tinygpt`) and each
//! experiment runs that binary with `TINYGPT_KNOBS_FROM=src/train.rs`, so that the constants the
//! proposer wrote into the experiment's own `src/train.rs` are the ones it trains with (the
//! track's `train.rs` reads them; its tests check that this equals building the edit). The
//! proposers work as in any run: knobs, commits, the history.
//!
//! `cargo bench -p swarmlab --bench tinygpt_efficacy [-- SEEDS [EXPERIMENTS [STEPS]]]`
//! (default 2 seeds, 100 experiments, 200 steps). Under `cargo test` (no `--bench` argument)
//! it runs a quick pass of each proposer, 2 experiments of 5 steps, and checks the records.

#[path = "support/toy.rs"]
#[allow(dead_code)] // each bench uses its own part of the support module
mod toy;

use std::path::Path;

/// The columns: a name, and the proposer's arguments to `swarmlab run`.
const PROPOSERS: [(&str, &[&str]); 4] = [
    ("sweep", &["--proposer", "sweep"]),
    ("random", &["--proposer", "random"]),
    ("tpe", &["--proposer", "tpe"]),
    ("tpe+screen", &["--proposer", "tpe", "--screen", "0.25"]),
];
/// The share of the budget of `tpe+screen`'s screening runs.
const SCREEN: f64 = 0.25;

/// Points the track's run at the prebuilt `binary`: no setup or build, the knobs read from the
/// experiment's own `src/train.rs`, each run on one thread (the columns run side by side).
fn use_prebuilt(dir: &Path, binary: &Path, steps: u64) {
    let path = dir.join("swarmlab.toml");
    let spec = std::fs::read_to_string(&path).expect("swarmlab.toml exists");
    let mut out = String::new();
    for line in spec.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        match key {
            "setup" | "setup_timeout" | "build" | "build_dir" | "toolchain" => {}
            "command" => out.push_str(&format!(
                "command = [{:?}, \"train\"]\nenv = {{ TINYGPT_KNOBS_FROM = \"src/train.rs\", RAYON_NUM_THREADS = \"1\" }}\n",
                binary.display().to_string()
            )),
            "budget" => out.push_str(&format!("budget = {{ steps = {steps} }}\n")),
            "timeout" => out.push_str("timeout = \"3m\"\n"),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    std::fs::write(&path, out).expect("swarmlab.toml is writable");
    let status = std::process::Command::new("git")
        .args(["commit", "-qam", "run the prebuilt tinygpt"])
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git commit failed");
}

fn metric(record: &serde_json::Value, key: &str) -> Option<f64> {
    record["metrics"][key].as_f64()
}

/// What experiment `record` cost, in full runs: a screened-out one the screen's share of the
/// budget, a promoted one that and a full run.
fn cost(record: &serde_json::Value) -> f64 {
    let screened = metric(record, "screen_val_bpb").is_some();
    let full = !screened || metric(record, "val_bpb").is_some();
    f64::from(u8::from(full)) + if screened { SCREEN } else { 0.0 }
}

/// The experiments (the baseline not counted) run so far, and what they cost in full runs.
fn spent(records: &[serde_json::Value]) -> (u64, f64) {
    let experiments = records.len().saturating_sub(1);
    (experiments as u64, records.iter().skip(1).map(cost).sum())
}

/// The share of the baseline's distance to the floor closed once each of `milestones` full
/// runs' worth of experiments was spent, by the val_bpb of what was kept by then.
fn closed(records: &[serde_json::Value], milestones: &[u64]) -> Vec<f64> {
    let baseline = metric(&records[0], "val_bpb").expect("the baseline is measured");
    let floor = metric(&records[0], "entropy_floor_bpb").expect("tinygpt prints its floor");
    milestones
        .iter()
        .map(|&n| {
            let mut spent = 0.0;
            let mut best = baseline;
            for record in &records[1..] {
                spent += cost(record);
                if spent > n as f64 + 1e-9 {
                    break;
                }
                if record["status"] == "keep" {
                    best = metric(record, "val_bpb").expect("a kept run is measured");
                }
            }
            (baseline - best) / (baseline - floor)
        })
        .collect()
}

/// One column on every seed: `shares[seed][milestone]`, and the best val_bpb it saw. Each
/// seed's records stay in `scratch/NAME-SEED` and its shares are printed as they come.
fn column(
    scratch: &Path,
    (name, proposer): (&str, &[&str]),
    binary: &Path,
    (seeds, experiments, steps): (u64, u64, u64),
    milestones: &[u64],
) -> (Vec<Vec<f64>>, f64) {
    let mut per_seed = Vec::new();
    let mut best = f64::INFINITY;
    for seed in 1..=seeds {
        let dir = toy::init_track(scratch, &format!("{name}-{seed}"), "tinygpt");
        use_prebuilt(&dir, binary, steps);
        // In pieces of at most 10, each a resumed run, until the experiments cost as many
        // full runs as asked.
        let mut records = Vec::new();
        while spent(&records).1 < experiments as f64 - 1e-9 {
            let left = experiments as f64 - spent(&records).1;
            let chunk = (left.ceil() as u64).min(10).to_string();
            let seed = seed.to_string();
            let args = [proposer, &["--seed", &seed, "--experiments", &chunk]].concat();
            toy::run(&dir, &args);
            let before = records.len();
            records = toy::records(&dir);
            let best = records.iter().rfind(|r| r["status"] == "keep");
            eprintln!(
                "{name} seed {seed}: {:?} (experiments, cost), best kept val_bpb {:?}",
                spent(&records),
                best.and_then(|r| metric(r, "val_bpb"))
            );
            if records.len() == before {
                eprintln!("{name} seed {seed}: the proposer has nothing more to propose");
                break;
            }
        }
        let (ran, cost) = spent(&records);
        best = records
            .iter()
            .filter_map(|r| metric(r, "val_bpb"))
            .fold(best, f64::min);
        let shares = closed(&records, milestones);
        eprintln!("{name} seed {seed}: {ran} experiments costing {cost:.2} full runs, shares closed {shares:.3?}");
        per_seed.push(shares);
    }
    (per_seed, best)
}

/// Every column on every seed, the columns side by side (each run on one thread):
/// `shares[proposer][seed][milestone]`, and the best val_bpb seen.
fn measure(binary: &Path, sizes: (u64, u64, u64), milestones: &[u64]) -> (Vec<Vec<Vec<f64>>>, f64) {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let dir = scratch.path();
    let columns: Vec<(Vec<Vec<f64>>, f64)> = std::thread::scope(|scope| {
        let running: Vec<_> = PROPOSERS
            .iter()
            .map(|&p| scope.spawn(move || column(dir, p, binary, sizes, milestones)))
            .collect();
        running
            .into_iter()
            .map(|r| r.join().expect("a column finished"))
            .collect()
    });
    let best = columns.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    (columns.into_iter().map(|c| c.0).collect(), best)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = !args.iter().any(|a| a == "--bench");
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let (seeds, experiments, steps) = if quick {
        (1, 2, 5)
    } else {
        (
            numbers.first().copied().unwrap_or(2),
            numbers.get(1).copied().unwrap_or(100),
            numbers.get(2).copied().unwrap_or(200),
        )
    };
    let milestones: Vec<u64> = [25, 50, 100]
        .into_iter()
        .map(|m| (m * experiments / 100).max(1))
        .collect();
    let binary = swarmlab_testkit::tinygpt::tinygpt();
    let started = std::time::Instant::now();
    let (shares, best) = measure(&binary, (seeds, experiments, steps), &milestones);
    for share in shares.iter().flatten().flatten() {
        assert!(share.is_finite() && *share < 1.0, "a share of {share}");
    }

    println!(
        "share of the baseline's distance to the entropy floor closed, in val_bpb, on tinygpt at {steps} steps: {seeds} seeds, best val_bpb {best:.4}, {:.0} s",
        started.elapsed().as_secs_f64()
    );
    toy::print_shares(&PROPOSERS.map(|(name, _)| name), &shares, &milestones);
}
