//! The harness's own cost per experiment on the toy track (whose "training" takes a few
//! milliseconds), side by side with a plain shell loop doing the same work: edit, git commit,
//! run, read the metric, keep or `git reset --hard`, append a TSV row.
//!
//! `cargo bench -p swarmlab --bench loop_overhead [-- EXPERIMENTS]`

#[path = "support/toy.rs"]
#[allow(dead_code)] // each bench uses its own part of the support module
mod toy;

use std::process::Command;
use std::time::Instant;

const SHELL_LOOP: &str = r#"
set -e
n=$1
best=999
git -c core.hooksPath=/dev/null checkout -q -b shell/main
i=1
while [ $i -le $n ]; do
  v=$(awk -v i=$i 'BEGIN { srand(i); printf "%.4f", 0.0001 + rand() * 0.1 }')
  sed -i "s/^lr = .*/lr = $v/" params.txt
  git add params.txt
  git -c core.hooksPath=/dev/null commit -q --no-verify -m "lr -> $v"
  SWARMLAB_SEED=$i sh train.sh > run.log 2>&1
  loss=$(sed -n 's/^loss: //p' run.log)
  if awk -v a="$loss" -v b="$best" 'BEGIN { exit !(a < b) }'; then
    best=$loss; status=keep
  else
    git reset -q --hard HEAD~1; status=discard
  fi
  printf '%s\t%s\t0.0\t%s\tlr -> %s\n' "$(git rev-parse --short HEAD)" "$loss" "$status" "$v" >> results.tsv
  i=$((i + 1))
done
"#;

fn main() {
    let experiments: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let scratch = tempfile::tempdir().expect("a temp dir");

    // The trainer alone, to subtract from both loops.
    let trainer_dir = toy::init(scratch.path(), "trainer");
    let start = Instant::now();
    for i in 0..experiments {
        let status = Command::new("sh")
            .arg("train.sh")
            .current_dir(&trainer_dir)
            .env("SWARMLAB_SEED", i.to_string())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("sh runs");
        assert!(status.success());
    }
    let trainer = start.elapsed().as_secs_f64() / experiments as f64;

    let harness_dir = toy::init(scratch.path(), "harness");
    let start = Instant::now();
    toy::run(&harness_dir, &["--experiments", &experiments.to_string()]);
    let harness = start.elapsed().as_secs_f64() / (experiments + 1) as f64;
    assert_eq!(toy::records(&harness_dir).len() as u64, experiments + 1);

    let shell_dir = toy::init(scratch.path(), "shell");
    let start = Instant::now();
    let status = Command::new("sh")
        .args(["-c", SHELL_LOOP, "shell-loop", &experiments.to_string()])
        .current_dir(&shell_dir)
        .status()
        .expect("sh runs");
    assert!(status.success(), "the shell loop failed");
    let shell = start.elapsed().as_secs_f64() / experiments as f64;

    let ms = |s: f64| s * 1000.0;
    println!("loop overhead on the toy track, {experiments} experiments each, one run");
    println!(
        "  trainer alone (sh train.sh)      {:7.2} ms/experiment",
        ms(trainer)
    );
    println!(
        "  swarmlab run                     {:7.2} ms/experiment",
        ms(harness)
    );
    println!(
        "  plain shell loop (git + awk)     {:7.2} ms/experiment",
        ms(shell)
    );
    println!(
        "  swarmlab's own overhead          {:7.2} ms/experiment (target < 100)",
        ms(harness - trainer)
    );
    println!(
        "  shell loop's own overhead        {:7.2} ms/experiment",
        ms(shell - trainer)
    );
    println!(
        "  ratio swarmlab / shell loop      {:7.2}x",
        harness / shell
    );
}
