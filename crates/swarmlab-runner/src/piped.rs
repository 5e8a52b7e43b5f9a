//! A program under the runner's supervision that the caller talks to: its stdin and stdout are
//! pipes to the caller, its stderr goes to the log. Used to serve logits and to collect what a
//! trusted generator writes (`swarmlab-eval`).
//!
//! The supervision is [`crate::run`]'s, on a thread of its own: the same process group, hard
//! timeout, tree kill, sandbox and log. Reading and writing are the caller's; this module must
//! not interpret the bytes.

use std::fs::File;
use std::io;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::error::RunError;
use crate::outcome::RunOutcome;
use crate::run::run_with;
use crate::spec::RunSpec;

/// A started program whose stdin and stdout belong to the caller.
///
/// Writing to `stdin` after the program has gone fails with a broken pipe; the host must
/// ignore `SIGPIPE`, as every Rust program does unless it asks otherwise.
#[derive(Debug)]
pub struct Piped {
    /// The write end of the program's stdin; dropping it sends EOF.
    pub stdin: Option<File>,
    /// The read end of the program's stdout.
    pub stdout: File,
    cancel: Cancel,
    /// `None` once joined.
    supervisor: Option<JoinHandle<Result<RunOutcome, RunError>>>,
}

impl Drop for Piped {
    /// A program dropped without [`Piped::stop`] or [`Piped::wait`] (an early return on an
    /// error) is stopped: it must not outlive its caller's interest.
    fn drop(&mut self) {
        if let Some(supervisor) = self.supervisor.take() {
            self.stdin = None;
            self.cancel.cancel();
            let _ = supervisor.join();
        }
    }
}

impl Piped {
    /// Starts `spec` with its stdin and stdout piped to the caller. Its log holds only its
    /// stderr. The run ends as [`crate::run`]'s would: by itself, at `spec.timeout`, when
    /// `cancel` (or [`Piped::stop`]) asks; in every case its whole tree is killed.
    pub fn start(spec: &RunSpec, cancel: &Cancel) -> Result<Piped, RunError> {
        let spec = spec.clone();
        let own = cancel.child();
        let run_cancel = own.clone();
        let (tx, rx) = mpsc::channel();
        let supervisor = thread::Builder::new()
            .name("swarmlab-piped".into())
            .spawn(move || {
                let mut hand_over = |pipes| {
                    let _ = tx.send(pipes);
                };
                run_with(&spec, None, Some(&mut hand_over), &run_cancel, &mut |_| {})
            })
            .map_err(|source| RunError::Thread {
                name: "piped supervisor",
                source,
            })?;
        match rx.recv() {
            Ok(pipes) => Ok(Piped {
                stdin: Some(File::from(pipes.stdin)),
                stdout: File::from(pipes.stdout),
                cancel: own,
                supervisor: Some(supervisor),
            }),
            // The run failed before the program started: its error says why.
            Err(_) => match supervisor.join() {
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) => Err(RunError::Pipe(io::Error::other(
                    "the program ended before its pipes were handed over",
                ))),
                Err(_) => Err(supervisor_panicked()),
            },
        }
    }

    /// Closes stdin and waits for the program to end by itself (its timeout still holds).
    /// What it still writes to stdout must have been read, or it may block until then.
    pub fn wait(mut self) -> Result<RunOutcome, RunError> {
        self.stdin = None;
        self.join()
    }

    /// Stops the program now unless it has ended (SIGTERM to its tree, the grace, SIGKILL)
    /// and says how it ended: [`crate::Ending::Interrupted`] when it was still running.
    pub fn stop(mut self) -> Result<RunOutcome, RunError> {
        self.stdin = None;
        self.cancel.cancel();
        self.join()
    }

    /// Closes stdin and gives the program up to `grace` to end by itself (a server that
    /// closed its stdout is usually exiting, and its exit code says why), then stops it as
    /// [`Piped::stop`] does.
    pub fn stop_after(mut self, grace: Duration) -> Result<RunOutcome, RunError> {
        self.stdin = None;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline
            && self.supervisor.as_ref().is_some_and(|s| !s.is_finished())
        {
            thread::sleep(Duration::from_millis(10));
        }
        self.stop()
    }

    fn join(&mut self) -> Result<RunOutcome, RunError> {
        let supervisor = self
            .supervisor
            .take()
            .expect("only stop and wait join, and both consume the value");
        supervisor.join().map_err(|_| supervisor_panicked())?
    }
}

fn supervisor_panicked() -> RunError {
    RunError::Thread {
        name: "piped supervisor",
        source: io::Error::other("it panicked"),
    }
}
