//! `swarmlab run [DIR]`: the experiment loop.

use swarmlab_agent::sweep::Strategy;
use swarmlab_agent::{Proposer, ScriptProposer, SweepProposer};

use crate::cli::{ProposerName, RunArgs};
use crate::session::{Limits, Session, Stop};

pub fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let mut spec = super::load_track(&args.dir)?;
    if let Some(budget) = args.budget {
        spec.override_budget(budget);
    }
    let proposer: Box<dyn Proposer> = match args.proposer {
        ProposerName::Sweep => Box::new(SweepProposer::new(Strategy::Evolution)),
        ProposerName::Random => Box::new(SweepProposer::new(Strategy::Random)),
        ProposerName::Script => {
            Box::new(ScriptProposer::new(args.script.clone().unwrap_or_default()))
        }
    };
    let cancel = crate::interrupt::install();
    let limits = Limits {
        experiments: args.experiments,
        duration: args.for_,
    };
    let mut session = Session::open(spec, &args.tag, args.seed, proposer, cancel)?;
    if !args.no_setup {
        session.setup()?;
    }
    let stop = session.run(limits)?;
    session.print_summary();
    Ok(match stop {
        Stop::Interrupted => crate::exit::INTERRUPTED,
        _ => 0,
    })
}
