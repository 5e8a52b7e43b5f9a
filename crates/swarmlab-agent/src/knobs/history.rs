//! The knob settings each experiment of a run ran with, read back from its records alone, so
//! that a strategy that learns from them keeps no state and a resumed run sees what an
//! uninterrupted one saw.
//!
//! The current best's settings are in the worktree. Walking the kept chain back from it
//! undoes each kept change (its description names the old values) down to the baseline;
//! every other experiment ran its parent's settings with its own change applied. A knob whose
//! value cannot be known is `None`: after a change in another proposer's words, or one whose
//! description the loop cut short.

use std::collections::HashMap;

use swarmlab_core::spec::Knob;
use swarmlab_core::{Record, Status};

use super::change::{self, Described};

/// One knob value per knob, `None` where it is not known.
pub(crate) type Settings = Vec<Option<String>>;

/// Every experiment of `history` that ran, with the settings it ran with, in the history's
/// order; those of which no knob is known are left out. `best` holds the values of
/// `best_commit`, read from the worktree.
pub(crate) fn settings<'a>(
    history: &'a [Record],
    knobs: &[Knob],
    best_commit: &str,
    best: &[String],
) -> Vec<(&'a Record, Settings)> {
    let mut known: HashMap<&str, Settings> = HashMap::new();
    known.insert(best_commit, best.iter().cloned().map(Some).collect());

    let mut commit = best_commit.to_string();
    while let Some(kept) = history
        .iter()
        .find(|r| r.commit == commit && r.index > 0 && r.status == Status::Keep)
    {
        if known.contains_key(kept.parent.as_str()) {
            break;
        }
        let described = change::read(&kept.description, knobs);
        let parent = step(&known[commit.as_str()], described, true);
        known.insert(&kept.parent, parent);
        commit = kept.parent.clone();
    }

    for record in history.iter().filter(|r| ran(r) && r.index > 0) {
        if known.contains_key(record.commit.as_str()) {
            continue;
        }
        let Some(parent) = known.get(record.parent.as_str()) else {
            continue;
        };
        let described = change::read(&record.description, knobs);
        let settings = step(parent, described, false);
        known.insert(&record.commit, settings);
    }

    history
        .iter()
        .filter(|r| ran(r))
        .filter_map(|r| {
            let settings = known.get(r.commit.as_str())?;
            settings
                .iter()
                .any(Option::is_some)
                .then(|| (r, settings.clone()))
        })
        .collect()
}

/// Whether an experiment ran to an outcome that says something about its settings.
fn ran(record: &Record) -> bool {
    !matches!(record.status, Status::Invalid | Status::Interrupted)
}

/// The settings after a described change of `from` (`back`: before it). The knobs the change
/// names take its new (old) values; the others stay, unless the description was cut short or
/// is no knob change at all, when they are unknown.
fn step(from: &Settings, described: Option<Described>, back: bool) -> Settings {
    let Some(described) = described else {
        return vec![None; from.len()];
    };
    let mut to: Settings = if described.complete {
        from.clone()
    } else {
        vec![None; from.len()]
    };
    for (i, old, new) in described.changes {
        to[i] = Some(if back { old } else { new });
    }
    to
}

#[cfg(test)]
mod tests {
    use swarmlab_core::spec::Domain;
    use swarmlab_testkit::record::record;

    use super::*;

    fn knobs() -> Vec<Knob> {
        ["lr", "width"]
            .iter()
            .map(|name| Knob {
                name: name.to_string(),
                file: "p.txt".into(),
                pattern: regex::Regex::new(&format!("{name} = (?P<v>\\S+)")).unwrap(),
                domain: Domain::Choices(vec![]),
            })
            .collect()
    }

    fn some(values: [&str; 2]) -> Settings {
        values.iter().map(|v| Some(v.to_string())).collect()
    }

    #[test]
    fn settings_are_read_back_along_the_kept_chain_and_from_each_parent() {
        let step = |index, parent: &str, status, description: &str| {
            record(index)
                .commit(&format!("c{index}"))
                .parent(parent)
                .status(status)
                .description(description)
                .build()
        };
        let history = vec![
            record(0).commit("c0").description("baseline").build(),
            step(1, "c0", Status::Keep, "lr 0.001 -> 0.002"),
            step(2, "c1", Status::Discard, "width 64 -> 128"),
            step(3, "c1", Status::Crash, "idea: lr 0.002 -> 0.5"),
            step(4, "c1", Status::Keep, "width 64 -> 256"),
            step(5, "c4", Status::Discard, "a deeper model"),
            step(6, "c4", Status::Invalid, "lr 0.002 -> 0.003"),
            step(7, "c4", Status::Discard, "lr 0.002 -> 0.004"),
        ];
        let read = settings(&history, &knobs(), "c4", &["0.002".into(), "256".into()]);
        let read: Vec<(u64, Settings)> = read.into_iter().map(|(r, s)| (r.index, s)).collect();
        assert_eq!(
            read,
            vec![
                (0, some(["0.001", "64"])),
                (1, some(["0.002", "64"])),
                (2, some(["0.002", "128"])),
                (3, some(["0.5", "64"])),
                (4, some(["0.002", "256"])),
                (7, some(["0.004", "256"])),
            ]
        );
    }

    #[test]
    fn a_change_cut_short_leaves_the_knobs_it_does_not_name_unknown() {
        let long = format!("lr 0.001 -> 0.002, {}", "width 64 -> 128, ".repeat(20));
        let history = vec![
            record(0).commit("c0").build(),
            record(1)
                .commit("c1")
                .parent("c0")
                .status(Status::Discard)
                .description(
                    &long
                        .chars()
                        .take(crate::DESCRIPTION_CHARS)
                        .collect::<String>(),
                )
                .build(),
        ];
        let read = settings(&history, &knobs(), "c0", &["0.001".into(), "64".into()]);
        assert_eq!(read[1].1, vec![Some("0.002".into()), Some("128".into())]);
        let cut = format!(
            "lr 0.001 -> 0.002, {}",
            "x".repeat(crate::DESCRIPTION_CHARS)
        );
        let history = [history[0].clone(), {
            let mut r = history[1].clone();
            r.description = cut.chars().take(crate::DESCRIPTION_CHARS).collect();
            r
        }];
        let read = settings(&history, &knobs(), "c0", &["0.001".into(), "64".into()]);
        assert_eq!(read[1].1, vec![Some("0.002".into()), None]);
    }
}
