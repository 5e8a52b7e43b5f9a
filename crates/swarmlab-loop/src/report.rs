//! The report of one branch's experiments as files: `progress.svg` and `summary.md`. What they
//! hold is core's (`swarmlab_core::report`); this module only names and writes them.

use std::path::{Path, PathBuf};

use swarmlab_core::report::{progress_svg, summary_markdown};
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
