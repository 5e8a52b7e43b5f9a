//! `swarmlab contest DIR --programs A.md B.md ...`: program files against each other, each
//! in R runs of N experiments on branches of their own (`swarmlab_loop::Contest`), then the
//! standings printed and written under `.swarmlab/contest/`; with `--evolve ROUNDS`, the
//! track's program against variants a writer drafts, round after round
//! (`swarmlab_loop::Evolution`).

use swarmlab_core::TrackSpec;
use swarmlab_loop::{load_track, Contest, ContestError, Evolution, Program, Stop};
use swarmlab_runner::Cancel;

use crate::cli::ContestArgs;

pub fn contest(args: &ContestArgs) -> anyhow::Result<i32> {
    let programs = Program::read_all(&args.programs)?;
    let (spec, cancel) = prepare(args)?;
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
    finish(stop, "contest")
}

pub fn evolve(args: &ContestArgs) -> anyhow::Result<i32> {
    let mut writer = args.proposer.clone();
    writer.name = args.writer.unwrap_or(writer.name);
    writer.script = args.writer_script.clone();
    if !super::choice(&writer).writes_text() {
        let why = "the writer of --evolve edits the program: give --writer command or openai \
                   (with the proposer flags of that kind), or --writer script --writer-script CMD";
        return Err(ContestError::Input(why.into()).into());
    }
    let (spec, cancel) = prepare(args)?;
    if writer.name != args.proposer.name {
        super::check_agent(&writer, &spec.root)?;
    }
    let evolution = Evolution::new(
        spec.clone(),
        args.evolve.unwrap_or(1),
        args.variants.unwrap_or(2),
        args.runs,
        u64::from(args.experiments),
        args.seed,
    )?;
    let mut writer = super::proposer(&writer, &spec, &cancel)?;
    let stop = evolution.run(
        || super::proposer(&args.proposer, &spec, &cancel),
        writer.as_mut(),
        &cancel,
        !args.no_setup,
    )?;
    finish(stop, "evolution")
}

/// The track with the budget the flags give, its agent checked, and Ctrl-C caught.
fn prepare(args: &ContestArgs) -> anyhow::Result<(TrackSpec, Cancel)> {
    let mut spec = load_track(&args.dir)?;
    if let Some(budget) = args.budget {
        spec.override_budget(budget);
    }
    super::check_agent(&args.proposer, &spec.root)?;
    Ok((spec, crate::interrupt::install()))
}

fn finish(stop: Stop, what: &str) -> anyhow::Result<i32> {
    if stop == Stop::Interrupted {
        eprintln!("{what} stopped; run the same command again to go on where it stopped");
    }
    Ok(crate::exit::of_stop(stop))
}
