//! A throwaway track and a context for it; the fake OpenAI server comes from swarmlab-testkit.

use std::fs;
use std::path::Path;

use swarmlab_agent::Context;
use swarmlab_core::{Record, TrackSpec};
use swarmlab_testkit::record::record;

const SPEC: &str = r#"
[track]
name = "fake"
program = "program.md"
[run]
command = ["true"]
budget = "1s"
timeout = "2s"
[metric]
name = "loss"
goal = "minimize"
[files]
editable = ["params.txt"]
trusted = ["eval.txt"]
"#;

pub const PROGRAM: &str = "Make the loss small. Never touch eval.txt.";

/// A track in a temporary directory: `params.txt` editable, `eval.txt` trusted.
pub struct Track {
    pub dir: tempfile::TempDir,
    pub spec: TrackSpec,
    pub history: Vec<Record>,
}

impl Track {
    pub fn new() -> Track {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("swarmlab.toml"), SPEC).unwrap();
        fs::write(dir.path().join("program.md"), PROGRAM).unwrap();
        fs::write(dir.path().join("params.txt"), "lr = 0.002\nwidth = 128\n").unwrap();
        fs::write(dir.path().join("eval.txt"), "score honestly\n").unwrap();
        let (spec, _) = TrackSpec::load(dir.path()).unwrap();
        let history = vec![baseline()];
        Track { dir, spec, history }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn read(&self, file: &str) -> String {
        fs::read_to_string(self.path().join(file)).unwrap()
    }

    pub fn context(&self) -> Context<'_> {
        Context {
            spec: &self.spec,
            worktree: self.path(),
            best_commit: "0123456789abcdef",
            history: &self.history,
            index: 1,
            seed: 7,
            idea: Some("try a larger learning rate"),
        }
    }
}

fn baseline() -> Record {
    record(0)
        .branch("swarmlab/t")
        .commit("0123456789abcdef")
        .description("baseline")
        .metric(Some(1.5))
        .seed(7)
        .started_at("")
        .build()
}

pub use swarmlab_testkit::{Canned, FakeServer};
