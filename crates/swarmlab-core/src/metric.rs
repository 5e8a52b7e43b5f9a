//! Reading the metric a run printed: the autoresearch summary block by default (a `---` line,
//! then `key: value` lines), or the last match of a track-defined regex.
//!
//! Parsing never decides the outcome; it reports what was printed.

use std::collections::BTreeMap;

use crate::spec::MetricSpec;

/// What a run printed, as far as metrics go.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reading {
    /// The track's metric as printed, possibly NaN or infinite; `None` when absent.
    pub value: Option<f64>,
    /// Every numeric key of the summary block (and the metric itself).
    pub all: BTreeMap<String, f64>,
}

/// Reads the track's metric, and every other numeric summary key, from a run's output.
pub fn read(spec: &MetricSpec, output: &str) -> Reading {
    let mut all = summary_block(output);
    let value = match &spec.regex {
        Some(re) => re
            .captures_iter(output)
            .last()
            .and_then(|c| c.name("v").or_else(|| c.get(1)))
            .and_then(|m| parse_number(m.as_str())),
        None => all.get(&spec.name).copied(),
    };
    if let Some(v) = value {
        all.insert(spec.name.clone(), v);
    }
    Reading { value, all }
}

/// The numeric `key: value` lines after the last `---` line that is followed by any.
pub fn summary_block(output: &str) -> BTreeMap<String, f64> {
    let lines: Vec<&str> = output.lines().collect();
    for start in (0..lines.len()).rev().filter(|&i| lines[i].trim() == "---") {
        let block: BTreeMap<String, f64> = lines[start + 1..]
            .iter()
            .filter_map(|line| key_value(line))
            .collect();
        if !block.is_empty() {
            return block;
        }
    }
    BTreeMap::new()
}

fn key_value(line: &str) -> Option<(String, f64)> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim();
    let valid_key = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if !valid_key {
        return None;
    }
    let number = parse_number(value.split_whitespace().next()?)?;
    Some((key.to_string(), number))
}

/// A number as programs print it, NaN and infinities included.
fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Goal;

    fn spec(regex: Option<&str>) -> MetricSpec {
        MetricSpec {
            name: "val_bpb".into(),
            goal: Goal::Minimize,
            regex: regex.map(|r| regex::Regex::new(r).unwrap()),
            memory: None,
            floor: None,
            target: None,
        }
    }

    const AUTORESEARCH: &str = "step 100 loss 3.2\n---\nval_bpb:          0.997900\ntraining_seconds: 300.1\npeak_vram_mb:     45060.2\nmfu_percent:      39.80\nnum_params_M:     50.3\ndepth:            8\n";

    #[test]
    fn reads_every_numeric_key_of_the_summary_block() {
        let reading = read(&spec(None), AUTORESEARCH);
        assert_eq!(reading.value, Some(0.9979));
        assert_eq!(reading.all.len(), 6);
        assert_eq!(reading.all["peak_vram_mb"], 45060.2);
        assert_eq!(reading.all["depth"], 8.0);
    }

    #[test]
    fn the_last_block_counts_and_a_bare_separator_is_skipped() {
        let out = "---\nval_bpb: 2.0\nmore logs\n---\nval_bpb: 1.5\n---\n";
        assert_eq!(read(&spec(None), out).value, Some(1.5));
    }

    #[test]
    fn missing_metric_and_non_numeric_values() {
        let reading = read(&spec(None), "---\nval_bpb: soon\nsteps: 3\n");
        assert_eq!(reading.value, None);
        assert_eq!(reading.all.len(), 1);
        assert_eq!(read(&spec(None), "no summary here").value, None);
    }

    #[test]
    fn nan_and_infinity_are_read_as_printed() {
        assert!(read(&spec(None), "---\nval_bpb: nan\n")
            .value
            .unwrap()
            .is_nan());
        assert!(read(&spec(None), "---\nval_bpb: NaN\n")
            .value
            .unwrap()
            .is_nan());
        assert_eq!(
            read(&spec(None), "---\nval_bpb: inf\n").value,
            Some(f64::INFINITY)
        );
    }

    #[test]
    fn a_track_regex_takes_the_last_match() {
        let s = spec(Some(r"val loss (?P<v>[0-9.]+)"));
        let reading = read(&s, "val loss 3.0\nval loss 2.5\n---\nsteps: 10\n");
        assert_eq!(reading.value, Some(2.5));
        assert_eq!(reading.all["val_bpb"], 2.5);
        assert_eq!(reading.all["steps"], 10.0);
    }
}
