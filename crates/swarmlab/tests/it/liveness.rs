//! Every submission gets a verdict, and a verifier that cannot do its work says so at once:
//! through a real hub and a real `swarmlab verify`, candidates whose trees the track's spec
//! no longer fits (an editable file deleted, a folder in its place, a knob's line rewritten)
//! or whose setup fails get the candidate's verdict, never a verifier fault; a verifier whose
//! folder its sandbox cannot reach, or that has no sandbox, refuses to start (unless
//! `--sandbox off`, whose every report then says so); one that faults on job after job stops
//! and says why; and the demo runs from a private folder.
//!
//! The track is the toy with a trusted setup step that fails when `params.txt` asks it to.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use swarmlab_testkit::git::Repo;

use crate::attacks::{verdict_matches, Background, Change, Corpus, Expect};
use crate::harness::{poll_until, swarmlab, BIN};
use crate::hubs::{client, enroll_verifier};

const TOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tracks/toy");

/// A trusted setup step that fails when `params.txt` has a line `# broken`.
const SETUP: &str = "# Fails on purpose when params.txt asks it to (tests of a failing setup).\n\
                     if grep -q '^# broken' params.txt; then echo 'setup: broken' >&2; exit 1; fi\n";

/// The toy track as it is.
pub fn toy(repo: &Path) {
    for name in [
        "params.txt",
        "program.md",
        "toy.awk",
        "train.sh",
        "swarmlab.toml",
    ] {
        std::fs::copy(Path::new(TOY).join(name), repo.join(name)).unwrap();
    }
}

/// The toy track, with a setup step that a candidate can make fail.
pub fn toy_with_setup(repo: &Path) {
    toy(repo);
    std::fs::write(repo.join("setup.sh"), SETUP).unwrap();
    let spec = std::fs::read_to_string(Path::new(TOY).join("swarmlab.toml")).unwrap();
    let spec = spec
        .replacen("[run]\n", "[run]\nsetup = [\"sh\", \"setup.sh\"]\n", 1)
        .replacen(
            "trusted = [\"train.sh\", \"toy.awk\"]",
            "trusted = [\"train.sh\", \"toy.awk\", \"setup.sh\"]",
            1,
        );
    assert!(spec.contains("setup.sh\"]\n") && spec.contains("\"setup.sh\"]"));
    std::fs::write(repo.join("swarmlab.toml"), spec).unwrap();
}

/// The baseline's `params.txt` with `from` replaced by `to`.
pub fn params_with(from: &str, to: &str) -> Vec<u8> {
    let params = std::fs::read_to_string(Path::new(TOY).join("params.txt")).unwrap();
    assert!(params.contains(from), "no `{from}` in params.txt");
    params.replacen(from, to, 1).into_bytes()
}

/// A new repository at `root` holding [`toy_with_setup`], its baseline committed.
pub fn toy_repo(root: &Path) -> Repo {
    std::fs::create_dir_all(root).unwrap();
    toy_with_setup(root);
    let repo = Repo::open(root);
    repo.git(&["init", "-q", "-b", "main"]);
    repo.commit_all("the track");
    repo
}

/// A hostile tree, as a commit on `parent` in the track's repository.
#[derive(Clone, Copy, Debug)]
pub enum Hostile {
    /// `params.txt`, the only editable file, deleted.
    Deleted,
    /// A folder at `params.txt`, holding a file.
    Folder,
    /// The `lr` line rewritten so that its knob's pattern no longer matches.
    KnobBroken,
    /// A `params.txt` that makes the trusted setup fail.
    SetupFails,
}

impl Hostile {
    pub const ALL: [Hostile; 4] = [
        Hostile::Deleted,
        Hostile::Folder,
        Hostile::KnobBroken,
        Hostile::SetupFails,
    ];

    pub fn commit(self, repo: &Repo, parent: &str) -> String {
        let message = format!("{self:?}");
        let params = |from, to| params_with(from, to);
        match self {
            Hostile::KnobBroken => repo.commit_on(
                parent,
                &[("params.txt", &params("lr = 0.001", "lr: 0.001"))],
                &message,
            ),
            Hostile::SetupFails => repo.commit_on(
                parent,
                &[("params.txt", &params("lr = 0.001", "# broken\nlr = 0.01"))],
                &message,
            ),
            Hostile::Deleted | Hostile::Folder => {
                repo.git(&["checkout", "-q", "--detach", parent]);
                std::fs::remove_file(repo.root().join("params.txt")).unwrap();
                if let Hostile::Folder = self {
                    repo.write("params.txt/lr", "lr = 0.01\n");
                }
                repo.commit_all(&message)
            }
        }
    }
}

/// The verdict a hostile tree must get: the candidate's, whether intake or the verifier
/// finds it.
pub fn blames_the_candidate(line: &str) -> bool {
    verdict_matches(line, Expect::Rejected(&["crash"]))
        || line.split_whitespace().nth(2) == Some("invalid")
}

fn admin_token(corpus: &Corpus) -> String {
    let data = corpus.hub_data.to_str().unwrap();
    swarmlab(&["hub", "admin-token", "--data-dir", data], None)
        .success()
        .stdout
        .trim()
        .to_string()
}

fn ledger(corpus: &Corpus) -> String {
    let path = format!("/api/v1/tracks/{}/ledger", corpus.track);
    let answer = client(&corpus.address, &admin_token(corpus)).get(&path);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

/// A folder only its owner may enter, as `mktemp -d` makes one.
fn private_folder(parent: &Path) -> PathBuf {
    let private = parent.join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    private
}

#[test]
fn hostile_trees_get_the_candidates_verdict_and_never_a_verifier_fault() {
    let verifier = tempfile::tempdir().unwrap();
    let verifier_dir = verifier.path().join("verifier");
    let mut corpus = Corpus::start("toy", toy_with_setup, &verifier_dir, &[]);
    let baseline = corpus.baseline.clone();
    let mut wrong = Vec::new();
    for hostile in Hostile::ALL {
        let commit = hostile.commit(&Repo::open(&corpus.repo), &baseline);
        // `submit` fails the test at once on a verifier fault.
        let (_, line) = corpus.submit(&commit, 1.0, "mallory", true);
        corpus.assert_verifier_alive(&format!("{hostile:?}"));
        if !blames_the_candidate(&line) {
            wrong.push(format!("{hostile:?}: got `{line}`"));
        }
    }
    let honest = corpus.commit(
        &baseline,
        &Change::File("params.txt", params_with("lr = 0.001", "lr = 0.01")),
        "lr 0.01",
    );
    let (_, line) = corpus.submit(&honest, 1.0, "alice", true);
    let log = corpus.verifier_log();
    assert!(
        wrong.is_empty(),
        "{}\n--- verifier\n{log}",
        wrong.join("\n")
    );
    assert!(
        verdict_matches(&line, Expect::Accepted),
        "the honest control got `{line}`\n--- verifier\n{log}"
    );

    // The public ledger names none of the verifier's folders, whatever its details say.
    let ledger = ledger(&corpus);
    let folder = verifier_dir.to_str().unwrap();
    assert!(
        !ledger.contains(folder),
        "the ledger leaks {folder}\n{ledger}"
    );
    let details: Vec<String> = ledger
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| {
            e["event"]["measurements"]["detail"]
                .as_str()
                .map(String::from)
        })
        .collect();
    for detail in &details {
        assert!(!detail.contains(folder), "{detail}");
        if detail.contains("trees/candidate") {
            assert!(detail.contains("<verifier>/trees/candidate"), "{detail}");
        }
    }
}

#[test]
fn a_verifier_whose_folder_its_sandbox_cannot_reach_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let private = private_folder(tmp.path());
    let dir = private.join("verifier");
    let dir_str = dir.to_str().unwrap();
    for mode in ["on", "auto"] {
        let out = swarmlab(
            &[
                "verify",
                "--hub",
                "http://127.0.0.1:9",
                "--dir",
                dir_str,
                "--sandbox",
                mode,
            ],
            None,
        )
        .fails_with(1);
        let blocked = format!("cannot enter {} (mode 700)", private.display());
        assert!(out.stderr.contains(&blocked), "--sandbox {mode}: {out}");
        assert!(out.stderr.contains("--sandbox off"), "{out}");
    }
    let out = swarmlab(&["sandbox", "check", "--dir", dir_str], None).fails_with(1);
    assert!(out.stderr.contains("cannot enter"), "{out}");

    // Let through, the same folder passes.
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o711)).unwrap();
    let out = swarmlab(&["sandbox", "check", "--dir", dir_str], None).success();
    assert!(out.stdout.contains("every layer"), "{out}");
}

#[test]
fn without_a_sandbox_verify_and_the_demo_refuse_unless_told_off() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("verifier");
    let dir_str = dir.to_str().unwrap();
    for mode in ["on", "auto"] {
        let out = swarmlab(
            &[
                "verify",
                "--hub",
                "http://127.0.0.1:9",
                "--dir",
                dir_str,
                "--sandbox",
                mode,
                "--bwrap",
                "/nonexistent/bwrap",
            ],
            None,
        )
        .fails_with(1);
        assert!(out.stderr.contains("bubblewrap not found"), "{out}");
        assert!(out.stderr.contains("--sandbox off"), "{out}");
    }
    let demo = tmp.path().join("demo");
    let out = swarmlab(
        &[
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--for",
            "60s",
            "--bwrap",
            "/nonexistent/bwrap",
            "--dir",
            demo.to_str().unwrap(),
        ],
        None,
    )
    .fails_with(1);
    assert!(out.stderr.contains("--sandbox off"), "{out}");
    assert!(
        !out.stdout.contains("dashboard"),
        "the swarm started\n{out}"
    );
}

#[test]
fn an_unsandboxed_verifier_says_so_in_every_signed_report() {
    let corpus = Corpus::serve("toy", toy_with_setup, &[]);
    let dir = corpus.dir.path().join("verifier");
    let token = enroll_verifier(
        &corpus.url,
        corpus.hub_data.to_str().unwrap(),
        dir.to_str().unwrap(),
    );
    let log = std::fs::File::create(corpus.dir.path().join("verifier.log")).unwrap();
    let _verifier = Background(
        Command::new(BIN)
            .args(["verify", "--hub", &corpus.url, "--token", &token])
            .arg("--dir")
            .arg(&dir)
            .args(["--sandbox", "off"])
            .stdin(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let honest = corpus.commit(
        &corpus.baseline,
        &Change::File("params.txt", params_with("lr = 0.001", "lr = 0.01")),
        "lr 0.01",
    );
    let (_, line) = corpus.submit(&honest, 1.0, "alice", true);
    assert!(
        verdict_matches(&line, Expect::Accepted),
        "{line}\n--- verifier\n{}",
        corpus.verifier_log()
    );
    let ledger = ledger(&corpus);
    let reports: Vec<Value> = ledger
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"]["measurements"].is_object())
        .collect();
    assert!(!reports.is_empty(), "no verdict in the ledger\n{ledger}");
    for report in &reports {
        assert_eq!(
            report["event"]["measurements"]["unsandboxed"], true,
            "{report}"
        );
    }
}

#[test]
fn a_verifier_that_faults_on_job_after_job_stops_and_says_why() {
    let mut corpus = Corpus::serve("toy", toy_with_setup, &[]);
    let baseline = corpus.baseline.clone();
    // The verifier cannot make its jobs' folders: every job is its fault.
    let dir = corpus.dir.path().join("verifier");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("jobs"), "not a folder").unwrap();
    corpus.start_verifier(&dir, &[]);
    // One submitter each: a new identity may have two submissions waiting.
    for (lr, who) in [("0.002", "alice"), ("0.003", "bob"), ("0.004", "carol")] {
        let commit = corpus.commit(
            &baseline,
            &Change::File(
                "params.txt",
                params_with("lr = 0.001", &format!("lr = {lr}")),
            ),
            lr,
        );
        let identity = corpus.dir.path().join(who);
        swarmlab(
            &[
                "submit",
                "--hub",
                &corpus.url,
                "--track",
                "toy",
                "--repo",
                corpus.repo.to_str().unwrap(),
                "--dir",
                identity.to_str().unwrap(),
                "--claim",
                "1.0",
                &commit,
            ],
            None,
        )
        .success();
    }
    // The error line is the verifier's last: it exits with it.
    let stopped = poll_until(Duration::from_secs(120), || {
        corpus.verifier_log().contains("error: ")
    });
    let log = corpus.verifier_log();
    assert!(stopped, "the verifier kept going\n{log}");
    assert!(
        log.contains("faulted on 3 jobs in a row, so it takes no more"),
        "{log}"
    );
    assert!(log.contains("Not a directory"), "{log}");
}

#[test]
fn the_demo_runs_from_a_private_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let private = private_folder(tmp.path());
    let out = swarmlab(
        &[
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--commits",
            "1",
            "--for",
            "120s",
            "--dir",
            ".",
        ],
        Some(&private),
    );
    // The verifier worked elsewhere: remove its folder whatever happened.
    let outside = out
        .stdout
        .lines()
        .find_map(|l| l.split("the verifier works in ").nth(1))
        .map(|p| PathBuf::from(p.trim()));
    if let Some(outside) = &outside {
        let _ = std::fs::remove_dir_all(outside);
    }
    // The demo relays a child's first error line; its log holds the causes.
    let verifier_log =
        std::fs::read_to_string(private.join("logs/verifier.log")).unwrap_or_default();
    assert_eq!(out.code, 0, "{out}\n--- verifier\n{verifier_log}");
    assert!(outside.is_some(), "{out}");
    let chain: usize = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("chain: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no chain line\n{out}"));
    assert!(chain >= 1, "the chain did not grow\n{out}");
    assert!(
        private.join("hub").is_dir(),
        "the state is not in the folder"
    );
}
