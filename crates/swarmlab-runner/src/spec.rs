//! What to run: the command, where, with which environment, and under which limits.
//!
//! A plain value; it must not start anything or touch the filesystem.

use std::path::PathBuf;
use std::time::Duration;

use crate::sandbox::SandboxConfig;

/// Everything [`crate::run`] needs to start and bound one experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    /// The argv; `command[0]` is looked up on `PATH` (or taken as a path when it has a `/`).
    pub command: Vec<String>,
    /// Working directory of the program; must exist.
    pub cwd: PathBuf,
    /// Variables added to the inherited environment. The runner also sets `SWARMLAB_RUN_ID`,
    /// by which it recognises the program's descendants.
    pub env: Vec<(String, String)>,
    /// stdout and stderr, in the order the kernel saw them, go to this one file (created,
    /// truncated, parent directories created).
    pub log_path: PathBuf,
    /// Hard wall-clock limit, measured by the runner from spawn.
    pub timeout: Duration,
    /// How long the process group has between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Bytes of output kept from the start. Beyond it the log keeps the last
    /// [`crate::LOG_TAIL_BYTES`] (about 1 MiB) after a line `[swarmlab: N bytes elided]`.
    pub log_limit: u64,
    /// Runs the program inside this sandbox; `None` (the default) runs it unconfined.
    /// Sandboxed, `env` is the whole environment (nothing is inherited), `cwd` is a path
    /// inside the sandbox, and a program killed by signal N ends as `Exit::Code(128 + N)`
    /// (bubblewrap's convention).
    pub sandbox: Option<SandboxConfig>,
}

impl RunSpec {
    /// Default grace between SIGTERM and SIGKILL.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
    /// Default number of log bytes kept from the start (64 MiB).
    pub const DEFAULT_LOG_LIMIT: u64 = 64 << 20;

    /// A spec with no extra environment, a 5 s grace, a 64 MiB log limit and no sandbox.
    pub fn new(
        command: Vec<String>,
        cwd: impl Into<PathBuf>,
        log_path: impl Into<PathBuf>,
        timeout: Duration,
    ) -> Self {
        RunSpec {
            command,
            cwd: cwd.into(),
            env: Vec::new(),
            log_path: log_path.into(),
            timeout,
            grace: Self::DEFAULT_GRACE,
            log_limit: Self::DEFAULT_LOG_LIMIT,
            sandbox: None,
        }
    }
}
