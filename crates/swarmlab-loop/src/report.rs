//! The report of one branch's experiments as files: `progress.svg` and `summary.md`, and the
//! comparison of two branches. What they hold is core's (`swarmlab_core::report`); this module
//! only names and writes them.

use std::path::{Path, PathBuf};

use swarmlab_core::report::{
    compare_markdown, compare_svg, compare_table, progress_svg, summary_markdown, Run,
};
use swarmlab_core::{Record, TrackSpec};

use crate::LoopError;

/// Writes `progress.svg` and `summary.md` for one branch's records into `out`.
pub fn write(
    spec: &TrackSpec,
    branch: &str,
    records: &[Record],
    out: &Path,
) -> Result<(PathBuf, PathBuf), LoopError> {
    std::fs::create_dir_all(out).map_err(LoopError::io("create", out))?;
    let title = format!("{} ({branch})", spec.name);
    let svg = out.join("progress.svg");
    std::fs::write(
        &svg,
        progress_svg(records, &spec.metric.name, spec.metric.goal, &title),
    )
    .map_err(LoopError::io("write", &svg))?;
    let summary = out.join("summary.md");
    std::fs::write(
        &summary,
        summary_markdown(records, &spec.metric.name, spec.metric.goal, &title),
    )
    .map_err(LoopError::io("write", &summary))?;
    Ok((svg, summary))
}

/// Writes the comparison of two runs, `compare-TAG1-TAG2.svg` and `.md`, into `out`, and
/// returns the table (to print) and both paths. `runs` holds each run's tag and records.
pub fn write_comparison(
    spec: &TrackSpec,
    runs: &[(String, Vec<Record>)],
    out: &Path,
) -> Result<(String, PathBuf, PathBuf), LoopError> {
    std::fs::create_dir_all(out).map_err(LoopError::io("create", out))?;
    let tags: Vec<&str> = runs.iter().map(|(tag, _)| tag.as_str()).collect();
    let runs: Vec<Run> = runs
        .iter()
        .map(|(tag, records)| Run { tag, records })
        .collect();
    let (metric, goal) = (&spec.metric.name, spec.metric.goal);
    let title = format!("{}: {}", spec.name, tags.join(" vs "));
    // A tag may hold `/`, which a file name cannot.
    let stem = format!("compare-{}", tags.join("-").replace('/', "_"));
    let svg = out.join(format!("{stem}.svg"));
    std::fs::write(&svg, compare_svg(&runs, metric, goal, &title))
        .map_err(LoopError::io("write", &svg))?;
    let markdown = out.join(format!("{stem}.md"));
    std::fs::write(&markdown, compare_markdown(&runs, metric, goal, &title))
        .map_err(LoopError::io("write", &markdown))?;
    Ok((compare_table(&runs, metric, goal), svg, markdown))
}
