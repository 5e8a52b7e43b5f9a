//! The closing lines of a session: counts, the best against the baseline, the results
//! table, and where the chart and logs are.

use swarmlab_core::results::TSV_FILE;

use super::Session;
use crate::one_line;
use swarmlab_core::short;

impl Session {
    /// The closing lines: counts, best against baseline, where the logs are.
    pub fn print_summary(&mut self) {
        let name = self.spec.metric.name.clone();
        let baseline = self
            .records
            .iter()
            .find(|r| r.index == 0)
            .and_then(|r| r.metric);
        let best = self.best_record().cloned();
        let mut lines = vec![format!(
            "{} experiments on {}: {} kept, {} discarded, {} failed",
            self.records.len(),
            self.branch,
            self.counts.keep,
            self.counts.discard,
            self.counts.failed
        )];
        if let (Some(best), Some(baseline)) = (&best, baseline) {
            if let Some(value) = best.metric {
                lines.push(format!(
                    "best {name} {value:.6} at {} (baseline {baseline:.6}, {:+.6}): {}",
                    short(&best.commit),
                    value - baseline,
                    best.description
                ));
            }
            if let Some(floor) = best.metrics.get("entropy_floor_bpb") {
                lines.push(format!(
                    "entropy floor {floor:.6} bits per byte: the best is {:.6} above it",
                    best.metric.unwrap_or(f64::NAN) - floor
                ));
            }
        }
        lines.push(format!("results: {}", self.log.tsv_path().display()));
        match crate::report::write(&self.spec, &self.branch, &self.records, &self.spec.root) {
            Ok((svg, summary)) => lines.push(format!(
                "chart:   {} (summary: {})",
                svg.display(),
                summary.display()
            )),
            Err(e) => lines.push(format!("chart:   not written: {}", one_line(&e))),
        }
        self.status.say("");
        self.status.say(&self.results_table());
        for line in lines {
            self.status.say(&line);
        }
    }

    /// The last rows of results.tsv, aligned for a terminal.
    fn results_table(&self) -> String {
        const ROWS: usize = 40;
        let name = &self.spec.metric.name;
        let mut out = format!(
            "{:<8} {:>12} {:>9}  {:<11} description",
            "commit", name, "memory_gb", "status"
        );
        let skip = self.records.len().saturating_sub(ROWS);
        if skip > 0 {
            out.push_str(&format!("\n... {skip} earlier rows in {TSV_FILE}"));
        }
        for r in &self.records[skip..] {
            let metric = r
                .metric
                .map(|m| format!("{m:.6}"))
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "\n{:<8} {metric:>12} {:>9.1}  {:<11} {}",
                r.short_commit(),
                r.memory_gb,
                r.status.as_str(),
                r.description
            ));
        }
        out
    }
}
