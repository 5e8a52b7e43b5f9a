//! The one-line description of a knob change, `lr 0.003 -> 0.01, width 128 -> 256` (after
//! `idea: ` when an idea set the values), and reading it back. Writing and reading live here
//! together, so that the format is decided in one place: the history of a run is read back
//! from these descriptions ([`super::history`]).

use swarmlab_core::spec::Knob;

use crate::DESCRIPTION_CHARS;

/// What a description of a change an idea asked for starts with.
pub(crate) const IDEA_PREFIX: &str = "idea: ";

const SEPARATOR: &str = ", ";
const ARROW: &str = " -> ";

/// `name old -> new` for each `(knob index, old, new)`, in the order given.
pub(crate) fn describe(knobs: &[Knob], changes: &[(usize, &str, &str)]) -> String {
    changes
        .iter()
        .map(|(i, old, new)| format!("{} {old}{ARROW}{new}", knobs[*i].name))
        .collect::<Vec<_>>()
        .join(SEPARATOR)
}

/// A description read back: the knobs it sets and whether it names every knob it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Described {
    /// `(knob index, old text, new text)`.
    pub changes: Vec<(usize, String, String)>,
    /// False when the loop cut the description short: knobs it does not name may have changed
    /// too.
    pub complete: bool,
}

/// The knob changes `description` spells out; `None` when it is not a knob change (another
/// proposer's words, a baseline).
pub(crate) fn read(description: &str, knobs: &[Knob]) -> Option<Described> {
    let body = description.strip_prefix(IDEA_PREFIX).unwrap_or(description);
    let cut = description.chars().count() >= DESCRIPTION_CHARS;
    let pieces: Vec<&str> = body.split(SEPARATOR).collect();
    let mut changes = Vec::new();
    for (n, piece) in pieces.iter().enumerate() {
        let last = n + 1 == pieces.len();
        // The last piece of a cut description may have lost the end of its new value.
        if last && cut {
            break;
        }
        let parsed = piece.split_once(ARROW).and_then(|(named, new)| {
            let (name, old) = named.split_once(' ')?;
            let i = knobs.iter().position(|k| k.name == name)?;
            (!new.is_empty() && !new.contains(' ')).then(|| (i, old.to_string(), new.to_string()))
        });
        match parsed {
            Some(change) => changes.push(change),
            None => return None,
        }
    }
    (!changes.is_empty()).then_some(Described {
        changes,
        complete: !cut,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs() -> Vec<Knob> {
        ["lr", "width"]
            .iter()
            .map(|name| Knob {
                name: name.to_string(),
                file: "p.txt".into(),
                pattern: regex::Regex::new(&format!("{name} = (?P<v>\\S+)")).unwrap(),
                domain: swarmlab_core::spec::Domain::Choices(vec!["1".into()]),
            })
            .collect()
    }

    #[test]
    fn a_description_reads_back_as_the_changes_it_was_written_from() {
        let knobs = knobs();
        let text = describe(&knobs, &[(0, "0.003", "0.01"), (1, "128", "256")]);
        assert_eq!(text, "lr 0.003 -> 0.01, width 128 -> 256");
        let expected = Described {
            changes: vec![
                (0, "0.003".into(), "0.01".into()),
                (1, "128".into(), "256".into()),
            ],
            complete: true,
        };
        assert_eq!(read(&text, &knobs), Some(expected.clone()));
        assert_eq!(
            read(&format!("{IDEA_PREFIX}{text}"), &knobs),
            Some(expected)
        );
    }

    #[test]
    fn words_that_are_not_a_knob_change_read_as_nothing() {
        let knobs = knobs();
        for text in [
            "baseline",
            "try a deeper model",
            "depth 2 -> 3",
            "lr 0.003 -> 0.01, and a wider model",
        ] {
            assert_eq!(read(text, &knobs), None, "{text}");
        }
    }

    #[test]
    fn a_description_cut_by_the_loop_loses_its_last_piece_and_says_so() {
        let knobs = knobs();
        let mut text = "lr 0.003 -> 0.01, ".repeat(20);
        text.push_str("width 128 -> 25");
        let text: String = text.chars().take(DESCRIPTION_CHARS).collect();
        let read = read(&text, &knobs).expect("a knob change");
        assert!(!read.complete);
        assert!(read
            .changes
            .iter()
            .all(|(i, _, new)| *i == 0 && new == "0.01"));
    }
}
