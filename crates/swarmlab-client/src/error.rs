//! [`ClientError`]: why a client (worker, verifier, submit) stopped with an error. A hub's
//! refusal or an unreachable hub is [`HubError`]; a candidate that fails is a verdict, not an
//! error; these are the client's own failures.
//!
//! A variant that wraps another crate's error shows that error's message and keeps it as its
//! source, so that a caller walking the chain still finds it (the binary maps `SpecError` and
//! `GitError` to exit codes that way). It must not decide exit codes itself.

use std::io;
use std::path::PathBuf;

use swarmlab_core::spec::SPEC_FILE;
use swarmlab_core::{FileError, GitError, SpecError};
use swarmlab_loop::LoopError;
use swarmlab_runner::{Ending, RunError};

use crate::client::HubError;
use crate::gpu::GpuError;

/// What building a proposer may fail with: the binary's own error, whatever it is.
pub type ProposerError = Box<dyn std::error::Error + Send + Sync>;

/// A failure of a client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Hub(#[from] HubError),
    #[error("{0}")]
    Loop(#[from] LoopError),
    #[error("{0}")]
    Spec(#[from] SpecError),
    #[error("{0}")]
    Git(#[from] GitError),
    #[error("{0}")]
    Run(#[from] RunError),
    /// The proposer for a round could not be built.
    #[error("{0}")]
    Proposer(#[source] ProposerError),
    /// A file or folder of the client's own.
    #[error(transparent)]
    Io(#[from] FileError),
    /// A device list (`--devices`) that does not read.
    #[error("{0}")]
    Devices(String),
    #[error("{0}")]
    Gpu(#[from] GpuError),
    /// A trusted helper (git, cp, rustc) could not be started.
    #[error("failed to run {program}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// A trusted helper ran and failed.
    #[error("{program} failed: {stderr}")]
    Helper { program: String, stderr: String },
    #[error("failed to start {name}")]
    Start {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("no randomness available: {0}")]
    Randomness(getrandom::Error),
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),

    // The local copy of a track's code.
    #[error("git init failed in {}", .0.display())]
    Init(PathBuf),
    #[error("the hub sent a bundle git cannot verify")]
    Bundle(#[source] GitError),
    #[error("{path} is missing at {commit}")]
    Missing { path: String, commit: String },
    #[error("failed to check out the hub's head")]
    Checkout(#[source] GitError),
    #[error("the hub's bundle lacks its head {0}")]
    HeadMissing(String),
    #[error("the job's bundle lacks {0}")]
    JobMissing(String),

    // Who the client is to the hub.
    #[error("{} is not an identity file", path.display())]
    IdentityFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} holds no valid key", path.display())]
    IdentityKey {
        path: PathBuf,
        #[source]
        source: Box<ClientError>,
    },
    #[error("the secret key is not 64 hex digits")]
    Key,
    #[error("{} belongs to the hub at {owner}; use another --dir for {hub}", path.display())]
    OtherHub {
        path: PathBuf,
        owner: String,
        hub: String,
    },
    #[error("failed to register with the hub")]
    Register(#[source] HubError),
    #[error("this identity has no token yet")]
    NoToken,
    #[error("{} is not empty; the demo starts from a new or empty folder", .0.display())]
    DemoFolderNotEmpty(PathBuf),
    #[error("{left} invite code(s) left over: --devices registers one worker per device not yet registered, one code each")]
    Invites { left: usize },
    #[error("this verifier is not enrolled yet. On the hub's machine run\n  swarmlab hub add-identity --role verifier --name NAME --public-key {public_key}\nthen start it again with --token TOKEN")]
    NotEnrolled { public_key: String },
    #[error("the hub does not accept this token")]
    Token(#[source] HubError),
    #[error("the token belongs to a {0}, not a verifier")]
    NotAVerifier(&'static str),
    #[error("the token was issued for another key; enroll this verifier's key {public_key}")]
    OtherKey { public_key: String },

    // A verifier's job and its builds.
    #[error("the baseline's {spec}: {0}", spec = SPEC_FILE)]
    BaselineSpec(String),
    #[error("the baseline's build failed: {0}")]
    BaselineBuild(String),
    /// A track's name from the hub that cannot name a line of the verifier's `builds/served`.
    #[error("the track name `{0}` is not one a hub gives: it must be lowercase letters, digits, `-` or `_`")]
    TrackName(String),
    #[error("copying the baseline's build")]
    CopyBuild(#[source] Box<ClientError>),
    #[error("copying {} to {} failed: {stderr}", from.display(), to.display())]
    Copy {
        from: PathBuf,
        to: PathBuf,
        stderr: String,
    },
    #[error("{0}")]
    Toolchain(String),
    #[error("`cargo fetch --locked` failed ({ending:?}); see {}", log.display())]
    Fetch { ending: Ending, log: PathBuf },
    /// A Python track's lock that is not a lock, or that does not install: the track's
    /// problem (or the network's), never a candidate's.
    #[error("the Python lock {0}")]
    Lock(String),
    #[error("the lease was lost or the verifier stopped")]
    LeaseLost,
    #[error("the sandbox's user (uid {uid}) cannot enter {f} (mode {mode:o}), so it could not read the verifier's trees in {d}: give --dir a folder it can reach (e.g. under /var/lib or /srv), or let others through {f} (chmod o+x {f})", f = folder.display(), d = dir.display())]
    SandboxUnreachable {
        dir: PathBuf,
        folder: PathBuf,
        mode: u32,
        uid: u32,
    },
    #[error("the sandbox's self-test failed in {}", dir.display())]
    SandboxSelfTest {
        dir: PathBuf,
        #[source]
        source: swarmlab_runner::SandboxError,
    },
    #[error("the verifier faulted on {jobs} jobs in a row, so it takes no more: {last} (the last job's files are in {}); see `swarmlab sandbox check --dir`, the free disk space and the head's own runs", dir.display())]
    Faulting {
        jobs: u32,
        last: String,
        dir: PathBuf,
    },
    #[error("the hub still wants more reruns after {0}")]
    Reruns(u32),
}

impl ClientError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> ClientError {
        let at = FileError::at(action, path);
        move |source| ClientError::Io(at(source))
    }

    /// Whether it happened because the client was asked to stop (Ctrl-C) while waiting.
    pub fn is_interrupted(&self) -> bool {
        matches!(self, ClientError::Hub(HubError::Interrupted))
    }
}
