//! `swarmlab contest --evolve ROUNDS`: the track's program against variants a writer drafts,
//! round after round (`swarmlab_loop::Evolution`). Glue only: the writer and the proposer
//! are the ones the flags name.

use swarmlab_loop::{load_track, ContestError, Evolution, Stop};

use crate::cli::{ContestArgs, ProposerName};

pub fn evolve(args: &ContestArgs) -> anyhow::Result<i32> {
    let mut spec = load_track(&args.dir)?;
    if let Some(budget) = args.budget {
        spec.override_budget(budget);
    }
    let mut writer = args.proposer.clone();
    writer.name = args.writer.unwrap_or(writer.name);
    writer.script = args.writer_script.clone();
    if !matches!(
        writer.name,
        ProposerName::Script | ProposerName::Command | ProposerName::Openai
    ) || (writer.name == ProposerName::Script && writer.script.is_none())
    {
        let why = "the writer of --evolve edits the program: give --writer command or openai \
                   (with the proposer flags of that kind), or --writer script --writer-script CMD";
        return Err(ContestError::Input(why.into()).into());
    }
    super::check_agent(&args.proposer, &spec.root)?;
    if writer.name != args.proposer.name {
        super::check_agent(&writer, &spec.root)?;
    }
    let cancel = crate::interrupt::install();
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
    if stop == Stop::Interrupted {
        eprintln!("evolution stopped; run the same command again to go on where it stopped");
        return Ok(crate::exit::INTERRUPTED);
    }
    Ok(0)
}
