//! The entry point: creates the log, starts the program and its two helper threads (waiter and
//! log pump), hands over to the [`Supervisor`], and assembles the outcome.
//!
//! It must not make state decisions itself (the supervisor's loop does) and must not return
//! before the supervisor has cleaned up the tree.

use std::fs::{self, File};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::cancel::Cancel;
use crate::child::{self, Pipes, Waited};
use crate::error::RunError;
use crate::kill;
use crate::log::{LogWriter, LOG_TAIL_BYTES};
use crate::outcome::{Ending, RunOutcome, Tick};
use crate::pipe;
use crate::sandbox::{Launch, Probes};
use crate::spec::RunSpec;
use crate::supervisor::Supervisor;
use crate::tree::ProcessTree;

/// What the helper threads report to the supervisor.
pub(crate) enum Event {
    /// The program's own process ended (or waiting for it failed).
    Exited(io::Result<Waited>),
    /// The output pipe reached EOF (or was given up on) and the log is finished.
    LogEof,
}

/// Runs `spec` to completion under its budget, calling `on_tick` about every 50 ms while the
/// program runs, and returns how it ended. When this returns, every process of the program's
/// tree that the runner could find is dead and reaped, and the log is complete.
///
/// The first call makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`), so orphans
/// of any run are reparented here and can be found; only those the runner recognises as part
/// of a run's tree are reaped. If `on_tick` panics, the tree is SIGKILLed before unwinding on.
///
/// Errors are the runner's own failures (the command cannot start, the log cannot be written);
/// a program that fails, crashes or times out is an `Ok` with the matching [`Ending`].
///
/// With [`RunSpec::sandbox`] set, every layer the runner applies from outside is set up before
/// the program starts (a layer that cannot be is a [`RunError::Sandbox`]), and the run's
/// cgroup is emptied and removed before this returns.
pub fn run(
    spec: &RunSpec,
    cancel: &Cancel,
    on_tick: &mut dyn FnMut(&Tick),
) -> Result<RunOutcome, RunError> {
    run_with(spec, None, None, cancel, on_tick)
}

/// [`run`], or with `probes` the sandbox self-test's probes in place of the command; with
/// `piped`, the program's stdin and stdout are pipes whose other ends go to `piped` once it
/// has started (only its stderr goes to the log).
pub(crate) fn run_with(
    spec: &RunSpec,
    probes: Option<Probes>,
    piped: Option<&mut dyn FnMut(Pipes)>,
    cancel: &Cancel,
    on_tick: &mut dyn FnMut(&Tick),
) -> Result<RunOutcome, RunError> {
    kill::become_subreaper();
    let log = create_log(spec)?;
    let marker = new_marker();
    // Dropped on every way out, which kills what is left in the run's cgroup and removes it.
    let sandbox = match &spec.sandbox {
        Some(_) if spec.command.is_empty() && probes.is_none() => {
            return Err(RunError::EmptyCommand)
        }
        Some(config) => Some(Launch::prepare(config, spec, &marker, probes)?),
        None => None,
    };
    let spawned = child::spawn(spec, &marker, sandbox.as_ref(), piped.is_some())?;
    let (pid, output) = (spawned.pid, spawned.output);
    let start = Instant::now();
    let tree = ProcessTree::new(pid, marker);
    let (events, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let pump = match pipe::pump_in_thread(output, log, Arc::clone(&stop), events.clone()) {
        Ok(handle) => handle,
        Err(source) => return Err(abandon(pid, "log", source)),
    };
    if let Err(source) = child::wait_in_thread(pid, events) {
        let err = abandon(pid, "wait", source);
        stop.store(true, Ordering::SeqCst);
        let _ = pump.join();
        return Err(err);
    }

    if let (Some(hand_over), Some(pipes)) = (piped, spawned.pipes) {
        hand_over(pipes);
    }
    let mut supervisor = Supervisor::new(spec, tree, rx, start);
    let (ending, waited) = supervisor.supervise(cancel, on_tick);
    let wall = start.elapsed();
    supervisor.clean_up(true);
    let memory_cap_hit = sandbox.as_ref().is_some_and(Launch::memory_cap_hit);
    drop(sandbox);
    if !supervisor.log_eof() {
        stop.store(true, Ordering::SeqCst);
    }
    let write_log = |source| RunError::WriteLog {
        path: spec.log_path.clone(),
        source,
    };
    let stats = pump
        .join()
        .map_err(|_| write_log(io::Error::other("the log thread panicked")))?
        .map_err(write_log)?;

    let waited = match waited {
        Some(Ok(waited)) => Some(waited),
        Some(Err(source)) => return Err(RunError::Wait { pid, source }),
        None => None,
    };
    let peak_rss_bytes = supervisor
        .peak_rss()
        .max(waited.map_or(0, |w| w.max_rss_bytes));
    let ending = match (ending, waited) {
        (Some(ending), _) => ending,
        (None, Some(w)) => Ending::Exited(w.exit),
        // Without a kill decision the loop only ends on an exit, unless the waiter died.
        (None, None) => {
            let source = io::Error::other("the wait thread ended without a status");
            return Err(RunError::Wait { pid, source });
        }
    };
    Ok(RunOutcome {
        ending,
        wall,
        peak_rss_bytes,
        log_bytes: stats.bytes,
        log_elided: stats.elided,
        memory_cap_hit,
    })
}

fn create_log(spec: &RunSpec) -> Result<LogWriter<File>, RunError> {
    let create = || {
        if let Some(parent) = spec.log_path.parent() {
            fs::create_dir_all(parent)?;
        }
        File::create(&spec.log_path)
    };
    let file = create().map_err(|source| RunError::CreateLog {
        path: spec.log_path.clone(),
        source,
    })?;
    Ok(LogWriter::new(file, spec.log_limit, LOG_TAIL_BYTES))
}

/// A value unique to this run among all runs on the machine: our pid, a counter, the time.
fn new_marker() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}-{nanos}", std::process::id())
}

/// Kills and reaps a program we cannot supervise, and says why.
fn abandon(pid: i32, thread: &'static str, source: io::Error) -> RunError {
    kill::send(-pid, libc::SIGKILL);
    let _ = child::wait(pid);
    RunError::Thread {
        name: thread,
        source,
    }
}
