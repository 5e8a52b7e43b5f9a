//! The sandbox of the evaluation tests that run sandboxed (real bubblewrap, real cgroups): a
//! world-readable checkout, a small config, and `sh -c` specs run in it.
//!
//! The shim is swarmlab-runner's `swarmlab-sandbox-shim`. Cargo gives a test the paths of its
//! own package's binaries only, so it is built here, once, into `eval-shim/` of the target
//! folder this test binary was built in: apart, since the runner's own tests need their build
//! of it (with the `selftest-faults` feature) where cargo put it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use swarmlab_runner::{RunSpec, SandboxConfig};
use swarmlab_testkit::scratch::Scratch;

const MIB: u64 = 1 << 20;
const SHIM: &str = "swarmlab-sandbox-shim";

pub struct Sandboxed {
    pub fx: Scratch,
    pub checkout: PathBuf,
}

impl Sandboxed {
    pub fn new() -> Self {
        let fx = Scratch::new();
        // The sandbox uid must be able to reach the checkout.
        fs::set_permissions(fx.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let checkout = fx.path("checkout");
        fs::create_dir(&checkout).unwrap();
        fs::set_permissions(&checkout, fs::Permissions::from_mode(0o755)).unwrap();
        Sandboxed { fx, checkout }
    }

    pub fn config(&self) -> SandboxConfig {
        let mut config = SandboxConfig::new(shim(), &self.checkout);
        config.scratch_bytes = 16 * MIB;
        config.tmp_bytes = 16 * MIB;
        config.memory_bytes = 256 * MIB;
        config.max_pids = 64;
        config
    }

    /// `sh -c script` in the checkout, sandboxed by `config`, with PATH only.
    pub fn sh_with(&self, config: SandboxConfig, script: &str, timeout: Duration) -> RunSpec {
        let mut spec = RunSpec::new(
            vec!["sh".into(), "-c".into(), script.into()],
            &self.checkout,
            self.fx.path("log"),
            timeout,
        );
        spec.grace = Duration::from_millis(500);
        spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
        spec.sandbox = Some(config);
        spec
    }

    pub fn sh(&self, script: &str, timeout: Duration) -> RunSpec {
        self.sh_with(self.config(), script, timeout)
    }
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
