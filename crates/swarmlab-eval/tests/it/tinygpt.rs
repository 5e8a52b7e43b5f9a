//! `logits` mode on the real tinygpt track: the verifier's bits per byte agree with the
//! track's own evaluation, and a model whose attention lost its causal mask is rejected.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use swarmlab_eval::{collect_stdout, decode_tokens, score_logits, EvalError, LogitsConfig};
use swarmlab_runner::{Cancel, RunSpec};
use swarmlab_testkit::scratch::Scratch;
use swarmlab_testkit::tinygpt::{tinygpt, variant, FULL_ATTENTION};

/// Trains `bin` for `steps` steps, writing its checkpoint to `checkpoint`; returns its val_bpb.
fn train(bin: &Path, checkpoint: &Path, steps: u32) -> f64 {
    let out = Command::new(bin)
        .args(["train", "--checkpoint"])
        .arg(checkpoint)
        .env("SWARMLAB_BUDGET_STEPS", steps.to_string())
        .env_remove("SWARMLAB_BUDGET_SECONDS")
        .env("SWARMLAB_SEED", "3")
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("tinygpt runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("val_bpb: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no val_bpb in {stdout}"))
}

fn spec(fx: &Scratch, command: Vec<String>, log: &str) -> RunSpec {
    let mut spec = RunSpec::new(
        command,
        fx.dir.path(),
        fx.path(log),
        Duration::from_secs(300),
    );
    spec.env = vec![("RAYON_NUM_THREADS".into(), "2".into())];
    spec.grace = Duration::from_millis(500);
    spec
}

fn config() -> LogitsConfig {
    LogitsConfig {
        vocab: 256,
        context: 256,
        token_bytes: vec![1; 256],
        windows: None,
        batch: 16,
        probes: 8,
        tolerance: 1e-4,
        seed: 11,
        serve_within: None,
    }
}

fn serve(bin: &Path, checkpoint: &Path) -> Vec<String> {
    vec![
        bin.display().to_string(),
        "serve-logits".into(),
        "--checkpoint".into(),
        checkpoint.display().to_string(),
    ]
}

#[test]
fn tinygpt_passes_and_the_verifier_agrees_with_its_own_evaluation() {
    let fx = Scratch::new();
    let bin = tinygpt();
    let checkpoint = fx.path("checkpoint.safetensors");
    let reported = train(&bin, &checkpoint, 30);
    let data = spec(
        &fx,
        vec![bin.display().to_string(), "tokens".into()],
        "data.log",
    );
    let tokens = decode_tokens(
        &collect_stdout(&data, 1 << 20, &Cancel::new()).unwrap(),
        256,
    )
    .unwrap();
    let server = spec(&fx, serve(&bin, &checkpoint), "server.log");
    let score = score_logits(&server, &tokens, &config(), &Cancel::new()).unwrap();
    assert_eq!(score.windows, 511);
    // The same pieces of the same text, but for the last 255 bytes, which only eval.rs scores.
    assert!(
        (score.bits_per_byte - reported).abs() < 0.01,
        "verifier {} vs tinygpt {reported}",
        score.bits_per_byte
    );
    assert!(score.largest_change <= 1e-4, "{score:?}");
}

#[test]
fn tinygpt_without_its_causal_mask_fails_the_probe() {
    let fx = Scratch::new();
    let checkpoint = fx.path("checkpoint.safetensors");
    train(&tinygpt(), &checkpoint, 30);
    let maskoff = variant(
        "maskoff",
        "ops::causal_attention(&qkv, b, t, self.cfg.n_head)?",
        "full_attention(&qkv, b, t, self.cfg.n_head)?",
        FULL_ATTENTION,
    );
    let tokens: Vec<u32> = (0..256 * 64 + 1).map(|i| (i * 7 % 251) as u32).collect();
    let server = spec(&fx, serve(&maskoff, &checkpoint), "server.log");
    let err = score_logits(&server, &tokens, &config(), &Cancel::new()).unwrap_err();
    assert!(matches!(err, EvalError::NotCausal { .. }), "{err}");
}
