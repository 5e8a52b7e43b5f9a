//! `swarmlab work`: glue between the flags and [`crate::swarm::worker`].

use crate::cli::WorkArgs;
use crate::session::Stop;
use crate::swarm::worker::{work as run_worker, WorkOptions};

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
        make_proposer: Box::new(move |spec| {
            super::run::proposer(&proposer, spec, &proposer_cancel)
        }),
    };
    Ok(match run_worker(options, cancel)? {
        Stop::Interrupted => crate::exit::INTERRUPTED,
        _ => 0,
    })
}
