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
    let out = Command::new(env!("CARGO_BIN_EXE_tinygpt"))
        .args(["serve-logits", "--data", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tokens_prints_the_validation_text_or_a_holdout() {
    let tokens = |args: &[&str], env: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tinygpt"));
        cmd.arg("tokens").args(args);
        match env {
            Some(seed) => cmd.env("SWARMLAB_EVAL_SEED", seed),
            None => cmd.env_remove("SWARMLAB_EVAL_SEED"),
        };
        let out = cmd.output().expect("tinygpt runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let public = tokens(&[], None);
    assert_eq!(public.len(), 1 << 17);
    assert!(public.is_ascii());
    let holdout = tokens(&["--holdout-seed", "5"], None);
    assert_eq!(holdout.len(), public.len());
    assert_ne!(holdout, public);
    assert_eq!(
        tokens(&[], Some("5")),
        holdout,
        "the env seed is the flag's"
    );
    assert_eq!(
        tokens(&["--holdout-seed", "5"], Some("6")),
        holdout,
        "the flag wins"
    );
}

/// Mean bits per byte of `text` through `serve-logits`, cut as `eval.rs` cuts it: windows of
/// `context` bytes, and the shorter rest.
fn served_bits_per_byte(checkpoint: &str, text: &[u8], context: usize) -> f64 {
    use std::io::{Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tinygpt"))
        .args(["serve-logits", "--checkpoint", checkpoint])
        .env("RAYON_NUM_THREADS", "2")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tinygpt runs");
    let (mut stdin, mut stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let mut hello = [0u8; 16];
    stdout.read_exact(&mut hello).unwrap();
    assert_eq!(&hello[..8], b"SWLOGITS");
    assert_eq!(&hello[8..], &[1, 0, 0, 0, 0, 1, 0, 0]);
    let n = (text.len() - 1) / context;
    let mut pieces: Vec<(usize, usize)> = (0..n).map(|i| (i * context, context)).collect();
    if n * context < text.len() - 1 {
        pieces.push((n * context, text.len() - 1 - n * context));
    }
    let (mut bits, mut count) = (0.0f64, 0usize);
    for chunk in pieces.chunks(16) {
        // One request per length: the full windows, then the rest.
        for group in chunk.chunk_by(|a, b| a.1 == b.1) {
            let len = group[0].1;
            let mut request = Vec::new();
            request.extend((group.len() as u32).to_le_bytes());
            request.extend((len as u32).to_le_bytes());
            for &(start, _) in group {
                request.extend(
                    text[start..start + len]
                        .iter()
                        .flat_map(|&b| (b as u32).to_le_bytes()),
                );
            }
            stdin.write_all(&request).unwrap();
            let mut body = vec![0u8; 8 + group.len() * len * 256 * 4];
            stdout.read_exact(&mut body).unwrap();
            let logits: Vec<f32> = body[8..]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            for (r, &(start, _)) in group.iter().enumerate() {
                for p in 0..len {
                    let row = &logits[(r * len + p) * 256..(r * len + p + 1) * 256];
                    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
                    let lse = max
                        + row
                            .iter()
                            .map(|&x| (x as f64 - max).exp())
                            .sum::<f64>()
                            .ln();
                    let target = text[start + p + 1] as usize;
                    bits += (lse - row[target] as f64) / std::f64::consts::LN_2;
                    count += 1;
                }
            }
        }
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    bits / count as f64
}

#[test]
fn serve_logits_answers_what_eval_scores() {
    let dir = scratch("serve");
    let ckpt = dir.join("c.safetensors");
    let trained = run(&["train", "--checkpoint", ckpt.to_str().unwrap()], Some(20));
    let text = Command::new(env!("CARGO_BIN_EXE_tinygpt"))
        .arg("tokens")
        .env_remove("SWARMLAB_EVAL_SEED")
        .output()
        .unwrap()
        .stdout;
    // The default model's context is 64; asking in windows of 256 gives the same pieces.
    let by_64 = served_bits_per_byte(ckpt.to_str().unwrap(), &text, 64);
    let reported = num(&trained, "val_bpb");
    assert!(
        (by_64 - reported).abs() < 1e-5,
        "served {by_64}, eval {reported}"
    );
    let by_256 = served_bits_per_byte(ckpt.to_str().unwrap(), &text[..256 * 40 + 1], 256);
    let by_64_same_text = served_bits_per_byte(ckpt.to_str().unwrap(), &text[..256 * 40 + 1], 64);
    assert!(
        (by_256 - by_64_same_text).abs() < 1e-9,
        "{by_256} vs {by_64_same_text}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_tinygpt"))
        .args([
            "serve-logits",
            "--checkpoint",
            dir.join("missing").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed to load checkpoint"));
    let _ = std::fs::remove_dir_all(&dir);
}
