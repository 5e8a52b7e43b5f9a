//! Everything prepared for one sandboxed run before it starts: the checked config, the run's
//! cgroup, the rlimits, the uid to drop to, the shim's descriptor and bubblewrap's arguments;
//! and the step between fork and exec that applies them to the child.
//!
//! It must fail closed (any layer that cannot be set up stops the run) and must never let the
//! child exec bubblewrap as root (but in a test build that removed the `uid` layer, see
//! [`super::Layer`]). The pre-exec step must stay async-signal-safe.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

use super::bwrap;
use super::cgroup::{self, RunCgroup};
use super::config::SandboxConfig;
use super::error::SandboxError;
use super::layer::Layer;
use super::probe::Probes;
use super::rlimit::Rlimits;
use super::shim::ShimArgs;
use crate::spec::RunSpec;

/// One run's sandbox, ready to start. Dropping it kills what is left in its cgroup and
/// removes the cgroup.
#[derive(Debug)]
pub(crate) struct Launch {
    pub bwrap: PathBuf,
    pub args: Vec<OsString>,
    cgroup: Option<RunCgroup>,
    /// `None` only in a test build that removed the layer.
    rlimits: Option<Rlimits>,
    /// The uid and gid to switch to; `None` when the runner is not root (already
    /// unprivileged), or in a test build that removed the layer.
    ids: Option<(u32, u32)>,
    shim: File,
}

impl Launch {
    /// Checks `config` and sets up every layer the runner applies from outside for running
    /// `spec` (or the self-test's `probes` instead of its command).
    pub(crate) fn prepare(
        config: &SandboxConfig,
        spec: &RunSpec,
        marker: &str,
        probes: Option<Probes>,
    ) -> Result<Self, SandboxError> {
        check(config, spec)?;
        if !config.bwrap.is_file() {
            return Err(SandboxError::BwrapMissing {
                path: config.bwrap.clone(),
            });
        }
        let shim = File::open(&config.shim).map_err(|source| SandboxError::Shim {
            path: config.shim.clone(),
            source,
        })?;
        let name = format!("swarmlab-{marker}");
        let memory = config.applies(Layer::Memory).then_some(config.memory_bytes);
        let pids = config.applies(Layer::Pids).then_some(config.max_pids);
        let (cgroup, fallback) = match RunCgroup::create(&name, memory, pids) {
            Ok(cgroup) => (Some(cgroup), false),
            Err(_) if config.allow_rlimit_fallback => (None, true),
            Err(e) => return Err(e),
        };
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let ids = (root && config.applies(Layer::Uid)).then_some((config.uid, config.gid));
        let rlimits = config.applies(Layer::Rlimits);
        let tail = ShimArgs {
            writable: bwrap::writable(config),
            fsize: rlimits.then_some(config.fsize_bytes),
            remove: config.removed_layer(),
            probe: probes,
            command: spec.command.iter().map(OsString::from).collect(),
        };
        let args = bwrap::args(
            config,
            &spec.env,
            &spec.cwd,
            shim.as_raw_fd(),
            &tail.to_args(),
        );
        Ok(Launch {
            bwrap: config.bwrap.clone(),
            args,
            cgroup,
            rlimits: rlimits.then(|| Rlimits::new(config, fallback)),
            ids,
            shim,
        })
    }

    /// Whether the memory cap's OOM killer has killed a process of this run.
    pub(crate) fn memory_cap_hit(&self) -> bool {
        self.cgroup.as_ref().is_some_and(|c| c.oom_kills() > 0)
    }

    /// The step run in the child between fork and exec of bubblewrap: enter the cgroups (as
    /// root), let bubblewrap inherit the shim's descriptor, set the rlimits, drop to the
    /// unprivileged uid and check that it cannot come back.
    pub(crate) fn pre_exec(&self) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
        let procs: Vec<RawFd> = self.cgroup.as_ref().map_or(Vec::new(), |c| c.procs_fds());
        let shim = self.shim.as_raw_fd();
        let rlimits = self.rlimits;
        let ids = self.ids;
        move || {
            cgroup::enter(&procs)?;
            // SAFETY: clears close-on-exec on a descriptor this process owns.
            if unsafe { libc::fcntl(shim, libc::F_SETFD, 0) } != 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some(rlimits) = rlimits {
                rlimits.apply()?;
            }
            if let Some((uid, gid)) = ids {
                drop_privileges(uid, gid)?;
            }
            Ok(())
        }
    }
}

fn check(config: &SandboxConfig, spec: &RunSpec) -> Result<(), SandboxError> {
    let bad = |why: String| Err(SandboxError::Config(why));
    if config.uid == 0 || config.gid == 0 {
        return bad("the sandbox uid and gid must not be 0 (root)".into());
    }
    for (what, path) in [
        ("bwrap", &config.bwrap),
        ("checkout", &config.checkout),
        ("scratch", &config.scratch),
        ("working directory", &spec.cwd),
    ] {
        if !path.is_absolute() {
            return bad(format!(
                "the {what} path {} is not absolute",
                path.display()
            ));
        }
    }
    if let Some(host) = &config.scratch_host {
        if !host.is_absolute() || !host.is_dir() {
            return bad(format!(
                "the host scratch {} is not an absolute path to a directory",
                host.display()
            ));
        }
    }
    if !config.checkout.is_dir() {
        return bad(format!(
            "the checkout {} is not a directory",
            config.checkout.display()
        ));
    }
    for path in &config.writable {
        if !path.is_absolute() || !path.is_dir() {
            return bad(format!(
                "the writable folder {} is not an absolute path to a directory",
                path.display()
            ));
        }
    }
    for path in config.read_only.iter().chain(&config.devices) {
        if !path.is_absolute() || !path.exists() {
            return bad(format!(
                "{} does not exist or is not absolute",
                path.display()
            ));
        }
    }
    if spec
        .env
        .iter()
        .any(|(k, _)| k.is_empty() || k.contains('='))
    {
        return bad("an environment variable name is empty or holds `=`".into());
    }
    Ok(())
}

/// Switches to `uid`/`gid` with no supplementary groups, for good. Async-signal-safe.
fn drop_privileges(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain credential syscalls with integer arguments.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(gid, gid, gid) != 0
            || libc::setresuid(uid, uid, uid) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if libc::getuid() != uid || libc::geteuid() != uid || libc::setuid(0) == 0 {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
    }
    Ok(())
}
