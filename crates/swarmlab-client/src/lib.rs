//! The swarm's clients of a hub: `swarmlab work` ([`worker`], an untrusted worker running the
//! local loop against a hub's verified head), `swarmlab submit` ([`submission`], one signed
//! candidate), `swarmlab verify` ([`verifier`], a trusted verifier re-running candidates in
//! the sandbox), `swarmlab ideas` ([`ideas`], ideas drawn from documents, posted with their
//! sources), the GPU either hands its runs ([`gpu`]), one of either per device from one
//! process ([`devices`]), and the child processes `swarmlab demo` runs them as ([`process`],
//! [`swarm`]).
//!
//! They reach a hub only through its HTTP API ([`client`], whose faults and refusals are
//! [`client::HubError`]); code travels as git bundles ([`mirror`]). Their own failures are
//! [`ClientError`]; exit codes are the binary's to decide.
//!
//! This crate must never link the server: it depends on no part of `swarmlab-hub`, axum or
//! sqlx, and what both sides check (a change's paths, a spec) comes from `swarmlab-core`. It
//! never parses a command line.

pub mod beacon;
pub mod build;
pub mod client;
pub mod demo;
pub mod devices;
mod error;
pub mod evaluate;
pub mod gpu;
pub mod ideas;
pub mod identity;
pub mod lease;
pub mod mirror;
pub mod process;
pub mod python;
pub mod submission;
pub mod swarm;
pub mod verifier;
pub mod worker;

use std::time::{Duration, Instant};

use swarmlab_runner::Cancel;

pub use error::{ClientError, ProposerError};

/// Sleeps for `duration` unless cancelled first; returns whether it was cancelled.
pub fn pause(cancel: &Cancel, duration: Duration) -> bool {
    let end = Instant::now() + duration;
    while Instant::now() < end {
        if cancel.is_cancelled() {
            return true;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
    cancel.is_cancelled()
}

/// `N` random bytes in hex.
pub fn random_hex<const N: usize>() -> Result<String, ClientError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(ClientError::Randomness)?;
    Ok(hex::encode(bytes))
}

/// A fresh random seed.
pub fn random_seed() -> Result<u64, ClientError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(ClientError::Randomness)?;
    Ok(u64::from_le_bytes(bytes) % (1 << 31))
}
