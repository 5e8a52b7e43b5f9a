//! The results log of a track: `results.jsonl` (every field of every experiment) and
//! `results.tsv` (autoresearch's five columns), both at the track root and untracked by git.
//!
//! The JSON lines are the source of truth; the TSV is derived from them and rebuilt whenever
//! the two disagree, e.g. after swarmlab was killed between the two writes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::record::{tsv_header, Record};

pub const JSONL_FILE: &str = "results.jsonl";
pub const TSV_FILE: &str = "results.tsv";

/// Why the results log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{path} line {line} is not a swarmlab record: {message}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Appends and reads the results of one track.
#[derive(Debug, Clone)]
pub struct ResultsLog {
    jsonl: PathBuf,
    tsv: PathBuf,
    metric_name: String,
}

impl ResultsLog {
    pub fn new(root: &Path, metric_name: &str) -> Self {
        ResultsLog {
            jsonl: root.join(JSONL_FILE),
            tsv: root.join(TSV_FILE),
            metric_name: metric_name.to_string(),
        }
    }

    pub fn tsv_path(&self) -> &Path {
        &self.tsv
    }

    pub fn jsonl_path(&self) -> &Path {
        &self.jsonl
    }

    /// Reads every record. A torn last line (swarmlab killed mid-write) is cut off; a bad
    /// line anywhere else is an error, since it means the file was edited by hand. The TSV
    /// is rebuilt when it does not have one row per record.
    pub fn read(&self) -> Result<Vec<Record>, ResultsError> {
        let text = match fs::read_to_string(&self.jsonl) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(self.io("read", &self.jsonl, source)),
        };
        let mut records = Vec::new();
        let mut good_bytes = 0;
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for (n, line) in lines.iter().enumerate() {
            let last = n + 1 == lines.len();
            match serde_json::from_str::<Record>(line.trim_end()) {
                Ok(record) if line.ends_with('\n') => {
                    records.push(record);
                    good_bytes += line.len();
                }
                Err(e) if !last => {
                    return Err(ResultsError::Corrupt {
                        path: self.jsonl.clone(),
                        line: n + 1,
                        message: e.to_string(),
                    })
                }
                // Only the last line can be torn: swarmlab was killed while writing it.
                _ => break,
            }
        }
        if good_bytes < text.len() {
            let file = OpenOptions::new()
                .write(true)
                .open(&self.jsonl)
                .map_err(|e| self.io("repair", &self.jsonl, e))?;
            file.set_len(good_bytes as u64)
                .map_err(|e| self.io("repair", &self.jsonl, e))?;
        }
        self.sync_tsv(&records)?;
        Ok(records)
    }

    /// Appends one record to both files, the JSON line first.
    pub fn append(&self, record: &Record) -> Result<(), ResultsError> {
        let mut line = serde_json::to_string(record).expect("records always serialize");
        line.push('\n');
        append_to(&self.jsonl, line.as_bytes())
            .map_err(|e| self.io("append to", &self.jsonl, e))?;
        let fresh = fs::metadata(&self.tsv)
            .map(|m| m.len() == 0)
            .unwrap_or(true);
        let mut row = String::new();
        if fresh {
            row.push_str(&tsv_header(&self.metric_name));
            row.push('\n');
        }
        row.push_str(&record.tsv_row());
        row.push('\n');
        append_to(&self.tsv, row.as_bytes()).map_err(|e| self.io("append to", &self.tsv, e))
    }

    fn sync_tsv(&self, records: &[Record]) -> Result<(), ResultsError> {
        let rows = match fs::read_to_string(&self.tsv) {
            Ok(text) => text.lines().count().saturating_sub(1),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(source) => return Err(self.io("read", &self.tsv, source)),
        };
        if rows == records.len() {
            return Ok(());
        }
        let mut text = tsv_header(&self.metric_name);
        text.push('\n');
        for record in records {
            text.push_str(&record.tsv_row());
            text.push('\n');
        }
        fs::write(&self.tsv, text).map_err(|e| self.io("rewrite", &self.tsv, e))
    }

    fn io(&self, action: &'static str, path: &Path, source: io::Error) -> ResultsError {
        ResultsError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

fn append_to(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file: File = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(bytes)?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{DiffStat, Status};

    fn record(index: u64, status: Status, metric: Option<f64>) -> Record {
        Record {
            index,
            branch: "swarmlab/main".into(),
            commit: format!("{index:040}"),
            parent: "p".into(),
            status,
            description: format!("experiment {index}"),
            proposer: "sweep".into(),
            metric,
            metrics: BTreeMap::new(),
            memory_gb: 0.5,
            peak_rss_bytes: 1,
            wall_seconds: 1.0,
            exit: "exit 0".into(),
            seed: index,
            diff: DiffStat::default(),
            log: String::new(),
            started_at: "t".into(),
            note: None,
            diff_hash: None,
            usage: None,
            slot: None,
            device: None,
        }
    }

    #[test]
    fn appends_and_reads_back_with_the_metric_as_tsv_header() {
        let dir = tempfile::tempdir().unwrap();
        let log = ResultsLog::new(dir.path(), "loss");
        log.append(&record(0, Status::Keep, Some(2.0))).unwrap();
        log.append(&record(1, Status::Crash, None)).unwrap();
        assert_eq!(log.read().unwrap().len(), 2);
        let tsv = fs::read_to_string(dir.path().join(TSV_FILE)).unwrap();
        let lines: Vec<&str> = tsv.lines().collect();
        assert_eq!(lines[0], "commit\tloss\tmemory_gb\tstatus\tdescription");
        assert_eq!(lines[1], "0000000\t2.000000\t0.5\tkeep\texperiment 0");
        assert_eq!(lines[2], "0000000\t0.000000\t0.5\tcrash\texperiment 1");
    }

    #[test]
    fn a_torn_last_line_is_cut_and_the_tsv_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let log = ResultsLog::new(dir.path(), "loss");
        log.append(&record(0, Status::Keep, Some(2.0))).unwrap();
        log.append(&record(1, Status::Discard, Some(3.0))).unwrap();
        let jsonl = dir.path().join(JSONL_FILE);
        let mut text = fs::read_to_string(&jsonl).unwrap();
        text.push_str("{\"index\": 2, \"bran");
        fs::write(&jsonl, &text).unwrap();
        fs::write(
            dir.path().join(TSV_FILE),
            "commit\tloss\tmemory_gb\tstatus\tdescription\n",
        )
        .unwrap();

        let records = log.read().unwrap();
        assert_eq!(records.len(), 2);
        assert!(fs::read_to_string(&jsonl).unwrap().ends_with("}\n"));
        let tsv = fs::read_to_string(dir.path().join(TSV_FILE)).unwrap();
        assert_eq!(tsv.lines().count(), 3);
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = ResultsLog::new(dir.path(), "loss");
        log.append(&record(0, Status::Keep, Some(2.0))).unwrap();
        let jsonl = dir.path().join(JSONL_FILE);
        let text = format!("garbage\n{}", fs::read_to_string(&jsonl).unwrap());
        fs::write(&jsonl, text).unwrap();
        let message = log.read().unwrap_err().to_string();
        assert!(
            message.contains("results.jsonl line 1 is not a swarmlab record"),
            "{message}"
        );
    }

    #[test]
    fn no_log_yet_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ResultsLog::new(dir.path(), "loss")
            .read()
            .unwrap()
            .is_empty());
    }
}
