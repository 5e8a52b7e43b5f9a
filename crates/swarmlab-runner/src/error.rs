//! Why a run could not be started or supervised.
//!
//! A program that crashes or times out is not an error (see [`crate::Ending`]); these are the
//! runner's own failures. Messages are lowercase and name the thing.

use std::io;
use std::path::PathBuf;

use crate::sandbox::SandboxError;

/// A failure of the runner itself.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The spec has no argv.
    #[error("the command to run is empty")]
    EmptyCommand,
    /// The working directory does not exist or is not a directory.
    #[error("working directory {} does not exist", cwd.display())]
    MissingCwd {
        /// The directory asked for.
        cwd: PathBuf,
    },
    /// `command[0]` was not found.
    #[error("command `{program}` not found (searched PATH, cwd {})", cwd.display())]
    CommandNotFound {
        /// `command[0]`.
        program: String,
        /// The working directory the run was to use.
        cwd: PathBuf,
    },
    /// The program could not be started for another reason (permission, exec format, ...).
    #[error("failed to start `{program}` in {}: {source}", cwd.display())]
    Spawn {
        /// `command[0]`.
        program: String,
        /// The working directory the run was to use.
        cwd: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The log file or its parent directory could not be created.
    #[error("failed to create log file {}: {source}", path.display())]
    CreateLog {
        /// The log path.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Writing the log failed (disk full, ...). The process tree was still cleaned up.
    #[error("failed to write log file {}: {source}", path.display())]
    WriteLog {
        /// The log path.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The output pipe could not be created.
    #[error("failed to create the output pipe: {0}")]
    Pipe(#[source] io::Error),
    /// A supervising thread could not be started; the program was killed.
    #[error("failed to start the {name} thread: {source}")]
    Thread {
        /// Which thread.
        name: &'static str,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Waiting for the program failed, e.g. someone else reaped it; the tree was cleaned up.
    #[error("failed to wait for process {pid}: {source}")]
    Wait {
        /// The program's pid.
        pid: i32,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The sandbox could not be set up; the program was not started.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}
