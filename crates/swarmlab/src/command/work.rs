//! `swarmlab work`: glue between the flags and [`swarmlab_client::worker`]; with `--devices`,
//! one worker per device ([`swarmlab_client::devices`]), each registered on first start with
//! a code of its own from `--invite A,B,...` where the hub registers by invite.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use swarmlab_client::devices::{each, hand_out_invites, Placement};
use swarmlab_client::gpu::Gpu;
use swarmlab_client::worker::{work as run_worker, WorkOptions};
use swarmlab_client::ClientError;
use swarmlab_loop::Stop;

use crate::cli::WorkArgs;

pub fn work(args: WorkArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let WorkArgs {
        hub,
        track,
        dir,
        name,
        invite,
        seed,
        experiments,
        budget,
        build_from,
        gpu,
        devices,
        proposer,
    } = args;
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    super::check_agent(&proposer, &dir)?;
    let proposer = Arc::new(proposer);
    let worker =
        |dir: PathBuf, name: String, invite: Option<String>, env: Vec<(String, String)>| {
            let (proposer, proposer_cancel) = (Arc::clone(&proposer), cancel.clone());
            let options = WorkOptions {
                hub: hub.clone(),
                track: track.clone(),
                dir,
                name,
                invite,
                seed,
                experiments,
                budget,
                build_from: build_from.clone(),
                env,
                make_proposer: Box::new(move |spec| {
                    super::proposer(&proposer, spec, &proposer_cancel).map_err(Into::into)
                }),
            };
            run_worker(options, cancel.clone())
        };
    let stop = match devices {
        Some(list) => {
            let placements = Placement::list(&list)?;
            let dirs: Vec<PathBuf> = placements.iter().map(|p| dir.join(&p.slug)).collect();
            let invites = hand_out_invites(&dirs, invite.as_deref())?;
            for placement in &placements {
                eprintln!(
                    "worker {name}-{}: runs on {}",
                    placement.slug, placement.device
                );
            }
            let invites: HashMap<String, Option<String>> = placements
                .iter()
                .map(|p| p.slug.clone())
                .zip(invites)
                .collect();
            each(
                placements,
                |placement: Placement| -> Result<Stop, ClientError> {
                    let name = format!("{name}-{}", placement.slug);
                    let invite = invites.get(&placement.slug).cloned().flatten();
                    worker(dir.join(&placement.slug), name, invite, placement.env)
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
            worker(dir.clone(), name.clone(), invite.clone(), env)?
        }
    };
    Ok(crate::exit::of_stop(stop))
}
