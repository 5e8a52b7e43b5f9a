//! The report of one branch's experiments as files: `progress.svg` and `summary.md`. What they
//! hold is core's (`swarmlab_core::report`); this module only names and writes them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use swarmlab_core::report::{progress_svg, summary_markdown};
use swarmlab_core::{Record, TrackSpec};

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
