//! Search quality: the sweep proposer ((1+1)-ES) against uniform random search over the same
//! knobs of the noisy toy track, 50 experiments each, over 10 seeds. Reports the median over
//! seeds of the best measured loss (what the loop kept) and of the true (noise-free) loss of
//! the kept configuration.
//!
//! `cargo bench -p swarmlab --bench sweep_vs_random [-- SEEDS]`

#[path = "support/toy.rs"]
mod toy;

const EXPERIMENTS: &str = "50";

/// The best kept record's measured and true loss.
fn best_of(dir: &std::path::Path) -> (f64, f64) {
    let records = toy::records(dir);
    let kept = records
        .iter()
        .rev()
        .find(|r| r["status"] == "keep")
        .expect("the baseline is kept at least");
    let measured = kept["metric"].as_f64().expect("a kept record has a metric");
    let truth = kept["metrics"]["true_loss"]
        .as_f64()
        .expect("the toy prints true_loss");
    (measured, truth)
}

fn main() {
    let seeds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let scratch = tempfile::tempdir().expect("a temp dir");
    let mut table = Vec::new();
    for proposer in ["sweep", "random"] {
        let (mut measured, mut truth) = (Vec::new(), Vec::new());
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
                    EXPERIMENTS,
                ],
            );
            let (m, t) = best_of(&dir);
            measured.push(m);
            truth.push(t);
        }
        table.push((
            proposer,
            toy::median(&mut measured),
            toy::median(&mut truth),
        ));
    }
    println!("search on the noisy toy track (noise sigma 0.01, optimum 1.0): {EXPERIMENTS} experiments, {seeds} seeds");
    println!("  proposer   median best measured   median true loss of the kept config");
    for (name, measured, truth) in &table {
        println!("  {name:<9}  {measured:20.4}   {truth:20.4}");
    }
    let (sweep, random) = (table[0].2, table[1].2);
    println!(
        "  excess true loss above the optimum, random / sweep: {:.2}x",
        (random - 1.0) / (sweep - 1.0)
    );
}
