//! Proposers: whatever produces the next change of a track. The harness owns the loop; a
//! proposer only edits files in the worktree it is handed and says what it did.
//!
//! A proposer never commits, runs experiments or decides what is kept.

mod chat;
pub mod choice;
pub mod command;
pub mod edits;
pub mod ideas;
mod knobs;
pub mod memory;
pub mod openai;
pub mod preset;
pub mod prompt;
mod proposer;
mod rng;
mod script;
pub mod sweep;
pub mod tpe;

pub use choice::{Choice, ChoiceError};
pub use command::CommandProposer;
pub use openai::{OpenAiConfig, OpenAiProposer};
pub use preset::{Preset, PresetError};
pub use proposer::{Context, Proposal, ProposeError, Proposer, DESCRIPTION_CHARS};
pub use rng::Rng;
pub use script::ScriptProposer;
pub use swarmlab_core::usage::{Prices, Usage};
pub use sweep::SweepProposer;
pub use tpe::TpeProposer;
