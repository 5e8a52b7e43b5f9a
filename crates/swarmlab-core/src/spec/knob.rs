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
        locate(&self.pattern, content)
    }

    /// Where the knob lives, as a change must keep it.
    pub fn place(&self) -> KnobPlace {
        KnobPlace {
            name: self.name.clone(),
            file: self.file.clone(),
            pattern: self.pattern.clone(),
        }
    }
}

/// Where a knob lives: its file and the pattern that finds its value. A change must leave
/// the pattern matching (`swarmlab_core::change`): a sweep, and a verifier that overlays
/// trusted files, both need to find the value again.
#[derive(Debug, Clone)]
pub struct KnobPlace {
    pub name: String,
    /// Path relative to the track root; one of `files.editable`.
    pub file: String,
    /// Has a named group `v` (or one group) that captures the value's text.
    pub pattern: Regex,
}

impl KnobPlace {
    /// Whether the pattern still finds a value in `content`.
    pub fn matches(&self, content: &str) -> bool {
        locate(&self.pattern, content).is_some()
    }
}

fn locate<'a>(pattern: &Regex, content: &'a str) -> Option<(std::ops::Range<usize>, &'a str)> {
    let captures = pattern.captures(content)?;
    let value = captures.name("v").or_else(|| captures.get(1))?;
    Some((value.range(), value.as_str()))
}
