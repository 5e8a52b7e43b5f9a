//! How a run ended and what it cost, plus the periodic progress sample.
//!
//! Plain values; interpreting them (crash, timeout, keep) belongs to the caller.

use std::time::Duration;

/// How the program's own process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status code.
    Code(i32),
    /// It was killed by this signal number.
    Signal(i32),
}

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The program ended on its own (before any budget kill or cancel).
    Exited(Exit),
    /// The wall-clock budget ran out and the runner killed the tree.
    TimedOut,
    /// The [`crate::Cancel`] was triggered and the runner killed the tree.
    Interrupted,
}

/// The result of one [`crate::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// Why it ended.
    pub ending: Ending,
    /// From spawn until the program's own process ended.
    pub wall: Duration,
    /// Peak of the summed resident memory of the whole process tree, sampled on every tick,
    /// and at least the program process's own peak as the kernel reports it at exit.
    pub peak_rss_bytes: u64,
    /// Bytes the program wrote to stdout and stderr together.
    pub log_bytes: u64,
    /// Bytes dropped from the middle of the log because of the log limit.
    pub log_elided: u64,
    /// The sandbox's memory cap (cgroup) killed a process of the run. Always `false` without
    /// a sandbox or when only rlimits cap memory.
    pub memory_cap_hit: bool,
}

/// A progress sample, handed to the caller's callback about every 50 ms while the program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Time since spawn.
    pub elapsed: Duration,
    /// Summed resident memory of the process tree now.
    pub rss_bytes: u64,
}
