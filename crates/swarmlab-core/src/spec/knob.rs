//! A dial the sweep proposer may turn: a value captured by a regex in one editable file.

use regex::Regex;

/// How a numeric knob is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Searched in log space; the range must be positive.
    Log,
    /// Whole numbers, searched linearly.
    Int,
}

/// The values a knob may take.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    Range {
        low: f64,
        high: f64,
        scale: Scale,
    },
    /// Literal replacement texts, e.g. `["64", "128"]` or `["\"gelu\"", "\"relu\""]`.
    Choices(Vec<String>),
}

/// One `[knobs]` entry.
#[derive(Debug, Clone)]
pub struct Knob {
    pub name: String,
    /// Path relative to the track root; always one of `files.editable`.
    pub file: String,
    /// Has a named group `v` that captures the value's text.
    pub pattern: Regex,
    pub domain: Domain,
}

impl Knob {
    /// The byte range and text of the knob's value in `content`, if the pattern matches.
    pub fn locate<'a>(&self, content: &'a str) -> Option<(std::ops::Range<usize>, &'a str)> {
        let captures = self.pattern.captures(content)?;
        let value = captures.name("v").or_else(|| captures.get(1))?;
        Some((value.range(), value.as_str()))
    }
}
