//! End-to-end tests of the `tinygpt` binary: determinism, checkpoint round trip, the summary
//! block, and training on a user-supplied file.
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinygpt-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

/// Runs the binary with a step budget and returns the summary block as key -> value.
fn run(args: &[&str], steps: Option<usize>) -> HashMap<String, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tinygpt"));
    cmd.args(args)
        .env_remove("SWARMLAB_BUDGET_SECONDS")
        .env_remove("SWARMLAB_BUDGET_TOKENS")
        .env_remove("SWARMLAB_RUN_DIR")
        .env("SWARMLAB_SEED", "7")
        .env("RAYON_NUM_THREADS", "2");
    match steps {
        Some(n) => cmd.env("SWARMLAB_BUDGET_STEPS", n.to_string()),
        None => cmd.env_remove("SWARMLAB_BUDGET_STEPS"),
    };
    let out = cmd.output().expect("tinygpt runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "tinygpt {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let block = format!("\n{stdout}");
    let block = block
        .rsplit_once("\n---\n")
        .map(|(_, b)| b)
        .unwrap_or_else(|| panic!("no summary block in:\n{stdout}"));
    block
        .lines()
        .map(|l| {
            let (k, v) = l
                .split_once(": ")
                .unwrap_or_else(|| panic!("bad summary line {l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn num(summary: &HashMap<String, String>, key: &str) -> f64 {
    summary[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number: {}", summary[key]))
}

#[test]
fn same_seed_and_steps_give_the_same_model_and_the_checkpoint_evaluates_the_same() {
    let dir = scratch("determinism");
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    let first = run(&["train", "--checkpoint", a.to_str().unwrap()], Some(40));
    let second = run(&["train", "--checkpoint", b.to_str().unwrap()], Some(40));
    assert_eq!(
        first["val_bpb"], second["val_bpb"],
        "two identical runs disagree"
    );
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "checkpoints differ"
    );

    let keys = [
        "val_bpb",
        "entropy_floor_bpb",
        "training_seconds",
        "total_seconds",
        "peak_memory_mb",
        "num_steps",
        "num_params_M",
        "tokens_per_second",
    ];
    for k in keys {
        assert!(first.contains_key(k), "summary lacks {k}");
    }
    assert_eq!(first["num_steps"], "40");
    let (bpb, floor) = (num(&first, "val_bpb"), num(&first, "entropy_floor_bpb"));
    assert!(bpb > floor && bpb < 8.0, "val_bpb {bpb}, floor {floor}");

    let evaluated = run(&["eval", "--checkpoint", a.to_str().unwrap()], None);
    assert_eq!(
        evaluated["val_bpb"], first["val_bpb"],
        "eval of the checkpoint disagrees with train"
    );
    assert_eq!(evaluated["entropy_floor_bpb"], first["entropy_floor_bpb"]);

    // Fresh holdout text from the same language scores about the same.
    let holdout = run(
        &[
            "eval",
            "--checkpoint",
            a.to_str().unwrap(),
            "--holdout-seed",
            "5",
        ],
        None,
    );
    assert!(
        (num(&holdout, "val_bpb") - bpb).abs() < 0.1,
        "holdout {:?} vs val {bpb}",
        holdout["val_bpb"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trains_on_a_user_file_without_a_floor() {
    let dir = scratch("data");
    let text: String = (0..4000)
        .map(|i| format!("line {} of a small file.\n", i % 97))
        .collect();
    let data = dir.join("text.txt");
    std::fs::write(&data, text).unwrap();
    let ckpt = dir.join("c.safetensors");
    let summary = run(
        &[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--checkpoint",
            ckpt.to_str().unwrap(),
        ],
        Some(5),
    );
    assert!(!summary.contains_key("entropy_floor_bpb"));
    assert!(num(&summary, "val_bpb").is_finite());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_usage_exits_with_code_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_tinygpt"))
        .arg("fly")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_tinygpt"))
        .arg("eval")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
