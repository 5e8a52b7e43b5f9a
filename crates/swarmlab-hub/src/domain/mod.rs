//! The domain: [`Hub`](hub::Hub) and its operations, one file per concern, and the rules
//! they apply. An operation checks the caller (`roles`), applies the concern's rules, runs
//! git on the track's repository when it must, hands the store what it decided, and
//! announces the change (`event`).
//!
//! What this layer may do: decide (intake, acceptance, who may do what, what a canary
//! proves), read the store, run git, read the clock. What it must not do: write SQL or hold a
//! connection (the store does, in one transaction per change), hold the signing key (the
//! store signs ledger entries), or speak HTTP (the web layer maps [`HubError`] to status
//! codes). The pure rules (`acceptance`, `intake`, `stats`, `ledger`, `audit`, `roster`,
//! `roles`, `credit`, the idea similarity) are what the store may call inside a transaction:
//! they read nothing.
//!
//! [`HubError`]: error::HubError

pub mod acceptance;
pub mod activity;
pub mod audit;
pub mod bundle;
pub mod canary;
pub mod chain;
pub mod clock;
pub mod config;
pub mod convergence;
pub mod credit;
pub mod error;
pub mod event;
pub mod hub;
pub mod idea;
pub mod identity;
pub mod intake;
pub mod intake_reason;
pub mod job;
pub mod ledger;
pub mod noise;
pub mod prior;
pub mod promotion;
pub(crate) mod quarantine;
pub mod quota;
pub mod registration;
pub mod report;
pub mod roles;
pub mod roster;
pub mod scratch;
pub mod stats;
pub mod submission;
pub mod sweep;
#[cfg(test)]
mod test_ledger;
pub mod track;
pub mod track_import;
pub mod verify_cost;
