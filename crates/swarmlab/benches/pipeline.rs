//! Pipelining: a fake agent that needs X seconds per proposal and a trainer that needs B
//! seconds. With pipelining the next change is drafted while the experiment runs, so the
//! loop should reach about 3600/(B + start-up) experiments per hour; without it, about
//! 3600/(X + B + start-up). Start-up is measured by a run whose agent answers at once.
//!
//! `cargo bench -p swarmlab --bench pipeline [-- EXPERIMENTS]`

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use swarmlab_testkit::git::Repo;

const SWARMLAB: &str = env!("CARGO_BIN_EXE_swarmlab");
const AGENT_SECONDS: f64 = 1.0;
const TRAIN_SECONDS: f64 = 1.0;

const SPEC: &str = r#"
[track]
name = "pipeline-bench"
[run]
command = ["sh", "train.sh"]
budget = "1s"
timeout = "30s"
[metric]
name = "loss"
goal = "minimize"
[files]
editable = ["params.txt"]
trusted = ["train.sh"]
"#;

/// Four knobs far enough apart that drafts touching different ones merge cleanly.
const PARAMS: &str = "p0 = 0\n#\n#\n#\np1 = 0\n#\n#\n#\np2 = 0\n#\n#\n#\np3 = 0\n";

fn track(parent: &Path, name: &str) -> std::path::PathBuf {
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

/// Seconds of one `swarmlab run` (baseline included) with a script agent that sleeps
/// `agent` seconds per proposal.
fn run(dir: &Path, experiments: u64, agent: f64, pipeline: &str) -> f64 {
    let script = format!(
        "sleep {agent}; k=$((SWARMLAB_INDEX % 4)); sed -i \"s/^p$k = .*/p$k = $SWARMLAB_INDEX/\" params.txt; echo \"p$k -> $SWARMLAB_INDEX\""
    );
    let start = Instant::now();
    let output = Command::new(SWARMLAB)
        .args([
            "run",
            "--proposer",
            "script",
            "--script",
            &script,
            "--pipeline",
            pipeline,
        ])
        .args(["--experiments", &experiments.to_string()])
        .arg(dir)
        .output()
        .expect("swarmlab runs");
    let seconds = start.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let redrafted = stderr.matches("no longer applies").count();
    eprintln!("  ({pipeline}, agent {agent}s: {seconds:.2}s, {redrafted} drafts re-proposed after a conflict)");
    seconds
}

fn main() {
    let experiments: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(12);
    let n = experiments as f64;
    let scratch = tempfile::tempdir().expect("a temp dir");
    // Every run is the baseline plus n experiments; a run whose agent answers at once gives
    // the time of one experiment without any agent: B + start-up.
    let plain = run(&track(scratch.path(), "startup"), experiments, 0.0, "off") / (n + 1.0);
    let startup = plain - TRAIN_SECONDS;
    let per_experiment = |seconds: f64| (seconds - plain) / n;
    let on = 3600.0
        / per_experiment(run(
            &track(scratch.path(), "on"),
            experiments,
            AGENT_SECONDS,
            "on",
        ));
    let off = 3600.0
        / per_experiment(run(
            &track(scratch.path(), "off"),
            experiments,
            AGENT_SECONDS,
            "off",
        ));
    let ideal_on = 3600.0 / (TRAIN_SECONDS + startup);
    let ideal_off = 3600.0 / (AGENT_SECONDS + TRAIN_SECONDS + startup);
    println!("pipelining: agent X = {AGENT_SECONDS}s, trainer B = {TRAIN_SECONDS}s, baseline + {experiments} experiments per run, one run each");
    println!("  start-up per experiment (agent answers at once)   {startup:6.3} s");
    println!("  pipeline on    {on:7.0} experiments/hour   {:5.1}% of 3600/(B + start-up) = {ideal_on:.0}", 100.0 * on / ideal_on);
    println!("  pipeline off   {off:7.0} experiments/hour   {:5.1}% of 3600/(X + B + start-up) = {ideal_off:.0}", 100.0 * off / ideal_off);
    println!("  ratio on / off {:7.2}x", on / off);
}
