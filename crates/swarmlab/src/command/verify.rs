//! `swarmlab verify`: glue between the flags and [`swarmlab_client::verifier`]. The sandbox's
//! self-test runs first and, unless the sandbox is off, a failing layer stops the verifier.
//! `--gpu N` binds that GPU's device nodes into the sandbox, names it in every run's
//! environment and, unless told otherwise, reports its model as the hardware class;
//! `--devices LIST` runs one verifier per device, one job each, as one identity
//! ([`swarmlab_client::devices`]).

use std::path::{Path, PathBuf};

use anyhow::Context;
use swarmlab_client::devices::{each, share_identity, Placement};
use swarmlab_client::gpu::Gpu;
use swarmlab_client::verifier::{hardware_class, verify as run_verifier, VerifyOptions};
use swarmlab_client::ClientError;
use swarmlab_loop::{Device, Stop};
use swarmlab_runner::sandbox::self_test;
use swarmlab_runner::SandboxConfig;

use crate::cli::{SandboxMode, VerifyArgs};

pub fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("failed to resolve {}", args.dir.display()))?;
    // Where each verifier runs, settled before anything starts: a missing GPU stops here.
    let placements = match &args.device_list {
        Some(list) => {
            let placements = Device::parse_list(list, None)
                .map_err(anyhow::Error::msg)?
                .iter()
                .map(Placement::of)
                .collect::<Result<Vec<_>, _>>()?;
            Some(placements)
        }
        None => None,
    };
    let gpu = args.gpu.map(Gpu::find).transpose()?;
    let gpu_nodes = match &gpu {
        Some(gpu) => gpu.nodes(Path::new("/dev"))?,
        None => Vec::new(),
    };
    let mut sandbox = sandbox(args.sandbox, &args.bwrap, args.uid)?;
    if let Some(config) = sandbox.as_mut() {
        config.memory_bytes = args.memory_mb << 20;
        config.fsize_bytes = args.file_mb << 20;
    }
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
    Ok(match stop {
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
