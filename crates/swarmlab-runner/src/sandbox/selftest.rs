//! The self-test a verifier runs before it accepts work: every layer is tried for real, in
//! three sandboxed runs of the shim (a short `sleep`, whose uid and network namespace are
//! looked at from outside; the probes; the pids and memory caps under small limits), and the
//! first layer that does not hold is named. Its tests remove each layer in turn to check that
//! it notices (see [`super::Layer`]).
//!
//! It fails closed: anything it cannot check counts as a failure. It must leave nothing
//! behind (its checkout is a temporary directory, removed at the end).

use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cgroup::{CgroupVersion, RunCgroup};
use super::config::SandboxConfig;
use super::error::SandboxError;
use super::probe::{self, Probes};
use super::shim::FAILURE_PREFIX;
use crate::cancel::Cancel;
use crate::error::RunError;
use crate::outcome::{Ending, Exit, RunOutcome, Tick};
use crate::run::run_with;
use crate::spec::RunSpec;

/// The variable that marks the self-test's processes inside the sandbox.
const MARK_VAR: &str = "SWARMLAB_SELFTEST_MARK";

/// What the self-test found: the layers that held, and how memory and processes are capped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The cgroup interface that caps memory and pids; `None` when only rlimits do (the
    /// config allowed the fallback).
    pub cgroup: Option<CgroupVersion>,
    /// One line per layer that held, e.g. `landlock (ABI 7)`.
    pub layers: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cgroup {
            Some(v) => writeln!(f, "memory and pids caps: cgroup {v:?}")?,
            None => writeln!(f, "memory and pids caps: rlimits only (fallback)")?,
        }
        for layer in &self.layers {
            writeln!(f, "ok {layer}")?;
        }
        Ok(())
    }
}

/// Tries every layer of `config`'s sandbox and reports them, or names the first one missing
/// (bubblewrap absent, user namespaces unavailable, cgroup not writable, Landlock or seccomp
/// failing, network reachable, a path writable that must not be...). The checkout in
/// `config` is replaced by a temporary one.
pub fn self_test(config: &SandboxConfig) -> Result<Report, SandboxError> {
    let dir = TempDir::new()?;
    let mut config = config.clone();
    config.checkout = dir.checkout();
    let version = match RunCgroup::create(
        &format!("swarmlab-selftest-{}", unique()),
        Some(1 << 30),
        Some(64),
    ) {
        Ok(cgroup) => Some(cgroup.version()),
        Err(_) if config.allow_rlimit_fallback => None,
        Err(e) => return Err(e),
    };
    let mark = unique();
    let mut layers = vec![format!("bwrap ({})", config.bwrap.display())];
    layers.extend(seen_from_outside(&config, &dir, &mark)?);
    layers.extend(probed_inside(&config, &dir, &mark)?);
    layers.extend(caps(&config, &dir, &mark, version.is_some())?);
    Ok(Report {
        cgroup: version,
        layers,
    })
}

/// The first run: a program that lives a few ticks, so its uid and network namespace can be
/// seen from outside. The probe inside can only look for the host's interfaces, and a host
/// may have none but loopback.
fn seen_from_outside(
    config: &SandboxConfig,
    dir: &TempDir,
    mark: &str,
) -> Result<Vec<String>, SandboxError> {
    let mut seen = Vec::new();
    let command = vec!["sleep".into(), "0.3".into()];
    let (outcome, log) = run(config, dir, command, None, mark, &mut |_| {
        seen.extend(marked(mark));
    })?;
    if outcome.ending != Ending::Exited(Exit::Code(0)) {
        return Err(diagnose(&log, &outcome));
    }
    let mut layers = Vec::new();
    match seen.iter().find(|p| p.uid == 0) {
        _ if seen.is_empty() => {
            return Err(layer("uid", "no process of the sandbox was seen".into()))
        }
        Some(_) => return Err(layer("uid", "a process of the sandbox is root".into())),
        None => layers.push(format!("host uid {}", seen[0].uid)),
    }
    let host_net = fs::read_link("/proc/self/ns/net")
        .map_err(|e| SandboxError::SelfTest(format!("cannot read our network namespace: {e}")))?;
    let nets: Vec<&PathBuf> = seen.iter().filter_map(|p| p.net.as_ref()).collect();
    match nets.iter().find(|net| ***net == host_net) {
        _ if nets.is_empty() => {
            let detail = "the network namespace of no process of the sandbox could be read";
            return Err(layer("network", detail.into()));
        }
        Some(net) => {
            let detail = format!(
                "a process of the sandbox is in the host's namespace {}",
                net.display()
            );
            return Err(layer("network", detail));
        }
        None => layers.push(format!("network namespace {}", nets[0].display())),
    }
    Ok(layers)
}

/// The second run: the probes inside, on the read-only paths and the rlimits.
fn probed_inside(
    config: &SandboxConfig,
    dir: &TempDir,
    mark: &str,
) -> Result<Vec<String>, SandboxError> {
    // The checkout first, then what else the sandbox binds (it skips a missing system path).
    let system = config
        .system_paths
        .iter()
        .filter(|p| p.symlink_metadata().is_ok());
    let read_only = [&config.checkout]
        .into_iter()
        .chain(system)
        .chain(&config.read_only);
    let probes = Probes {
        read_only: read_only.cloned().collect(),
        rlimits: rlimits(config),
        ..Probes::default()
    };
    let (outcome, log) = run(config, dir, Vec::new(), Some(probes), mark, &mut |_| {})?;
    let passed = probe_lines(&log)?;
    if outcome.ending != Ending::Exited(Exit::Code(0)) {
        return Err(diagnose(&log, &outcome));
    }
    Ok(passed)
}

/// The third run: the pids cap (where a cgroup caps them) and the memory cap, under small
/// limits.
fn caps(
    config: &SandboxConfig,
    dir: &TempDir,
    mark: &str,
    cgroup: bool,
) -> Result<Vec<String>, SandboxError> {
    let mut small = config.clone();
    small.max_pids = 16;
    // The copy of the shim lives in the sandbox's memory too: a debug build is large.
    let shim_bytes = std::fs::metadata(&config.shim)
        .map(|m| m.len())
        .unwrap_or(0);
    small.memory_bytes = (64 << 20) + shim_bytes;
    small.tmp_bytes = 1 << 20;
    small.scratch_bytes = 1 << 20;
    let probes = Probes {
        rlimits: rlimits(config),
        pids: cgroup.then_some(small.max_pids),
        memory: Some(256 << 20),
        ..Probes::default()
    };
    let (outcome, log) = run(&small, dir, Vec::new(), Some(probes), mark, &mut |_| {})?;
    let passed = probe_lines(&log)?;
    if cgroup && !passed.iter().any(|l| l.starts_with("pids")) {
        return Err(diagnose(&log, &outcome));
    }
    if !log.contains(&format!("{}ok memory-start", probe::PREFIX)) {
        return Err(diagnose(&log, &outcome));
    }
    let refused = passed.iter().any(|l| l.starts_with("memory "));
    if !refused && !outcome.memory_cap_hit {
        return Err(layer(
            "memory",
            format!(
                "touching 256 MiB under a 64 MiB cap was not stopped by the memory cap \
                 (ended {:?})",
                outcome.ending
            ),
        ));
    }
    // The always-on probes ran again; only the caps are new.
    let mut layers: Vec<String> = passed
        .into_iter()
        .filter(|l| l.starts_with("pids") || l.starts_with("memory "))
        .collect();
    if !refused {
        layers.push("memory (killed by the cgroup cap)".into());
    }
    Ok(layers)
}

/// The rlimits the probes check, in their order.
fn rlimits(config: &SandboxConfig) -> [u64; probe::RLIMITS.len()] {
    [
        config.nproc,
        config.nofile,
        config.fsize_bytes,
        config.cpu_seconds,
    ]
}

fn run(
    config: &SandboxConfig,
    dir: &TempDir,
    command: Vec<String>,
    probes: Option<Probes>,
    mark: &str,
    on_tick: &mut dyn FnMut(&Tick),
) -> Result<(RunOutcome, String), SandboxError> {
    let log_path = dir.0.join("log");
    let mut spec = RunSpec::new(
        command,
        &config.checkout,
        &log_path,
        Duration::from_secs(30),
    );
    spec.grace = Duration::from_secs(1);
    spec.env = vec![(MARK_VAR.into(), mark.into())];
    spec.sandbox = Some(config.clone());
    let outcome = match run_with(&spec, probes, None, &Cancel::new(), on_tick) {
        Ok(outcome) => outcome,
        Err(RunError::Sandbox(e)) => return Err(e),
        Err(e) => return Err(SandboxError::SelfTest(e.to_string())),
    };
    let log = fs::read_to_string(&log_path)
        .map_err(|e| SandboxError::SelfTest(format!("cannot read the probe log: {e}")))?;
    Ok((outcome, log))
}

/// A process of the sandbox as the host sees it.
struct Seen {
    uid: u32,
    /// Its network namespace (`net:[inode]`), when it could be read.
    net: Option<PathBuf>,
}

/// The live processes whose environment holds `MARK_VAR=mark`.
fn marked(mark: &str) -> Vec<Seen> {
    let wanted = format!("{MARK_VAR}={mark}");
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == wanted.as_bytes()))
        })
        .filter_map(|pid| {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            let uid = line.split_whitespace().nth(1)?.parse().ok()?;
            let net = fs::read_link(format!("/proc/{pid}/ns/net")).ok();
            Some(Seen { uid, net })
        })
        .collect()
}

/// The layers the probes passed; the first failure as an error.
fn probe_lines(log: &str) -> Result<Vec<String>, SandboxError> {
    let mut passed = Vec::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix(probe::PREFIX) else {
            continue;
        };
        if let Some(ok) = rest.strip_prefix("ok ") {
            passed.push(ok.to_string());
        } else if let Some(failed) = rest.strip_prefix("FAILED ") {
            let (name, detail) = failed.split_once(": ").unwrap_or((failed, ""));
            return Err(layer(name, detail.to_string()));
        }
    }
    Ok(passed)
}

/// Names the layer that stopped a run that should have succeeded, from its log.
fn diagnose(log: &str, outcome: &RunOutcome) -> SandboxError {
    if let Some(line) = log.lines().find(|l| l.starts_with(FAILURE_PREFIX)) {
        let rest = &line[FAILURE_PREFIX.len()..];
        let (name, detail) = rest.split_once("` failed: ").unwrap_or(("shim", rest));
        return layer(name, detail.to_string());
    }
    if let Some(line) = log.lines().find(|l| l.starts_with("bwrap:")) {
        let userns = ["namespace", "uid map", "uid_map", "setgroups"];
        if userns.iter().any(|k| line.contains(k)) {
            return SandboxError::UserNamespaces(line.to_string());
        }
        return layer("bwrap", line.to_string());
    }
    layer(
        "bwrap",
        format!(
            "the sandbox ended {:?}; its output: {}",
            outcome.ending,
            log.trim()
        ),
    )
}

fn layer(name: &str, detail: String) -> SandboxError {
    SandboxError::Layer {
        layer: name.to_string(),
        detail,
    }
}

fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// A directory under the system's temporary directory holding a world-readable `checkout`,
/// removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self, SandboxError> {
        let dir = std::env::temp_dir().join(format!("swarmlab-selftest-{}", unique()));
        let make = |path: &Path| {
            fs::create_dir(path)?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        };
        make(&dir)
            .and_then(|()| make(&dir.join("checkout")))
            .map_err(|e| SandboxError::SelfTest(format!("cannot create {}: {e}", dir.display())))?;
        Ok(TempDir(dir))
    }

    fn checkout(&self) -> PathBuf {
        self.0.join("checkout")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
