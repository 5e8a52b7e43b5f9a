//! What verifying a pygpt run (PyTorch, `serve = "run"`) in `logits` mode costs next to its
//! training budget, measured in one run: the run trains for the budget and its trusted hook
//! serves the verifier's windows from the same process; then the same windows from a server
//! that answers zeros at once, which leaves the pipe and the verifier's own arithmetic. For
//! comparison, a local run of the same budget and its own evaluation.
//!
//! ```sh
//! SWARMLAB_TEST_PYTHON=.../bin/python3 cargo bench -p swarmlab-eval --bench pygpt [-- BUDGET_SECONDS]   # default 20
//! ```
//!
//! `SWARMLAB_TEST_PYTHON` is a venv of tracks/pygpt/requirements.lock, as `.ci/run` makes it.
//! The settings are the track's: windows of 256 tokens, 16 per request, 8 probes, vocab 512,
//! 2 threads (`SWARMLAB_THREADS`).

use std::process::Command;
use std::time::{Duration, Instant};

use swarmlab_eval::{collect_stdout, decode_tokens, score_logits, LogitsConfig, SERVE_VAR};
use swarmlab_runner::{Cancel, RunSpec};
use swarmlab_testkit::pygpt;

/// Answers every request with zero logits, as fast as Python writes them.
const ZEROS: &str = r#"
import struct, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
out.write(b"SWLOGITS" + struct.pack("<II", 1, 512)); out.flush()
while True:
    head = inp.read(8)
    if len(head) < 8:
        break
    rows, length = struct.unpack("<II", head)
    inp.read(rows * length * 4)
    out.write(head); out.write(bytes(rows * length * 512 * 4)); out.flush()
"#;

fn main() {
    let budget: f64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("BUDGET_SECONDS is a number"))
        .unwrap_or(20.0);
    let python = pygpt::python().expect("the bench needs SWARMLAB_TEST_PYTHON");
    let threads = std::env::var("SWARMLAB_THREADS").unwrap_or_else(|_| "2".into());
    let dir = tempfile::tempdir().expect("temp dir");
    let track = dir.path();
    pygpt::copy_track(track);
    let setup = Command::new(&python)
        .arg("prepare.py")
        .current_dir(track)
        .output()
        .expect("setup runs");
    assert!(setup.status.success(), "{setup:?}");

    let spec = |command: Vec<String>, log: &str, env: &[(&str, String)]| {
        let mut spec = RunSpec::new(command, track, track.join(log), Duration::from_secs(900));
        spec.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        spec
    };
    let py = python.display().to_string();
    let started = Instant::now();
    let data = spec(
        vec![py.clone(), "prepare.py".into(), "tokens".into()],
        "data.log",
        &[("SWARMLAB_EVAL_SEED", "1".into())],
    );
    let bytes = collect_stdout(&data, 1 << 24, &Cancel::new()).expect("tokens");
    let tokens = decode_tokens(&bytes, 512).expect("u32 tokens");
    let data_time = started.elapsed();
    let table: Vec<u32> = std::fs::read_to_string(track.join("token_bytes.txt"))
        .expect("the byte table")
        .lines()
        .map(|l| l.trim().parse().expect("a byte count"))
        .collect();
    let config = LogitsConfig {
        vocab: 512,
        context: 256,
        token_bytes: table,
        windows: None,
        batch: 16,
        probes: 8,
        tolerance: 1e-4,
        seed: 1,
        serve_within: Some(Duration::from_secs_f64(budget + 60.0)),
    };
    let run_env = [
        ("SWARMLAB_BUDGET_SECONDS", budget.to_string()),
        ("SWARMLAB_THREADS", threads.clone()),
        ("SWARMLAB_SEED", "1".into()),
    ];

    // The local run: training, then the track's own evaluation of the public text.
    let started = Instant::now();
    let out = Command::new(&python)
        .arg("train.py")
        .current_dir(track)
        .envs(run_env.iter().map(|(k, v)| (*k, v)))
        .env_remove(SERVE_VAR)
        .output()
        .expect("train.py runs");
    let local_wall = started.elapsed();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{summary}");
    let key = |k: &str| -> f64 {
        summary
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    };

    // The verified run: the same process trains and serves.
    let mut served_env = run_env.to_vec();
    served_env.push((SERVE_VAR, "serve".into()));
    let server = spec(vec![py.clone(), "train.py".into()], "run.log", &served_env);
    let started = Instant::now();
    let score = score_logits(&server, &tokens, &config, &Cancel::new()).expect("an honest run");
    let served_wall = started.elapsed();

    // The verifier alone: the same session against zeros.
    std::fs::write(track.join("zeros.py"), ZEROS).expect("write the zero server");
    let zeros = spec(
        vec!["/usr/bin/python3".into(), "zeros.py".into()],
        "zeros.log",
        &[],
    );
    let mut alone = config.clone();
    alone.serve_within = None;
    let verifier = score_logits(&zeros, &tokens, &alone, &Cancel::new()).expect("zeros pass");

    let row = |name: &str, d: Duration| {
        println!(
            "{name:<34} {:>8.3} s  {:>7.2}% of the budget",
            d.as_secs_f64(),
            100.0 * d.as_secs_f64() / budget
        );
    };
    let logits = (score.rows * 256 * 512) as f64;
    println!(
        "pygpt, {threads} threads, budget {budget} s: {} steps; val_bpb {} (local, public text), {:.6} (verifier, holdout of seed 1)",
        key("num_steps"),
        key("val_bpb"),
        score.bits_per_byte
    );
    println!(
        "{} windows of 256 tokens, {} rows sent ({} for checks), {:.1} MB of logits, largest change {:.1e}",
        score.windows,
        score.rows,
        score.rows - score.windows,
        logits * 4.0 / 1e6,
        score.largest_change
    );
    row("local run (wall)", local_wall);
    row(
        "  of which training",
        Duration::from_secs_f64(key("training_seconds")),
    );
    row(
        "  of which after training",
        Duration::from_secs_f64(key("total_seconds") - key("training_seconds")),
    );
    row("verified run (wall)", served_wall);
    row("  start to handshake (training)", score.startup);
    row("tokens (trusted generator)", data_time);
    row("causality probe (phase 1)", score.probe);
    row("scoring + checks (phase 2)", score.scoring);
    row("logits evaluation in all", score.probe + score.scoring);
    let alone_time = verifier.probe + verifier.scoring;
    row("the verifier alone (zeros)", alone_time);
    println!(
        "the verifier alone: {:.1} ns per logit ({:.0} M logits per second), with the pipe",
        alone_time.as_secs_f64() * 1e9 / logits,
        logits / alone_time.as_secs_f64() / 1e6
    );
    println!(
        "serving with the model: {:.1} ns per logit",
        (score.probe + score.scoring).as_secs_f64() * 1e9 / logits
    );
}
