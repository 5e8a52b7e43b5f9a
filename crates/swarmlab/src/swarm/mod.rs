//! The swarm's clients: `swarmlab work` (an untrusted worker running the local loop against
//! a hub's verified head), `swarmlab verify` (a trusted verifier re-running candidates in
//! the sandbox) and `swarmlab demo` (a hub, two workers and a verifier on loopback).
//!
//! They reach the hub only through its HTTP API ([`client`]); code travels as git bundles
//! ([`mirror`]).

pub mod build;
pub mod client;
pub mod evaluate;
pub mod identity;
pub mod lease;
pub mod mirror;
pub mod submission;
pub mod verifier;
pub mod worker;

use std::time::{Duration, Instant};

use swarmlab_runner::Cancel;

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
pub fn random_hex<const N: usize>() -> anyhow::Result<String> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(hex::encode(bytes))
}

/// A fresh random seed.
pub fn random_seed() -> anyhow::Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(u64::from_le_bytes(bytes) % (1 << 31))
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}
