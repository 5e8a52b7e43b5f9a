//! `swarmlab run [DIR]`: the experiment loop, one experiment at a time or, with `--parallel`
//! or `--devices`, one per slot.

use anyhow::Context;
use swarmlab_loop::{assign, load_track, Device, Limits, LoopError, Session, Stop};

use crate::cli::{Pipeline, RunArgs};

pub fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let mut spec = load_track(&args.dir)?;
    if let Some(budget) = args.budget {
        spec.override_budget(budget);
    }
    super::check_agent(&args.proposer, &spec.root)?;
    let cancel = crate::interrupt::install();
    let proposer = super::proposer(&args.proposer, &spec, &cancel)?;
    let limits = Limits {
        experiments: args.experiments,
        duration: args.for_,
    };
    let slots = match (&args.devices, args.parallel) {
        (None, None | Some(1)) => None,
        (devices, parallel) => {
            let parallel = parallel.map(|n| n as usize);
            let devices = match devices {
                Some(text) => Device::parse_list(text, parallel)
                    .map_err(anyhow::Error::msg)
                    .context("--devices")?,
                None => Vec::new(),
            };
            Some(assign(&devices, parallel.unwrap_or(devices.len().max(1))))
        }
    };
    let proposers = match &slots {
        Some(slots) => slots
            .iter()
            .map(|_| super::proposer(&args.proposer, &spec, &cancel))
            .collect::<anyhow::Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    let mut session = Session::open(spec, &args.tag, args.seed, proposer, cancel)?;
    session.set_idea(args.idea.clone());
    session.set_screen(args.screen);
    let slow_proposer = args.proposer.name.is_slow();
    if slots.is_none()
        && (args.pipeline == Pipeline::On || (args.pipeline == Pipeline::Auto && slow_proposer))
    {
        session.enable_pipeline()?;
    }
    if !args.no_setup {
        session.setup()?;
    }
    let ran = match slots {
        Some(slots) => session.run_parallel(limits, slots, proposers),
        None => session.run(limits),
    };
    let stop = match ran {
        Err(failing @ LoopError::ProposerFailing { .. }) => {
            // What ran before the proposer stopped working is still worth its table; no
            // "run the same command" hint, since the error that follows says what to fix first.
            session.print_summary(Stop::NothingToPropose);
            return Err(failing.into());
        }
        stop => stop?,
    };
    session.print_summary(stop);
    Ok(crate::exit::of_stop(stop))
}
