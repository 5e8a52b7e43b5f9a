//! The self-test's probes, run by the shim inside the sandbox after every layer is applied:
//! each tries what a layer must forbid (and what it must allow) and prints one line,
//! `swarmlab sandbox probe: ok LAYER` or `... FAILED LAYER: what happened`.
//!
//! Probes must leave nothing behind that outlives the sandbox and must not need any program
//! besides the shim itself.

use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Prefix of every probe line.
pub(crate) const PREFIX: &str = "swarmlab sandbox probe: ";

/// Which probes to run besides the always-on ones.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Probes {
    /// Paths that must not be writable (the checkout).
    pub read_only: Vec<PathBuf>,
    /// Fork up to this many processes and expect the pids cap to stop it first.
    pub pids: Option<u64>,
    /// Touch this many bytes and expect the memory cap to kill or refuse it.
    pub memory: Option<u64>,
}

/// Runs the probes and prints their lines; whether all passed.
pub(crate) fn run(probes: &Probes, writable: &[PathBuf], abi: u32) -> bool {
    let mut results = vec![
        ("uid", uid()),
        ("network", network()),
        ("seccomp", seccomp()),
        ("landlock", landlock(abi)),
        ("filesystem", filesystem(writable, &probes.read_only)),
        ("rlimits", rlimits()),
    ];
    if let Some(n) = probes.pids {
        results.push(("pids", pids(n)));
    }
    let mut ok = true;
    for (layer, result) in &results {
        ok &= result.is_ok();
        report(layer, result);
    }
    if let Some(bytes) = probes.memory {
        report("memory-start", &Ok(String::new()));
        let result = memory(bytes);
        ok &= result.is_ok();
        report("memory", &result);
    }
    ok
}

fn report(layer: &str, result: &Result<String, String>) {
    let line = match result {
        Ok(note) if note.is_empty() => format!("{PREFIX}ok {layer}"),
        Ok(note) => format!("{PREFIX}ok {layer} ({note})"),
        Err(detail) => format!("{PREFIX}FAILED {layer}: {detail}"),
    };
    let mut out = io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Expects a raw call to have returned -1 with `errno`.
fn refused(what: &str, r: i64, errno: i32) -> Result<(), String> {
    let err = io::Error::last_os_error();
    if r == -1 && err.raw_os_error() == Some(errno) {
        Ok(())
    } else if r == -1 {
        Err(format!("{what} failed with {err}, not errno {errno}"))
    } else {
        Err(format!("{what} was allowed"))
    }
}

/// From inside, the uid the sandbox sees and the capabilities it holds; the self-test checks
/// the host's view of the uid from outside.
fn uid() -> Result<String, String> {
    // SAFETY: getters without arguments.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    if uid == 0 || euid == 0 {
        return Err(format!("running as uid {uid}, euid {euid}"));
    }
    let status = fs::read_to_string("/proc/self/status").map_err(|e| format!("status: {e}"))?;
    for line in status.lines() {
        if let Some(caps) = line
            .strip_prefix("CapEff:")
            .or(line.strip_prefix("CapPrm:"))
        {
            if !caps.trim().trim_start_matches('0').is_empty() {
                return Err(format!("holds capabilities: {line}"));
            }
        }
    }
    Ok(format!("uid {uid}, no capabilities"))
}

fn network() -> Result<String, String> {
    let dev = fs::read_to_string("/proc/net/dev").map_err(|e| format!("/proc/net/dev: {e}"))?;
    let interfaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| Some(l.split_once(':')?.0.trim()))
        .collect();
    match interfaces.iter().find(|i| **i != "lo") {
        Some(i) => Err(format!("interface {i} is reachable")),
        None => Ok(String::new()),
    }
}

fn seccomp() -> Result<String, String> {
    // SAFETY: each call has plain integer or valid C-string arguments; the probes expect them
    // to be refused, and if one is not, the effect stays inside this sandbox.
    unsafe {
        let r = libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
        refused("ptrace(TRACEME)", r, libc::EPERM)?;
        let r = libc::unshare(libc::CLONE_NEWUSER);
        refused("unshare(CLONE_NEWUSER)", r.into(), libc::EPERM)?;
        let r = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        refused("socket(AF_INET)", r.into(), libc::EAFNOSUPPORT)?;
        let none = c"none";
        let r = libc::mount(
            none.as_ptr(),
            c"/tmp".as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            std::ptr::null(),
        );
        refused("mount(tmpfs)", r.into(), libc::EPERM)?;
        let r = libc::syscall(libc::SYS_bpf, 0, 0, 0);
        refused("bpf", r, libc::EPERM)?;
    }
    Ok(String::new())
}

fn landlock(abi: u32) -> Result<String, String> {
    // bubblewrap's /dev is a tmpfs the sandbox uid owns; only Landlock stops this.
    let probe = Path::new("/dev/.swarmlab-probe");
    match create(probe) {
        Ok(()) => {
            let _ = fs::remove_file(probe);
            Err(format!("created {}", probe.display()))
        }
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => Ok(format!("ABI {abi}")),
        Err(e) => Err(format!("creating {} failed with {e}", probe.display())),
    }
}

fn filesystem(writable: &[PathBuf], read_only: &[PathBuf]) -> Result<String, String> {
    for dir in writable {
        let file = dir.join(".swarmlab-probe");
        create(&file).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        let _ = fs::remove_file(&file);
    }
    let root = [PathBuf::from("/")];
    for dir in read_only.iter().chain(&root) {
        let file = dir.join(".swarmlab-probe");
        if create(&file).is_ok() {
            let _ = fs::remove_file(&file);
            return Err(format!("wrote {}", file.display()));
        }
    }
    Ok(String::new())
}

fn create(path: &Path) -> io::Result<()> {
    let name = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: a valid C string; the descriptor is closed at once.
    let fd = unsafe {
        libc::open(
            name.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened here.
    unsafe { libc::close(fd) };
    Ok(())
}

fn rlimits() -> Result<String, String> {
    let limits = [
        ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
        ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
        ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
        ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ];
    for (name, resource) in limits {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills one valid rlimit struct.
        if unsafe { libc::getrlimit(resource, &mut limit) } != 0
            || limit.rlim_max == libc::RLIM_INFINITY
        {
            return Err(format!("{name} is unlimited"));
        }
    }
    Ok(String::new())
}

fn pids(cap: u64) -> Result<String, String> {
    let mut children = Vec::new();
    let mut stopped = None;
    for _ in 0..cap + 16 {
        // SAFETY: the child only calls pause and _exit, both async-signal-safe.
        match unsafe { libc::fork() } {
            0 => loop {
                // SAFETY: pause has no arguments.
                unsafe { libc::pause() };
            },
            -1 => {
                stopped = Some(io::Error::last_os_error());
                break;
            }
            pid => children.push(pid),
        }
    }
    let forked = children.len();
    for pid in children {
        // SAFETY: our own children; kill and waitpid on one pid each.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    match stopped {
        Some(e) => Ok(format!("fork refused after {forked}: {e}")),
        None => Err(format!("forked {forked} processes under a cap of {cap}")),
    }
}

fn memory(bytes: u64) -> Result<String, String> {
    let len = usize::try_from(bytes).map_err(|_| "size too large".to_string())?;
    // SAFETY: an anonymous private mapping; only this function touches it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Ok(format!("refused: {}", io::Error::last_os_error()));
    }
    // Touching every page makes it resident; the memory cap must kill us before the end.
    // SAFETY: p is a fresh writable mapping of `len` bytes.
    unsafe { std::ptr::write_bytes(p.cast::<u8>(), 1, len) };
    Err(format!("touched {bytes} bytes and survived"))
}
