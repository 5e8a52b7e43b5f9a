//! Runs one experiment under a hard wall-clock budget and reports how it ended.
//!
//! [`run`] spawns the command in its own process group with stdin null and stdout and stderr
//! on one pipe, copies that pipe into a size-capped log file, samples the memory of the whole
//! process tree, and kills the tree (SIGTERM, grace, SIGKILL) when the budget runs out or the
//! caller cancels. When it returns, no process of the tree is left alive.
//!
//! With [`RunSpec::sandbox`] set, the program runs inside the [`sandbox`] instead. [`Piped`]
//! runs a program the caller talks to over its stdin and stdout (`swarmlab-eval` builds the
//! verifier's evaluation modes on both).
//!
//! This crate must not know about tracks, metrics or the hub, and depends on no other swarmlab
//! crate: it runs a command and says what happened. It never calls `waitpid(-1)`, so a host
//! program may keep children of its own.

mod cancel;
mod child;
mod error;
mod kill;
mod leftover;
mod log;
mod outcome;
mod pipe;
mod piped;
mod run;
pub mod sandbox;
mod spec;
mod supervisor;
mod tree;

pub use cancel::Cancel;
pub use error::RunError;
pub use leftover::kill_marked;
pub use log::{tail, LOG_TAIL_BYTES};
pub use outcome::{Ending, Exit, RunOutcome, Tick};
pub use piped::Piped;
pub use run::run;
pub use sandbox::{SandboxConfig, SandboxError};
pub use spec::RunSpec;
