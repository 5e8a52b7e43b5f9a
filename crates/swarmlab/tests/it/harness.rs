//! The harness: a track in a temporary git repository, the real `swarmlab` binary run on it,
//! and readers for what it leaves behind (results, run directories, git state, processes).
//!
//! Every test gets its own temporary folder, so tests may run in parallel threads.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_swarmlab");

/// The fake trainer: `params.txt` (the only editable file) picks how it behaves. It writes the
/// pids of its tree to `$SWARMLAB_RUN_DIR/pids` (atomically, once all exist) and its
/// `SWARMLAB_*` environment to `$SWARMLAB_RUN_DIR/env`.
pub const FAKE_TRAINER: &str = r#"#!/bin/sh
mode=$(sed -n 's/^mode = //p' params.txt)
value=$(sed -n 's/^value = //p' params.txt)
out="$SWARMLAB_RUN_DIR"
env | grep '^SWARMLAB_' | sort > "$out/env"
pids() { echo "$*" > "$out/pids.tmp" && mv "$out/pids.tmp" "$out/pids"; }
summary() { echo "---"; echo "loss: $1"; }
case "$mode" in
good) pids $$; echo "step 1 loss 9.9"; summary "$value" ;;
slow) pids $$; sleep "$value"; summary "$value" ;;
sleep) sleep 300 & pids $$ $!; wait ;;
stubborn) trap '' TERM; sleep 300 & pids $$ $!; wait ;;
orphan) sleep 60 & pids $$ $!; summary "$value" ;;
detach) setsid sleep 60 & pids $$ $!; summary "$value" ;;
silent) pids $$; echo "trained, but forgot the summary" ;;
nan) pids $$; summary nan ;;
crash) pids $$; echo "step 1 loss 9.9"; echo "fatal: out of cheese" >&2; exit 3 ;;
huge) pids $$; yes "step 1 loss 9.9 and a long line of padding to fill the log quickly" | head -c 100000000; echo; summary "$value" ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
"#;

/// The baseline of the fake trainer: a good run with loss 2.0.
pub const FAKE_PARAMS: &str = "mode = good\nvalue = 2.0\n";

/// The `[run]` keys of the fake track, each overridable with [`Builder::run`].
const FAKE_RUN: &[(&str, &str)] = &[
    ("command", r#"["sh", "train.sh"]"#),
    ("budget", r#""1s""#),
    ("timeout", r#""2s""#),
    ("grace", r#""1s""#),
];

const FAKE_REST: &str = r#"
[metric]
name = "loss"
goal = "minimize"

[files]
editable = ["params.txt"]
trusted = ["train.sh"]
"#;

/// A shell command for the script proposer that writes `params.txt` and describes it.
/// `mode` and `value` are shell words: `1.$SWARMLAB_INDEX` expands.
pub fn set_params(mode: &str, value: &str) -> String {
    format!(
        r#"printf "mode = %s\nvalue = %s\n" {mode} {value} > params.txt && echo "{mode} {value}""#
    )
}

/// A script proposer command: `first` for experiment 1, `rest` for every later one.
pub fn first_then(first: &str, rest: &str) -> String {
    format!(r#"if [ "$SWARMLAB_INDEX" = 1 ]; then {first}; else {rest}; fi"#)
}

/// Builds a fake track with some `[run]` keys changed or extra files.
pub struct Builder {
    run: Vec<(String, String)>,
    files: Vec<(String, String)>,
    spec: Option<String>,
}

impl Builder {
    /// Sets (or adds) one `[run]` key; `value` is TOML.
    pub fn run(mut self, key: &str, value: &str) -> Builder {
        match self.run.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_string(),
            None => self.run.push((key.to_string(), value.to_string())),
        }
        self
    }

    /// Writes (or replaces) a file of the track.
    pub fn file(mut self, path: &str, content: &str) -> Builder {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.to_string(), content.to_string()));
        self
    }

    /// Replaces the whole `swarmlab.toml`.
    pub fn spec(mut self, text: &str) -> Builder {
        self.spec = Some(text.to_string());
        self
    }

    pub fn build(self) -> Track {
        let spec = self.spec.unwrap_or_else(|| {
            let run: String = self
                .run
                .iter()
                .map(|(k, v)| format!("{k} = {v}\n"))
                .collect();
            format!("[track]\nname = \"fake\"\n\n[run]\n{run}{FAKE_REST}")
        });
        let track = Track::empty();
        track.write("swarmlab.toml", &spec);
        for (path, content) in &self.files {
            track.write(path, content);
        }
        fs::set_permissions(
            track.root.join("train.sh"),
            fs::Permissions::from_mode(0o755),
        )
        .expect("train.sh was just written");
        track.git(&["init", "--quiet", "--initial-branch=main"]);
        track.git(&["add", "--all"]);
        track.git(&["commit", "--quiet", "-m", "the fake track"]);
        track
    }
}

/// A track in its own temporary folder.
pub struct Track {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Track {
    fn empty() -> Track {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let root = tmp
            .path()
            .canonicalize()
            .expect("the temporary folder exists")
            .join("track");
        fs::create_dir(&root).expect("a fresh folder");
        Track { _tmp: tmp, root }
    }

    /// The embedded toy track, written by `swarmlab init --track toy`.
    pub fn toy() -> Track {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let root = tmp
            .path()
            .canonicalize()
            .expect("the temporary folder exists")
            .join("toy");
        swarmlab(&["init", "--track", "toy", path_str(&root)], None).success();
        Track { _tmp: tmp, root }
    }

    /// The fake-trainer track as is.
    pub fn fake() -> Track {
        Track::builder().build()
    }

    pub fn builder() -> Builder {
        Builder {
            run: FAKE_RUN
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            files: vec![
                ("train.sh".into(), FAKE_TRAINER.into()),
                ("params.txt".into(), FAKE_PARAMS.into()),
            ],
            spec: None,
        }
    }

    pub fn root_str(&self) -> &str {
        path_str(&self.root)
    }

    /// Runs `swarmlab ARGS... ROOT`.
    pub fn swarmlab(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.push(self.root_str());
        swarmlab(&all, None)
    }

    /// `swarmlab run ROOT --proposer script --script SCRIPT --experiments N`.
    pub fn run_script(&self, script: &str, experiments: u64) -> Output {
        let n = experiments.to_string();
        self.swarmlab(&[
            "run",
            "--proposer",
            "script",
            "--script",
            script,
            "--experiments",
            &n,
        ])
    }

    /// Starts `swarmlab ARGS... ROOT` without waiting for it, stdin null.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let child = Command::new(BIN)
            .args(args)
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the swarmlab binary starts");
        Running { child: Some(child) }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    pub fn read(&self, relative: &str) -> String {
        let path = self.path(relative);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create a folder in the track");
        }
        fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Runs git in the track and returns its trimmed stdout; panics when git fails.
    pub fn git(&self, args: &[&str]) -> String {
        swarmlab_testkit::git::git(&self.root, args)
    }

    /// The commit `rev` names.
    pub fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", "--verify", rev])
    }

    /// The tip of `swarmlab/main`.
    pub fn tip(&self) -> String {
        self.rev("refs/heads/swarmlab/main")
    }

    /// `git status --porcelain`, ignored files not shown.
    pub fn porcelain(&self) -> String {
        self.git(&["status", "--porcelain"])
    }

    /// Every record of `results.jsonl` (none when the file is missing).
    pub fn records(&self) -> Vec<Value> {
        match fs::read_to_string(self.path("results.jsonl")) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).expect("a JSON record per line"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The record of experiment `index`.
    pub fn record(&self, index: u64) -> Value {
        self.records()
            .into_iter()
            .find(|r| r["index"] == index)
            .unwrap_or_else(|| panic!("no record of experiment {index}: {:?}", self.records()))
    }

    /// The statuses of all records, in order.
    pub fn statuses(&self) -> Vec<String> {
        self.records()
            .iter()
            .map(|r| r["status"].as_str().expect("a status").to_string())
            .collect()
    }

    /// The rows of `results.tsv`, header first, each split on tabs.
    pub fn tsv(&self) -> Vec<Vec<String>> {
        self.read("results.tsv")
            .lines()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect()
    }

    /// `.swarmlab/runs/main/INDEX`.
    pub fn run_dir(&self, index: u64) -> PathBuf {
        self.path(&format!(".swarmlab/runs/main/{index}"))
    }

    /// The pids the fake trainer of experiment `index` wrote.
    pub fn pids(&self, index: u64) -> Vec<i32> {
        let path = self.run_dir(index).join("pids");
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .split_whitespace()
            .map(|p| p.parse().expect("a pid"))
            .collect()
    }

    /// The `SWARMLAB_*` environment the fake trainer of experiment `index` saw.
    pub fn run_env(&self, index: u64) -> BTreeMap<String, String> {
        let path = self.run_dir(index).join("env");
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// What a finished `swarmlab` printed and how it exited.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn success(self) -> Output {
        assert_eq!(self.code, 0, "swarmlab failed\n{self}");
        self
    }

    #[track_caller]
    pub fn fails_with(self, code: i32) -> Output {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the binary with `args` (in `dir`, if given) and waits for it.
pub fn swarmlab(args: &[&str], dir: Option<&Path>) -> Output {
    swarmlab_with_env(args, dir, &[])
}

/// Runs the binary with `args` (in `dir`, if given) and `env` added to its environment.
pub fn swarmlab_with_env(args: &[&str], dir: Option<&Path>, env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).stdin(Stdio::null());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("the swarmlab binary runs");
    Output {
        code: exit_code(output.status),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().expect("no code means a signal"))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A `swarmlab` started in the background; killed if the test fails before it ends.
pub struct Running {
    child: Option<Child>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("still running").id() as i32
    }

    pub fn signal(&self, signal: i32) {
        send(self.pid(), signal);
    }

    /// Waits for the process to end within `limit` and returns what it printed.
    #[track_caller]
    pub fn wait(mut self, limit: Duration) -> Output {
        let mut child = self.child.take().expect("waited once");
        let ended = poll_until(limit, || child.try_wait().expect("try_wait").is_some());
        if !ended {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect output");
            panic!(
                "swarmlab did not end within {limit:?}\n--- stderr\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let output = child.wait_with_output().expect("collect output");
        Output {
            code: exit_code(output.status),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `done` every 10 ms until it holds or `limit` passes; returns whether it held.
pub fn poll_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `path` exists, or fails the test after `limit`.
#[track_caller]
pub fn wait_for_file(path: &Path, limit: Duration) {
    assert!(
        poll_until(limit, || path.exists()),
        "{} did not appear within {limit:?}",
        path.display()
    );
}

pub fn send(pid: i32, signal: i32) {
    // SAFETY: kill has no memory effects; a stale pid at worst gets ESRCH.
    unsafe { libc::kill(pid, signal) };
}

/// True while `pid` runs; a zombie counts as gone (the container's init may never reap it).
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z') | Some('X') | None)
}

#[track_caller]
pub fn assert_all_dead(pids: &[i32]) {
    let alive: Vec<i32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(alive.is_empty(), "processes still alive: {alive:?}");
}
