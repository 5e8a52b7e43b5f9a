//! `swarmlab report [DIR]`: write progress.svg and summary.md from the results log.

use std::path::{Path, PathBuf};

use anyhow::Context;
use swarmlab_core::report::{progress_svg, summary_markdown};
use swarmlab_core::{Record, ResultsLog, TrackSpec};

use crate::cli::ReportArgs;

pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let spec = super::load_track(&args.dir)?;
    let branch = format!("swarmlab/{}", args.tag);
    let records: Vec<_> = ResultsLog::new(&args.dir, &spec.metric.name)
        .read()?
        .into_iter()
        .filter(|r| r.branch == branch)
        .collect();
    let out = args.out.clone().unwrap_or_else(|| args.dir.clone());
    let (svg, summary) = write(&spec, &branch, &records, &out)?;
    println!("{} experiments on {branch}", records.len());
    println!("wrote {}", svg.display());
    println!("wrote {}", summary.display());
    Ok(())
}

/// Writes `progress.svg` and `summary.md` for one branch's records into `out`.
pub fn write(
    spec: &TrackSpec,
    branch: &str,
    records: &[Record],
    out: &Path,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(out).with_context(|| format!("failed to create {}", out.display()))?;
    let title = format!("{} ({branch})", spec.name);
    let svg = out.join("progress.svg");
    std::fs::write(
        &svg,
        progress_svg(records, &spec.metric.name, spec.metric.goal, &title),
    )
    .with_context(|| format!("failed to write {}", svg.display()))?;
    let summary = out.join("summary.md");
    std::fs::write(
        &summary,
        summary_markdown(records, &spec.metric.name, spec.metric.goal, &title),
    )
    .with_context(|| format!("failed to write {}", summary.display()))?;
    Ok((svg, summary))
}
