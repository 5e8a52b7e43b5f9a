//! `swarmlab report [DIR]`: write progress.svg and summary.md from the results log, and with
//! `--serve ADDR` serve the run's dashboard (the hub's pages over `results.jsonl`).

use std::path::Path;

use anyhow::Context;
use swarmlab_core::{ResultsLog, TrackSpec};
use swarmlab_loop::{load_track, report};

use crate::cli::ReportArgs;

pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let spec = load_track(&args.dir)?;
    let branch = format!("swarmlab/{}", args.tag);
    let records: Vec<_> = ResultsLog::new(&args.dir, &spec.metric.name)
        .read()?
        .into_iter()
        .filter(|r| r.branch == branch)
        .collect();
    let out = args.out.clone().unwrap_or_else(|| args.dir.clone());
    let (svg, summary) = report::write(&spec, &branch, &records, &out)?;
    println!("{} experiments on {branch}", records.len());
    println!("wrote {}", svg.display());
    println!("wrote {}", summary.display());
    if let Some(listen) = &args.serve {
        serve(&spec, &args.dir, &branch, listen)?;
    }
    Ok(())
}

/// Serves the dashboard of the run on `branch` until Ctrl-C or SIGTERM.
fn serve(spec: &TrackSpec, dir: &Path, branch: &str, listen: &str) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let run = swarmlab_hub::web::local::LocalRun {
        dir: dir
            .canonicalize()
            .with_context(|| format!("failed to resolve {}", dir.display()))?,
        track: spec.name.clone(),
        metric: spec.metric.name.clone(),
        goal: spec.metric.goal,
        branch: branch.to_string(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async {
        let mut interrupt =
            signal(SignalKind::interrupt()).context("failed to listen for Ctrl-C")?;
        let mut terminate =
            signal(SignalKind::terminate()).context("failed to listen for SIGTERM")?;
        swarmlab_hub::web::local::serve(
            run,
            listen,
            |addr| {
                eprintln!(
                    "report: serving http://{addr}/ (live as the run goes on); Ctrl-C stops it"
                )
            },
            async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            },
        )
        .await?;
        anyhow::Ok(())
    })
}
