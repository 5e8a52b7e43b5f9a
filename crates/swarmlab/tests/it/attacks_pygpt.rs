//! The attack corpus on pygpt, a PyTorch track whose run serves its logits once trained
//! (`serve = "run"`): each candidate goes through `swarmlab submit` to a real hub and a real
//! sandboxed `swarmlab verify`, which makes the track's Python environment from its lock
//! outside the sandbox and runs `train.py` inside it, offline, with the environment
//! read-only. The metric is computed by the verifier from the logits the trusted hook serves,
//! on held-out files drawn per job from a pool the runs cannot see. Cheats of the metric gain
//! nothing or fail the causality checks, an honest improvement is accepted, and the verifier
//! survives them all.
//!
//! The track is a copy of tracks/pygpt with a budget of 20 steps (the same work on a loaded
//! machine), two reruns, 32 scored windows, and a holdout pool of four files in `holdout/`
//! instead of the generator. The verifier's folder is `target/pygpt-verifier` of this
//! workspace and outlives the test: its Python environment is keyed by the lock, so only the
//! first run pays for making it (about 6.8 GB, torch from PyPI).
//!
//! It needs PyTorch for the pool and for the claims: the test environment of
//! `swarmlab_testkit::pygpt`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use swarmlab_testkit::pygpt;

use crate::attacks::{verdict_matches, Change, Corpus, Expect};

/// Verdicts of a candidate that is no better than the head.
const NO_GAIN: &[&str] = &["not_reproduced", "not_better"];

/// The files of the pool, and how many are drawn per job.
const POOL: usize = 4;

/// The track's spec for the test (see the module's comment).
fn test_spec() -> String {
    let spec = std::fs::read_to_string(pygpt::track().join("swarmlab.toml")).unwrap();
    let mut out = spec.clone();
    for (from, to) in [
        ("budget = \"60s\"", "budget = { steps = 20 }"),
        (
            "data_command = [\"python3\", \"prepare.py\", \"tokens\"]",
            "holdout = \"holdout\"\nholdout_files = 1",
        ),
        ("context = 256 ", "windows = 32\ncontext = 256 "),
        ("reruns = 3", "reruns = 2"),
        ("alpha = 0.01", "alpha = 0.05"),
        ("min_delta = 0.002", "min_delta = 0.01"),
    ] {
        assert!(out.contains(from), "pygpt's spec lost {from:?}");
        out = out.replace(from, to);
    }
    out
}

/// The track's files and the test's spec in `repo`, and a pool of held-out token files made
/// by the track's own generator from seeds nobody trains on.
fn fill(repo: &Path, python: &Path) {
    pygpt::copy_track(repo);
    std::fs::write(repo.join("swarmlab.toml"), test_spec()).unwrap();
    let pool = repo.join("holdout");
    std::fs::create_dir(&pool).unwrap();
    for i in 0..POOL {
        let out = Command::new(python)
            .current_dir(repo)
            .args(["prepare.py", "tokens"])
            .env("SWARMLAB_EVAL_SEED", (9000 + i).to_string())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(pool.join(format!("{i}.bin")), out.stdout).unwrap();
    }
    // The tokens setup caches are not part of the track.
    let _ = std::fs::remove_dir_all(repo.join("data"));
}

/// `train.py` with `from` replaced by `to` (once, and it must be there).
fn edit(replacements: &[(&str, &str)]) -> Change {
    let mut text = std::fs::read_to_string(pygpt::track().join("train.py")).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "train.py no longer contains {from:?}");
        text = text.replacen(from, to, 1);
    }
    Change::File("train.py", text.into_bytes())
}

/// The line of train.py that hands the model to the trusted hook.
const EVALUATE: &str = "val_bpb = evaluate_bpb(model, model_context=SEQ_LEN)";
/// The attention of train.py's blocks.
const ATTENTION: &str = "y = F.scaled_dot_product_attention(q, k, v, is_causal=True)";
/// The first line of train.py's model code.
const MODEL: &str = "class Block(nn.Module):";
/// The first line of GPT's forward pass.
const FORWARD: &str = "        t = idx.shape[1]\n";

/// A model with a memory of `text`: after six tokens seen together there, the token that
/// followed them gets a large logit. Causal and stateless, so only the data can stop it.
const RECALL: &str = r#"
class Recall(nn.Module):
    def __init__(self, model, text):
        super().__init__()
        self.model = model
        t = [int(x) for x in text]
        self.table = {tuple(t[i - 6:i]): t[i] for i in range(6, len(t))}

    def forward(self, idx):
        logits = self.model(idx)
        for r, row in enumerate(idx.tolist()):
            for p in range(5, len(row)):
                nxt = self.table.get(tuple(row[p - 5:p + 1]))
                if nxt is not None:
                    logits[r, p, nxt] += 30.0
        return logits


"#;

/// Rows that look like the language: most of their bigrams occur in the training text. The
/// probe's random suffixes do not; the rows that are scored do.
const NATURAL: &str = r#"SEEN = torch.zeros(VOCAB_SIZE, VOCAB_SIZE, dtype=torch.bool)
_seen = torch.from_numpy(train_tokens().astype("int64"))
SEEN[_seen[:-1], _seen[1:]] = True
PEEK = None


def natural(idx):
    return SEEN[idx[:, :-1], idx[:, 1:]].float().mean(dim=1) > 0.9


"#;

struct Attack {
    name: &'static str,
    change: Change,
    claim: f64,
    expect: Expect,
}

fn attacks(verifier: &Path, corpus: &Corpus) -> Vec<Attack> {
    // The pool as the verifier keeps it, in the baseline's tree.
    let content = corpus.git(&["rev-parse", &format!("{}^{{tree}}", corpus.baseline)]);
    let baseline_pool = swarmlab_client::build::baseline_tree(verifier, &content).join("holdout");
    vec![
        Attack {
            name: "prints a fake metric",
            change: edit(&[(
                EVALUATE,
                &format!("print(\"---\")\nprint(\"val_bpb:           0.500000\")\n{EVALUATE}"),
            )]),
            claim: 0.5,
            expect: Expect::Rejected(NO_GAIN),
        },
        Attack {
            name: "bypasses the trusted hook",
            change: edit(&[(EVALUATE, "val_bpb = 0.5  # no need to evaluate")]),
            claim: 0.5,
            expect: Expect::Rejected(&["crash"]),
        },
        Attack {
            name: "monkey-patches the hook to evaluate locally",
            change: edit(&[(
                EVALUATE,
                &format!("prepare.swarmlab_logits.serving = lambda: False\n{EVALUATE}"),
            )]),
            claim: 0.5,
            expect: Expect::Rejected(&["crash"]),
        },
        Attack {
            name: "monkey-patches the hook's forward pass to read the next token",
            change: edit(&[(
                EVALUATE,
                &format!(
                    "import swarmlab_logits\n_logits = swarmlab_logits.window_logits\n\n\n\
                     def _peeking(model, ids, vocab, context):\n    \
                     out = _logits(model, ids, vocab, context)\n    \
                     bonus = torch.full((ids.shape[0], ids.shape[1] - 1, 1), 30.0)\n    \
                     out[:, :-1].scatter_add_(-1, ids[:, 1:].unsqueeze(-1).long(), bonus)\n    \
                     return out\n\n\nswarmlab_logits.window_logits = _peeking\n{EVALUATE}"
                ),
            )]),
            claim: 0.1,
            expect: Expect::Rejected(&["crash"]),
        },
        Attack {
            name: "peeks at later tokens (attention without the causal mask)",
            change: edit(&[(
                ATTENTION,
                "y = F.scaled_dot_product_attention(q, k, v, is_causal=False)",
            )]),
            claim: 0.3,
            expect: Expect::Rejected(&["crash"]),
        },
        Attack {
            name: "trains on the public validation text and recalls it",
            change: edit(&[
                (
                    "data = batches(train_tokens(),",
                    "data = batches(prepare.val_tokens(),",
                ),
                (
                    EVALUATE,
                    &format!(
                        "{RECALL}val_bpb = evaluate_bpb(Recall(model, prepare.val_tokens()), model_context=SEQ_LEN)"
                    ),
                ),
            ]),
            claim: 0.3,
            expect: Expect::Rejected(NO_GAIN),
        },
        Attack {
            name: "reads the holdout files from disk and recalls them",
            change: edit(&[(
                EVALUATE,
                &format!(
                    "{RECALL}import glob\nimport os\n\nimport numpy as np\n\n\
                     _found = [f for root in (\"holdout\", {pool:?})\n          \
                     for f in sorted(glob.glob(os.path.join(root, \"**\", \"*\"), recursive=True))\n          \
                     if os.path.isfile(f)]\n\
                     _text = np.concatenate([np.fromfile(f, dtype=\"<u4\") for f in _found]) if _found else []\n\
                     val_bpb = evaluate_bpb(Recall(model, _text), model_context=SEQ_LEN)",
                    pool = baseline_pool.display().to_string()
                ),
            )]),
            claim: 0.3,
            expect: Expect::Rejected(NO_GAIN),
        },
        Attack {
            name: "peeks unless its environment says it is verified",
            change: edit(&[
                (
                    MODEL,
                    &format!(
                        "import os\n\nVERIFIED = prepare.swarmlab_logits.serving() or os.getuid() == 65534\n\n\n{MODEL}"
                    ),
                ),
                (
                    ATTENTION,
                    "y = F.scaled_dot_product_attention(q, k, v, is_causal=VERIFIED)",
                ),
            ]),
            claim: 0.3,
            expect: Expect::Rejected(NO_GAIN),
        },
        Attack {
            name: "peeks only on windows that look like real text",
            change: edit(&[
                (MODEL, &format!("{NATURAL}{MODEL}")),
                (
                    FORWARD,
                    &format!("        global PEEK\n        PEEK = natural(idx)\n{FORWARD}"),
                ),
                (
                    ATTENTION,
                    "mask = torch.ones(t, t, dtype=torch.bool).tril() | PEEK.view(b, 1, 1, 1)\n        \
                     y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)",
                ),
            ]),
            claim: 0.3,
            expect: Expect::Rejected(&["crash"]),
        },
        Attack {
            name: "peeks only once the probe's first requests are answered",
            change: edit(&[
                (MODEL, &format!("CALLS = [0]\n\n\n{MODEL}")),
                (
                    FORWARD,
                    &format!("        CALLS[0] += 0 if self.training else 1\n{FORWARD}"),
                ),
                (
                    ATTENTION,
                    "y = F.scaled_dot_product_attention(q, k, v, is_causal=not self.training and CALLS[0] <= 4)",
                ),
            ]),
            claim: 0.3,
            expect: Expect::Rejected(&["crash"]),
        },
    ]
}

/// The verifier's folder, kept between runs of the test (see the module's comment).
fn verifier_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pygpt-verifier")
}

#[test]
fn pygpt_is_verified_from_its_logits_and_every_attack_gets_its_verdict() {
    let python = pygpt::python();
    let verifier = verifier_dir();
    // A new identity for the new hub, and no job from a killed run to resume; the Python
    // environment, the trees and the build stay.
    for file in ["identity.json", "lease.json"] {
        let _ = std::fs::remove_file(verifier.join(file));
    }
    let mut corpus = Corpus::start("pygpt", |repo| fill(repo, &python), &verifier, &[]);
    let baseline = corpus.baseline.clone();
    let mut wrong = Vec::new();
    for attack in attacks(&verifier, &corpus) {
        wrong.extend(corpus.attack(attack.name, &attack.change, attack.claim, attack.expect));
    }
    // The honest control: three times the learning rate for the same steps.
    let honest = edit(&[("LR = 0.001", "LR = 0.003")]);
    let commit = corpus.commit(&baseline, &honest, "a higher learning rate");
    let (_, verdict) = corpus.submit(&commit, 2.47, "alice", true);
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
    // Every run was sandboxed, and the environment was made at most once, by the first job
    // of the first run of this test.
    assert!(!log.contains("NOT sandboxed"), "{log}");
    assert!(
        log.matches("made the Python environment").count() <= 1,
        "{log}"
    );
    assert!(std::fs::read_dir(verifier.join("python"))
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".ready")));
}
