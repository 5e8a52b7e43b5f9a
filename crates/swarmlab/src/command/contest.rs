//! `swarmlab contest DIR --programs A.md B.md ...`: program files against each other, each
//! in R runs of N experiments on branches of their own (`swarmlab_loop::Contest`), then the
//! standings printed and written under `.swarmlab/contest/`.

use swarmlab_loop::{load_track, Contest, Program, Stop};

use crate::cli::ContestArgs;

pub fn contest(args: &ContestArgs) -> anyhow::Result<i32> {
    let programs = Program::read_all(&args.programs)?;
    let mut spec = load_track(&args.dir)?;
    if let Some(budget) = args.budget {
        spec.override_budget(budget);
    }
    super::check_agent(&args.proposer, &spec.root)?;
    let cancel = crate::interrupt::install();
    let contest = Contest::new(
        spec.clone(),
        programs,
        args.runs,
        u64::from(args.experiments),
        args.seed,
    )?;
    let stop = contest.run(
        || super::proposer(&args.proposer, &spec, &cancel),
        &cancel,
        !args.no_setup,
    )?;
    println!("{}", contest.report()?.summary());
    if stop == Stop::Interrupted {
        eprintln!("contest stopped; run the same command again to go on where it stopped");
    }
    Ok(crate::exit::of_stop(stop))
}
