//! What verifying a tinygpt run in `logits` mode costs next to its training budget: the
//! trusted generator of the tokens, the server's start-up, the causality probe (phase 1) and
//! scoring with its spot checks (phase 2), each as a ratio to the budget, measured in one run.
//!
//! ```sh
//! cargo bench -p swarmlab-eval --bench logits [-- BUDGET_SECONDS]   # default 20
//! ```
//!
//! tinygpt is built into `$SWARMLAB_TINYGPT_TARGET` (default `target/tinygpt`), as the tests
//! do. The settings are the track's: windows of 256 bytes, 16 per request, 8 probes.

use std::process::Command;
use std::time::{Duration, Instant};

use swarmlab_eval::{collect_stdout, decode_tokens, score_logits, LogitsConfig};
use swarmlab_runner::{Cancel, RunSpec};
use swarmlab_testkit::tinygpt;

fn main() {
    let budget: f64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("BUDGET_SECONDS is a number"))
        .unwrap_or(20.0);
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = tinygpt::tinygpt();
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "2".into());
    let checkpoint = dir.path().join("checkpoint.safetensors");

    let started = Instant::now();
    let out = Command::new(&bin)
        .args(["train", "--checkpoint"])
        .arg(&checkpoint)
        .env("SWARMLAB_BUDGET_SECONDS", budget.to_string())
        .env_remove("SWARMLAB_BUDGET_STEPS")
        .env_remove("SWARMLAB_BUDGET_TOKENS")
        .env("RAYON_NUM_THREADS", &threads)
        .output()
        .expect("tinygpt runs");
    let train_wall = started.elapsed();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{summary}");
    let key = |k: &str| -> f64 {
        summary
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };

    let spec = |command: Vec<String>, log: &str| {
        let mut spec = RunSpec::new(
            command,
            dir.path(),
            dir.path().join(log),
            Duration::from_secs(600),
        );
        spec.env = vec![("RAYON_NUM_THREADS".into(), threads.clone())];
        spec
    };
    let started = Instant::now();
    let data = spec(vec![bin.display().to_string(), "tokens".into()], "data.log");
    let bytes = collect_stdout(&data, 1 << 24, &Cancel::new()).expect("tokens");
    let tokens = decode_tokens(&bytes, 256).expect("bytes are tokens");
    let data_time = started.elapsed();

    let config = LogitsConfig {
        vocab: 256,
        context: 256,
        token_bytes: vec![1; 256],
        windows: None,
        batch: 16,
        probes: 8,
        tolerance: 1e-4,
        seed: 1,
        serve_within: None,
    };
    let server = spec(
        vec![
            bin.display().to_string(),
            "serve-logits".into(),
            "--checkpoint".into(),
            checkpoint.display().to_string(),
        ],
        "server.log",
    );
    let started = Instant::now();
    let score =
        score_logits(&server, &tokens, &config, &Cancel::new()).expect("an honest model passes");
    let eval_wall = started.elapsed();

    let ratio = |d: Duration| d.as_secs_f64() / budget;
    let row = |name: &str, d: Duration| {
        println!(
            "{name:<28} {:>8.3} s  {:>7.2}% of the budget",
            d.as_secs_f64(),
            100.0 * ratio(d)
        );
    };
    println!(
        "tinygpt, {threads} threads, budget {budget} s: {} steps, val_bpb {} (tinygpt) vs {:.6} (verifier)",
        key("num_steps"),
        key("val_bpb"),
        score.bits_per_byte
    );
    println!(
        "{} windows of 256 bytes, {} rows sent ({} for checks), {:.1} MB of logits, largest change {:.1e}",
        score.windows,
        score.rows,
        score.rows - score.windows,
        (score.rows * 256 * 256 * 4) as f64 / 1e6,
        score.largest_change
    );
    row("training run (wall)", train_wall);
    row(
        "  of which training",
        Duration::from_secs_f64(key("training_seconds")),
    );
    row("tokens (trusted generator)", data_time);
    row("server start-up", score.startup);
    row("causality probe (phase 1)", score.probe);
    row("scoring + checks (phase 2)", score.scoring);
    row("logits evaluation in all", eval_wall + data_time);
    println!(
        "probe / scoring {:.3}; checks are {:.1}% of the rows",
        score.probe.as_secs_f64() / score.scoring.as_secs_f64(),
        100.0 * (score.rows - score.windows) as f64 / score.rows as f64
    );
}
