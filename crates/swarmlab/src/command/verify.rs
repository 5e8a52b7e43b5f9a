//! `swarmlab verify`: glue between the flags and [`swarmlab_client::verifier`]. The sandbox's
//! self-test runs first, in the verifier's own folder, and unless the sandbox is off a
//! failing layer, or a folder the sandbox cannot reach, stops the verifier.

use anyhow::Context;
use swarmlab_client::verifier::{
    hardware_class, test_sandbox_in, verify as run_verifier, VerifyOptions,
};
use swarmlab_loop::Stop;

use crate::cli::{SandboxMode, VerifyArgs};

pub fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("failed to resolve {}", args.dir.display()))?;
    let sandbox = match args.sandbox {
        SandboxMode::Off => {
            eprintln!(
                "warning: the sandbox is off: candidates run with this user's rights, and every report says so"
            );
            None
        }
        SandboxMode::On => {
            let mut config = super::sandbox_template(&args.bwrap, args.uid)?;
            test_sandbox_in(&dir, &config).context(
                "the verifier will not run untrusted code without its sandbox (see `swarmlab sandbox check --dir`; --sandbox off runs trusted code only)",
            )?;
            config.memory_bytes = args.memory_mb << 20;
            config.fsize_bytes = args.file_mb << 20;
            config.devices = args.devices.clone();
            Some(config)
        }
    };
    let options = VerifyOptions {
        hub: args.hub,
        dir,
        token: args.token,
        hardware_class: args.hardware_class.unwrap_or_else(hardware_class),
        sandbox,
        jobs: args.jobs,
        budget: args.budget,
    };
    Ok(match run_verifier(options, cancel)? {
        Stop::Interrupted => crate::exit::INTERRUPTED,
        _ => 0,
    })
}
