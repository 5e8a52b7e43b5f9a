//! [`Sandboxed`]: a scratch folder with a checkout the sandbox's unprivileged uid can reach, a
//! small sandbox configuration, and `sh -c` specs that run sandboxed in the checkout with
//! only `PATH` and a mark of the test in their environment, so that the test can find its
//! sandboxed processes from outside ([`Sandboxed::marked`]).
//!
//! It configures real bubblewrap runs; whether the host can sandbox at all is the runner's
//! self-test's to say, not this module's.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use swarmlab_runner::{RunSpec, SandboxConfig};

use crate::scratch::{alive, Scratch};

pub const MIB: u64 = 1 << 20;

/// The environment variable that carries a test's mark.
const MARK: &str = "SWARMLAB_TEST_MARK";

pub struct Sandboxed {
    pub fx: Scratch,
    pub checkout: PathBuf,
    /// A value no other test's processes carry, passed as `SWARMLAB_TEST_MARK`.
    pub mark: String,
    shim: PathBuf,
}

impl Sandboxed {
    /// A fresh scratch folder whose runs go through the runner's sandbox shim at `shim`.
    pub fn new(shim: impl Into<PathBuf>) -> Sandboxed {
        static N: AtomicU64 = AtomicU64::new(0);
        let fx = Scratch::new();
        let open = || fs::Permissions::from_mode(0o755);
        // The sandbox uid must be able to reach the checkout.
        fs::set_permissions(fx.dir.path(), open()).expect("the scratch folder is ours");
        let checkout = fx.path("checkout");
        fs::create_dir(&checkout).expect("a fresh folder");
        fs::set_permissions(&checkout, open()).expect("the checkout is ours");
        let mark = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        Sandboxed {
            fx,
            checkout,
            mark,
            shim: shim.into(),
        }
    }

    /// The sandbox over the checkout: 16 MiB of scratch and of /tmp, 256 MiB of memory, 64
    /// processes.
    pub fn config(&self) -> SandboxConfig {
        let mut config = SandboxConfig::new(&self.shim, &self.checkout);
        config.scratch_bytes = 16 * MIB;
        config.tmp_bytes = 16 * MIB;
        config.memory_bytes = 256 * MIB;
        config.max_pids = 64;
        config
    }

    /// `sh -c script` in the checkout, sandboxed by `config`, with PATH and the mark only.
    pub fn sh_with(&self, config: SandboxConfig, script: &str, timeout: Duration) -> RunSpec {
        let mut spec = RunSpec::new(
            vec!["sh".into(), "-c".into(), script.into()],
            &self.checkout,
            self.fx.path("log"),
            timeout,
        );
        spec.grace = Duration::from_millis(500);
        spec.env = vec![
            ("PATH".into(), "/usr/bin:/bin".into()),
            (MARK.into(), self.mark.clone()),
        ];
        spec.sandbox = Some(config);
        spec
    }

    /// [`Sandboxed::sh_with`] the default [`Sandboxed::config`].
    pub fn sh(&self, script: &str, timeout: Duration) -> RunSpec {
        self.sh_with(self.config(), script, timeout)
    }

    /// Host pids of the live processes carrying this test's mark.
    pub fn marked(&self) -> Vec<i32> {
        let wanted = format!("{MARK}={}", self.mark);
        fs::read_dir("/proc")
            .expect("/proc lists processes")
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == wanted.as_bytes()))
            })
            .filter(|pid| alive(*pid))
            .collect()
    }
}
