//! Where `swarmlab verify` runs its verifiers: one on its folder, with the GPU `--gpu` names
//! if any, or one per device of `--devices`, each in a subfolder of its own under one shared
//! identity ([`crate::devices`]). A [`Place`] is settled before anything starts, so that a
//! missing GPU stops the command before the sandbox's self-test or the hub is reached.

use std::path::{Path, PathBuf};

use swarmlab_loop::Stop;
use swarmlab_runner::Cancel;

use super::{hardware_class, verify, VerifyOptions};
use crate::devices::{each, share_identity, Placement};
use crate::gpu::Gpu;
use crate::ClientError;

/// Where the verifiers run.
pub enum Place {
    /// One verifier on the folder, with this GPU and its device nodes, if any.
    One(Option<(Gpu, Vec<PathBuf>)>),
    /// One verifier per device.
    Each(Vec<Placement>),
}

impl Place {
    /// One verifier, on the GPU with this minor number if one is given.
    pub fn one(gpu: Option<u32>) -> Result<Place, ClientError> {
        let Some(minor) = gpu else {
            return Ok(Place::One(None));
        };
        let gpu = Gpu::find(minor)?;
        let nodes = gpu.nodes(Path::new("/dev"))?;
        Ok(Place::One(Some((gpu, nodes))))
    }

    /// One verifier per device of a `--devices` list.
    pub fn each(list: &str) -> Result<Place, ClientError> {
        Placement::list(list).map(Place::Each)
    }
}

/// Runs the verifiers `place` names from `options`, each with its own folder, environment,
/// device nodes in the sandbox, and hardware class (`class` when given, else what was
/// found); returns when all have stopped.
pub fn verify_placed(
    options: &VerifyOptions,
    place: Place,
    class: Option<&str>,
    cancel: &Cancel,
) -> Result<Stop, ClientError> {
    let run = |dir: PathBuf, env: Vec<(String, String)>, nodes: Vec<PathBuf>, found: String| {
        let mut sandbox = options.sandbox.clone();
        if let Some(config) = sandbox.as_mut() {
            config.devices.extend(nodes);
        }
        let one = VerifyOptions {
            hub: options.hub.clone(),
            dir,
            token: options.token.clone(),
            hardware_class: class.map_or(found, str::to_string),
            env,
            sandbox,
            jobs: options.jobs,
            budget: options.budget,
            warm: options.warm.clone(),
            python: options.python.clone(),
        };
        verify(one, cancel.clone())
    };
    match place {
        Place::Each(placements) => {
            let dirs: Vec<PathBuf> = placements
                .iter()
                .map(|p| options.dir.join(&p.slug))
                .collect();
            share_identity(&options.dir, &options.hub, &dirs)?;
            for placement in &placements {
                eprintln!("verifier {}: runs on {}", placement.slug, placement.device);
            }
            each(placements, |placement: Placement| {
                let found = placement.hardware_class.unwrap_or_else(hardware_class);
                let dir = options.dir.join(&placement.slug);
                run(dir, placement.env, placement.nodes, found)
            })
        }
        Place::One(None) => run(
            options.dir.clone(),
            Vec::new(),
            Vec::new(),
            hardware_class(),
        ),
        Place::One(Some((gpu, nodes))) => {
            run(options.dir.clone(), gpu.env(), nodes, gpu.hardware_class())
        }
    }
}
