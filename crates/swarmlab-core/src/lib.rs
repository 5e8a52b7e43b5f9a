//! The nouns every part of swarmlab shares: the track spec, experiment records, metric
//! parsing, the results log, the report and the hardened git store.
//!
//! Nothing here spawns experiments or talks to a hub.

pub mod goal;
pub mod record;
pub mod report;

pub use goal::Goal;
pub use record::{DiffStat, Record, Status};
