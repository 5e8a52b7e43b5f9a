//! The `command` proposer: any CLI coding agent (Claude Code, Codex, aider, Gemini CLI, or a
//! command of your own) edits the worktree in place, given the composed prompt.
//!
//! The agent runs through `swarmlab-runner`, so it gets what an experiment gets: its own
//! process group, stdin null, stdout and stderr in one log file per experiment
//! (`<log_dir>/<index>.log`, the prompt beside it as `<index>.prompt.md`), and a hard timeout
//! that kills the whole tree (SIGTERM, grace, SIGKILL) whether the agent cooperates or not.
//!
//! It must not commit, run experiments or undo what the agent did: the harness takes the diff,
//! refuses changes outside `files.editable` (the agent may well touch them; that is caught
//! there, not here) and resets on failure.
//!
//! # Placeholders
//!
//! `{prompt}` is replaced by the prompt text, `{prompt_file}` by the path of the file holding
//! it, `{ignore_file}` by the path of a file in `.gitignore` syntax that ignores every path but
//! the editable ones (for agents that take such a file), and an argument that is exactly
//! `{files}` by the editable paths (one argument each). The presets (`claude`, `codex`,
//! `aider`, `gemini`) and why their flags are what they are live in [`crate::preset`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use swarmlab_runner::{Cancel, Ending, Exit, RunError, RunOutcome, RunSpec};

use crate::preset::Known;
use crate::prompt::{self, EditStyle, PromptLimits};
use crate::{Context, Proposal, ProposeError, Proposer};

/// The largest single argument Linux accepts (`MAX_ARG_STRLEN`, the NUL included).
const MAX_ARG_BYTES: usize = 128 * 1024 - 1;

/// Bytes of the log read back for the description and for a failure's reason.
const LOG_READ_BYTES: usize = 64 * 1024;

/// Lines of the log tail put into the reason of a failure.
const TAIL_LINES: usize = 20;

/// How often the log of a running agent is read for lines that mean it cannot succeed.
const STALL_LOOK_EVERY: Duration = Duration::from_millis(500);

/// A quote left open in a command line given to [`split_words`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnclosedQuote {
    #[error("unclosed single quote")]
    Single,
    #[error("unclosed double quote")]
    Double,
}

/// Splits a command line (an agent that is not a preset) into words the way a POSIX shell
/// would for plain words, single and double quotes and backslashes (no expansions).
pub fn split_words(line: &str) -> Result<Vec<String>, UnclosedQuote> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(UnclosedQuote::Single),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => w.extend(chars.next()),
                        Some(c) => w.push(c),
                        None => return Err(UnclosedQuote::Double),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// A known stall that showed in a running agent's log, and when.
struct Stall {
    known: &'static Known,
    after: Duration,
}

/// Runs a CLI agent in the worktree with the composed prompt, under a timeout.
#[derive(Debug, Clone)]
pub struct CommandProposer {
    argv: Vec<String>,
    log_dir: PathBuf,
    timeout: Duration,
    grace: Duration,
    cancel: Cancel,
    limits: PromptLimits,
    stalls: &'static [Known],
}

impl CommandProposer {
    /// An agent started as `argv` (a template, see the module doc), writing
    /// `<log_dir>/<index>.log` (a relative `log_dir` is taken from the worktree) and killed
    /// after `timeout`. An empty `argv` is refused.
    pub fn new(
        argv: Vec<String>,
        log_dir: impl Into<PathBuf>,
        timeout: Duration,
    ) -> Result<CommandProposer, ProposeError> {
        if argv.first().is_none_or(|a| a.trim().is_empty()) {
            return Err(ProposeError::Unusable(
                "the agent command is empty; name a preset (claude, codex, aider, gemini) or give an argv"
                    .into(),
            ));
        }
        Ok(CommandProposer {
            argv,
            log_dir: log_dir.into(),
            timeout,
            grace: RunSpec::DEFAULT_GRACE,
            cancel: Cancel::new(),
            limits: PromptLimits::default(),
            stalls: &[],
        })
    }

    /// Stops the agent (SIGTERM, grace, SIGKILL) when `cancel` is triggered, e.g. on Ctrl-C;
    /// the proposal is then `Nothing`.
    pub fn with_cancel(mut self, cancel: Cancel) -> CommandProposer {
        self.cancel = cancel;
        self
    }

    /// Time between SIGTERM and SIGKILL on timeout (default 5 s).
    pub fn with_grace(mut self, grace: Duration) -> CommandProposer {
        self.grace = grace;
        self
    }

    /// Bounds on the prompt (history lines).
    pub fn with_limits(mut self, limits: PromptLimits) -> CommandProposer {
        self.limits = limits;
        self
    }

    /// Lines of the agent's output after which it cannot succeed (a preset's
    /// [`crate::preset::Preset::stalls`]): the agent is stopped as soon as one shows and the
    /// proposal fails with its meaning.
    pub fn with_stalls(mut self, stalls: &'static [Known]) -> CommandProposer {
        self.stalls = stalls;
        self
    }

    /// Runs the agent, stopping it as soon as its log shows one of the known stalls; returns
    /// how it ended and the stall with the time it showed, if one did.
    fn run_watched(&self, spec: &RunSpec) -> Result<(RunOutcome, Option<Stall>), ProposeError> {
        // A child flag: a stalled agent is stopped without stopping the loop.
        let agent = self.cancel.child();
        let mut stalled = None;
        let mut next_look = STALL_LOOK_EVERY;
        let outcome = swarmlab_runner::run(spec, &agent, &mut |tick| {
            if self.stalls.is_empty() || stalled.is_some() || tick.elapsed < next_look {
                return;
            }
            next_look = tick.elapsed + STALL_LOOK_EVERY;
            let output = swarmlab_runner::tail(&spec.log_path, LOG_READ_BYTES).unwrap_or_default();
            if let Some(known) = self.stalls.iter().find(|k| output.contains(k.contains)) {
                stalled = Some(Stall {
                    known,
                    after: tick.elapsed,
                });
                agent.cancel();
            }
        })
        .map_err(|e| unusable(&self.argv[0], e))?;
        Ok((outcome, stalled))
    }

    /// The argv with the placeholders replaced.
    fn argv(
        &self,
        prompt: &str,
        prompt_file: &Path,
        ignore_file: &Path,
        editable: &[String],
    ) -> Vec<String> {
        let file = prompt_file.to_string_lossy();
        let ignore = ignore_file.to_string_lossy();
        let mut out = Vec::with_capacity(self.argv.len() + editable.len());
        for arg in &self.argv {
            if arg == "{files}" {
                out.extend(editable.iter().cloned());
            } else {
                out.push(
                    arg.replace("{files}", &editable.join(" "))
                        .replace("{prompt_file}", &file)
                        .replace("{ignore_file}", &ignore)
                        .replace("{prompt}", prompt),
                );
            }
        }
        out
    }
}

impl Proposer for CommandProposer {
    fn name(&self) -> &str {
        "command"
    }

    fn propose(&mut self, ctx: &Context<'_>) -> Result<Proposal, ProposeError> {
        let prompt = prompt::compose(ctx, EditStyle::InPlace, self.limits)?;
        let log_dir = ctx.worktree.join(&self.log_dir);
        std::fs::create_dir_all(&log_dir).map_err(|source| ProposeError::Io {
            action: "create the agent log directory",
            path: log_dir.clone(),
            source,
        })?;
        let prompt_file = log_dir.join(format!("{}.prompt.md", ctx.index));
        std::fs::write(&prompt_file, &prompt).map_err(|source| ProposeError::Io {
            action: "write the prompt to",
            path: prompt_file.clone(),
            source,
        })?;
        let ignore_file = log_dir.join(format!("{}.ignore", ctx.index));
        if self.argv.iter().any(|a| a.contains("{ignore_file}")) {
            std::fs::write(&ignore_file, ignore_all_but(&ctx.spec.files.editable)).map_err(
                |source| ProposeError::Io {
                    action: "write the ignore file",
                    path: ignore_file.clone(),
                    source,
                },
            )?;
        }
        let argv = self.argv(
            &prompt,
            &prompt_file,
            &ignore_file,
            &ctx.spec.files.editable,
        );
        if let Some(long) = argv.iter().find(|a| a.len() > MAX_ARG_BYTES) {
            return Err(ProposeError::Unusable(format!(
                "the prompt is {} bytes, more than one command-line argument may hold ({MAX_ARG_BYTES}); \
                 pass {{prompt_file}} to the agent instead of {{prompt}}",
                long.len()
            )));
        }

        let log_path = log_dir.join(format!("{}.log", ctx.index));
        let mut spec = RunSpec::new(argv, ctx.worktree, &log_path, self.timeout);
        spec.grace = self.grace;
        spec.env = vec![
            ("SWARMLAB_INDEX".into(), ctx.index.to_string()),
            ("SWARMLAB_SEED".into(), ctx.seed.to_string()),
            ("SWARMLAB_BEST_COMMIT".into(), ctx.best_commit.to_string()),
            ("SWARMLAB_IDEA".into(), ctx.idea.unwrap_or("").to_string()),
            (
                "SWARMLAB_PROMPT_FILE".into(),
                prompt_file.to_string_lossy().into_owned(),
            ),
        ];
        let (outcome, stalled) = self.run_watched(&spec)?;
        let output = swarmlab_runner::tail(&log_path, LOG_READ_BYTES).unwrap_or_default();
        let failed = |what: String| Proposal::Failed {
            reason: format!(
                "{what} (log {}){}",
                log_path.display(),
                tail_lines(&output, TAIL_LINES)
            ),
        };
        if let (Some(Stall { known, after }), false) = (stalled, self.cancel.is_cancelled()) {
            return Ok(failed(format!(
                "{}: the agent printed `{}` and was stopped after {:.0}s",
                known.meaning,
                known.contains,
                after.as_secs_f64()
            )));
        }
        Ok(match outcome.ending {
            Ending::Exited(Exit::Code(0)) => Proposal::Change {
                description: description_from_output(&output),
            },
            Ending::Exited(Exit::Code(code)) => {
                failed(format!("the agent exited with code {code}"))
            }
            Ending::Exited(Exit::Signal(signal)) => {
                failed(format!("the agent was killed by signal {signal}"))
            }
            Ending::TimedOut => failed(format!(
                "the agent timed out after {} and was killed",
                swarmlab_core::spec::format_duration(self.timeout)
            )),
            Ending::Interrupted => Proposal::Nothing {
                reason: "the agent was interrupted".into(),
            },
        })
    }
}

fn unusable(program: &str, e: RunError) -> ProposeError {
    match e {
        RunError::CommandNotFound { .. } => ProposeError::Unusable(format!(
            "agent `{program}` not found on PATH; install it or give the full path"
        )),
        other => ProposeError::Unusable(format!("failed to run the agent: {other}")),
    }
}

/// A file in `.gitignore` syntax that ignores every path but the `editable` ones (a file, or a
/// folder and everything below it).
fn ignore_all_but(editable: &[String]) -> String {
    let mut text = String::from("# written by swarmlab: every path but files.editable\n*\n");
    for entry in editable {
        let path: String = entry
            .trim_end_matches('/')
            .chars()
            .flat_map(|c| {
                let escape = matches!(c, '\\' | '*' | '?' | '[' | ']' | '!' | '#' | ' ');
                escape.then_some('\\').into_iter().chain([c])
            })
            .collect();
        text.push_str(&format!("!/{path}\n!/{path}/**\n"));
    }
    text
}

/// The last `n` non-empty lines of `output`, indented under a colon, or nothing.
fn tail_lines(output: &str, n: usize) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(n)..];
    format!(":\n  {}", tail.join("\n  "))
}

/// The description an agent gave: the text after the last line starting with `DESCRIPTION:`
/// (markdown emphasis allowed around it), else the first line of its final message (the last
/// paragraph of the output), else `agent change`. At most 200 characters.
pub fn description_from_output(output: &str) -> String {
    let strip = |l: &str| {
        l.trim()
            .trim_start_matches(['*', '_', '`', '#', '>', '-', ' '])
            .to_string()
    };
    let tagged = output.lines().rev().find_map(|l| {
        strip(l)
            .strip_prefix("DESCRIPTION:")
            .map(|rest| rest.trim().trim_matches(['*', '_', '`', ' ']).to_string())
            .filter(|rest| !rest.is_empty())
    });
    let description = tagged.or_else(|| {
        let paragraphs: Vec<&str> = output
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        paragraphs
            .last()
            .and_then(|p| p.lines().map(strip).find(|l| !l.is_empty()))
    });
    let description = description.unwrap_or_else(|| "agent change".to_string());
    if description.chars().count() > 200 {
        let mut clipped: String = description.chars().take(199).collect();
        clipped.push('…');
        clipped
    } else {
        description
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_exists_and_mentions_the_prompt() {
        for preset in crate::preset::PRESETS {
            let argv = crate::preset::find(preset.name).unwrap().argv();
            assert_eq!(argv[0], preset.name);
            assert!(
                argv.iter().any(|a| a.contains("{prompt")),
                "{}",
                preset.name
            );
        }
        assert!(crate::preset::find("vim").is_none());
    }

    #[test]
    fn the_ignore_file_keeps_only_the_editable_paths() {
        let text = ignore_all_but(&["src/model.rs".into(), "configs/".into(), "a b*".into()]);
        assert_eq!(
            text,
            "# written by swarmlab: every path but files.editable\n*\n\
             !/src/model.rs\n!/src/model.rs/**\n!/configs\n!/configs/**\n!/a\\ b\\*\n!/a\\ b\\*/**\n"
        );
    }

    #[test]
    fn splits_like_a_shell_without_expansions() {
        assert_eq!(
            split_words(r#"my-agent --msg "two words" 'it''s' a\ b {prompt_file}"#).unwrap(),
            vec![
                "my-agent",
                "--msg",
                "two words",
                "its",
                "a b",
                "{prompt_file}"
            ]
        );
        assert!(split_words("say 'oops").is_err());
        assert!(split_words("").unwrap().is_empty());
    }

    #[test]
    fn placeholders_are_replaced_and_files_expand_to_arguments() {
        let p = CommandProposer::new(
            vec![
                "agent".into(),
                "--msg={prompt}".into(),
                "{prompt_file}".into(),
                "--ignore={ignore_file}".into(),
                "{files}".into(),
            ],
            "logs",
            Duration::from_secs(1),
        )
        .unwrap();
        let argv = p.argv(
            "hi",
            Path::new("/p.md"),
            Path::new("/1.ignore"),
            &["a.rs".into(), "b/".into()],
        );
        assert_eq!(
            argv,
            [
                "agent",
                "--msg=hi",
                "/p.md",
                "--ignore=/1.ignore",
                "a.rs",
                "b/"
            ]
        );
        assert!(CommandProposer::new(vec![], "logs", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn description_prefers_the_last_tagged_line_then_the_final_message() {
        let out = "DESCRIPTION: old\nworking...\n**DESCRIPTION:** raise lr to 3e-3\nbye\n";
        assert_eq!(description_from_output(out), "raise lr to 3e-3");
        let out = "reading files\n\nI changed the warmup.\nIt should help.\n";
        assert_eq!(description_from_output(out), "I changed the warmup.");
        let out = "log\n\n## Summary\n- used rotary embeddings\n";
        assert_eq!(description_from_output(out), "Summary");
        assert_eq!(description_from_output("\n \n"), "agent change");
        assert_eq!(
            description_from_output(&"x".repeat(500)).chars().count(),
            200
        );
    }
}
