//! [`Evolution`] (`swarmlab contest --evolve ROUNDS`): rounds of contests between the
//! champion program and variants of it that a writer drafts.
//!
//! Round k: the champion is the track's program file at the tip of the branch the evolution
//! started on. A writer ([`super::writer`]) is asked for K variants, each seeing the champion
//! and the last contest's results ([`super::brief`]); the usable ones, `evolve-rk-v1` ...,
//! meet the champion, `evolve-rk-champion`, in an ordinary [`Contest`] under the same rules
//! (R runs of N experiments, matched seeds, interleaved), kept in `round-k/` under
//! [`EVOLVE_DIR`]. A variant that ranks first and leads the next program clearly (the
//! contest's own rule) is committed over the program file on that branch, its numbers in the
//! message, and is the next round's champion; otherwise the champion stays.
//!
//! Resuming: each step leaves a file. `programs.json` holds the round's programs once the
//! writer is done (a kill before it asks the writer again); the contest resumes by counting,
//! as any contest does; `outcome.json` says the round is decided (a kill between the commit
//! and it finds the program already committed and commits nothing twice).
//!
//! It decides nothing about measuring, keeping an experiment or statistics: the sessions,
//! the contest and its standings do.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use swarmlab_agent::Proposer;
use swarmlab_core::report::{format_value, Standing};
use swarmlab_core::{GitStore, TrackSpec};
use swarmlab_runner::Cancel;

use super::brief::{self, Ask, LastContest};
use super::writer::{self, Request};
use super::{Contest, ContestError, Program, Runs};
use crate::status::StatusLine;
use crate::{LoopError, Stop};

/// Where an evolution keeps its state and its rounds, inside the track.
pub const EVOLVE_DIR: &str = ".swarmlab/contest/evolve";

const PROGRAMS: &str = "programs.json";
const OUTCOME: &str = "outcome.json";

/// The branch the evolution started on: every round's champion is read from it and every
/// winner committed on it.
#[derive(Debug, Serialize, Deserialize)]
struct Home {
    branch: String,
}

/// How a round ended.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// The variant that became the champion, and its commit; `None` when the champion stayed.
    kept: Option<String>,
    commit: Option<String>,
    /// The line that said so.
    line: String,
}

/// A round whose contest ran, as the next round's writer sees it.
struct Finished {
    round: u32,
    contest: Contest,
    runs: Runs,
    standings: Vec<Standing>,
    kept: Option<String>,
}

/// Rounds of contests between a champion program and its variants on one track.
pub struct Evolution {
    spec: TrackSpec,
    program_file: String,
    rounds: u32,
    variants: u32,
    runs: u32,
    experiments: u64,
    seed: u64,
}

impl Evolution {
    /// Checks the input: the track names a program file, and every count is 1 or more.
    pub fn new(
        spec: TrackSpec,
        rounds: u32,
        variants: u32,
        runs: u32,
        experiments: u64,
        seed: u64,
    ) -> Result<Evolution, ContestError> {
        let program_file = super::program_file(&spec)?;
        if rounds == 0 || variants == 0 || runs == 0 || experiments == 0 {
            return Err(ContestError::Input(
                "--evolve, --variants, --runs and --experiments must be 1 or more".into(),
            ));
        }
        Ok(Evolution {
            spec,
            program_file,
            rounds,
            variants,
            runs,
            experiments,
            seed,
        })
    }

    /// Runs (or resumes) every round: `writer` drafts the variants, a fresh proposer from
    /// `proposer` makes each experiment; the track's setup runs once first when `setup`.
    pub fn run<E: From<ContestError>>(
        &self,
        mut proposer: impl FnMut() -> Result<Box<dyn Proposer>, E>,
        writer: &mut dyn Proposer,
        cancel: &Cancel,
        mut setup: bool,
    ) -> Result<Stop, E> {
        let git = GitStore::open(&self.spec.root).map_err(contest_error)?;
        let home = self.home(&git)?;
        let mut line = StatusLine::new();
        for round in 1..=self.rounds {
            let folder = self.folder(round);
            if let Some(outcome) = read::<Outcome>(&folder.join(OUTCOME))? {
                line.say(&format!(
                    "evolve: round {round} was decided before: {}",
                    outcome.line
                ));
                continue;
            }
            let programs = match read::<Vec<Program>>(&folder.join(PROGRAMS))? {
                Some(programs) => programs,
                None => match self.write_variants(&git, &home, round, writer, cancel, &mut line)? {
                    Some(programs) => programs,
                    None => return Ok(Stop::Interrupted),
                },
            };
            let outcome = if programs.len() < 2 {
                Outcome {
                    kept: None,
                    commit: None,
                    line: format!("round {round}: no variant to run; the champion stays"),
                }
            } else {
                let contest = self.contest(round, programs)?;
                if !contest.started(&git) {
                    go_home(&git, &home)?;
                }
                if contest.run(&mut proposer, cancel, std::mem::take(&mut setup))?
                    == Stop::Interrupted
                {
                    return Ok(Stop::Interrupted);
                }
                let report = contest.report()?;
                self.decide(&git, &home, round, &contest, &report.standings)?
            };
            line.say(&format!("evolve: {}", outcome.line));
            write(&folder.join(OUTCOME), &outcome)?;
        }
        Ok(Stop::Limit)
    }

    /// The saved home branch, or the checked-out one when the evolution starts.
    fn home(&self, git: &GitStore) -> Result<String, ContestError> {
        let path = self.spec.root.join(EVOLVE_DIR).join("state.json");
        if let Some(home) = read::<Home>(&path)? {
            return Ok(home.branch);
        }
        let branch = git
            .current_branch()
            .map_err(LoopError::from)?
            .ok_or_else(|| {
                ContestError::Input(
                    "--evolve commits a winning program on the checked-out branch, but HEAD is \
                 detached; check out a branch first"
                        .into(),
                )
            })?;
        write(
            &path,
            &Home {
                branch: branch.clone(),
            },
        )?;
        Ok(branch)
    }

    /// Round `round`'s contest of `programs`, under the evolution's rules, in its folder.
    fn contest(&self, round: u32, programs: Vec<Program>) -> Result<Contest, ContestError> {
        let contest = Contest::new(
            self.spec.clone(),
            programs,
            self.runs,
            self.experiments,
            self.seed,
        )?;
        Ok(contest.with_dir(self.relative(round)))
    }

    fn relative(&self, round: u32) -> String {
        format!("{EVOLVE_DIR}/round-{round}")
    }

    fn folder(&self, round: u32) -> PathBuf {
        self.spec.root.join(self.relative(round))
    }

    /// Asks the writer for the round's variants and saves the round's programs, the
    /// champion first; `None` when Ctrl-C came first.
    fn write_variants(
        &self,
        git: &GitStore,
        home: &str,
        round: u32,
        writer: &mut dyn Proposer,
        cancel: &Cancel,
        line: &mut StatusLine,
    ) -> Result<Option<Vec<Program>>, ContestError> {
        let champion = Program {
            name: format!("evolve-r{round}-champion"),
            text: git
                .run(&["show", &format!("refs/heads/{home}:{}", self.program_file)])
                .map_err(LoopError::from)?,
        };
        let last = self.last_contest(round)?;
        let folder = self.folder(round);
        let mut programs = vec![champion];
        for i in 1..=self.variants {
            if cancel.is_cancelled() {
                return Ok(None);
            }
            let name = format!("evolve-r{round}-v{i}");
            let ask = Ask {
                spec: &self.spec,
                program_file: &self.program_file,
                round,
                variant: i,
                variants: self.variants,
                runs: self.runs,
                experiments: self.experiments,
            };
            let text = brief::compose(&ask, last.as_ref().map(Finished::view).as_ref());
            let request = Request {
                spec: &self.spec,
                program_file: &self.program_file,
                folder: &folder.join(format!("writer-v{i}")),
                champion: &programs[0].text,
                earlier: &programs[1..],
                brief: &text,
                index: u64::from(i),
                seed: self.seed.wrapping_add(u64::from(round)),
            };
            match writer::ask(writer, &request) {
                Ok(text) => {
                    line.say(&format!("evolve: round {round}: the writer wrote {name}"));
                    programs.push(Program { name, text });
                }
                Err(why) => line.say(&format!(
                    "evolve: round {round}: no {name}: {why}; the round goes on without it"
                )),
            }
        }
        // A writer stopped by Ctrl-C failed for that reason alone: ask it again next time.
        if cancel.is_cancelled() {
            return Ok(None);
        }
        write(&folder.join(PROGRAMS), &programs)?;
        Ok(Some(programs))
    }

    /// The latest round before `round` whose contest ran.
    fn last_contest(&self, round: u32) -> Result<Option<Finished>, ContestError> {
        for earlier in (1..round).rev() {
            let folder = self.folder(earlier);
            let Some(programs) = read::<Vec<Program>>(&folder.join(PROGRAMS))? else {
                continue;
            };
            if programs.len() < 2 {
                continue;
            }
            let kept = read::<Outcome>(&folder.join(OUTCOME))?.and_then(|o| o.kept);
            let contest = self.contest(earlier, programs)?;
            let (runs, standings) = contest.results()?;
            return Ok(Some(Finished {
                round: earlier,
                contest,
                runs,
                standings,
                kept,
            }));
        }
        Ok(None)
    }

    /// Commits the round's winner over the program file on the home branch when a variant
    /// ranks first clearly; says that the champion stays otherwise.
    fn decide(
        &self,
        git: &GitStore,
        home: &str,
        round: u32,
        contest: &Contest,
        standings: &[Standing],
    ) -> Result<Outcome, ContestError> {
        let champion = &contest.programs()[0];
        let metric = &self.spec.metric.name;
        let Some(top) = standings
            .first()
            .filter(|s| s.clearly_ahead && s.program != champion.name)
        else {
            let first = standings.first().map_or(String::new(), |s| {
                format!(" (first: {}, {})", s.program, score(metric, s))
            });
            return Ok(Outcome {
                kept: None,
                commit: None,
                line: format!("round {round}: no variant leads clearly{first}; the champion stays"),
            });
        };
        let winner = contest
            .programs()
            .iter()
            .find(|p| p.name == top.program)
            .expect("every standing is named for one of the contest's programs");
        go_home(git, home)?;
        let spec_ref = format!("refs/heads/{home}:{}", self.program_file);
        let at_home = git.run(&["show", &spec_ref]).map_err(LoopError::from)?;
        let commit = if at_home == winner.text {
            // Committed before a kill that came ahead of the outcome's file.
            git.resolve("HEAD")
                .map_err(LoopError::from)?
                .ok_or(LoopError::NoCommit)?
        } else {
            let path = self.spec.root.join(&self.program_file);
            std::fs::write(&path, &winner.text).map_err(LoopError::io("write", &path))?;
            let message = self.message(round, &winner.name, standings);
            git.commit_paths(std::slice::from_ref(&self.program_file), &message)
                .map_err(LoopError::from)?
        };
        Ok(Outcome {
            kept: Some(winner.name.clone()),
            line: format!(
                "round {round}: {} leads clearly ({}); committed {} over {} on {home}",
                winner.name,
                score(metric, top),
                swarmlab_core::short(&commit),
                self.program_file
            ),
            commit: Some(commit),
        })
    }

    /// The commit message of a kept variant: what it replaced and every program's numbers.
    fn message(&self, round: u32, name: &str, standings: &[Standing]) -> String {
        let metric = &self.spec.metric.name;
        let mut message = format!(
            "evolve: round {round} keeps {name} as {}\n\n{name} ranks first and its 95% interval \
             lies clear of the next program's, over {} runs of {} experiments each (seeds {} to \
             {}).\n\n",
            self.program_file,
            self.runs,
            self.experiments,
            self.seed,
            self.seed.wrapping_add(u64::from(self.runs - 1)),
        );
        for s in standings {
            message.push_str(&format!(
                "{}. {}: {}\n",
                s.rank,
                s.program,
                score(metric, s)
            ));
        }
        message.push_str(&format!(
            "\nStandings: {}/contest.md\n",
            self.relative(round)
        ));
        message
    }
}

impl Finished {
    fn view(&self) -> LastContest<'_> {
        LastContest {
            round: self.round,
            programs: self.contest.programs(),
            runs: &self.runs,
            standings: &self.standings,
            champion: &self.contest.programs()[0].name,
            kept: self.kept.as_deref(),
        }
    }
}

/// `mean best loss 1.012000 [1.010000, 1.015000]`.
fn score(metric: &str, s: &Standing) -> String {
    let mean = s.mean_best.map_or("—".into(), format_value);
    let interval = s.interval.map_or("—".into(), |(lo, hi)| {
        format!("[{}, {}]", format_value(lo), format_value(hi))
    });
    format!("mean best {metric} {mean} {interval}")
}

/// Checks out the home branch unless it is checked out.
fn go_home(git: &GitStore, home: &str) -> Result<(), ContestError> {
    if git.current_branch().map_err(LoopError::from)?.as_deref() == Some(home) {
        return Ok(());
    }
    let dirty = git.dirty_tracked().map_err(LoopError::from)?;
    if !dirty.is_empty() {
        return Err(LoopError::RepositoryState(format!(
            "uncommitted changes to {}; commit or stash them before the evolution switches to {home}",
            dirty.join(", ")
        ))
        .into());
    }
    git.switch_to(home).map_err(LoopError::from)?;
    Ok(())
}

/// A JSON file of the evolution, or `None` when it is missing (or torn by a kill: that step
/// is done again).
fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ContestError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(serde_json::from_str(&text).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LoopError::io("read", path)(e).into()),
    }
}

/// Writes a JSON file of the evolution whole: to a side file, then renamed over it.
fn write<T: Serialize>(path: &Path, value: &T) -> Result<(), ContestError> {
    let dir = path.parent().expect("the evolution's files are in folders");
    std::fs::create_dir_all(dir).map_err(LoopError::io("create", dir))?;
    let text = serde_json::to_string_pretty(value).expect("the evolution's state serialises");
    let side = path.with_extension("json.part");
    std::fs::write(&side, text).map_err(LoopError::io("write", &side))?;
    std::fs::rename(&side, path).map_err(LoopError::io("rename", path))?;
    Ok(())
}

fn contest_error<E: From<ContestError>>(error: impl Into<LoopError>) -> E {
    E::from(ContestError::Loop(error.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_state_file_is_read_as_missing_and_written_whole() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("round-1").join(OUTCOME);
        assert!(read::<Outcome>(&path).expect("no file").is_none());
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(&path, r#"{"kept": "evolve-r1-v1", "com"#).expect("write");
        assert!(read::<Outcome>(&path).expect("a torn file").is_none());
        let outcome = Outcome {
            kept: None,
            commit: None,
            line: "the champion stays".into(),
        };
        write(&path, &outcome).expect("written");
        let back = read::<Outcome>(&path).expect("read").expect("whole");
        assert_eq!(back.line, "the champion stays");
        assert!(!path.with_extension("json.part").exists());
    }

    #[test]
    fn going_home_refuses_uncommitted_changes() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("program.md"), "Be careful.\n").expect("write");
        let git = GitStore::init(dir.path(), "start").expect("a repository");
        let home = git.current_branch().expect("git").expect("a branch");
        git.run(&["checkout", "--quiet", "-b", "swarmlab/contest-x-1"])
            .expect("a run branch");
        std::fs::write(dir.path().join("program.md"), "Edited.\n").expect("write");
        let err = go_home(&git, &home).unwrap_err();
        assert!(
            matches!(err, ContestError::Loop(LoopError::RepositoryState(_))),
            "{err}"
        );
        assert!(err.to_string().contains("program.md"), "{err}");
        git.run(&["checkout", "--quiet", "--", "program.md"])
            .expect("restored");
        go_home(&git, &home).expect("a clean tree goes home");
        assert_eq!(git.current_branch().expect("git"), Some(home));
    }
}
