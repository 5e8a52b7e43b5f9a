//! `swarmlab verify`: glue between the flags and [`swarmlab_client::verifier`]. The sandbox's
//! self-test runs first, in the verifier's own folder, and unless the sandbox is off a
//! failing layer, or a folder the sandbox cannot reach, stops the verifier. `--gpu N` binds
//! that GPU's device nodes into the sandbox, names it in every run's environment and, unless
//! told otherwise, reports its model as the hardware class; `--devices LIST` runs one
//! verifier per device, one job each, as one identity ([`swarmlab_client::devices`]).

use std::path::Path;

use anyhow::Context;
use swarmlab_client::verifier::placed::{verify_placed, Place};
use swarmlab_client::verifier::{test_sandbox_in, VerifyOptions};
use swarmlab_runner::SandboxConfig;

use crate::cli::{SandboxMode, VerifyArgs};

pub fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("failed to resolve {}", args.dir.display()))?;
    let place = match args.device_list.as_deref() {
        Some(list) => Place::each(list)?,
        None => Place::one(args.gpu)?,
    };
    let options = VerifyOptions {
        hub: args.hub.clone(),
        sandbox: sandbox(&args, &dir)?,
        dir,
        token: args.token.clone(),
        hardware_class: String::new(),
        env: Vec::new(),
        jobs: args.jobs,
        budget: args.budget,
        warm: args.warm.clone(),
        python: args.python.clone(),
    };
    let class = args.hardware_class.as_deref();
    Ok(crate::exit::of_stop(verify_placed(
        &options, place, class, &cancel,
    )?))
}

/// The sandbox every run goes through, once its self-test passed in `dir`; `None` when off.
fn sandbox(args: &VerifyArgs, dir: &Path) -> anyhow::Result<Option<SandboxConfig>> {
    if args.sandbox == SandboxMode::Off {
        eprintln!(
            "warning: the sandbox is off: candidates run with this user's rights, and every report says so"
        );
        return Ok(None);
    }
    let mut config = super::sandbox_template(&args.bwrap, args.uid)?;
    test_sandbox_in(dir, &config).context(
        "the verifier will not run untrusted code without its sandbox (see `swarmlab sandbox check --dir`; --sandbox off runs trusted code only)",
    )?;
    config.devices = args.devices.clone();
    config.memory_bytes = args.memory_mb << 20;
    config.fsize_bytes = args.file_mb << 20;
    Ok(Some(config))
}
