//! `swarmlab init --track autoresearch`: a clone of karpathy/autoresearch put on a hub as one
//! commit. On stand-ins shaped like its prepare.py and train.py (`tests/fixtures/autoresearch`:
//! the same names and anchor lines, code of their own that runs on a CPU), and on a real clone
//! when `SWARMLAB_AUTORESEARCH_DIR` names one.
//!
//! The tests of the patched hook run Python with torch: `SWARMLAB_PYTHON` (default `python3`),
//! with `PYTHONPATH` passed on as set. Without torch they say so and pass.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use swarmlab_eval::{score_logits, EvalError, LogitsConfig};
use swarmlab_runner::{Cancel, RunSpec};

use crate::harness::swarmlab_with_env;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/autoresearch");
const LOGITS_MODULE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tracks/pygpt/swarmlab_logits.py"
);
const ADDED: [&str; 4] = [
    "swarmlab.toml",
    "swarmlab_data.py",
    "swarmlab_logits.py",
    "token_bytes.txt",
];
const VOCAB: u32 = 8192;
const CONTEXT: usize = 2048;

/// A clone in a temporary folder, with a home whose autoresearch cache holds the fixture's
/// tokenizer byte table (`token_bytes.pt`, written by torch).
struct Clone {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
}

impl Clone {
    /// The stand-in files as a fresh repository.
    fn fixture() -> Clone {
        let clone = Clone::empty();
        fs::create_dir(&clone.root).unwrap();
        for name in [
            "prepare.py",
            "train.py",
            "program.md",
            "pyproject.toml",
            "uv.lock",
            ".python-version",
        ] {
            fs::copy(Path::new(FIXTURE).join(name), clone.root.join(name)).unwrap();
        }
        clone.git(&["init", "--quiet", "--initial-branch=master"]);
        clone.git(&["add", "--all"]);
        clone.git(&["commit", "--quiet", "-m", "autoresearch, as cloned"]);
        clone
    }

    /// A clone of the real repository named by SWARMLAB_AUTORESEARCH_DIR, if any.
    fn real() -> Option<Clone> {
        let source = std::env::var_os("SWARMLAB_AUTORESEARCH_DIR")?;
        let clone = Clone::empty();
        let status = Command::new("git")
            .arg("clone")
            .arg("--quiet")
            .arg(&source)
            .arg(&clone.root)
            .status()
            .unwrap();
        assert!(status.success(), "git clone {source:?} failed");
        Some(clone)
    }

    fn empty() -> Clone {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let home = base.join("home");
        let tokenizer = home.join(".cache/autoresearch/tokenizer");
        fs::create_dir_all(&tokenizer).unwrap();
        fs::copy(
            Path::new(FIXTURE).join("token_bytes.pt"),
            tokenizer.join("token_bytes.pt"),
        )
        .unwrap();
        Clone {
            _tmp: tmp,
            root: base.join("autoresearch"),
            home,
        }
    }

    fn root_str(&self) -> &str {
        self.root.to_str().unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(&self.root)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.root.join(name)).unwrap()
    }

    /// The committed byte table.
    fn table(&self) -> Vec<u32> {
        self.read("token_bytes.txt")
            .lines()
            .map(|l| l.parse().unwrap())
            .collect()
    }

    /// `swarmlab ARGS` with this clone's home.
    fn swarmlab(&self, args: &[&str]) -> crate::harness::Output {
        swarmlab_with_env(args, None, &[("HOME", &self.home)])
    }

    fn init(&self) -> crate::harness::Output {
        self.swarmlab(&["init", "--track", "autoresearch", self.root_str()])
    }
}

/// The fixture's byte table (`tests/fixtures/autoresearch/token_bytes.pt`, written by torch).
fn fixture_table() -> Vec<u32> {
    let mut table: Vec<u32> = (0..256).map(|i| if i < 128 { 1 } else { 3 }).collect();
    table.extend((0..VOCAB - 256 - 4).map(|i| 2 + i % 8));
    table.extend([0; 4]);
    table
}

/// What the init commit did to a clone, checked the same way for the stand-in and the real
/// one; `table` is the byte table the commit must hold.
fn check_one_commit(clone: &Clone, before: &str, table: &[u32]) {
    assert_eq!(clone.git(&["rev-parse", "HEAD~1"]).trim(), before);
    assert_eq!(clone.git(&["status", "--porcelain"]), "", "a clean tree");
    let message = clone.git(&["log", "-1", "--format=%B"]);
    assert!(
        message.starts_with("swarmlab: put autoresearch on a hub\n"),
        "{message}"
    );
    for name in ["prepare.py", "swarmlab_logits.py", "swarmlab_data.py"] {
        assert!(message.contains(&format!("- {name}: ")), "{message}");
    }
    let mut changed: Vec<String> = clone
        .git(&["diff", "--name-status", "HEAD~1", "HEAD"])
        .lines()
        .map(String::from)
        .collect();
    changed.sort();
    let mut expected: Vec<String> = ADDED.iter().map(|f| format!("A\t{f}")).collect();
    expected.push("M\tprepare.py".into());
    expected.sort();
    assert_eq!(changed, expected, "train.py and the rest untouched");
    // prepare.py: two lines changed (the budget, the evaluation's name), the rest added.
    let numstat = clone.git(&["diff", "--numstat", "HEAD~1", "HEAD", "--", "prepare.py"]);
    assert!(numstat.split_whitespace().nth(1) == Some("2"), "{numstat}");
    assert_eq!(
        clone.read("swarmlab_logits.py"),
        fs::read_to_string(LOGITS_MODULE).unwrap(),
        "the shipped module is the pygpt track's, byte for byte"
    );
    assert_eq!(clone.table(), table);
    let prepare = clone.read("prepare.py");
    assert!(prepare.contains("\nimport swarmlab_logits  # swarmlab: first"));
    assert!(prepare.contains(
        "TIME_BUDGET = float(os.environ.get(\"SWARMLAB_BUDGET_SECONDS\") or 300)  # training time budget in seconds (5 minutes); swarmlab's --budget sets it\n"
    ));
    assert!(prepare.contains("def evaluate_bpb_locally(model, tokenizer, batch_size):"));
}

/// The spec validates, and a hub takes the track without `insecure`.
fn check_hub_accepts(clone: &Clone) {
    let check = clone
        .swarmlab(&["track", "check", clone.root_str()])
        .success();
    assert!(
        check
            .stdout
            .contains("eval       logits: the run serves once trained (SWARMLAB_LOGITS=serve), within its budget + 3m\n"),
        "{}",
        check.stdout
    );
    assert!(check.stdout.contains("data command uv run swarmlab_data.py tokens; vocab 8192, bytes per token from token_bytes.txt"), "{}", check.stdout);
    let data = clone.home.join("hub");
    let data = data.to_str().unwrap();
    let added = clone
        .swarmlab(&["hub", "add-track", "--data-dir", data, clone.root_str()])
        .success();
    assert_eq!(added.stdout.trim(), "autoresearch");
}

#[test]
fn init_puts_a_clone_of_autoresearch_on_a_hub_in_one_commit() {
    let clone = Clone::fixture();
    let before = clone.git(&["rev-parse", "HEAD"]).trim().to_string();
    let out = clone.init().success();
    assert!(out.stdout.contains(" in one commit, "), "{}", out.stdout);
    check_one_commit(&clone, &before, &fixture_table());
    check_hub_accepts(&clone);

    // Twice is refused, and changes nothing.
    let head = clone.git(&["rev-parse", "HEAD"]);
    let again = clone.init().fails_with(1);
    assert!(
        again.stderr.contains("already imports swarmlab_logits"),
        "{again}"
    );
    assert_eq!(clone.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(clone.git(&["status", "--porcelain"]), "");
}

#[test]
fn init_refuses_a_clone_it_cannot_patch_and_writes_nothing() {
    // Not autoresearch's evaluation: refused naming the anchor.
    let clone = Clone::fixture();
    let prepare = clone.read("prepare.py").replace(
        "def evaluate_bpb(model, tokenizer, batch_size):",
        "def evaluate_bpb(model, tokenizer, batch_size, steps=10):",
    );
    fs::write(clone.root.join("prepare.py"), &prepare).unwrap();
    clone.git(&["commit", "--quiet", "-am", "a fork"]);
    let head = clone.git(&["rev-parse", "HEAD"]);
    let out = clone.init().fails_with(1);
    assert!(
        out.stderr.contains("prepare.py does not look like karpathy/autoresearch's: no line starts with `def evaluate_bpb(model, tokenizer, batch_size):`"),
        "{out}"
    );
    assert_eq!(clone.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(clone.git(&["status", "--porcelain"]), "", "nothing written");

    // Uncommitted changes: the repository's state, exit code 4.
    let clone = Clone::fixture();
    fs::write(clone.root.join("train.py"), "# edited\n").unwrap();
    let out = clone.init().fails_with(4);
    assert!(
        out.stderr.contains("has uncommitted changes (train.py)"),
        "{out}"
    );

    // No tokenizer trained yet: says to run the setup first.
    let clone = Clone::fixture();
    fs::remove_dir_all(clone.home.join(".cache")).unwrap();
    let out = clone.init().fails_with(1);
    assert!(out.stderr.contains("run `uv run prepare.py`"), "{out}");
    assert_eq!(clone.git(&["status", "--porcelain"]), "", "nothing written");
}

/// A Python that has torch, or `None` (the tests that need one say so and pass).
fn python() -> Option<String> {
    let python = std::env::var("SWARMLAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: {python} cannot import torch (set SWARMLAB_PYTHON to one that can)");
    }
    ok.then_some(python)
}

/// `windows` windows of tokens from a fixed generator, none of them special.
fn random_tokens(windows: usize) -> Vec<u32> {
    let mut state = 12345u64;
    (0..windows * CONTEXT + 1)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % u64::from(VOCAB - 4)) as u32
        })
        .collect()
}

/// The verifier's view: serve `argv` in the clone and score `tokens` with the committed table.
fn serve(
    clone: &Clone,
    argv: Vec<String>,
    env: &[(&str, &str)],
    tokens: &[u32],
) -> Result<f64, EvalError> {
    let mut server = RunSpec::new(
        argv,
        &clone.root,
        clone.home.join("serve.log"),
        Duration::from_secs(300),
    );
    server.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    server
        .env
        .push(("HOME".into(), clone.home.display().to_string()));
    let config = LogitsConfig {
        serve_within: None,
        vocab: VOCAB,
        context: CONTEXT,
        token_bytes: clone.table(),
        windows: None,
        batch: 2,
        probes: 1,
        tolerance: 1e-4,
        seed: 11,
    };
    score_logits(&server, tokens, &config, &Cancel::new()).map(|s| s.bits_per_byte)
}

#[test]
fn the_patched_hook_serves_the_verifier_and_a_local_run_evaluates_as_before() {
    let Some(python) = python() else { return };
    let clone = Clone::fixture();
    clone.init().success();

    // A local run: the budget from SWARMLAB_BUDGET_SECONDS, autoresearch's own evaluation.
    let out = Command::new(&python)
        .arg("train.py")
        .current_dir(&clone.root)
        .env("HOME", &clone.home)
        .env("SWARMLAB_BUDGET_SECONDS", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Time budget: 1.0s"), "{stdout}");
    let local: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("val_bpb:"))
        .expect("the summary")
        .trim()
        .parse()
        .unwrap();
    assert!(local.is_finite() && local > 0.0, "{stdout}");

    // Under the verifier: the launcher trains again and the hook serves its model.
    let launcher = vec![
        python.clone(),
        "swarmlab_logits.py".into(),
        "train.py".into(),
    ];
    let budget = [("SWARMLAB_BUDGET_SECONDS", "1")];
    let bpb = serve(&clone, launcher.clone(), &budget, &random_tokens(3)).unwrap();
    // Random tokens under a model that learned a chain: worse than uniform, but finite.
    assert!(bpb.is_finite() && bpb > 0.0, "{bpb}");

    // A model that sees the next token is caught by the causality probe.
    let train = clone
        .read("train.py")
        .replace("PEEK = False", "PEEK = True");
    fs::write(clone.root.join("train.py"), train).unwrap();
    match serve(&clone, launcher, &budget, &random_tokens(3)) {
        Err(EvalError::NotCausal { .. }) => {}
        other => panic!("a peeking model must fail the probe: {other:?}"),
    }
}

/// A tiny model handed to the real prepare.py's patched evaluate_bpb, under
/// SWARMLAB_LOGITS=serve: autoresearch's train.py needs CUDA, this does not.
const HOOK_DRIVER: &str = r#"
import sys
sys.path.insert(0, ".")
import prepare  # the patched file: its first import takes the protocol's channel
import torch

class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.wte = torch.nn.Embedding(prepare.VOCAB_SIZE, 8)
        self.lm_head = torch.nn.Linear(8, prepare.VOCAB_SIZE, bias=False)

    def forward(self, idx, targets=None, reduction="mean"):
        return self.lm_head(self.wte(idx)).float()

print("calling evaluate_bpb; this line goes to the log, not to the verifier")
prepare.evaluate_bpb(Tiny(), None, 4)
sys.exit("evaluate_bpb returned under a verifier")
"#;

/// Trains autoresearch's real tokenizer (its prepare.py, rustbpe) on made-up shards in the
/// clone's home, with a validation shard and two shards of the holdout pool; `None` when the
/// Python lacks prepare.py's imports.
fn train_real_tokenizer(clone: &Clone, python: &str) -> Option<Vec<u32>> {
    let has_imports = Command::new(python)
        .args(["-c", "import pyarrow, requests, rustbpe, tiktoken"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_imports {
        eprintln!("skipped the data command: {python} cannot import prepare.py's pyarrow, requests, rustbpe and tiktoken");
        return None;
    }
    fs::remove_dir_all(clone.home.join(".cache")).unwrap();
    let shards = Path::new(FIXTURE).join("make_shards.py");
    for (dir, list) in [
        (".cache/autoresearch/data", "0,1,6542"),
        (".cache/autoresearch-holdout", "6442,6443"),
    ] {
        let dir = clone.home.join(dir);
        python_in(
            clone,
            python,
            &[shards.to_str().unwrap(), dir.to_str().unwrap(), list],
        );
    }
    python_in(
        clone,
        python,
        &["-c", "import prepare; prepare.train_tokenizer()"],
    );
    Some(clone.table_from(python))
}

/// Runs `python ARGS` in the clone with its home; its stdout.
fn python_in(clone: &Clone, python: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(python)
        .args(args)
        .current_dir(&clone.root)
        .env("HOME", &clone.home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{python} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl Clone {
    /// The byte table as prepare.py's own `get_token_bytes` (torch.load) reads it: what init's
    /// reader of the same file must find.
    fn table_from(&self, python: &str) -> Vec<u32> {
        let out = python_in(
            self,
            python,
            &[
                "-c",
                "import prepare; print(*prepare.get_token_bytes().tolist(), sep='\\n')",
            ],
        );
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect()
    }
}

#[test]
fn a_real_clone_of_autoresearch_is_put_on_a_hub() {
    let Some(clone) = Clone::real() else {
        eprintln!("skipped: SWARMLAB_AUTORESEARCH_DIR names no clone of karpathy/autoresearch");
        return;
    };
    let python = python();
    let trained = python
        .as_deref()
        .and_then(|python| train_real_tokenizer(&clone, python));
    let before = clone.git(&["rev-parse", "HEAD"]).trim().to_string();
    clone.init().success();
    check_one_commit(
        &clone,
        &before,
        trained.as_deref().unwrap_or(&fixture_table()),
    );
    check_hub_accepts(&clone);
    let Some(python) = python else { return };

    // The verifier's data: the public validation rows, or with a seed a held-out shard's,
    // MAX_SEQ_LEN tokens a row, each row from a BOS on.
    let tokens = match trained {
        Some(_) => {
            let run = |seed: Option<&str>| {
                let mut command = Command::new(&python);
                command
                    .args(["swarmlab_data.py", "tokens"])
                    .current_dir(&clone.root)
                    .env("HOME", &clone.home);
                if let Some(seed) = seed {
                    command.env("SWARMLAB_EVAL_SEED", seed);
                }
                let out = command.output().unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                swarmlab_eval::decode_tokens(&out.stdout, VOCAB).unwrap()
            };
            let (public, holdout) = (run(None), run(Some("5")));
            assert_ne!(public, holdout);
            assert_eq!(run(Some("5")), holdout, "the seed decides the holdout");
            let bos = VOCAB - 4;
            for tokens in [&public, &holdout] {
                assert_eq!(tokens.len(), 256 * CONTEXT + 1);
                assert!(tokens.iter().step_by(CONTEXT).all(|&t| t == bos));
            }
            holdout[..4 * CONTEXT + 1].to_vec()
        }
        None => random_tokens(2),
    };

    // The hook: the real prepare.py's evaluate_bpb serves a model handed to it.
    let driver = clone.home.join("hook_driver.py");
    fs::write(&driver, HOOK_DRIVER).unwrap();
    let argv = vec![python, driver.display().to_string()];
    let bpb = serve(&clone, argv, &[("SWARMLAB_LOGITS", "serve")], &tokens).unwrap();
    assert!(bpb.is_finite() && bpb > 0.0, "{bpb}");
}
