//! The sandbox of the runner's sandbox tests (real bubblewrap, real cgroups): testkit's
//! sandboxed scratch folder on this package's own shim, and the uid a process runs as.

use std::fs;

use swarmlab_testkit::sandbox::Sandboxed;

/// A sandboxed scratch folder whose runs go through the shim cargo built for these tests.
pub fn sandboxed() -> Sandboxed {
    Sandboxed::new(env!("CARGO_BIN_EXE_swarmlab-sandbox-shim"))
}

/// The real uid of `pid` as the host sees it.
pub fn host_uid(pid: i32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
