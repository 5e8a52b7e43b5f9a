//! The sandbox of the evaluation tests that run sandboxed (real bubblewrap, real cgroups):
//! testkit's sandboxed scratch folder on the runner's shim.
//!
//! The shim is swarmlab-runner's `swarmlab-sandbox-shim`. Cargo gives a test the paths of its
//! own package's binaries only, so it is built here, once, into `eval-shim/` of the target
//! folder this test binary was built in: apart, since the runner's own tests need their build
//! of it (with the `selftest-faults` feature) where cargo put it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use swarmlab_testkit::sandbox::Sandboxed;

const SHIM: &str = "swarmlab-sandbox-shim";

/// A sandboxed scratch folder whose runs go through the shim built here.
pub fn sandboxed() -> Sandboxed {
    Sandboxed::new(shim())
}

/// The runner's shim, built by cargo for this binary's profile.
fn shim() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // This binary is `<target folder>/<profile>/deps/it-<hash>`.
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().and_then(Path::parent).unwrap();
            let target_dir = profile_dir.parent().unwrap().join("eval-shim");
            let folder = profile_dir.file_name().and_then(|n| n.to_str()).unwrap();
            let profile = if folder == "debug" { "dev" } else { folder };
            let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args([
                    "build",
                    "--quiet",
                    "--offline",
                    "--package",
                    "swarmlab-runner",
                ])
                .args(["--bin", SHIM, "--profile", profile, "--target-dir"])
                .arg(&target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .expect("cargo runs");
            assert!(
                out.status.success(),
                "building {SHIM} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            target_dir.join(folder).join(SHIM)
        })
        .clone()
}
