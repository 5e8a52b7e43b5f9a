//! The swarmlab hub: the coordinator that lets many untrusted workers submit candidate
//! commits which trusted verifiers re-run, so that only significant, reproduced
//! improvements extend a track's verified chain.
//!
//! [`Hub`] holds the operations; [`serve`] puts them behind the JSON API under `/api/v1` and
//! the dashboard at `/` ([`web`]); [`audit`] checks an exported ledger offline. The hub runs
//! nothing but git: verifiers run the candidates.

pub mod api;
pub mod auth;
pub mod canary;
pub mod chain;
pub mod clock;
pub mod config;
pub mod error;
pub mod event;
pub mod hub;
pub mod idea;
pub mod identity;
pub mod intake;
pub mod lease;
pub mod ledger;
pub mod promotion;
pub mod rate_limit;
pub mod server;
pub mod stats;
pub mod store;
pub mod submission;
pub mod track;
pub mod verdict;
pub mod web;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ConfigError, HubConfig};
pub use error::HubError;
pub use event::{EventKind, HubEvent};
pub use hub::Hub;
pub use ledger::{audit, AuditError, AuditReport};
pub use server::{serve, Server};
