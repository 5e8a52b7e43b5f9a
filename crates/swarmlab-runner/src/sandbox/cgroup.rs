//! The per-run cgroup that caps memory and processes of the whole sandbox: v2 where the
//! `memory` and `pids` controllers are delegated to us, else v1 (a child of our own memory and
//! pids cgroups). The child cgroup is created before the run, entered by the launcher between
//! fork and exec, and killed and removed when the run ends.
//!
//! It must never touch a cgroup it did not create, and never leave one behind: dropping a
//! [`RunCgroup`] kills what is still in it and removes it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::error::SandboxError;

/// How long removing a cgroup may wait for its last processes to die.
const REMOVE_WAIT: Duration = Duration::from_secs(5);

/// Which cgroup interface holds the caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// One unified hierarchy with `memory` and `pids` delegated.
    V2,
    /// Separate `memory` and `pids` hierarchies.
    V1,
}

/// The cgroup(s) of one run: one directory on v2, one per controller on v1.
#[derive(Debug)]
pub(crate) struct RunCgroup {
    version: CgroupVersion,
    dirs: Vec<PathBuf>,
    memory_dir: PathBuf,
    /// `cgroup.procs` of each directory, opened by the runner so that the forked child only
    /// has to `write` to them.
    procs: Vec<File>,
}

impl RunCgroup {
    /// Creates the run's cgroup named `name` with the caps, v2 first, else v1. A cap that is
    /// `None` is left unset: only a test build that removed that layer asks for it.
    pub(crate) fn create(
        name: &str,
        memory: Option<u64>,
        pids: Option<u64>,
    ) -> Result<Self, SandboxError> {
        let own = fs::read_to_string("/proc/self/cgroup").map_err(|e| {
            SandboxError::CgroupUnavailable(format!("cannot read /proc/self/cgroup: {e}"))
        })?;
        let mounts = fs::read_to_string("/proc/self/mountinfo").map_err(|e| {
            SandboxError::CgroupUnavailable(format!("cannot read /proc/self/mountinfo: {e}"))
        })?;
        if let Some(dir) = v2_delegated(&own, &mounts) {
            return Self::create_v2(&dir, name, memory, pids);
        }
        let memory_parent = v1_dir(&own, &mounts, "memory");
        let pids_parent = v1_dir(&own, &mounts, "pids");
        match (memory_parent, pids_parent) {
            (Some(m), Some(p)) => Self::create_v1(&m, &p, name, memory, pids),
            _ => Err(SandboxError::CgroupUnavailable(
                "no cgroup v2 with `memory` and `pids` delegated, and no cgroup v1 `memory` and \
                 `pids` hierarchies mounted"
                    .into(),
            )),
        }
    }

    fn create_v2(
        parent: &Path,
        name: &str,
        memory: Option<u64>,
        pids: Option<u64>,
    ) -> Result<Self, SandboxError> {
        let dir = parent.join(name);
        let mut cgroup = RunCgroup {
            version: CgroupVersion::V2,
            dirs: Vec::new(),
            memory_dir: dir.clone(),
            procs: Vec::new(),
        };
        make_dir(&dir)?;
        cgroup.dirs.push(dir.clone());
        if let Some(memory) = memory {
            write(&dir.join("memory.max"), memory)?;
            if dir.join("memory.swap.max").exists() {
                write(&dir.join("memory.swap.max"), 0)?;
            }
        }
        if let Some(pids) = pids {
            write(&dir.join("pids.max"), pids)?;
        }
        cgroup.procs.push(open_procs(&dir)?);
        Ok(cgroup)
    }

    fn create_v1(
        memory_parent: &Path,
        pids_parent: &Path,
        name: &str,
        memory: Option<u64>,
        pids: Option<u64>,
    ) -> Result<Self, SandboxError> {
        let memory_dir = memory_parent.join(name);
        let pids_dir = pids_parent.join(name);
        let mut cgroup = RunCgroup {
            version: CgroupVersion::V1,
            dirs: Vec::new(),
            memory_dir: memory_dir.clone(),
            procs: Vec::new(),
        };
        make_dir(&memory_dir)?;
        cgroup.dirs.push(memory_dir.clone());
        if let Some(memory) = memory {
            write(&memory_dir.join("memory.limit_in_bytes"), memory)?;
            // With swap accounting, memsw caps memory plus swap, so the cap cannot be dodged
            // by swapping; it must be set after (and not below) the plain limit.
            let memsw = memory_dir.join("memory.memsw.limit_in_bytes");
            if memsw.exists() {
                write(&memsw, memory)?;
            }
        }
        make_dir(&pids_dir)?;
        cgroup.dirs.push(pids_dir.clone());
        if let Some(pids) = pids {
            write(&pids_dir.join("pids.max"), pids)?;
        }
        for dir in &cgroup.dirs {
            let procs = open_procs(dir)?;
            cgroup.procs.push(procs);
        }
        Ok(cgroup)
    }

    /// Which interface this cgroup uses.
    pub(crate) fn version(&self) -> CgroupVersion {
        self.version
    }

    /// The `cgroup.procs` descriptors the child writes `0` to, entering itself.
    pub(crate) fn procs_fds(&self) -> Vec<RawFd> {
        self.procs.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// How many processes the memory cap's OOM killer has killed so far.
    pub(crate) fn oom_kills(&self) -> u64 {
        let file = match self.version {
            CgroupVersion::V2 => "memory.events",
            CgroupVersion::V1 => "memory.oom_control",
        };
        fs::read_to_string(self.memory_dir.join(file))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("oom_kill ")?.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// The pids in any of the run's cgroups.
    fn members(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .dirs
            .iter()
            .filter_map(|dir| fs::read_to_string(dir.join("cgroup.procs")).ok())
            .flat_map(|text| {
                text.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect::<Vec<_>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }
}

impl Drop for RunCgroup {
    /// SIGKILLs whatever is still in the cgroup (a process that escaped the tree scan cannot
    /// escape its cgroup) and removes the directories, within [`REMOVE_WAIT`].
    fn drop(&mut self) {
        self.procs.clear();
        let until = Instant::now() + REMOVE_WAIT;
        loop {
            for pid in self.members() {
                // SAFETY: kill has no memory-safety preconditions; these pids are in our cgroup.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            self.dirs
                .retain(|dir| fs::remove_dir(dir).is_err() && dir.exists());
            if self.dirs.is_empty() || Instant::now() >= until {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn make_dir(dir: &Path) -> Result<(), SandboxError> {
    fs::create_dir(dir).map_err(|source| SandboxError::Cgroup {
        path: dir.to_owned(),
        source,
    })
}

fn write(file: &Path, value: u64) -> Result<(), SandboxError> {
    fs::write(file, value.to_string()).map_err(|source| SandboxError::Cgroup {
        path: file.to_owned(),
        source,
    })
}

fn open_procs(dir: &Path) -> Result<File, SandboxError> {
    let path = dir.join("cgroup.procs");
    OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|source| SandboxError::Cgroup { path, source })
}

/// Moves the calling process into the cgroups. Between fork and exec: only `write(2)`.
pub(crate) fn enter(procs_fds: &[RawFd]) -> io::Result<()> {
    for &fd in procs_fds {
        // SAFETY: writes two bytes from a static buffer to a descriptor we own.
        if unsafe { libc::write(fd, b"0\n".as_ptr().cast(), 2) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One line of `/proc/self/mountinfo`: the mount's root inside its hierarchy, its mount
/// point, file system type and super options.
struct Mount<'a> {
    root: &'a str,
    point: &'a str,
    fstype: &'a str,
    options: &'a str,
}

fn mounts(mountinfo: &str) -> impl Iterator<Item = Mount<'_>> {
    mountinfo.lines().filter_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut left = left.split(' ').skip(3);
        let mut right = right.split(' ');
        Some(Mount {
            root: left.next()?,
            point: left.next()?,
            fstype: right.next()?,
            options: right.nth(1)?,
        })
    })
}

/// Where `cgroup` (a path in the hierarchy) lies under a mount of that hierarchy.
fn under(mount: &Mount<'_>, cgroup: &str) -> Option<PathBuf> {
    let rest = if mount.root == "/" {
        cgroup
    } else {
        cgroup.strip_prefix(mount.root)?
    };
    Some(Path::new(mount.point).join(rest.trim_start_matches('/')))
}

/// Our v2 cgroup directory, when it delegates both `memory` and `pids` to its children.
fn v2_delegated(own: &str, mountinfo: &str) -> Option<PathBuf> {
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mount = mounts(mountinfo).find(|m| m.fstype == "cgroup2")?;
    let dir = under(&mount, path)?;
    let control = fs::read_to_string(dir.join("cgroup.subtree_control")).ok()?;
    let has = |c| control.split_whitespace().any(|x| x == c);
    (has("memory") && has("pids")).then_some(dir)
}

/// Our v1 cgroup directory for `controller`.
fn v1_dir(own: &str, mountinfo: &str, controller: &str) -> Option<PathBuf> {
    let path = own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    })?;
    let mount = mounts(mountinfo)
        .find(|m| m.fstype == "cgroup" && m.options.split(',').any(|o| o == controller))?;
    under(&mount, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/job/42\n0::/\n";
    const MOUNTS: &str = "\
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
38 30 0:34 /job /mnt/nested rw,relatime - cgroup cgroup rw,memory
39 30 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn finds_v1_directories_from_our_cgroup_and_the_mounts() {
        assert_eq!(
            v1_dir(OWN, MOUNTS, "memory"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/job/42"))
        );
        assert_eq!(
            v1_dir(OWN, MOUNTS, "pids"),
            Some(PathBuf::from("/sys/fs/cgroup/pids/"))
        );
        assert_eq!(v1_dir(OWN, MOUNTS, "cpu"), None);
    }

    #[test]
    fn a_mount_of_a_subtree_is_resolved_relative_to_its_root() {
        let m = mounts(MOUNTS).nth(3).unwrap();
        assert_eq!(under(&m, "/job/42"), Some(PathBuf::from("/mnt/nested/42")));
        assert_eq!(under(&m, "/other"), None);
    }
}
