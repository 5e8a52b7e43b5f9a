//! `swarmlab work`: glue between the flags and [`swarmlab_client::worker`].

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
        seed,
        experiments,
        budget,
        build_from,
        proposer,
    } = args;
    let options = WorkOptions {
        hub,
        track,
        dir,
        name,
        seed,
        experiments,
        budget,
        build_from,
        make_proposer: Box::new(move |spec| {
            super::proposer(&proposer, spec, &proposer_cancel).map_err(Into::into)
        }),
    };
    Ok(match run_worker(options, cancel)? {
        Stop::Interrupted => crate::exit::INTERRUPTED,
        _ => 0,
    })
}
