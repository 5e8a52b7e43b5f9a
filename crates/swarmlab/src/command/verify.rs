//! `swarmlab verify`: glue between the flags and [`swarmlab_client::verifier`]. The sandbox's
//! self-test runs first, in the verifier's own folder, and unless the sandbox is off a
//! failing layer, or a folder the sandbox cannot reach, stops the verifier. `--gpu N` binds
//! that GPU's device nodes into the sandbox, names it in every run's environment and, unless
//! told otherwise, reports its model as the hardware class.

use std::path::Path;

use anyhow::Context;
use swarmlab_client::gpu::Gpu;
use swarmlab_client::verifier::{
    hardware_class, test_sandbox_in, verify as run_verifier, VerifyOptions,
};
use swarmlab_loop::Stop;

use crate::cli::{SandboxMode, VerifyArgs};

pub fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("failed to resolve {}", args.dir.display()))?;
    let gpu = args.gpu.map(Gpu::find).transpose()?;
    let mut devices = args.devices.clone();
    if let Some(gpu) = &gpu {
        devices.extend(gpu.nodes(Path::new("/dev"))?);
    }
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
            config.devices = devices;
            Some(config)
        }
    };
    let hardware_class = args
        .hardware_class
        .or_else(|| gpu.as_ref().map(Gpu::hardware_class))
        .unwrap_or_else(hardware_class);
    let options = VerifyOptions {
        hub: args.hub,
        dir,
        token: args.token,
        hardware_class,
        env: gpu.as_ref().map(Gpu::env).unwrap_or_default(),
        sandbox,
        jobs: args.jobs,
        budget: args.budget,
        python: args.python,
    };
    Ok(match run_verifier(options, cancel)? {
        Stop::Interrupted => crate::exit::INTERRUPTED,
        _ => 0,
    })
}
