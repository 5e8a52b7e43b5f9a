//! Shared helpers of the sandbox tests (real bubblewrap, real cgroups): a world-readable
//! checkout, a small config, `sh -c` specs run in the sandbox, and finding the sandbox's
//! processes from outside by a mark in their environment.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use swarmlab_runner::{RunSpec, SandboxConfig};
use swarmlab_testkit::scratch::Scratch;

pub const MIB: u64 = 1 << 20;

pub struct Sandboxed {
    pub fx: Scratch,
    pub checkout: PathBuf,
    /// A value no other test's processes carry, passed as `SWARMLAB_TEST_MARK`.
    pub mark: String,
}

impl Sandboxed {
    pub fn new() -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let fx = Scratch::new();
        // The sandbox uid must be able to reach the checkout.
        fs::set_permissions(fx.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let checkout = fx.path("checkout");
        fs::create_dir(&checkout).unwrap();
        fs::set_permissions(&checkout, fs::Permissions::from_mode(0o755)).unwrap();
        let mark = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        Sandboxed { fx, checkout, mark }
    }

    pub fn config(&self) -> SandboxConfig {
        let mut config =
            SandboxConfig::new(env!("CARGO_BIN_EXE_swarmlab-sandbox-shim"), &self.checkout);
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
            ("SWARMLAB_TEST_MARK".into(), self.mark.clone()),
        ];
        spec.sandbox = Some(config);
        spec
    }

    pub fn sh(&self, script: &str, timeout: Duration) -> RunSpec {
        self.sh_with(self.config(), script, timeout)
    }

    /// Host pids of the live processes carrying this test's mark.
    pub fn marked(&self) -> Vec<i32> {
        let wanted = format!("SWARMLAB_TEST_MARK={}", self.mark);
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == wanted.as_bytes()))
            })
            .filter(|pid| crate::support::alive(*pid))
            .collect()
    }
}

/// The real uid of `pid` as the host sees it.
pub fn host_uid(pid: i32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
