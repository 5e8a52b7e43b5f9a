//! [`Scratch`]: a temporary folder per test, `sh -c` run specs that work and log in it, and
//! the pids a fake trainer wrote there; [`run_plain`] runs a spec without cancelling or
//! watching it; [`alive`] says whether a pid still runs. Shared by the runner's and the
//! evaluation modes' tests.
//!
//! It builds specs and reads files; how a spec is run is the runner's, never decided here.

use std::path::PathBuf;
use std::time::Duration;

use swarmlab_runner::{run, Cancel, RunOutcome, RunSpec};

/// A temporary folder, removed when dropped.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A spec running `script` with `sh -c` in the folder, logging to `log`.
    pub fn sh(&self, script: &str, timeout: Duration) -> RunSpec {
        RunSpec::new(
            vec!["sh".into(), "-c".into(), script.into()],
            self.dir.path(),
            self.path("log"),
            timeout,
        )
    }

    /// What the spec of [`Scratch::sh`] logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("log")).expect("the run wrote its log")
    }

    /// The pids a script wrote into `name`, separated by white space.
    pub fn pids(&self, name: &str) -> Vec<i32> {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_else(|e| panic!("read {name}: {e}"))
            .split_whitespace()
            .map(|p| p.parse().expect("a pid"))
            .collect()
    }
}

/// Runs `spec` to its end, never cancelled, its output unwatched; panics when it cannot start.
pub fn run_plain(spec: &RunSpec) -> RunOutcome {
    run(spec, &Cancel::new(), &mut |_| {}).expect("the run starts")
}

/// Whether `pid` is a running process (not exited, not a zombie).
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}
