//! The local loop (`swarmlab run`, and each round of `swarmlab work`): baseline first, then
//! propose → check the change → commit → run → keep or reset → log, with pipelining through a
//! side worktree and recovery of whatever a killed session left behind.
//!
//! - [`Session`] is the loop on one track and branch (`session.rs`; entering the branch and
//!   repairing it in `session/recovery.rs`, the closing lines in `session/summary.rs`);
//!   [`Session::run_parallel`] keeps N experiments in flight (`session/parallel.rs`), each in
//!   a `slot` of its own on a [`Device`].
//! - `draft` asks the proposer for a change and judges what it touched;
//!   `worktree` drafts the next change in a side worktree while an experiment runs.
//! - [`measure`] runs one experiment through the runner and is the only place where a run
//!   becomes a status; `pending` is the journal of the experiment in flight.
//! - [`Contest`] runs several program files against each other, each in runs that are
//!   ordinary sessions on branches of their own, and writes their standings; [`Evolution`]
//!   runs rounds of them between a champion program and variants a writer drafts, keeping a
//!   clear winner as a commit.
//! - [`report`] writes `progress.svg` and `summary.md`; [`load_track`] reads a track's spec.
//! - [`LoopError`] is every failure of the loop itself (a failed experiment is a record);
//!   exit codes are the binary's to decide.
//!
//! It needs no server: it depends on core, runner and agent, never on the hub or its clients
//! (`swarmlab-client` builds on it, not the other way round), and it never parses a command
//! line.

mod contest;
mod device;
mod draft;
mod error;
mod measure;
mod pending;
pub mod report;
mod session;
mod slot;
mod status;
mod track;
mod worktree;

pub use contest::{
    Contest, ContestError, ContestReport, Evolution, Program, CONTEST_DIR, EVOLVE_DIR,
};
pub use device::{assign, Device};
pub use error::{one_line, LoopError};
pub use measure::{measure, run_spec, Measurement};
pub use session::{Limits, Session, Stop};
pub use track::load_track;
