//! The brief a writer of program variants reads (`WRITER.md` in its folder): what a program
//! is for, the rule a variant must pass to be kept, and the last contest's results — the
//! standings (mean best, interval, whether the lead is clear), what each program's runs
//! kept, and each program's text.
//!
//! Pure text from what the caller hands in: it reads no file and decides nothing.

use std::fmt::Write as _;

use swarmlab_core::report::{contest_markdown, format_value, Standing};
use swarmlab_core::{Record, Status, TrackSpec};

use super::{Program, Runs};

/// Kept changes listed per program, the most recent first once there are more.
const KEPT_LINES: usize = 12;
/// Characters of another program's text shown; the rest is cut with a note.
const TEXT_CHARS: usize = 6_000;

/// A finished contest, as the next round's writer sees it.
pub(crate) struct LastContest<'a> {
    pub round: u32,
    pub programs: &'a [Program],
    pub runs: &'a Runs,
    pub standings: &'a [Standing],
    /// The champion of that round, and whether a variant replaced it.
    pub champion: &'a str,
    pub kept: Option<&'a str>,
}

/// Where the variant being asked for stands in its round.
pub(crate) struct Ask<'a> {
    pub spec: &'a TrackSpec,
    pub program_file: &'a str,
    pub round: u32,
    pub variant: u32,
    pub variants: u32,
    pub runs: u32,
    pub experiments: u64,
}

/// The brief of one variant.
pub(crate) fn compose(ask: &Ask<'_>, last: Option<&LastContest<'_>>) -> String {
    let spec = ask.spec;
    let file = ask.program_file;
    let mut p = String::new();
    let _ = writeln!(
        p,
        "# Write a better program\n\nThis experiment changes no code. `{file}` is the program \
         of track `{}`: the instructions a coding agent follows in every experiment of a \
         search, where it proposes one change at a time and the harness keeps a change only \
         when `{}` improves ({}). Programs compete in contests: each program gets {} runs of \
         {} experiments from the same commit, run i of every program with the same seed; a \
         program's score is the mean of its runs' best `{}`.\n",
        spec.name, spec.metric.name, spec.metric.goal, ask.runs, ask.experiments, spec.metric.name,
    );
    let _ = writeln!(
        p,
        "Edit `{file}` (it holds the current champion) into a variant that you expect to make \
         the agent reach a better `{}`: what to try first, what to avoid, what the results \
         below teach. This is variant {} of {} in round {}; the others are written apart from \
         this one, so make this one distinct. Your variant replaces the champion only if it \
         ranks first and its 95% interval lies clear of the next program's. Edit only \
         `{file}`; an empty program or one identical to the champion is discarded.\n",
        spec.metric.name, ask.variant, ask.variants, ask.round,
    );
    match last {
        None => {
            let _ = writeln!(
                p,
                "## The last contest\n\nNo contest has run yet: the champion is the track's \
                 own program."
            );
        }
        Some(last) => results(&mut p, spec, last),
    }
    p
}

/// The standings, what each program's runs kept, and the programs' texts.
fn results(p: &mut String, spec: &TrackSpec, last: &LastContest<'_>) {
    let (metric, goal) = (&spec.metric.name, spec.metric.goal);
    let title = format!("The last contest (round {})", last.round);
    let table = contest_markdown(last.standings, metric, goal, &title);
    // One level down: the brief has its own title.
    let _ = writeln!(p, "#{}", table.replace("\n## ", "\n### "));
    let verdict = match last.kept {
        Some(name) => format!("`{name}` led clearly and became the champion."),
        None => format!(
            "No variant led clearly: `{}` stayed the champion.",
            last.champion
        ),
    };
    let _ = writeln!(p, "{verdict}\n");
    for (program, runs) in last.programs.iter().zip(last.runs) {
        let role = if program.name == last.champion {
            " (the champion of that round)"
        } else {
            ""
        };
        let _ = writeln!(p, "### Program `{}`{role}\n", program.name);
        kept(p, runs);
        let (text, cut) = match program.text.char_indices().nth(TEXT_CHARS) {
            Some((at, _)) => (&program.text[..at], true),
            None => (program.text.as_str(), false),
        };
        let _ = writeln!(p, "Its text:\n\n````\n{}\n````", text.trim_end());
        if cut {
            let _ = writeln!(p, "(cut after {TEXT_CHARS} characters)");
        }
        p.push('\n');
    }
}

/// The changes a program's runs kept, with their metrics.
fn kept(p: &mut String, runs: &[Vec<Record>]) {
    let lines: Vec<String> = runs
        .iter()
        .enumerate()
        .flat_map(|(r, records)| {
            records
                .iter()
                .filter(|x| x.index > 0 && x.status == Status::Keep)
                .map(move |x| {
                    let metric = x.metric.map_or("—".into(), format_value);
                    format!(
                        "- run {}, #{}: {} ({metric})",
                        r + 1,
                        x.index,
                        x.description
                    )
                })
        })
        .collect();
    if lines.is_empty() {
        let _ = writeln!(p, "Its runs kept no change: their best was the baseline.\n");
        return;
    }
    let _ = writeln!(p, "What its runs kept:\n");
    let skip = lines.len().saturating_sub(KEPT_LINES);
    if skip > 0 {
        let _ = writeln!(p, "- ({skip} earlier kept changes left out)");
    }
    for line in &lines[skip..] {
        let _ = writeln!(p, "{line}");
    }
    p.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: u64, status: Status, description: &str, metric: f64) -> Record {
        let mut r: Record = serde_json::from_str(&format!(
            r#"{{"index":{index},"branch":"b","commit":"c","parent":"p","status":"keep","description":"{description}","proposer":"x","metric":{metric},"memory_gb":0,"peak_rss_bytes":0,"wall_seconds":1,"seed":0,"started_at":""}}"#
        ))
        .expect("a record");
        r.status = status;
        r
    }

    #[test]
    fn the_brief_carries_the_standings_the_kept_changes_and_the_texts() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let toml = "[track]\nname = \"t\"\nprogram = \"program.md\"\n[run]\ncommand = [\"true\"]\n\
                    budget = \"1s\"\ntimeout = \"10s\"\n[metric]\nname = \"loss\"\ngoal = \"minimize\"\n\
                    [files]\neditable = [\"program.md\"]\n";
        std::fs::write(dir.path().join("swarmlab.toml"), toml).expect("write");
        std::fs::write(dir.path().join("program.md"), "Be careful.\n").expect("write");
        let (spec, _) = TrackSpec::load(dir.path()).expect("a spec");
        let programs = vec![
            Program {
                name: "evolve-r1-champion".into(),
                text: "Be careful.\n".into(),
            },
            Program {
                name: "evolve-r1-v1".into(),
                text: "Lower the lr.\n".into(),
            },
        ];
        let runs: Runs = vec![
            vec![vec![record(0, Status::Keep, "baseline", 2.0)]],
            vec![vec![
                record(0, Status::Keep, "baseline", 2.0),
                record(1, Status::Keep, "lr 0.1 -> 0.01", 1.5),
                record(2, Status::Discard, "lr 0.01 -> 0.5", 3.0),
            ]],
        ];
        let standings = vec![
            Standing {
                rank: 1,
                program: "evolve-r1-v1".into(),
                bests: vec![Some(1.5)],
                mean_best: Some(1.5),
                interval: Some((1.5, 1.5)),
                gains_per_hour: vec![None],
                mean_gain_per_hour: None,
                device_seconds: 3.0,
                experiments: 2,
                clearly_ahead: true,
            },
            Standing {
                rank: 2,
                program: "evolve-r1-champion".into(),
                bests: vec![Some(2.0)],
                mean_best: Some(2.0),
                interval: Some((2.0, 2.0)),
                gains_per_hour: vec![None],
                mean_gain_per_hour: None,
                device_seconds: 1.0,
                experiments: 0,
                clearly_ahead: false,
            },
        ];
        let ask = Ask {
            spec: &spec,
            program_file: "program.md",
            round: 2,
            variant: 1,
            variants: 2,
            runs: 1,
            experiments: 2,
        };
        let first = compose(&ask, None);
        assert!(first.contains("No contest has run yet"), "{first}");
        let last = LastContest {
            round: 1,
            programs: &programs,
            runs: &runs,
            standings: &standings,
            champion: "evolve-r1-champion",
            kept: Some("evolve-r1-v1"),
        };
        let brief = compose(&ask, Some(&last));
        assert!(brief.contains("## The last contest (round 1)"), "{brief}");
        assert!(brief.contains("| 1 | evolve-r1-v1 | 1.500000 |"), "{brief}");
        assert!(
            brief.contains("- run 1, #1: lr 0.1 -> 0.01 (1.500000)"),
            "{brief}"
        );
        assert!(
            !brief.contains("lr 0.01 -> 0.5"),
            "a discarded change: {brief}"
        );
        assert!(brief.contains("kept no change"), "{brief}");
        assert!(brief.contains("Lower the lr."), "{brief}");
        assert!(brief.contains("`evolve-r1-v1` led clearly"), "{brief}");
        assert!(brief.contains("variant 1 of 2 in round 2"), "{brief}");
    }
}
