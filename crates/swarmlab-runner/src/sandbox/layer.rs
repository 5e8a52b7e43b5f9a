//! The layers the self-test checks one by one, named as its errors name them; and the fault
//! injection that lets the self-test's own tests remove one of them on purpose, to check that
//! the self-test then fails naming it.
//!
//! The removal exists only in a build with the `selftest-faults` feature, which only this
//! crate's own tests and benches turn on (a dev-dependency on the crate itself): the field
//! that asks for it ([`SandboxConfig::remove_layer`]) and the shim's argument that carries it
//! inside are not compiled into `cargo build`, `cargo install` or release builds, so no
//! command line, track file or config a user edits can reach it. A runtime switch would be one
//! typo or one crafted file away from a verifier without a layer; a feature keeps the
//! weakening out of the binary altogether. (Cargo unifies features within one invocation, so a
//! `cargo test --workspace` compiles it into the `swarmlab` it builds for its tests too; no
//! code there sets the field, and a program in the sandbox that calls the shim again cannot
//! lift the Landlock and seccomp it already runs under.)
//!
//! The removal skips the layer where the production code applies it (bubblewrap's arguments,
//! the launcher, the cgroup, the shim), so a test proves that the probes notice the layer
//! missing, not that a flag is read.
//!
//! [`SandboxConfig::remove_layer`]: super::SandboxConfig

/// A layer of the sandbox that a test build can remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Dropping to the unprivileged uid (the launcher).
    Uid,
    /// The network namespace (bubblewrap's `--unshare-net`).
    Network,
    /// Read-only mounts of the system, the checkout and the root (bubblewrap).
    Filesystem,
    /// Landlock (the shim).
    Landlock,
    /// The seccomp filter (the shim).
    Seccomp,
    /// The rlimits (the launcher; `RLIMIT_FSIZE` in the shim).
    Rlimits,
    /// The cgroup's `pids.max`.
    Pids,
    /// The cgroup's memory limit.
    Memory,
}

impl Layer {
    /// Every layer, in the order the self-test meets them.
    pub const ALL: [Layer; 8] = [
        Layer::Uid,
        Layer::Network,
        Layer::Seccomp,
        Layer::Landlock,
        Layer::Filesystem,
        Layer::Rlimits,
        Layer::Pids,
        Layer::Memory,
    ];

    /// The name the self-test's errors give the layer (`SandboxError::Layer::layer`).
    pub fn name(self) -> &'static str {
        match self {
            Layer::Uid => "uid",
            Layer::Network => "network",
            Layer::Filesystem => "filesystem",
            Layer::Landlock => "landlock",
            Layer::Seccomp => "seccomp",
            Layer::Rlimits => "rlimits",
            Layer::Pids => "pids",
            Layer::Memory => "memory",
        }
    }

    /// The layer named `name`.
    #[cfg(feature = "selftest-faults")]
    pub(crate) fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.name() == name)
    }
}
