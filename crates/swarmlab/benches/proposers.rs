//! Search efficacy of the knob-turning proposers (`sweep`, `random`, `tpe`) side by side on
//! the noisy toy track: 100 experiments each over the same 10 seeds. For each proposer and
//! each of 25, 50 and 100 experiments, the share of the baseline's distance to the floor
//! (the toy's true optimum, loss 1.0) that the best configuration kept by then has closed, in
//! true (noise-free) loss: the median over seeds, the mean and its standard error, and on how
//! many seeds each proposer beats the sweep.
//!
//! `cargo bench -p swarmlab --bench proposers [-- SEEDS [EXPERIMENTS]]`

#[path = "support/toy.rs"]
#[allow(dead_code)] // each bench uses its own part of the support module
mod toy;

const PROPOSERS: [&str; 3] = ["sweep", "random", "tpe"];
/// The toy's true minimum (`floor` in tracks/toy/swarmlab.toml).
const FLOOR: f64 = 1.0;

/// The share of the baseline's distance to the floor closed after each of `milestones`
/// experiments, by the true loss of what was kept by then.
fn closed(dir: &std::path::Path, milestones: &[u64]) -> Vec<f64> {
    let records = toy::records(dir);
    let true_loss = |r: &serde_json::Value| {
        r["metrics"]["true_loss"]
            .as_f64()
            .expect("the toy prints true_loss")
    };
    let baseline = true_loss(&records[0]);
    milestones
        .iter()
        .map(|&n| {
            let best = records
                .iter()
                .rev()
                .find(|r| r["index"].as_u64().is_some_and(|i| i <= n) && r["status"] == "keep")
                .expect("the baseline is kept");
            (baseline - true_loss(best)) / (baseline - FLOOR)
        })
        .collect()
}

fn main() {
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let seeds = numbers.first().copied().unwrap_or(10);
    let experiments = numbers.get(1).copied().unwrap_or(100);
    let milestones: Vec<u64> = [25, 50, 100]
        .into_iter()
        .map(|m| m * experiments / 100)
        .collect();
    let scratch = tempfile::tempdir().expect("a temp dir");
    let started = std::time::Instant::now();
    // shares[proposer][seed][milestone]
    let mut shares: Vec<Vec<Vec<f64>>> = Vec::new();
    for proposer in PROPOSERS {
        let mut per_seed = Vec::new();
        for seed in 1..=seeds {
            let dir = toy::init(scratch.path(), &format!("{proposer}-{seed}"));
            toy::run(
                &dir,
                &[
                    "--proposer",
                    proposer,
                    "--seed",
                    &seed.to_string(),
                    "--experiments",
                    &experiments.to_string(),
                ],
            );
            per_seed.push(closed(&dir, &milestones));
        }
        shares.push(per_seed);
    }

    println!(
        "share of the baseline's distance to the floor closed, in true loss, on the noisy toy track (noise sigma 0.01): {seeds} seeds, {:.0} s",
        started.elapsed().as_secs_f64()
    );
    toy::print_shares(&PROPOSERS, &shares, &milestones);
}
