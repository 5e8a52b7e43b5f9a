//! The sandbox a verifier runs untrusted experiments in (Linux): an unprivileged uid,
//! bubblewrap (no network, read-only system and checkout, size-capped writable scratch, fresh
//! `/tmp`, cleared environment, own pid namespace and session), rlimits, cgroup caps on memory
//! and processes, and, applied from inside by the shim, Landlock and a seccomp filter. The
//! wall-clock kill stays with the supervisor outside.
//!
//! Each layer lives in its own file. The sandbox fails closed: a layer that cannot be set up
//! stops the run with a [`SandboxError`] naming it; nothing here may degrade silently.
//! [`self_test`] tries every layer for real; its tests remove each [`Layer`] in turn (in test
//! builds only) to check that it notices.

mod bwrap;
mod cgroup;
mod config;
mod error;
mod landlock;
mod launch;
mod layer;
mod probe;
mod rlimit;
mod seccomp;
mod selftest;
mod shim;

pub use cgroup::CgroupVersion;
pub use config::SandboxConfig;
pub use error::SandboxError;
pub(crate) use launch::Launch;
pub use layer::Layer;
pub(crate) use probe::Probes;
pub use selftest::{self_test, self_test_in, Report};
pub use shim::{shim_main, SHIM_FAILED};
