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

use super::rlimit::Resource;

/// Prefix of every probe line.
pub(crate) const PREFIX: &str = "swarmlab sandbox probe: ";

/// Which probes to run besides the always-on ones.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Probes {
    /// Paths that must not be writable and must lie on a read-only mount (the checkout, the
    /// system paths); `/` always is one.
    pub read_only: Vec<PathBuf>,
    /// The most each rlimit of [`RLIMITS`] may be (the config's values): the sandbox's own
    /// limits, not whatever the host's happen to be. Zero (the default) for any that is not
    /// given, so a probe run that was not told fails.
    pub rlimits: [u64; RLIMITS.len()],
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
        ("rlimits", rlimits(&probes.rlimits)),
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

/// The writable paths are writable; the read-only ones cannot be written and lie on read-only
/// mounts. The mounts are read from `/proc/self/mountinfo` because a failed write alone
/// proves little here: Landlock and the permissions of the sandbox uid refuse it too.
fn filesystem(writable: &[PathBuf], read_only: &[PathBuf]) -> Result<String, String> {
    for dir in writable {
        let file = dir.join(".swarmlab-probe");
        create(&file).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        let _ = fs::remove_file(&file);
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    let root = [PathBuf::from("/")];
    for dir in read_only.iter().chain(&root) {
        let file = dir.join(".swarmlab-probe");
        if create(&file).is_ok() {
            let _ = fs::remove_file(&file);
            return Err(format!("wrote {}", file.display()));
        }
        // A system path may be a symlink (`/bin` to `usr/bin`): its target's mount counts.
        let path = fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        match mount_options(&mountinfo, &path) {
            Some(options) if options.split(',').any(|o| o == "ro") => {}
            Some(options) => {
                return Err(format!("{} is mounted {options}", dir.display()));
            }
            None => return Err(format!("no mount holds {}", dir.display())),
        }
    }
    Ok(String::new())
}

/// The options of the mount `path` lies on: the last of the mounts whose mount point is
/// `path` or one of its parents, since mountinfo lists mounts in the order they were made and
/// a later one covers what lies under its mount point.
fn mount_options<'a>(mountinfo: &'a str, path: &Path) -> Option<&'a str> {
    mountinfo.lines().rev().find_map(|line| {
        // ID, parent ID, major:minor, root, mount point, mount options, ...
        let mut fields = line.split(' ').skip(4);
        let (point, options) = (fields.next()?, fields.next()?);
        path.starts_with(unescape(point)).then_some(options)
    })
}

/// A mount point as mountinfo writes it, with space, tab, newline and backslash in octal.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
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

/// The rlimits the sandbox sets and [`Probes::rlimits`] bounds, in that order.
pub(crate) const RLIMITS: [(&str, Resource); 4] = [
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
];

/// Each hard limit is set and at most the config's value, which the host's own limit (often
/// finite for open files and processes) need not be; core dumps are off.
fn rlimits(most: &[u64; RLIMITS.len()]) -> Result<String, String> {
    let core = ("RLIMIT_CORE", libc::RLIMIT_CORE);
    for ((name, resource), most) in RLIMITS.into_iter().zip(*most).chain([(core, 0)]) {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills one valid rlimit struct.
        if unsafe { libc::getrlimit(resource, &mut limit) } != 0 {
            return Err(format!(
                "cannot read {name}: {}",
                io::Error::last_os_error()
            ));
        }
        if limit.rlim_max == libc::RLIM_INFINITY {
            return Err(format!("{name} is unlimited"));
        }
        if limit.rlim_max > most as libc::rlim_t {
            return Err(format!("{name} is {}, above {most}", limit.rlim_max));
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

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
1 0 0:1 / / ro,nosuid - tmpfs tmpfs rw
2 1 8:1 /usr /usr ro,nosuid - ext4 /dev/sda1 rw
3 1 0:2 / /tmp rw,nosuid - tmpfs tmpfs rw
4 3 8:1 /work/a\\040b /tmp/a\\040b rw - ext4 /dev/sda1 rw
5 4 8:1 /work/a\\040b /tmp/a\\040b ro - ext4 /dev/sda1 rw
6 1 0:3 / /tmp2 rw - tmpfs tmpfs rw
7 1 0:4 / /var/a ro - tmpfs tmpfs rw
8 1 0:5 / /var rw - tmpfs tmpfs rw
";

    #[test]
    fn a_path_lies_on_the_last_mount_made_above_it() {
        let options = |path: &str| mount_options(MOUNTINFO, Path::new(path));
        assert_eq!(options("/"), Some("ro,nosuid"));
        assert_eq!(options("/usr/bin/env"), Some("ro,nosuid"));
        assert_eq!(options("/tmp/x"), Some("rw,nosuid"));
        // The later bind covers the earlier one; `\040` is a space.
        assert_eq!(options("/tmp/a b/c"), Some("ro"));
        assert_eq!(options("/tmp/a"), Some("rw,nosuid"));
        // `/tmp2` is not under `/tmp`.
        assert_eq!(options("/tmp2"), Some("rw"));
        // `/var` was mounted over `/var/a`, which it hides.
        assert_eq!(options("/var/a"), Some("rw"));
        assert_eq!(mount_options("", Path::new("/")), None);
    }
}
