//! Landlock, applied by the shim inside the sandbox: the file system becomes read-only (and
//! executable) everywhere except the writable paths, `/dev` allows reading and writing
//! existing nodes only, TCP bind and connect are denied (ABI 4+), and signals and abstract
//! unix sockets cannot reach outside the sandbox (ABI 6+).
//!
//! It must only ever restrict the calling process; it fails closed when the kernel has no
//! Landlock (raw syscalls, so no crate decides to degrade silently).

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
const REFER: u64 = 1 << 13;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;
/// Every right of ABI 1 (execute .. make symlink).
const ABI1_FS: u64 = (1 << 13) - 1;
const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;
const CREATE_RULESET_VERSION: libc::c_uint = 1 << 0;
const RULE_PATH_BENEATH: libc::c_int = 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version of the running kernel, or why there is none.
pub(crate) fn abi() -> io::Result<u32> {
    // SAFETY: with the VERSION flag the attr must be null and the size 0.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if v < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(v as u32)
}

/// The file-system rights this ABI can restrict.
fn handled_fs(abi: u32) -> u64 {
    let mut fs = ABI1_FS;
    if abi >= 2 {
        fs |= REFER;
    }
    if abi >= 3 {
        fs |= TRUNCATE;
    }
    if abi >= 5 {
        fs |= IOCTL_DEV;
    }
    fs
}

/// Restricts the calling process (and all it starts) for good; returns the ABI used.
/// `no_new_privs` must already be set.
pub(crate) fn restrict(writable: &[&Path]) -> Result<u32, String> {
    let abi = abi().map_err(|e| format!("landlock unsupported by this kernel: {e}"))?;
    if abi < 1 {
        return Err(format!("landlock unsupported: ABI {abi}"));
    }
    let fs = handled_fs(abi);
    let attr = RulesetAttr {
        handled_access_fs: fs,
        handled_access_net: if abi >= 4 {
            NET_BIND_TCP | NET_CONNECT_TCP
        } else {
            0
        },
        scoped: if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        },
    };
    let size = match abi {
        1..=3 => 8,
        4 | 5 => 16,
        _ => 24,
    };
    // SAFETY: attr is valid for `size` bytes (at most its full size).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size as usize,
            0,
        )
    };
    if fd < 0 {
        return Err(format!(
            "failed to create a ruleset: {}",
            io::Error::last_os_error()
        ));
    }
    // SAFETY: the syscall returned a fresh descriptor that nothing else owns.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let ruleset = std::os::fd::AsRawFd::as_raw_fd(&ruleset);
    add_rule(ruleset, Path::new("/"), EXECUTE | READ_FILE | READ_DIR)?;
    // Existing device nodes (null, zero, tty, an assigned GPU) stay usable; nothing can be
    // created in the writable tmpfs that bubblewrap mounts at /dev.
    let dev = READ_FILE | READ_DIR | WRITE_FILE | (fs & (TRUNCATE | IOCTL_DEV));
    add_rule(ruleset, Path::new("/dev"), dev)?;
    for path in writable {
        add_rule(ruleset, path, fs)?;
    }
    // SAFETY: restricts only the calling thread (the shim is single-threaded).
    if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0) } != 0 {
        return Err(format!(
            "failed to enforce the ruleset: {}",
            io::Error::last_os_error()
        ));
    }
    Ok(abi)
}

fn add_rule(ruleset: i32, path: &Path, access: u64) -> Result<(), String> {
    let name = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("path {} holds a NUL byte", path.display()))?;
    // SAFETY: a valid C string; O_PATH opens without reading.
    let fd = unsafe { libc::open(name.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(format!(
            "failed to open {}: {}",
            path.display(),
            io::Error::last_os_error()
        ));
    }
    // SAFETY: open returned a fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let attr = PathBeneathAttr {
        allowed_access: access,
        parent_fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
    };
    // SAFETY: attr is a valid packed path_beneath_attr.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0,
        )
    };
    if r != 0 {
        return Err(format!(
            "failed to add a rule for {}: {}",
            path.display(),
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_abis_handle_more_rights() {
        assert_eq!(handled_fs(1), ABI1_FS);
        assert_eq!(handled_fs(3) & TRUNCATE, TRUNCATE);
        assert_eq!(handled_fs(4) & IOCTL_DEV, 0);
        assert_eq!(handled_fs(7) & IOCTL_DEV, IOCTL_DEV);
        assert_eq!(std::mem::size_of::<PathBeneathAttr>(), 12);
    }
}
