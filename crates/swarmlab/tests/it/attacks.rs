//! The attack corpus: one candidate per known way to cheat a verifier or take it over, each
//! submitted through `swarmlab submit` to a real hub and verified by a real `swarmlab verify`
//! in the sandbox, with the verdict it must get. Honest controls must be accepted, and the
//! verifier must survive every attack (it verifies the next one).
//!
//! The track (tests/fixtures/attack) runs its editable `model.sh` as code; the trusted
//! evaluator scores the weight it writes (loss = (w - 3)^2 + 1, baseline w = 2.0), so every
//! runtime attack below pays off with w = 3.0 only if the sandbox lets it through.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use swarmlab_testkit::git::Repo;

use crate::harness::{poll_until, swarmlab, BIN};
use crate::hubs::{enroll_verifier, free_address};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/attack");

/// What a candidate must get.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    Accepted,
    /// Refused at intake, before anything runs, for this reason.
    Invalid(&'static str),
    /// Verified and rejected for one of these reasons.
    Rejected(&'static [&'static str]),
}

/// One way the candidate differs from the head.
pub enum Change {
    /// `model.sh` becomes this script (`$OUT` is the artifact's path).
    Model(String),
    /// A file's bytes.
    File(&'static str, Vec<u8>),
    /// A symlink at `model.sh`.
    Symlink(&'static str),
    /// A submodule entry at this path.
    Gitlink(&'static str),
}

struct Attack {
    name: &'static str,
    change: Change,
    /// The metric the submitter claims.
    claim: f64,
    expect: Expect,
}

fn model(body: &str) -> Change {
    Change::Model(format!("OUT=\"$SWARMLAB_RUN_DIR/model.txt\"\n{body}\n"))
}

/// A model that writes the perfect weight if `cheat` (a shell condition) succeeds.
fn pays_off_if(cheat: &str) -> Change {
    model(&format!(
        "if {cheat}; then echo \"w = 3.0\" > \"$OUT\"; else echo \"w = 2.0\" > \"$OUT\"; fi"
    ))
}

/// The claim promised a gain the verifier did not measure.
pub const NOT_REPRODUCED: &[&str] = &["not_reproduced"];
const NOT_ACCEPTED: &[&str] = &["not_reproduced", "crash", "timeout"];

fn attacks(verifier_dir: &Path, hub_port: u16) -> Vec<Attack> {
    let key = verifier_dir.join("identity.json");
    vec![
        Attack {
            name: "prints a fake metric line",
            change: model("echo '---'; echo 'loss: 0.000001'; echo \"w = 2.0\" > \"$OUT\""),
            claim: 0.000001,
            expect: Expect::Rejected(NOT_REPRODUCED),
        },
        Attack {
            name: "patches the evaluator in its change",
            change: Change::File("eval.sh", b"echo '---'; echo 'loss: 0.5'\n".to_vec()),
            claim: 0.5,
            expect: Expect::Invalid("outside_editable"),
        },
        Attack {
            name: "rewrites the evaluator at run time",
            change: pays_off_if("printf \"echo '---'; echo 'loss: 0.5'\\n\" > eval.sh 2>/dev/null"),
            claim: 0.5,
            expect: Expect::Rejected(NOT_REPRODUCED),
        },
        Attack {
            name: "reads the verifier's secret key",
            change: pays_off_if(&format!("cat {} > /dev/null 2>&1", key.display())),
            claim: 1.0,
            expect: Expect::Rejected(NOT_REPRODUCED),
        },
        Attack {
            name: "phones home",
            change: pays_off_if(&format!(
                "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {hub_port}), 2)\" 2>/dev/null"
            )),
            claim: 1.0,
            expect: Expect::Rejected(NOT_REPRODUCED),
        },
        Attack {
            name: "leaves a symlink as its artifact",
            change: model("ln -s /etc/passwd \"$OUT\""),
            claim: 1.0,
            expect: Expect::Rejected(&["crash"]),
        },
        Attack {
            name: "fork bomb",
            change: model("while :; do sleep 60 & done"),
            claim: 1.0,
            expect: Expect::Rejected(&["timeout", "crash"]),
        },
        Attack {
            name: "fills the disk",
            change: pays_off_if(
                "dd if=/dev/zero of=\"$SWARMLAB_RUN_DIR/fill\" bs=1M count=100000 2>/dev/null",
            ),
            claim: 1.0,
            expect: Expect::Rejected(NOT_ACCEPTED),
        },
        Attack {
            name: "blows up its memory",
            change: pays_off_if("python3 -c \"x = b'x' * (1 << 31)\" 2>/dev/null"),
            claim: 1.0,
            expect: Expect::Rejected(NOT_ACCEPTED),
        },
        Attack {
            name: "sleeps past the timeout",
            change: model("sleep 100; echo \"w = 3.0\" > \"$OUT\""),
            claim: 1.0,
            expect: Expect::Rejected(&["timeout"]),
        },
        Attack {
            name: "overruns its budget",
            change: model("while :; do :; done"),
            claim: 1.0,
            expect: Expect::Rejected(&["timeout"]),
        },
        Attack {
            name: "makes model.sh a symlink",
            change: Change::Symlink("/etc/passwd"),
            claim: 1.0,
            expect: Expect::Invalid("symlink"),
        },
        Attack {
            name: "adds an attribute file",
            change: Change::File(".gitattributes", b"* filter=evil\n".to_vec()),
            claim: 1.0,
            expect: Expect::Invalid("attribute_file"),
        },
        Attack {
            name: "adds a submodule",
            change: Change::Gitlink("vendor"),
            claim: 1.0,
            expect: Expect::Invalid("submodule"),
        },
        Attack {
            name: "an oversized diff",
            change: Change::File("model.sh", vec![b'#'; 2 << 20]),
            claim: 1.0,
            expect: Expect::Invalid("file_too_large"),
        },
        Attack {
            name: "a binary file",
            change: Change::File("model.sh", b"echo hi\0\n".to_vec()),
            claim: 1.0,
            expect: Expect::Invalid("binary_file"),
        },
        Attack {
            name: "the head plus noise",
            change: model("# the same model, reworded\necho \"w = 2.0\" > \"$OUT\""),
            claim: 2.0,
            expect: Expect::Rejected(&["not_better"]),
        },
        Attack {
            name: "claims a lucky seed",
            change: model("# lucky\necho \"w = 2.0\" > \"$OUT\""),
            claim: 1.2,
            expect: Expect::Rejected(NOT_REPRODUCED),
        },
    ]
}

/// A process killed when dropped.
/// Fills `repo` with the attack track (tests/fixtures/attack).
pub fn attack_track(repo: &Path) {
    for entry in std::fs::read_dir(FIXTURE).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), repo.join(entry.file_name())).unwrap();
    }
}

pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A track's repository, a hub serving it and a sandboxed verifier, all real processes.
pub struct Corpus {
    pub dir: tempfile::TempDir,
    pub url: String,
    /// The hub's `host:port`.
    pub address: String,
    pub repo: PathBuf,
    pub track: &'static str,
    pub baseline: String,
    /// The hub's other tracks ([`Corpus::serve_tracks`]).
    others: Vec<Track>,
    pub hub_data: PathBuf,
    _hub: Background,
    verifier: Option<Background>,
}

impl Corpus {
    /// Commits the files `fill` writes into a fresh repository as the track `track`, serves
    /// it from a hub and starts `swarmlab verify` in `verifier_dir` (its log in the corpus's
    /// folder, `verifier.log`) with the sandbox on and `verifier_args`.
    pub fn start(
        track: &'static str,
        fill: impl FnOnce(&Path),
        verifier_dir: &Path,
        verifier_args: &[&str],
    ) -> Corpus {
        let mut corpus = Corpus::serve(track, fill, &[]);
        corpus.start_verifier(verifier_dir, verifier_args);
        corpus
    }

    /// [`Corpus::start`] without the verifier, the hub's environment extended by `hub_env`.
    pub fn serve(
        track: &'static str,
        fill: impl FnOnce(&Path),
        hub_env: &[(&str, &str)],
    ) -> Corpus {
        Corpus::serve_tracks(track, fill, &[], hub_env)
    }

    /// [`Corpus::serve`] with more tracks on the same hub, each a name and what fills its
    /// repository, added before the hub starts ([`Corpus::other`]).
    pub fn serve_tracks(
        track: &'static str,
        fill: impl FnOnce(&Path),
        others: &[(&'static str, Fill)],
        hub_env: &[(&str, &str)],
    ) -> Corpus {
        let dir = tempfile::tempdir().unwrap();
        let main = Track::create(dir.path(), track, fill);
        let others: Vec<Track> = others
            .iter()
            .map(|(name, fill)| Track::create(dir.path(), name, fill))
            .collect();
        let address: std::net::SocketAddr = free_address().parse().unwrap();
        let url = format!("http://{address}");
        let data = dir.path().join("hub");
        let data_str = data.to_str().unwrap();
        for repo in std::iter::once(&main.repo).chain(others.iter().map(|t| &t.repo)) {
            swarmlab(
                &[
                    "hub",
                    "add-track",
                    "--data-dir",
                    data_str,
                    repo.to_str().unwrap(),
                ],
                None,
            )
            .success();
        }
        let hub = Background(
            Command::new(BIN)
                .args([
                    "hub",
                    "serve",
                    "--data-dir",
                    data_str,
                    "--listen",
                    &address.to_string(),
                ])
                .envs(hub_env.iter().copied())
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        assert!(poll_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(address).is_ok()
        }));
        Corpus {
            dir,
            url,
            address: address.to_string(),
            repo: main.repo,
            track,
            baseline: main.baseline,
            others,
            hub_data: data,
            _hub: hub,
            verifier: None,
        }
    }

    /// The track `name` of those [`Corpus::serve_tracks`] added beside the corpus's own.
    pub fn other(&self, name: &str) -> &Track {
        self.others
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no track {name} on this hub"))
    }

    /// Enrolls the verifier in `verifier_dir` and starts it (see [`Corpus::start`]); returns
    /// its token.
    pub fn start_verifier(&mut self, verifier_dir: &Path, verifier_args: &[&str]) -> String {
        let verifier_str = verifier_dir.to_str().unwrap();
        let token = enroll_verifier(&self.url, self.hub_data.to_str().unwrap(), verifier_str);
        let verifier_log = std::fs::File::create(self.dir.path().join("verifier.log")).unwrap();
        self.verifier = Some(Background(
            Command::new(BIN)
                .args([
                    "verify",
                    "--hub",
                    &self.url,
                    "--dir",
                    verifier_str,
                    "--token",
                    &token,
                    "--sandbox",
                    "on",
                ])
                .args(verifier_args)
                .stdin(Stdio::null())
                .stderr(verifier_log)
                .spawn()
                .unwrap(),
        ));
        token
    }

    /// Commits `change` on the baseline as Mallory's and waits for its verdict: what went
    /// wrong when it is not `expect`. The verifier must survive it.
    pub fn attack(
        &mut self,
        name: &str,
        change: &Change,
        claim: f64,
        expect: Expect,
    ) -> Option<String> {
        let baseline = self.baseline.clone();
        let commit = self.commit(&baseline, change, name);
        let (_, line) = self.submit(&commit, claim, "mallory", true);
        self.assert_verifier_alive(name);
        (!verdict_matches(&line, expect))
            .then(|| format!("{name}: expected {expect:?}, got `{line}`"))
    }

    /// The verifier's log so far.
    pub fn verifier_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("verifier.log")).unwrap_or_default()
    }

    /// Panics when the verifier has stopped.
    pub fn assert_verifier_alive(&mut self, after: &str) {
        let verifier = self.verifier.as_mut().expect("a verifier was started");
        assert!(
            verifier.0.try_wait().unwrap().is_none(),
            "the verifier died after `{after}`\n--- verifier\n{}",
            self.verifier_log()
        );
    }

    pub fn git(&self, args: &[&str]) -> String {
        swarmlab_testkit::git::git(&self.repo, args)
    }

    /// Commits `change` on `parent` and returns the commit.
    pub fn commit(&self, parent: &str, change: &Change, message: &str) -> String {
        commit_in(&self.repo, parent, change, message)
    }

    /// `swarmlab submit --wait` left running, its stdout piped.
    fn submit_in_background(&self, commit: &str, claim: f64, worker: &str) -> Background {
        let identity = self.dir.path().join(worker);
        Background(
            Command::new(BIN)
                .args([
                    "submit", "--hub", &self.url, "--track", self.track, "--repo",
                ])
                .arg(&self.repo)
                .arg("--dir")
                .arg(identity)
                .args(["--claim", &claim.to_string(), commit, "--wait"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    /// `swarmlab submit`: the submission's id and its status line. With `wait`, the verdict's;
    /// a verifier fault fails the test at once, as the job would wait for another verifier.
    pub fn submit(&self, commit: &str, claim: f64, worker: &str, wait: bool) -> (String, String) {
        self.submit_on(self.track, &self.repo, commit, claim, worker, wait)
    }

    /// [`Corpus::submit`] to `track`, one of the hub's other tracks.
    pub fn submit_to(
        &self,
        track: &Track,
        commit: &str,
        claim: f64,
        worker: &str,
        wait: bool,
    ) -> (String, String) {
        self.submit_on(track.name, &track.repo, commit, claim, worker, wait)
    }

    fn submit_on(
        &self,
        track: &str,
        repo: &Path,
        commit: &str,
        claim: f64,
        worker: &str,
        wait: bool,
    ) -> (String, String) {
        let identity = self.dir.path().join(worker);
        let claim = claim.to_string();
        let mut args = vec![
            "submit",
            "--hub",
            &self.url,
            "--track",
            track,
            "--repo",
            repo.to_str().unwrap(),
            "--dir",
            identity.to_str().unwrap(),
            "--claim",
            &claim,
            commit,
        ];
        if wait {
            args.push("--wait");
        }
        let mut child = Background(
            Command::new(BIN)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let ended = poll_until(Duration::from_secs(30 * 60), || {
            let log = self.verifier_log();
            assert!(
                !log.contains(" fault: "),
                "the verifier faulted\n--- verifier\n{log}"
            );
            child.0.try_wait().unwrap().is_some()
        });
        assert!(
            ended,
            "no answer within 30 minutes\n--- verifier\n{}",
            self.verifier_log()
        );
        let mut stdout = String::new();
        let mut stderr = String::new();
        child
            .0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.0.wait().unwrap();
        assert!(
            status.success(),
            "swarmlab submit: {status}\n{stdout}\n{stderr}"
        );
        let last = stdout.lines().last().unwrap_or_default().to_string();
        let id = last
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        (id, last)
    }
}

/// What writes a track's files into its fresh repository.
pub type Fill = fn(&Path);

/// A track's repository in a corpus's folder, its baseline committed.
pub struct Track {
    pub name: &'static str,
    pub repo: PathBuf,
    pub baseline: String,
}

impl Track {
    /// Commits the files `fill` writes into a fresh repository `dir/name`.
    fn create(dir: &Path, name: &'static str, fill: impl FnOnce(&Path)) -> Track {
        let repo = dir.join(name);
        std::fs::create_dir(&repo).unwrap();
        fill(&repo);
        let source = Repo::open(&repo);
        source.git(&["init", "-q", "-b", "main"]);
        source.commit_all("the track");
        source.git(&["config", "user.name", "attacker"]);
        source.git(&["config", "user.email", "attacker@example.com"]);
        let baseline = swarmlab_testkit::git::git(&repo, &["rev-parse", "HEAD"]);
        Track {
            name,
            repo,
            baseline,
        }
    }

    /// Commits `change` on `parent` and returns the commit.
    pub fn commit(&self, parent: &str, change: &Change, message: &str) -> String {
        commit_in(&self.repo, parent, change, message)
    }
}

/// Commits `change` on `parent` in `repo` and returns the commit.
fn commit_in(repo: &Path, parent: &str, change: &Change, message: &str) -> String {
    let git = |args: &[&str]| swarmlab_testkit::git::git(repo, args);
    git(&["checkout", "-q", "--detach", parent]);
    let path = |p: &str| repo.join(p);
    match change {
        Change::Model(text) => std::fs::write(path("model.sh"), text).unwrap(),
        Change::File(name, bytes) => std::fs::write(path(name), bytes).unwrap(),
        Change::Symlink(target) => {
            std::fs::remove_file(path("model.sh")).unwrap();
            std::os::unix::fs::symlink(target, path("model.sh")).unwrap();
        }
        Change::Gitlink(_) => {}
    }
    git(&["add", "-A"]);
    if let Change::Gitlink(name) = change {
        let info = format!("160000,{parent},{name}");
        git(&["update-index", "--add", "--cacheinfo", &info]);
    }
    git(&["commit", "-q", "--allow-empty", "-m", message]);
    git(&["rev-parse", "HEAD"])
}

/// Whether `swarmlab submit --wait`'s last line is the verdict `expect`.
pub fn verdict_matches(line: &str, expect: Expect) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (status, reason) = (
        words.get(2).copied().unwrap_or_default(),
        words
            .get(3)
            .map(|r| r.trim_matches(|c| c == '(' || c == ')')),
    );
    match expect {
        Expect::Accepted => status == "accepted",
        Expect::Invalid(why) => status == "invalid" && reason == Some(why),
        Expect::Rejected(whys) => status == "rejected" && reason.is_some_and(|r| whys.contains(&r)),
    }
}

#[test]
fn every_attack_gets_its_verdict_and_the_honest_controls_pass() {
    let verifier_dir = tempfile::tempdir().unwrap();
    let verifier_dir = verifier_dir.path().join("verifier");
    let mut corpus = Corpus::start(
        "attack",
        attack_track,
        &verifier_dir,
        &["--memory-mb", "256", "--file-mb", "64"],
    );
    let baseline = corpus.baseline.clone();
    let port: u16 = corpus.url.rsplit(':').next().unwrap().parse().unwrap();

    let mut wrong = Vec::new();
    for attack in attacks(&verifier_dir, port) {
        wrong.extend(corpus.attack(attack.name, &attack.change, attack.claim, attack.expect));
    }

    // Plagiarism: Mallory copies Alice's pending change; the earliest receipt wins, and
    // Alice's honest improvement is accepted.
    let honest = pays_off_if("true");
    let alice = corpus.commit(&baseline, &honest, "w = 3.0");
    let mut alice_submits = corpus.submit_in_background(&alice, 1.0, "alice");
    let mut alice_lines = BufReader::new(alice_submits.0.stdout.take().unwrap()).lines();
    let received = alice_lines.next().unwrap().unwrap();
    assert!(received.contains("queued"), "{received}");
    let copy = corpus.commit(&baseline, &honest, "w = 3.0, honestly mine");
    let (_, copied) = corpus.submit(&copy, 1.0, "mallory", true);
    if !verdict_matches(&copied, Expect::Rejected(&["duplicate"])) {
        wrong.push(format!("plagiarised pending submission: got `{copied}`"));
    }
    let verdict = alice_lines.map_while(Result::ok).last().unwrap_or_default();
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
}
