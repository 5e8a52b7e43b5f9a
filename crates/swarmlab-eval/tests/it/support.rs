//! Helpers shared by the evaluation tests: a scratch directory per test and `sh -c` specs.

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
}

pub fn run_plain(spec: &RunSpec) -> RunOutcome {
    run(spec, &Cancel::new(), &mut |_| {}).unwrap()
}
