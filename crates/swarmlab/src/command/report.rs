//! `swarmlab report [DIR]`: write progress.svg and summary.md from the results log; with
//! `--compare TAG1 TAG2` write and print the comparison of two runs instead; with `--serve
//! ADDR` serve the run's dashboard (the hub's pages over `results.jsonl`) until Ctrl-C, which
//! exits 130 as every command stopped by a signal does.

use std::path::Path;

use anyhow::Context;
use swarmlab_core::{ResultsLog, TrackSpec};
use swarmlab_loop::{load_track, report};

use crate::cli::ReportArgs;

pub fn report(args: &ReportArgs) -> anyhow::Result<i32> {
    let spec = load_track(&args.dir)?;
    let all = ResultsLog::new(&args.dir, &spec.metric.name).read()?;
    let out = args.out.clone().unwrap_or_else(|| args.dir.clone());
    if args.compare.len() == 2 {
        let runs = report::runs_of(&all, &args.compare, &args.dir)?;
        let (table, svg, markdown) = report::write_comparison(&spec, &runs, &out)?;
        println!("{table}");
        println!("wrote {}", svg.display());
        println!("wrote {}", markdown.display());
        return Ok(0);
    }
    let branch = format!("swarmlab/{}", args.tag);
    let records = report::run_of(&all, &args.tag);
    let (svg, summary) = report::write(&spec, &branch, &records, &out)?;
    println!("{} experiments on {branch}", records.len());
    println!("wrote {}", svg.display());
    println!("wrote {}", summary.display());
    match &args.serve {
        Some(listen) => serve(&spec, &args.dir, &branch, listen),
        None => Ok(0),
    }
}

/// Serves the dashboard of the run on `branch` until Ctrl-C or SIGTERM, then exits 130.
fn serve(spec: &TrackSpec, dir: &Path, branch: &str, listen: &str) -> anyhow::Result<i32> {
    let run = swarmlab_hub::web::local::LocalRun {
        dir: dir
            .canonicalize()
            .with_context(|| format!("failed to resolve {}", dir.display()))?,
        track: spec.name.clone(),
        metric: spec.metric.name.clone(),
        goal: spec.metric.goal,
        branch: branch.to_string(),
    };
    super::runtime()?.block_on(async {
        let stopped = crate::interrupt::signalled()?;
        swarmlab_hub::web::local::serve(
            run,
            listen,
            |addr| {
                eprintln!(
                    "report: serving http://{addr}/ (live as the run goes on); Ctrl-C stops it"
                )
            },
            stopped,
        )
        .await?;
        anyhow::Ok(crate::exit::INTERRUPTED)
    })
}
