//! `swarmlab run [DIR]`: the experiment loop.

use swarmlab_loop::{load_track, Limits, Session, Stop};

use crate::cli::{Pipeline, ProposerName, RunArgs};

pub fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let mut spec = load_track(&args.dir)?;
    if let Some(budget) = args.budget {
        spec.override_budget(budget);
    }
    let cancel = crate::interrupt::install();
    let proposer = super::proposer(&args.proposer, &spec, &cancel)?;
    let limits = Limits {
        experiments: args.experiments,
        duration: args.for_,
    };
    let mut session = Session::open(spec, &args.tag, args.seed, proposer, cancel)?;
    session.set_idea(args.idea.clone());
    let slow_proposer = matches!(
        args.proposer.name,
        ProposerName::Command | ProposerName::Openai
    );
    if args.pipeline == Pipeline::On || (args.pipeline == Pipeline::Auto && slow_proposer) {
        session.enable_pipeline()?;
    }
    if !args.no_setup {
        session.setup()?;
    }
    let stop = session.run(limits)?;
    session.print_summary(stop);
    Ok(match stop {
        Stop::Interrupted => crate::exit::INTERRUPTED,
        _ => 0,
    })
}
