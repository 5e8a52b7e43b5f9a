//! The report of one branch's experiments as files: `progress.svg` and `summary.md`, and the
//! comparison of two branches. What they hold is core's (`swarmlab_core::report`); this module
//! only picks each run's records from the log, names the files and writes them.

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

/// The records of the run tagged `tag` (its branch `swarmlab/<tag>`) among `all`, in order.
pub fn run_of(all: &[Record], tag: &str) -> Vec<Record> {
    let branch = format!("swarmlab/{tag}");
    all.iter().filter(|r| r.branch == branch).cloned().collect()
}

/// The runs tagged `tags`, each with its records among `all` (the log of the track in `dir`),
/// for [`write_comparison`]; [`LoopError::NoResults`] when one has none.
pub fn runs_of(
    all: &[Record],
    tags: &[String],
    dir: &Path,
) -> Result<Vec<(String, Vec<Record>)>, LoopError> {
    let runs: Vec<(String, Vec<Record>)> = tags
        .iter()
        .map(|tag| (tag.clone(), run_of(all, tag)))
        .collect();
    match runs.iter().find(|(_, records)| records.is_empty()) {
        Some((tag, _)) => Err(LoopError::NoResults {
            tag: tag.clone(),
            dir: dir.to_path_buf(),
            tags: tags_with_results(all),
        }),
        None => Ok(runs),
    }
}

/// The tags that have results, for a message about one that has none.
fn tags_with_results(records: &[Record]) -> String {
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

#[cfg(test)]
mod tests {
    use swarmlab_core::Status;

    use super::*;
    use crate::status::tests::record;

    fn on(branch: &str, index: u64) -> Record {
        Record {
            branch: branch.into(),
            ..record(index, Status::Keep, Some(1.0), "x")
        }
    }

    #[test]
    fn a_run_is_its_branch_s_records_and_a_missing_one_names_those_that_exist() {
        let all = [
            on("swarmlab/a", 0),
            on("swarmlab/b", 0),
            on("swarmlab/a", 1),
        ];
        let a = run_of(&all, "a");
        assert_eq!(a.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1]);
        let tags = ["a".to_string(), "b".to_string()];
        let runs = runs_of(&all, &tags, Path::new("/t")).unwrap();
        assert_eq!(runs[1].0, "b");
        assert_eq!(runs[1].1.len(), 1);
        let missing = ["a".to_string(), "c".to_string()];
        let error = runs_of(&all, &missing, Path::new("/t")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no results of branch swarmlab/c in /t; the tags with results: a, b"
        );
        let none = runs_of(&[], &missing, Path::new("/t")).unwrap_err();
        assert!(none.to_string().ends_with("the tags with results: none"));
    }
}
