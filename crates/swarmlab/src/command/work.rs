//! `swarmlab work`: glue between the flags and [`swarmlab_client::worker`]; with `--devices`,
//! one worker per device ([`swarmlab_client::devices`]).

use std::path::PathBuf;
use std::sync::Arc;

use swarmlab_client::devices::{each, Placement};
use swarmlab_client::gpu::Gpu;
use swarmlab_client::worker::{work as run_worker, WorkOptions};
use swarmlab_client::ClientError;
use swarmlab_loop::{Device, Stop};

use crate::cli::WorkArgs;

pub fn work(args: WorkArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let WorkArgs {
        hub,
        track,
        dir,
        name,
        seed,
        experiments,
        budget,
        gpu,
        devices,
        proposer,
    } = args;
    let proposer = Arc::new(proposer);
    let worker = |dir: PathBuf, name: String, env: Vec<(String, String)>| {
        let (proposer, proposer_cancel) = (Arc::clone(&proposer), cancel.clone());
        let options = WorkOptions {
            hub: hub.clone(),
            track: track.clone(),
            dir,
            name,
            seed,
            experiments,
            budget,
            env,
            make_proposer: Box::new(move |spec| {
                super::proposer(&proposer, spec, &proposer_cancel).map_err(Into::into)
            }),
        };
        run_worker(options, cancel.clone())
    };
    let stop = match devices {
        Some(list) => {
            let placements = Device::parse_list(&list, None)
                .map_err(anyhow::Error::msg)?
                .iter()
                .map(Placement::of)
                .collect::<Result<Vec<_>, _>>()?;
            for placement in &placements {
                eprintln!(
                    "worker {name}-{}: runs on {}",
                    placement.slug, placement.device
                );
            }
            each(
                placements,
                |placement: Placement| -> Result<Stop, ClientError> {
                    let name = format!("{name}-{}", placement.slug);
                    worker(dir.join(&placement.slug), name, placement.env)
                },
            )?
        }
        None => {
            let env = match gpu {
                Some(minor) => {
                    let gpu = Gpu::find(minor)?;
                    eprintln!("worker: runs use GPU {minor}, {}", gpu.model);
                    gpu.env()
                }
                None => Vec::new(),
            };
            worker(dir.clone(), name.clone(), env)?
        }
    };
    Ok(match stop {
        Stop::Interrupted => crate::exit::INTERRUPTED,
        _ => 0,
    })
}
