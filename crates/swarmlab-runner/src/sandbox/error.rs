//! Why the sandbox could not be set up or did not hold. Each variant names the layer, so a
//! verifier that refuses to start can say what to fix.
//!
//! A program that fails inside a working sandbox is not an error here (see [`crate::Ending`]).

use std::io;
use std::path::PathBuf;

/// A sandbox layer that is missing, broken or misconfigured. The sandbox fails closed: any of
/// these stops the run before the program starts.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The config asks for something unsafe or impossible.
    #[error("invalid sandbox config: {0}")]
    Config(String),
    /// bubblewrap is not at the configured path.
    #[error("bubblewrap not found at {} (install it: apt-get install -y bubblewrap)", path.display())]
    BwrapMissing {
        /// The configured path.
        path: PathBuf,
    },
    /// The shim binary could not be opened.
    #[error("failed to open the sandbox shim {}: {source}", path.display())]
    Shim {
        /// The configured path.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// bubblewrap could not create the user namespace it needs.
    #[error("user namespaces are unavailable: {0}")]
    UserNamespaces(String),
    /// No usable cgroup for the memory and pids caps, and the rlimit fallback is off.
    #[error("cgroup unavailable: {0}")]
    CgroupUnavailable(String),
    /// A cgroup file or directory could not be written.
    #[error("cgroup not writable: {}: {source}", path.display())]
    Cgroup {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Entering the cgroups, setting rlimits or dropping privileges failed before bubblewrap
    /// started.
    #[error("failed to enter the sandbox (cgroups, rlimits, uid): {0}")]
    Enter(#[source] io::Error),
    /// A layer did not hold when tried (the self-test), or failed to apply inside (the shim).
    #[error("sandbox layer `{layer}` failed: {detail}")]
    Layer {
        /// Which layer: `bwrap`, `uid`, `network`, `filesystem`, `landlock`, `seccomp`,
        /// `rlimits`, `pids`, `memory`.
        layer: String,
        /// What was tried and what happened.
        detail: String,
    },
    /// The self-test could not run its probes at all.
    #[error("sandbox self-test could not run: {0}")]
    SelfTest(String),
}
