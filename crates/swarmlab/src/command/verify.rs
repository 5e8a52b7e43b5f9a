//! `swarmlab verify`: glue between the flags and [`swarmlab_client::verifier`]. The sandbox's
//! self-test runs first and, unless the sandbox is off, a failing layer stops the verifier.
//! `--gpu N` binds that GPU's device nodes into the sandbox, names it in every run's
//! environment and, unless told otherwise, reports its model as the hardware class.

use std::path::Path;

use anyhow::Context;
use swarmlab_client::gpu::Gpu;
use swarmlab_client::verifier::{hardware_class, verify as run_verifier, VerifyOptions};
use swarmlab_loop::Stop;
use swarmlab_runner::sandbox::self_test;
use swarmlab_runner::SandboxConfig;

use crate::cli::{SandboxMode, VerifyArgs};

pub fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let gpu = args.gpu.map(Gpu::find).transpose()?;
    let mut devices = args.devices.clone();
    if let Some(gpu) = &gpu {
        devices.extend(gpu.nodes(Path::new("/dev"))?);
    }
    let mut sandbox = sandbox(args.sandbox, &args.bwrap, args.uid)?;
    if let Some(config) = sandbox.as_mut() {
        config.memory_bytes = args.memory_mb << 20;
        config.fsize_bytes = args.file_mb << 20;
        config.devices = devices;
    }
    let hardware_class = args
        .hardware_class
        .or_else(|| gpu.as_ref().map(Gpu::hardware_class))
        .unwrap_or_else(hardware_class);
    let options = VerifyOptions {
        hub: args.hub,
        dir: std::path::absolute(&args.dir)
            .with_context(|| format!("failed to resolve {}", args.dir.display()))?,
        token: args.token,
        hardware_class,
        env: gpu.as_ref().map(Gpu::env).unwrap_or_default(),
        sandbox,
        jobs: args.jobs,
        budget: args.budget,
        warm: args.warm,
        python: args.python,
    };
    Ok(match run_verifier(options, cancel)? {
        Stop::Interrupted => crate::exit::INTERRUPTED,
        _ => 0,
    })
}

/// The sandbox every run goes through, after its self-test.
pub fn sandbox(
    mode: SandboxMode,
    bwrap: &std::path::Path,
    uid: u32,
) -> anyhow::Result<Option<SandboxConfig>> {
    if mode == SandboxMode::Off {
        eprintln!("warning: the sandbox is off: candidates run with this user's rights");
        return Ok(None);
    }
    let me = std::env::current_exe()
        .context("failed to find the swarmlab binary for the sandbox shim")?;
    let mut config = SandboxConfig::new(me, std::env::temp_dir());
    config.shim_args = vec![crate::SANDBOX_SHIM.to_string()];
    config.bwrap = bwrap.to_path_buf();
    config.uid = uid;
    config.gid = uid;
    match self_test(&config) {
        Ok(_) => Ok(Some(config)),
        Err(e) if mode == SandboxMode::Auto => {
            eprintln!(
                "warning: the sandbox self-test failed ({e}); candidates run UNSANDBOXED with this user's rights"
            );
            Ok(None)
        }
        Err(e) => Err(e).context(
            "the sandbox self-test failed, so the verifier will not run untrusted code (see `swarmlab sandbox check`; --sandbox off runs trusted code only)",
        ),
    }
}
