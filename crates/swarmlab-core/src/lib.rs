//! The nouns every part of swarmlab shares: the track spec, experiment records, metric
//! parsing, the results log, the report and the hardened git store.
//!
//! Nothing here spawns experiments or talks to a hub, and it depends on no other swarmlab
//! crate: they all depend on it.

pub mod change;
pub mod diff_hash;
pub mod file_error;
pub mod git;
pub mod goal;
pub mod likeness;
pub mod metric;
pub mod record;
pub mod report;
pub mod results;
pub mod spec;
pub mod usage;

pub use file_error::FileError;
pub use git::{short, GitError, GitStore};
pub use goal::Goal;
pub use record::{DiffStat, Record, Status};
pub use results::{ResultsError, ResultsLog};
pub use spec::{SpecError, TrackSpec};
