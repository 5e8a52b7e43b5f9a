//! Warnings for keys the spec does not know, each with its line and a suggestion.
//!
//! Unknown keys never fail a load: a typo is reported, not silently ignored.

use std::fmt;

/// Something worth telling the user that does not stop the track from loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "swarmlab.toml line {line}: {}", self.message),
            None => write!(f, "swarmlab.toml: {}", self.message),
        }
    }
}

const TOP: &[&str] = &[
    "track", "run", "metric", "files", "eval", "verify", "devices", "knobs",
];
const TRACK: &[&str] = &["name", "program", "description"];
const RUN: &[&str] = &[
    "command",
    "setup",
    "setup_timeout",
    "build",
    "build_dir",
    "toolchain",
    "lock",
    "budget",
    "timeout",
    "grace",
    "seed",
    "env",
];
const METRIC: &[&str] = &["name", "goal", "regex", "memory", "floor", "target"];
const FILES: &[&str] = &["editable", "trusted"];
const EVAL: &[&str] = &[
    "mode",
    "insecure",
    "timeout",
    "command",
    "artifact",
    "serve",
    "allowance",
    "data",
    "data_command",
    "holdout",
    "holdout_files",
    "vocab",
    "context",
    "token_bytes",
    "windows",
    "batch",
    "probes",
    "tolerance",
];
const VERIFY: &[&str] = &["reruns", "max_reruns", "alpha", "min_delta", "hardware"];
const DEVICES: &[&str] = &["env", "cpu_env", "compare", "remeasure"];
const KNOB: &[&str] = &["file", "pattern", "range", "scale", "choices"];
const BUDGET: &[&str] = &["steps", "tokens"];

/// Walks the parsed document and warns about every key outside the schema.
pub fn unknown_keys(text: &str, doc: &toml::Table) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for (key, value) in doc {
        let Some(known) = section_keys(key) else {
            warnings.push(warn(text, None, key, TOP));
            continue;
        };
        let Some(table) = value.as_table() else {
            continue;
        };
        if key == "knobs" {
            for spec in table.values().filter_map(|v| v.as_table()) {
                for field in spec.keys().filter(|f| !KNOB.contains(&f.as_str())) {
                    warnings.push(warn(text, Some(key), field, KNOB));
                }
            }
            continue;
        }
        for (field, inner) in table {
            if !known.contains(&field.as_str()) {
                warnings.push(warn(text, Some(key), field, known));
            } else if key == "run" && field == "budget" {
                if let Some(budget) = inner.as_table() {
                    for k in budget.keys().filter(|k| !BUDGET.contains(&k.as_str())) {
                        warnings.push(warn(text, Some(key), k, BUDGET));
                    }
                }
            }
        }
    }
    warnings.sort_by_key(|w| w.line);
    warnings
}

fn section_keys(section: &str) -> Option<&'static [&'static str]> {
    Some(match section {
        "track" => TRACK,
        "run" => RUN,
        "metric" => METRIC,
        "files" => FILES,
        "eval" => EVAL,
        "verify" => VERIFY,
        "devices" => DEVICES,
        "knobs" => &[],
        _ => return None,
    })
}

fn warn(text: &str, section: Option<&str>, key: &str, known: &[&str]) -> Warning {
    let place = match section {
        Some(s) => format!(" in [{s}]"),
        None => String::new(),
    };
    let hint = match suggest(key, known) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    };
    Warning {
        line: key_line(text, section, key),
        message: format!("unknown key `{key}`{place}{hint}; it is ignored"),
    }
}

/// The closest known key, when it is close enough to be a likely typo.
pub fn suggest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1) + 1 && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The line where `key` is written inside `[section]` (or at the top level). A best effort:
/// the parsed table keeps no positions, so this scans the text the way a person would.
fn key_line(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[').and_then(|h| h.split(']').next()) {
            let header = header.trim_start_matches('[').trim();
            current = Some(header.split('.').next().unwrap_or(header).to_string());
            if section.is_none() && header.split('.').next() == Some(key) {
                return Some(n + 1);
            }
            continue;
        }
        let in_section = match section {
            Some(s) => current.as_deref() == Some(s),
            None => current.is_none(),
        };
        if in_section && mentions_key(trimmed, key) {
            return Some(n + 1);
        }
    }
    None
}

fn mentions_key(line: &str, key: &str) -> bool {
    let starts = line.starts_with(key) && line[key.len()..].trim_start().starts_with('=');
    let inline = line.contains(&format!("{{ {key} ="))
        || line.contains(&format!("{{{key} ="))
        || line.contains(&format!(", {key} ="))
        || line.contains(&format!(",{key} ="));
    starts || inline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_known_key() {
        assert_eq!(suggest("bugdet", RUN), Some("budget"));
        assert_eq!(suggest("timout", RUN), Some("timeout"));
        assert_eq!(suggest("editible", FILES), Some("editable"));
        assert_eq!(suggest("zzz", RUN), None);
    }

    #[test]
    fn warns_with_line_and_suggestion() {
        let text = "[track]\nname = \"t\"\n\n[run]\ncommand = [\"true\"]\nbugdet = \"60s\"\n";
        let doc: toml::Table = text.parse().unwrap();
        let warnings = unknown_keys(text, &doc);
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].to_string(),
            "swarmlab.toml line 6: unknown key `bugdet` in [run] (did you mean `budget`?); it is ignored"
        );
    }

    #[test]
    fn warns_about_unknown_sections_and_knob_fields() {
        let text = "[trak]\nname = 1\n[knobs]\nlr = { file = \"a\", patern = \"x\" }\n";
        let doc: toml::Table = text.parse().unwrap();
        let messages: Vec<String> = unknown_keys(text, &doc)
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert!(
            messages[0].contains("line 1: unknown key `trak` (did you mean `track`?)"),
            "{messages:?}"
        );
        assert!(
            messages[1]
                .contains("line 4: unknown key `patern` in [knobs] (did you mean `pattern`?)"),
            "{messages:?}"
        );
    }
}
