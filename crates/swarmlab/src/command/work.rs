//! `swarmlab work`: glue between the flags and [`swarmlab_client::worker`].

use swarmlab_client::gpu::Gpu;
use swarmlab_client::worker::{work as run_worker, WorkOptions};
use swarmlab_loop::Stop;

use crate::cli::WorkArgs;

pub fn work(args: WorkArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let proposer_cancel = cancel.clone();
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
        proposer,
    } = args;
    let env = match gpu {
        Some(minor) => {
            let gpu = Gpu::find(minor)?;
            eprintln!("worker: runs use GPU {minor}, {}", gpu.model);
            gpu.env()
        }
        None => Vec::new(),
    };
    let options = WorkOptions {
        hub,
        track,
        dir,
        name,
        invite,
        seed,
        experiments,
        budget,
        build_from,
        env,
        make_proposer: Box::new(move |spec| {
            super::proposer(&proposer, spec, &proposer_cancel).map_err(Into::into)
        }),
    };
    Ok(match run_worker(options, cancel)? {
        Stop::Interrupted => crate::exit::INTERRUPTED,
        _ => 0,
    })
}
