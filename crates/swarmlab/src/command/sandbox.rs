//! `swarmlab sandbox check`: run the sandbox's self-test, which tries every layer for real
//! and fails closed, naming the first layer missing.

use anyhow::Context;
use swarmlab_runner::sandbox::self_test;
use swarmlab_runner::SandboxConfig;

use crate::cli::SandboxCheckArgs;

pub fn check(args: &SandboxCheckArgs) -> anyhow::Result<i32> {
    let me = std::env::current_exe()
        .context("failed to find the swarmlab binary for the sandbox shim")?;
    let mut config = SandboxConfig::new(me, std::env::temp_dir());
    config.shim_args = vec![crate::SANDBOX_SHIM.to_string()];
    config.bwrap = args.bwrap.clone();
    config.uid = args.uid;
    config.gid = args.uid;
    let report = self_test(&config).context("the sandbox self-test failed")?;
    print!("{report}");
    println!("ok: every layer of the sandbox holds on this machine");
    Ok(0)
}
