//! Helpers shared by the runner tests: a scratch directory per test, `sh -c` specs, reading
//! the pids a fake trainer wrote, and checking that processes are gone.

use std::path::PathBuf;
use std::time::Duration;

use swarmlab_runner::{run, Cancel, RunOutcome, RunSpec};

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A spec running `script` with `sh -c` in the scratch directory, logging to `log`.
    pub fn sh(&self, script: &str, timeout: Duration) -> RunSpec {
        RunSpec::new(
            vec!["sh".into(), "-c".into(), script.into()],
            self.dir.path(),
            self.path("log"),
            timeout,
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("log")).unwrap()
    }

    /// The pids a script wrote, one per line, into `name`.
    pub fn pids(&self, name: &str) -> Vec<i32> {
        std::fs::read_to_string(self.path(name))
            .unwrap()
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect()
    }
}

pub fn run_plain(spec: &RunSpec) -> RunOutcome {
    run(spec, &Cancel::new(), &mut |_| {}).unwrap()
}

/// Whether `pid` is a running (not exited) process.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').unwrap().1.split_whitespace().next();
            !matches!(state, Some("Z" | "X"))
        }
        Err(_) => false,
    }
}

/// The runner promises the tree is dead when `run` returns, so this checks at once, no polling.
pub fn assert_all_dead(pids: &[i32]) {
    assert!(!pids.is_empty(), "the fake trainer wrote no pids");
    for &pid in pids {
        assert!(!alive(pid), "process {pid} of the tree is still alive");
    }
}

/// Fields 5 and 6 (process group and session) of `/proc/<pid>/stat`.
pub fn group_and_session(pid: i32) -> Option<(i32, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(2);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}
