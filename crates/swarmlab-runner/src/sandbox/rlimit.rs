//! The resource limits set on bubblewrap, and so inherited by everything in the sandbox:
//! processes of the uid, open files, CPU seconds, no core dumps, and address space when no
//! cgroup can cap memory. The file size limit is set by the shim instead ([`set_fsize`]):
//! bubblewrap itself must write the shim's copy, which may be larger.
//!
//! Applied between fork and exec, so [`Rlimits::apply`] must stay async-signal-safe: plain
//! `setrlimit` calls, no allocation.

use std::io;

use super::config::SandboxConfig;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) type Resource = libc::c_int;

/// The limits of one sandboxed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rlimits {
    nproc: u64,
    nofile: u64,
    cpu: u64,
    /// `RLIMIT_AS`, only as the fallback for a missing memory cgroup.
    address_space: Option<u64>,
}

impl Rlimits {
    /// The limits `config` asks for; `memory_fallback` adds `RLIMIT_AS` at the memory cap.
    pub(crate) fn new(config: &SandboxConfig, memory_fallback: bool) -> Self {
        Rlimits {
            nproc: config.nproc,
            nofile: config.nofile,
            cpu: config.cpu_seconds,
            address_space: memory_fallback.then_some(config.memory_bytes),
        }
    }

    /// Sets every limit (soft and hard) on the calling process.
    pub(crate) fn apply(&self) -> io::Result<()> {
        set(libc::RLIMIT_NPROC, self.nproc)?;
        set(libc::RLIMIT_NOFILE, self.nofile)?;
        set(libc::RLIMIT_CPU, self.cpu)?;
        set(libc::RLIMIT_CORE, 0)?;
        if let Some(bytes) = self.address_space {
            set(libc::RLIMIT_AS, bytes)?;
        }
        Ok(())
    }
}

fn set(resource: Resource, value: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value as libc::rlim_t,
        rlim_max: value as libc::rlim_t,
    };
    // SAFETY: setrlimit reads one valid rlimit struct.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets `RLIMIT_FSIZE` (soft and hard) on the calling process.
pub(crate) fn set_fsize(bytes: u64) -> io::Result<()> {
    set(libc::RLIMIT_FSIZE, bytes)
}
