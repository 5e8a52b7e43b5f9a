//! What the sandbox confines a run to: who it runs as, what it sees, and how much it may use.
//!
//! A plain value; it must not start anything or touch the filesystem.

use std::path::PathBuf;

use super::layer::Layer;

/// How one sandboxed run is confined. Put it in [`crate::RunSpec::sandbox`]; without it a run
/// is not sandboxed at all.
///
/// The program sees a read-only system (`system_paths`), the checkout read-only at its host
/// path (but for the `writable` folders in it), a size-capped writable tmpfs at `scratch`, fresh size-capped tmpfs at `/tmp` and
/// `/dev/shm`, a minimal `/dev` plus `devices`, and nothing else of the host. It has no
/// network, runs as `uid`/`gid` (never root on the host), and is held by cgroup caps on
/// memory and processes and by rlimits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The bubblewrap binary. An absolute path: the runner may be root, so no `PATH` lookup.
    pub bwrap: PathBuf,
    /// A host binary that runs [`crate::sandbox::shim_main`] (the test binary
    /// `swarmlab-sandbox-shim`, or the swarmlab binary itself). The runner opens it and hands
    /// bubblewrap a copy, so the sandbox uid needs no access to its path.
    pub shim: PathBuf,
    /// Arguments put before the shim's own, e.g. the hidden subcommand that calls
    /// `shim_main`.
    pub shim_args: Vec<String>,
    /// Host uid the sandbox runs as when the runner is root. Must not be 0.
    pub uid: u32,
    /// Host gid the sandbox runs as when the runner is root. Must not be 0.
    pub gid: u32,
    /// The checkout (track worktree), bound read-only at the same path. It must be readable
    /// by `uid`.
    pub checkout: PathBuf,
    /// Absolute path inside the sandbox of the writable scratch (a tmpfs). When it lies
    /// inside the checkout, that directory must already exist there.
    pub scratch: PathBuf,
    /// Size cap of the scratch tmpfs, in bytes.
    pub scratch_bytes: u64,
    /// A host directory bound read-write at `scratch` in place of the tmpfs, so that what the
    /// run writes there outlives it: the artifact a second run reads (a trusted evaluator, a
    /// server of logits). It must be an absolute path to a directory `uid` can write. The
    /// sandbox does not cap its size (`fsize_bytes` still caps each file): put it on a file
    /// system with a quota. `None` (the default): a fresh tmpfs capped at `scratch_bytes`.
    pub scratch_host: Option<PathBuf>,
    /// Size cap of each of the fresh `/tmp` and `/dev/shm` tmpfs, in bytes.
    pub tmp_bytes: u64,
    /// Host paths bound read-only at the same place; a symlink is recreated as a symlink and
    /// a missing path is skipped.
    pub system_paths: Vec<PathBuf>,
    /// Further host paths bound read-only (data sets, toolchains). A missing one is an error.
    pub read_only: Vec<PathBuf>,
    /// Host directories bound read-write at the same place, over the checkout: the build
    /// folder of a track's build step. Each must exist and be writable by `uid`. What the
    /// program writes there stays on the host; leave it empty for anything but a build.
    pub writable: Vec<PathBuf>,
    /// Device nodes bound with device access, e.g. `/dev/nvidia0`, `/dev/nvidiactl`,
    /// `/dev/nvidia-uvm`: only the assigned GPU's.
    pub devices: Vec<PathBuf>,
    /// Memory cap of the whole sandbox (cgroup), tmpfs contents included.
    pub memory_bytes: u64,
    /// Cap on the number of processes and threads of the whole sandbox (cgroup `pids.max`).
    pub max_pids: u64,
    /// `RLIMIT_NPROC`: processes of `uid` on the host, counted across concurrent sandboxes.
    pub nproc: u64,
    /// `RLIMIT_NOFILE`: open files per process.
    pub nofile: u64,
    /// `RLIMIT_FSIZE`: largest file a process may write, in bytes.
    pub fsize_bytes: u64,
    /// `RLIMIT_CPU`: CPU seconds per process.
    pub cpu_seconds: u64,
    /// When neither cgroup v2 (with `memory` and `pids` delegated) nor v1 can be used: `false`
    /// (the default) refuses to run; `true` caps memory with `RLIMIT_AS` and processes with
    /// `RLIMIT_NPROC` only, which is weaker.
    pub allow_rlimit_fallback: bool,
    /// Fault injection for the self-test's own tests: the one layer to leave out. It exists
    /// only in a build with the `selftest-faults` feature, which only this crate's tests turn
    /// on, so that no production binary can run with a layer removed (see [`Layer`]).
    #[cfg(feature = "selftest-faults")]
    #[doc(hidden)]
    pub remove_layer: Option<Layer>,
}

impl SandboxConfig {
    /// The default unprivileged uid and gid (`nobody`/`nogroup`).
    pub const DEFAULT_ID: u32 = 65534;

    /// A config with the defaults: `/usr/bin/bwrap`, uid/gid 65534, scratch at `/scratch`
    /// capped at 1 GiB, `/tmp` and `/dev/shm` at 256 MiB each, 8 GiB of memory, 512 pids,
    /// `RLIMIT_NPROC` 1024, 1024 open files, 4 GiB files, a day of CPU per process, no
    /// devices, and no rlimit fallback for cgroups.
    pub fn new(shim: impl Into<PathBuf>, checkout: impl Into<PathBuf>) -> Self {
        SandboxConfig {
            bwrap: PathBuf::from("/usr/bin/bwrap"),
            shim: shim.into(),
            shim_args: Vec::new(),
            uid: Self::DEFAULT_ID,
            gid: Self::DEFAULT_ID,
            checkout: checkout.into(),
            scratch: PathBuf::from("/scratch"),
            scratch_bytes: 1 << 30,
            scratch_host: None,
            tmp_bytes: 256 << 20,
            system_paths: default_system_paths(),
            read_only: Vec::new(),
            writable: Vec::new(),
            devices: Vec::new(),
            memory_bytes: 8 << 30,
            max_pids: 512,
            nproc: 1024,
            nofile: 1024,
            fsize_bytes: 4 << 30,
            cpu_seconds: 24 * 3600,
            allow_rlimit_fallback: false,
            #[cfg(feature = "selftest-faults")]
            remove_layer: None,
        }
    }

    /// The layer a test build left out; always `None` without the `selftest-faults` feature.
    pub(crate) fn removed_layer(&self) -> Option<Layer> {
        #[cfg(feature = "selftest-faults")]
        return self.remove_layer;
        #[cfg(not(feature = "selftest-faults"))]
        None
    }

    /// Whether `layer` is applied: always, but in a test build that removed it.
    pub(crate) fn applies(&self, layer: Layer) -> bool {
        self.removed_layer() != Some(layer)
    }
}

/// The system a program needs to run: binaries, libraries, the loader's cache, names of
/// users and groups. Not the rest of `/etc`, which may hold secrets.
fn default_system_paths() -> Vec<PathBuf> {
    [
        "/usr",
        "/bin",
        "/sbin",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/etc/alternatives",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/localtime",
        "/etc/passwd",
        "/etc/group",
        "/etc/nsswitch.conf",
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect()
}
