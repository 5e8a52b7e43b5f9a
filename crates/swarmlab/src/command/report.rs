//! `swarmlab report [DIR]`: write progress.svg and summary.md from the results log; with
//! `--compare TAG1 TAG2` write and print the comparison of two runs instead; with `--serve
//! ADDR` serve the run's dashboard (the hub's pages over `results.jsonl`) until Ctrl-C, which
//! exits 130 as every command stopped by a signal does.

use std::path::Path;

use anyhow::{bail, Context};
use swarmlab_core::{Record, ResultsLog, TrackSpec};
use swarmlab_loop::{load_track, report};

use crate::cli::ReportArgs;

pub fn report(args: &ReportArgs) -> anyhow::Result<i32> {
    let spec = load_track(&args.dir)?;
    let all = ResultsLog::new(&args.dir, &spec.metric.name).read()?;
    let out = args.out.clone().unwrap_or_else(|| args.dir.clone());
    if let [a, b] = args.compare.as_slice() {
        let runs = [a, b].map(|tag| {
            let branch = format!("swarmlab/{tag}");
            let records: Vec<Record> = all.iter().filter(|r| r.branch == branch).cloned().collect();
            (tag.clone(), records)
        });
        if let Some((tag, _)) = runs.iter().find(|(_, records)| records.is_empty()) {
            bail!(
                "no results of branch swarmlab/{tag} in {}; the tags with results: {}",
                args.dir.display(),
                tags(&all)
            );
        }
        let (table, svg, markdown) = report::write_comparison(&spec, &runs, &out)?;
        println!("{table}");
        println!("wrote {}", svg.display());
        println!("wrote {}", markdown.display());
        return Ok(0);
    }
    let branch = format!("swarmlab/{}", args.tag);
    let records: Vec<_> = all.into_iter().filter(|r| r.branch == branch).collect();
    let (svg, summary) = report::write(&spec, &branch, &records, &out)?;
    println!("{} experiments on {branch}", records.len());
    println!("wrote {}", svg.display());
    println!("wrote {}", summary.display());
    match &args.serve {
        Some(listen) => serve(&spec, &args.dir, &branch, listen),
        None => Ok(0),
    }
}

/// The tags that have results, for a message about one that has none.
fn tags(records: &[Record]) -> String {
    let mut tags: Vec<&str> = records
        .iter()
        .filter_map(|r| r.branch.strip_prefix("swarmlab/"))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    if tags.is_empty() {
        "none".to_string()
    } else {
        tags.join(", ")
    }
}

/// Serves the dashboard of the run on `branch` until Ctrl-C or SIGTERM, then exits 130.
fn serve(spec: &TrackSpec, dir: &Path, branch: &str, listen: &str) -> anyhow::Result<i32> {
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
        anyhow::Ok(crate::exit::INTERRUPTED)
    })
}
