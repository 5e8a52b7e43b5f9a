//! The attack corpus on tinygpt, a compiled track: each candidate goes through `swarmlab
//! submit` to a real hub and a real sandboxed `swarmlab verify`, which builds it in its
//! sandbox (the crates fetched outside from the trusted Cargo.lock, cargo offline inside) and
//! scores it in logits mode. A build that reads what the sandbox hides fails; a run that
//! writes its build folder leaves nothing for the next job; cheats of the metric gain
//! nothing; an honest improvement is accepted; the verifier survives them all.
//!
//! The track is a copy of the embedded one with a budget of 120 steps and two reruns. The
//! verifier's folder is `target/tinygpt-verifier` of this workspace and outlives the test:
//! its snapshot (the baseline's build) is keyed by the baseline's content, so only the first
//! run pays for a cold build. The tinygpt swarm test (`swarm_tinygpt`) uses the same track and
//! folder, one test at a time ([`VERIFIER`]), so that a clean checkout pays for one cold build,
//! not two. Nothing a candidate does can write the snapshot, which is what the poisoning
//! attacks below check.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::attacks::{verdict_matches, Change, Corpus, Expect, NOT_REPRODUCED};

const TRACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tracks/tinygpt");

/// Verdicts of a candidate that is no better than the head.
const NO_GAIN: &[&str] = &["not_reproduced", "not_better"];

/// The track's spec with a budget of steps (the same work on a loaded machine) small enough
/// for a test, two reruns and a looser test, since the honest control gains a lot.
fn test_spec() -> String {
    let spec = std::fs::read_to_string(Path::new(TRACK).join("swarmlab.toml")).unwrap();
    let mut out = spec.clone();
    for (from, to) in [
        ("budget = { steps = 2500 }", "budget = { steps = 120 }"),
        ("reruns = 3", "reruns = 2"),
        ("alpha = 0.01", "alpha = 0.05"),
        ("min_delta = 0.002", "min_delta = 0.01"),
        ("vocab = 256", "vocab = 256\nwindows = 64"),
    ] {
        assert!(out.contains(from), "the track's spec lost {from:?}");
        out = out.replace(from, to);
    }
    out
}

/// Copies the track's sources (not its build) into `repo`, with the test's spec.
pub fn fill(repo: &Path) {
    for sub in ["src", ".cargo"] {
        swarmlab_testkit::tinygpt::copy_tree(&Path::new(TRACK).join(sub), &repo.join(sub));
    }
    for file in ["Cargo.toml", "Cargo.lock", "program.md", ".gitignore"] {
        std::fs::copy(Path::new(TRACK).join(file), repo.join(file)).unwrap();
    }
    std::fs::write(repo.join("swarmlab.toml"), test_spec()).unwrap();
}

/// `path` of the track with `from` replaced by `to` and `append` added at its end.
fn edit(path: &'static str, from: &str, to: &str, append: &str) -> Change {
    let text = std::fs::read_to_string(Path::new(TRACK).join(path)).unwrap();
    assert!(text.contains(from), "{path} no longer contains {from:?}");
    Change::File(
        path,
        format!("{}{append}", text.replacen(from, to, 1)).into_bytes(),
    )
}

/// Training that first runs `code` (Rust statements in `train`).
fn train_first(code: &str) -> Change {
    edit(
        "src/train.rs",
        "    let root = Rng::new(seed);\n",
        &format!("    {code}\n    let root = Rng::new(seed);\n"),
        "",
    )
}

/// Attention without the causal mask: every position sees the whole window.
const FULL_ATTENTION: &str = r#"
/// Every position attends to every other, later ones included.
fn full_attention(qkv: &Tensor, b: usize, t: usize, h: usize) -> Result<Tensor> {
    let c = qkv.dim(1)? / 3;
    let d = c / h;
    let split = |i: usize| -> Result<Tensor> {
        qkv.narrow(1, i * c, c)?.reshape((b, t, h, d))?.transpose(1, 2)?.contiguous()
    };
    let (q, k, v) = (split(0)?, split(1)?, split(2)?);
    let scores = (q.matmul(&k.transpose(2, 3)?.contiguous()?)? / (d as f64).sqrt())?;
    let weights = scores.broadcast_sub(&scores.max_keepdim(3)?)?.exp()?;
    let weights = weights.broadcast_div(&weights.sum_keepdim(3)?)?;
    weights.matmul(&v)?.transpose(1, 2)?.reshape((b * t, c))
}
"#;

struct Attack {
    name: &'static str,
    change: Change,
    claim: f64,
    expect: Expect,
}

fn attacks(verifier: &Path, hub_data: &Path) -> Vec<Attack> {
    let key = verifier.join("identity.json");
    let hub_file = std::fs::read_dir(hub_data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file())
        .expect("the hub keeps a file in its folder");
    vec![
        Attack {
            name: "includes the verifier's key at compile time",
            change: edit(
                "src/model.rs",
                "",
                "",
                &format!(
                    "\npub static STOLEN: &[u8] = include_bytes!({:?});\n",
                    key.display().to_string()
                ),
            ),
            claim: 1.0,
            expect: Expect::Rejected(&["crash"]),
        },
        Attack {
            name: "includes the hub's data at compile time",
            change: edit(
                "src/model.rs",
                "",
                "",
                &format!(
                    "\npub static STOLEN: &str = include_str!({:?});\n",
                    hub_file.display().to_string()
                ),
            ),
            claim: 1.0,
            expect: Expect::Rejected(&["crash"]),
        },
        Attack {
            name: "attention without the causal mask",
            change: edit(
                "src/model.rs",
                "ops::causal_attention(&qkv, b, t, self.cfg.n_head)?",
                "full_attention(&qkv, b, t, self.cfg.n_head)?",
                FULL_ATTENTION,
            ),
            claim: 0.5,
            expect: Expect::Rejected(&["crash"]),
        },
        Attack {
            name: "logits that are not log-probabilities",
            change: edit(
                "src/model.rs",
                "        h.matmul(&self.w_head)\n",
                "        h.matmul(&self.w_head)? + 50.0\n",
                "",
            ),
            claim: 0.5,
            expect: Expect::Rejected(NO_GAIN),
        },
        Attack {
            name: "trains on the public validation text",
            change: train_first(
                "let val = crate::data::validation_text(&crate::data::Language::new(), None);\n    let text: &[u8] = &val;",
            ),
            claim: 0.5,
            expect: Expect::Rejected(NO_GAIN),
        },
        Attack {
            name: "reads the verifier's files and writes its build folder at run time",
            change: train_first(&format!(
                "if std::fs::read({key:?}).is_ok() || std::fs::read_dir({jobs:?}).is_ok() {{ panic!(\"read the verifier's files\"); }}\n    \
                 let _ = std::fs::write(\"target/poisoned\", b\"1\");\n    \
                 let _ = std::fs::write(\"target/release/poisoned\", b\"1\");",
                key = key.display().to_string(),
                jobs = verifier.join("jobs").display().to_string(),
            )),
            claim: 1.0,
            expect: Expect::Rejected(NOT_REPRODUCED),
        },
        Attack {
            name: "runs on a build folder poisoned by an earlier job",
            change: train_first(
                "if std::path::Path::new(\"target/poisoned\").exists() || std::path::Path::new(\"target/release/poisoned\").exists() { panic!(\"poisoned\"); }",
            ),
            claim: 1.0,
            expect: Expect::Rejected(NOT_REPRODUCED),
        },
    ]
}

/// The kept verifier folder is used by one test at a time: two verifiers in one folder would
/// share an identity, a lease note and a build.
static VERIFIER: Mutex<()> = Mutex::new(());

/// The verifier's folder, kept between runs of the tests (see the module's comment), and the
/// guard that makes it this test's alone; a new identity for the new hub, and no job of a
/// killed run to resume: the builds, the toolchain, the crates and the trees stay.
pub fn verifier_dir() -> (PathBuf, MutexGuard<'static, ()>) {
    let guard = VERIFIER.lock().unwrap_or_else(PoisonError::into_inner);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tinygpt-verifier");
    for file in ["identity.json", "lease.json"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    (dir, guard)
}

#[test]
fn tinygpt_builds_in_the_sandbox_and_every_attack_gets_its_verdict() {
    let (verifier, _alone) = verifier_dir();
    let mut corpus = Corpus::start("tinygpt", fill, &verifier, &[]);
    let baseline = corpus.baseline.clone();
    let mut wrong = Vec::new();
    for attack in attacks(&verifier, &corpus.hub_data) {
        wrong.extend(corpus.attack(attack.name, &attack.change, attack.claim, attack.expect));
    }
    // The honest control: four times the batch for the same number of steps.
    let honest = edit(
        "src/train.rs",
        "pub const BATCH_SIZE: usize = 16;",
        "pub const BATCH_SIZE: usize = 64;",
        "",
    );
    let commit = corpus.commit(&baseline, &honest, "a larger batch");
    let (_, verdict) = corpus.submit(&commit, 2.4, "alice", true);
    let log = corpus.verifier_log();
    assert!(
        wrong.is_empty(),
        "{}\n--- verifier\n{log}",
        wrong.join("\n")
    );
    assert!(
        verdict_matches(&verdict, Expect::Accepted),
        "the honest control got `{verdict}`\n--- verifier\n{log}"
    );
    // Every build ran in the sandbox, and only the baseline's was cold.
    assert!(!log.contains("NOT sandboxed"), "{log}");
    let snapshot = swarmlab_client::build::snapshot(&verifier, "tinygpt", "target")
        .expect("the baseline's snapshot is kept");
    assert!(!snapshot.build.join("poisoned").exists());
    assert!(!snapshot.build.join("release/poisoned").exists());
}
