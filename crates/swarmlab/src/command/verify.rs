//! `swarmlab verify`: glue between the flags and [`swarmlab_client::verifier`]. The sandbox's
//! self-test runs first, in the verifier's own folder, and unless the sandbox is off a
//! failing layer, or a folder the sandbox cannot reach, stops the verifier. `--gpu N` binds
//! that GPU's device nodes into the sandbox, names it in every run's environment and, unless
//! told otherwise, reports its model as the hardware class; `--devices LIST` runs one
//! verifier per device, one job each, as one identity ([`swarmlab_client::devices`]).

use std::path::{Path, PathBuf};

use anyhow::Context;
use swarmlab_client::devices::{each, share_identity, Placement};
use swarmlab_client::gpu::Gpu;
use swarmlab_client::verifier::{
    hardware_class, test_sandbox_in, verify as run_verifier, VerifyOptions,
};
use swarmlab_client::ClientError;
use swarmlab_loop::Stop;
use swarmlab_runner::SandboxConfig;

use crate::cli::{SandboxMode, VerifyArgs};

pub fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("failed to resolve {}", args.dir.display()))?;
    // Where each verifier runs, settled before anything starts: a missing GPU stops here.
    let placements = args
        .device_list
        .as_deref()
        .map(Placement::list)
        .transpose()?;
    let gpu = args.gpu.map(Gpu::find).transpose()?;
    let gpu_nodes = match &gpu {
        Some(gpu) => gpu.nodes(Path::new("/dev"))?,
        None => Vec::new(),
    };
    let sandbox = sandbox(&args, &dir)?;
    // One verifier on `dir`, its runs handed `env` and the sandbox binding `nodes`.
    let verifier =
        |dir: PathBuf, env: Vec<(String, String)>, nodes: Vec<PathBuf>, class: String| {
            let mut sandbox = sandbox.clone();
            if let Some(config) = sandbox.as_mut() {
                config.devices = args.devices.iter().cloned().chain(nodes).collect();
            }
            let options = VerifyOptions {
                hub: args.hub.clone(),
                dir,
                token: args.token.clone(),
                hardware_class: args.hardware_class.clone().unwrap_or(class),
                env,
                sandbox,
                jobs: args.jobs,
                budget: args.budget,
                warm: args.warm.clone(),
                python: args.python.clone(),
            };
            run_verifier(options, cancel.clone())
        };
    let stop = match placements {
        Some(placements) => {
            let dirs: Vec<PathBuf> = placements.iter().map(|p| dir.join(&p.slug)).collect();
            share_identity(&dir, &args.hub, &dirs)?;
            for placement in &placements {
                eprintln!("verifier {}: runs on {}", placement.slug, placement.device);
            }
            each(
                placements,
                |placement: Placement| -> Result<Stop, ClientError> {
                    let class = placement
                        .hardware_class
                        .clone()
                        .unwrap_or_else(hardware_class);
                    verifier(
                        dir.join(&placement.slug),
                        placement.env,
                        placement.nodes,
                        class,
                    )
                },
            )?
        }
        None => {
            let class = gpu
                .as_ref()
                .map(Gpu::hardware_class)
                .unwrap_or_else(hardware_class);
            let env = gpu.as_ref().map(Gpu::env).unwrap_or_default();
            verifier(dir.clone(), env, gpu_nodes, class)?
        }
    };
    Ok(crate::exit::of_stop(stop))
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
    config.memory_bytes = args.memory_mb << 20;
    config.fsize_bytes = args.file_mb << 20;
    Ok(Some(config))
}
