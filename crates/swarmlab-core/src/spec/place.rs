//! Where in `swarmlab.toml` an error lies, and its excerpt: the line with carets under the
//! offending text, as rustc and cargo show source.
//!
//! It only points; what is wrong is the error's message.

use std::fmt;
use std::ops::Range;

/// Characters of the line shown at most; a longer line is cut after the carets.
const MAX_SHOWN: usize = 120;

/// A span of the spec's text as a reader sees it: line, column and the line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// The whole line, without its newline.
    pub text: String,
    /// How many characters the carets cover (at least one, at most to the line's end).
    pub width: usize,
}

impl Place {
    /// The place of the byte range `span` of `text`; a span over several lines is shown on
    /// its first.
    pub fn of(text: &str, span: Range<usize>) -> Place {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line_text = text[line_start..line_end].trim_end_matches('\r');
        let column = text[line_start..start].chars().count() + 1;
        let end = floor_char_boundary(text, span.end.clamp(start, line_end));
        let width = text[start..end].chars().count().max(1);
        Place {
            line: text[..start].matches('\n').count() + 1,
            column,
            text: line_text.to_string(),
            width,
        }
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The excerpt, starting on a new line:
///
/// ```text
///    |
/// 13 | goal = minimize
///    |        ^^^^^^^^
/// ```
impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        let shown: String = self.text.chars().take(MAX_SHOWN).collect();
        let cut = if self.text.chars().count() > MAX_SHOWN {
            " …"
        } else {
            ""
        };
        let indent: String = self
            .text
            .chars()
            .take(self.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let room = MAX_SHOWN.saturating_sub(self.column - 1).max(1);
        let carets = "^".repeat(self.width.min(room));
        write!(
            f,
            "\n{gutter} |\n{number} | {shown}{cut}\n{gutter} | {indent}{carets}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[metric]\nname = \"loss\"\ngoal = minimize\n";

    #[test]
    fn points_at_the_span_on_its_line() {
        let start = TEXT.find("minimize").unwrap();
        let place = Place::of(TEXT, start..start + "minimize".len());
        assert_eq!((place.line, place.column, place.width), (3, 8, 8));
        assert_eq!(place.text, "goal = minimize");
        assert_eq!(
            place.to_string(),
            "\n  |\n3 | goal = minimize\n  |        ^^^^^^^^"
        );
    }

    #[test]
    fn a_span_over_lines_is_cut_at_the_first_and_an_empty_one_gets_a_caret() {
        let place = Place::of(TEXT, 0..TEXT.len());
        assert_eq!((place.line, place.column, place.width), (1, 1, 8));
        let end = Place::of(TEXT, TEXT.len()..TEXT.len());
        assert_eq!((end.line, end.column, end.width), (4, 1, 1));
        assert_eq!(end.text, "");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "name = \"tüny\" x";
        let start = text.find('x').unwrap();
        let place = Place::of(text, start..start + 1);
        assert_eq!(place.column, 15);
        assert!(place.to_string().ends_with(&format!("{}^", " ".repeat(14))));
    }
}
