//! `[eval]`: who computes the metric when a run is verified, and what each mode needs.
//!
//! `stdout` trusts what the run printed; `command` runs a trusted evaluator from the baseline
//! on the artifact the run wrote; `logits` has the candidate serve logits (from a program of
//! its own, or from the training run itself once it has trained) and the verifier score them
//! on validation tokens it gets from a trusted file, a trusted generator or a pool of
//! held-out files (docs/eval.md). This module only describes and validates; it runs nothing.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::raw::{Ctx, Failure};
use super::{covers, format_duration, shell_words, Files};
use crate::Goal;

/// `[eval]`: the mode, and whether a hub may accept a printed metric from untrusted workers.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    pub mode: EvalMode,
    /// `insecure = true`: a hub accepts the `stdout` metric of untrusted submissions. Only
    /// allowed with `mode = "stdout"`.
    pub insecure: bool,
}

/// Who computes the metric of a verified run.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalMode {
    /// The run prints its own metric: trusted runs only, unless the track opts in as insecure.
    Stdout,
    /// A trusted evaluator from the baseline reads the artifact the run wrote.
    Command(CommandEval),
    /// The candidate serves logits; the verifier scores them itself.
    Logits(LogitsEval),
}

/// `mode = "command"`.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandEval {
    /// The trusted evaluator's argv, run at the root of the baseline's checkout. It finds the
    /// artifact at `$SWARMLAB_ARTIFACT` and prints the metric as a run would.
    pub command: Vec<String>,
    /// What the training run must write, relative to `$SWARMLAB_RUN_DIR`.
    pub artifact: String,
    /// Hard wall-clock limit of the evaluator.
    pub timeout: Duration,
}

/// `mode = "logits"`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogitsEval {
    /// Who answers the verifier's windows on stdin/stdout (docs/eval.md).
    pub serve: Serve,
    /// What the training run must write (e.g. its checkpoint), relative to
    /// `$SWARMLAB_RUN_DIR`; checked before serving when given.
    pub artifact: Option<String>,
    /// Where the validation tokens come from.
    pub data: DataSource,
    /// Tokens are `0..vocab`; every answer has `vocab` logits per position.
    pub vocab: u32,
    /// Tokens of input per window the verifier sends.
    pub context: usize,
    /// Bytes of text each token stands for (`vocab` entries): the verifier's own table.
    pub token_bytes: Vec<u32>,
    /// The track-relative file `token_bytes` was read from; `None`: one byte per token.
    pub token_bytes_file: Option<String>,
    /// At most this many windows are scored; `None`: every window the data holds.
    pub windows: Option<usize>,
    /// Windows per request.
    pub batch: usize,
    /// Windows whose suffix is perturbed to check causality (and as many spot checks later).
    pub probes: usize,
    /// Largest change of a log-probability (nats) that still counts as unchanged.
    pub tolerance: f64,
    /// Hard wall-clock limit of the whole serving session; with [`Serve::Run`], the run's
    /// timeout (training and serving).
    pub timeout: Duration,
    /// With [`Serve::Run`] and a time budget: how much longer than the budget the run may take,
    /// from its start, before it serves (start-up, compilation, loading data). A run that
    /// serves later overran its budget. The only check of a time budget from outside.
    pub allowance: Duration,
}

/// Who serves the logits of a verified run.
#[derive(Debug, Clone, PartialEq)]
pub enum Serve {
    /// `serve = "run"`: `run.command` itself serves once it has trained, with
    /// `SWARMLAB_LOGITS=serve` in its environment: one process trains and serves, once per
    /// rerun.
    Run,
    /// `serve = [argv]`: a program of the candidate's, started at the root of its checkout
    /// once the training run has ended, with the run's `$SWARMLAB_RUN_DIR`.
    Command(Vec<String>),
}

/// Where the validation tokens of `logits` mode come from: bytes when `vocab <= 256`,
/// otherwise u32 little-endian.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// A trusted file of the baseline, track-relative.
    File(String),
    /// A trusted generator from the baseline that writes the tokens to stdout; it gets the
    /// verifier's holdout seed as `$SWARMLAB_EVAL_SEED` when there is one.
    Command(Vec<String>),
    /// A folder of the baseline holding held-out token files (each as `File`), which the
    /// training never reads: the verifier draws `files` of them at random for each job and
    /// hides the folder from the runs it verifies.
    Holdout {
        /// Track-relative.
        folder: String,
        /// Files drawn per job.
        files: usize,
    },
}

impl Eval {
    /// Whether a hub may accept measurements of untrusted submissions under this mode: any
    /// mode but `stdout`, and `stdout` only when the track opted in as insecure.
    pub fn accepts_untrusted(&self) -> bool {
        !matches!(self.mode, EvalMode::Stdout) || self.insecure
    }

    /// The mode's name as the spec writes it.
    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            EvalMode::Stdout => "stdout",
            EvalMode::Command(_) => "command",
            EvalMode::Logits(_) => "logits",
        }
    }

    /// Lines for `swarmlab track check`, without the leading label.
    pub(super) fn describe(&self) -> Vec<String> {
        const LOCAL: &str = "local runs read the metric the run prints";
        match &self.mode {
            EvalMode::Stdout if self.insecure => vec![
                "stdout: the run prints its metric; insecure: a hub accepts it from untrusted workers".into(),
            ],
            EvalMode::Stdout => vec!["stdout: the run prints its metric (trusted runs only)".into()],
            EvalMode::Command(c) => vec![
                format!(
                    "command: {} on $SWARMLAB_RUN_DIR/{} (timeout {})",
                    shell_words(&c.command),
                    c.artifact,
                    format_duration(c.timeout)
                ),
                LOCAL.into(),
            ],
            EvalMode::Logits(l) => {
                let data = match &l.data {
                    DataSource::File(f) => format!("file {f}"),
                    DataSource::Command(c) => format!("command {}", shell_words(c)),
                    DataSource::Holdout { folder, files } => {
                        format!("{files} held-out file(s) of {folder}/ drawn per job")
                    }
                };
                let bytes = match &l.token_bytes_file {
                    Some(f) => format!("bytes per token from {f}"),
                    None => "one byte per token".into(),
                };
                let windows = l
                    .windows
                    .map_or("all windows".to_string(), |w| format!("at most {w} windows"));
                let artifact = l
                    .artifact
                    .as_ref()
                    .map_or(String::new(), |a| format!(" on $SWARMLAB_RUN_DIR/{a}"));
                let server = match &l.serve {
                    Serve::Run => format!(
                        "the run serves once trained (SWARMLAB_LOGITS=serve), within its budget + {}",
                        format_duration(l.allowance)
                    ),
                    Serve::Command(argv) => format!("serve {}{artifact}", shell_words(argv)),
                };
                vec![
                    format!("logits: {server}"),
                    format!("data {data}; vocab {}, {bytes}", l.vocab),
                    format!(
                        "{windows} of {} tokens, {} per request; {} probes, tolerance {}, timeout {}",
                        l.context,
                        l.batch,
                        l.probes,
                        l.tolerance,
                        format_duration(l.timeout)
                    ),
                    LOCAL.into(),
                ]
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawMode {
    Stdout,
    Command,
    Logits,
}

#[derive(Deserialize)]
pub(super) struct RawEval {
    mode: Spanned<RawMode>,
    insecure: Option<Spanned<bool>>,
    timeout: Option<Spanned<toml::Value>>,
    command: Option<Spanned<Vec<String>>>,
    artifact: Option<Spanned<String>>,
    serve: Option<Spanned<toml::Value>>,
    allowance: Option<Spanned<toml::Value>>,
    data: Option<Spanned<String>>,
    data_command: Option<Spanned<Vec<String>>>,
    holdout: Option<Spanned<String>>,
    holdout_files: Option<Spanned<i64>>,
    vocab: Option<Spanned<i64>>,
    context: Option<Spanned<i64>>,
    token_bytes: Option<Spanned<String>>,
    windows: Option<Spanned<i64>>,
    batch: Option<Spanned<i64>>,
    probes: Option<Spanned<i64>>,
    tolerance: Option<Spanned<f64>>,
}

/// Largest vocabulary a spec may declare: a response row is `vocab` f32s.
const MAX_VOCAB: i64 = 1 << 24;
/// Longest window a spec may declare.
const MAX_CONTEXT: i64 = 1 << 20;

/// Validates `[eval]` against the run's timeout, the metric's goal and the track's files.
pub(super) fn convert(
    ctx: &Ctx,
    raw: Option<RawEval>,
    run_timeout: Duration,
    goal: Goal,
    files: &Files,
) -> Result<Eval, Failure> {
    let Some(raw) = raw else {
        return Ok(Eval {
            mode: EvalMode::Stdout,
            insecure: false,
        });
    };
    let mode_name = match raw.mode.get_ref() {
        RawMode::Stdout => "stdout",
        RawMode::Command => "command",
        RawMode::Logits => "logits",
    };
    // Keys of another mode are a mistake worth stopping for, not an unknown key.
    let foreign = |key: &str, owner: &str| {
        Err::<(), _>(ctx.at(
            &raw.mode,
            format!("`eval.{key}` belongs to mode = \"{owner}\", not \"{mode_name}\""),
        ))
    };
    let command_keys = [("command", raw.command.is_some())];
    let logits_keys = [
        ("serve", raw.serve.is_some()),
        ("allowance", raw.allowance.is_some()),
        ("data", raw.data.is_some()),
        ("data_command", raw.data_command.is_some()),
        ("holdout", raw.holdout.is_some()),
        ("holdout_files", raw.holdout_files.is_some()),
        ("vocab", raw.vocab.is_some()),
        ("context", raw.context.is_some()),
        ("token_bytes", raw.token_bytes.is_some()),
        ("windows", raw.windows.is_some()),
        ("batch", raw.batch.is_some()),
        ("probes", raw.probes.is_some()),
        ("tolerance", raw.tolerance.is_some()),
    ];
    if mode_name != "command" {
        if let Some((key, _)) = command_keys.iter().find(|(_, set)| *set) {
            foreign(key, "command")?;
        }
    }
    if mode_name != "logits" {
        if let Some((key, _)) = logits_keys.iter().find(|(_, set)| *set) {
            foreign(key, "logits")?;
        }
    }
    if mode_name == "stdout" {
        for (key, set) in [
            ("artifact", raw.artifact.is_some()),
            ("timeout", raw.timeout.is_some()),
        ] {
            if set {
                return Err(ctx.at(
                    &raw.mode,
                    format!("`eval.{key}` has no use with mode = \"stdout\""),
                ));
            }
        }
    }
    let insecure = match &raw.insecure {
        Some(flag) if *flag.get_ref() && mode_name != "stdout" => {
            return Err(ctx.at(
                flag,
                format!(
                    "`eval.insecure` only applies to mode = \"stdout\"; mode \"{mode_name}\" is verified by swarmlab itself"
                ),
            ))
        }
        Some(flag) => *flag.get_ref(),
        None => false,
    };
    let timeout = match &raw.timeout {
        Some(v) => {
            let t = ctx.duration(v, "eval.timeout")?;
            if t.is_zero() {
                return Err(ctx.at(v, "`eval.timeout` must be more than zero"));
            }
            t
        }
        None => run_timeout,
    };
    let mode = match raw.mode.get_ref() {
        RawMode::Stdout => EvalMode::Stdout,
        RawMode::Command => EvalMode::Command(command(ctx, &raw, timeout, files)?),
        RawMode::Logits => EvalMode::Logits(logits(ctx, &raw, timeout, goal, files)?),
    };
    Ok(Eval { mode, insecure })
}

fn command(
    ctx: &Ctx,
    raw: &RawEval,
    timeout: Duration,
    files: &Files,
) -> Result<CommandEval, Failure> {
    let command = required_argv(ctx, raw, &raw.command, "command")?;
    trusted_argv(ctx, command, "eval.command", files)?;
    let artifact = match &raw.artifact {
        Some(a) => artifact(ctx, a)?,
        None => {
            return Err(ctx.at(
                &raw.mode,
                "mode = \"command\" needs `eval.artifact`, the file the run writes under $SWARMLAB_RUN_DIR",
            ))
        }
    };
    Ok(CommandEval {
        command: command.get_ref().clone(),
        artifact,
        timeout,
    })
}

fn logits(
    ctx: &Ctx,
    raw: &RawEval,
    timeout: Duration,
    goal: Goal,
    files: &Files,
) -> Result<LogitsEval, Failure> {
    if goal != Goal::Minimize {
        return Err(ctx.at(
            &raw.mode,
            "mode = \"logits\" scores bits per byte, where lower is better: `metric.goal` must be \"minimize\"",
        ));
    }
    let serve = serve(ctx, raw)?;
    if serve == Serve::Run {
        for (key, set) in [
            ("timeout", raw.timeout.is_some()),
            ("artifact", raw.artifact.is_some()),
        ] {
            if set {
                return Err(ctx.at(
                    raw.serve.as_ref().expect("serve was read above"),
                    format!(
                        "`eval.{key}` has no use with serve = \"run\": the run serves from the process that trained, under `run.timeout`"
                    ),
                ));
            }
        }
    }
    let allowance =
        match (&raw.allowance, &serve) {
            (Some(v), Serve::Run) => ctx.duration(v, "eval.allowance")?,
            (Some(v), Serve::Command(_)) => return Err(ctx.at(
                v,
                "`eval.allowance` applies to serve = \"run\", where the run serves once trained",
            )),
            (None, _) => DEFAULT_ALLOWANCE,
        };
    let data = data_source(ctx, raw, files)?;
    let vocab = required_count(ctx, raw, &raw.vocab, "vocab", 2, MAX_VOCAB)? as u32;
    let context = required_count(ctx, raw, &raw.context, "context", 2, MAX_CONTEXT)? as usize;
    let (token_bytes, token_bytes_file) = match &raw.token_bytes {
        Some(file) => {
            let path = trusted_file(ctx, file, "eval.token_bytes", files)?;
            let table = byte_table(&ctx.root.join(&path), vocab)
                .map_err(|m| ctx.at(file, format!("`eval.token_bytes` file `{path}`: {m}")))?;
            (table, Some(path))
        }
        None if vocab > 256 => {
            return Err(ctx.at(
                raw.vocab.as_ref().expect("vocab was read above"),
                "a vocabulary over 256 tokens needs `eval.token_bytes`, the bytes of text of each token",
            ))
        }
        None => (vec![1; vocab as usize], None),
    };
    let windows = match &raw.windows {
        Some(w) => Some(count(ctx, w, "eval.windows", 1, i64::from(u32::MAX))? as usize),
        None => None,
    };
    let optional = |value: &Option<Spanned<i64>>, key: &str, min: i64, default: usize| match value {
        Some(v) => count(ctx, v, key, min, 1 << 16).map(|n| n as usize),
        None => Ok(default),
    };
    let batch = optional(&raw.batch, "eval.batch", 1, 16)?;
    let probes = optional(&raw.probes, "eval.probes", 1, 8)?;
    let tolerance = match &raw.tolerance {
        Some(t) if !(t.get_ref().is_finite() && *t.get_ref() >= 0.0 && *t.get_ref() < 1.0) => {
            return Err(ctx.at(
                t,
                "`eval.tolerance` must be at least 0 and below 1 (nats of log-probability)",
            ))
        }
        Some(t) => *t.get_ref(),
        None => 1e-4,
    };
    let artifact = match &raw.artifact {
        Some(a) => Some(artifact(ctx, a)?),
        None => None,
    };
    Ok(LogitsEval {
        serve,
        artifact,
        data,
        vocab,
        context,
        token_bytes,
        token_bytes_file,
        windows,
        batch,
        probes,
        tolerance,
        timeout,
        allowance,
    })
}

/// How much longer than its time budget a run that serves may take before it serves, unless
/// the track says otherwise.
const DEFAULT_ALLOWANCE: Duration = Duration::from_secs(30);

/// `eval.serve`: "run", or the argv of a program.
fn serve(ctx: &Ctx, raw: &RawEval) -> Result<Serve, Failure> {
    let Some(value) = &raw.serve else {
        return Err(ctx.at(&raw.mode, "mode = \"logits\" needs `eval.serve`"));
    };
    let wrong = || {
        ctx.at(
            value,
            "`eval.serve` must be \"run\" (the run serves once trained) or the argv of a program, e.g. [\"python3\", \"serve.py\"]",
        )
    };
    match value.get_ref() {
        toml::Value::String(s) if s == "run" => Ok(Serve::Run),
        toml::Value::Array(words) if words.is_empty() => {
            Err(ctx.at(value, "`eval.serve` must name a program"))
        }
        toml::Value::Array(words) => words
            .iter()
            .map(|w| w.as_str().map(str::to_string).ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()
            .map(Serve::Command),
        _ => Err(wrong()),
    }
}

/// Where the validation tokens come from: exactly one of `data`, `data_command` and
/// `holdout`.
fn data_source(ctx: &Ctx, raw: &RawEval, files: &Files) -> Result<DataSource, Failure> {
    if let Some(n) = &raw.holdout_files {
        if raw.holdout.is_none() {
            return Err(ctx.at(
                n,
                "`eval.holdout_files` needs `eval.holdout`, the folder they are drawn from",
            ));
        }
    }
    if let Some(folder) = &raw.holdout {
        if raw.data.is_some() || raw.data_command.is_some() {
            return Err(ctx.at(
                folder,
                "`eval.holdout` is a source of validation tokens of its own: give it without `eval.data` and `eval.data_command`",
            ));
        }
        let path = trusted_file(ctx, folder, "eval.holdout", files)?;
        let draw = match &raw.holdout_files {
            Some(n) => count(ctx, n, "eval.holdout_files", 1, 1 << 16)? as usize,
            None => 1,
        };
        let found = holdout_files(&ctx.root.join(&path));
        if found < draw {
            return Err(ctx.at(
                folder,
                format!("`eval.holdout` `{path}` holds {found} file(s); {draw} are drawn per job (`eval.holdout_files`)"),
            ));
        }
        return Ok(DataSource::Holdout {
            folder: path,
            files: draw,
        });
    }
    match (&raw.data, &raw.data_command) {
        (Some(file), None) => Ok(DataSource::File(trusted_file(ctx, file, "eval.data", files)?)),
        (None, Some(argv)) => {
            if argv.get_ref().is_empty() {
                return Err(ctx.at(argv, "`eval.data_command` must name a program"));
            }
            trusted_argv(ctx, argv, "eval.data_command", files)?;
            Ok(DataSource::Command(argv.get_ref().clone()))
        }
        (Some(file), Some(_)) => Err(ctx.at(
            file,
            "give either `eval.data` (a file) or `eval.data_command`, not both",
        )),
        (None, None) => Err(ctx.at(
            &raw.mode,
            "mode = \"logits\" needs the validation tokens: `eval.data` (a trusted file), `eval.data_command` (a trusted generator) or `eval.holdout` (a folder of held-out token files)",
        )),
    }
}

/// The regular files under `folder`, at any depth; 0 when it is not a folder.
fn holdout_files(folder: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_file() => 1,
            Ok(t) if t.is_dir() => holdout_files(&e.path()),
            _ => 0,
        })
        .sum()
}

fn required_argv<'a>(
    ctx: &Ctx,
    raw: &RawEval,
    value: &'a Option<Spanned<Vec<String>>>,
    key: &str,
) -> Result<&'a Spanned<Vec<String>>, Failure> {
    match value {
        Some(argv) if argv.get_ref().is_empty() => {
            Err(ctx.at(argv, format!("`eval.{key}` must name a program")))
        }
        Some(argv) => Ok(argv),
        None => Err(ctx.at(&raw.mode, format!("mode = \"command\" needs `eval.{key}`"))),
    }
}

fn required_count(
    ctx: &Ctx,
    raw: &RawEval,
    value: &Option<Spanned<i64>>,
    key: &str,
    min: i64,
    max: i64,
) -> Result<i64, Failure> {
    match value {
        Some(v) => count(ctx, v, &format!("eval.{key}"), min, max),
        None => Err(ctx.at(&raw.mode, format!("mode = \"logits\" needs `eval.{key}`"))),
    }
}

fn count(ctx: &Ctx, value: &Spanned<i64>, key: &str, min: i64, max: i64) -> Result<i64, Failure> {
    let n = *value.get_ref();
    if n < min || n > max {
        return Err(ctx.at(
            value,
            format!("`{key}` must be an integer from {min} to {max}, found {n}"),
        ));
    }
    Ok(n)
}

/// A relative path under `$SWARMLAB_RUN_DIR` that stays there.
fn artifact(ctx: &Ctx, value: &Spanned<String>) -> Result<String, Failure> {
    let path = value.get_ref().trim_end_matches('/');
    let clean = !path.is_empty()
        && !std::path::Path::new(path).is_absolute()
        && std::path::Path::new(path)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !clean {
        return Err(ctx.at(
            value,
            format!("`eval.artifact` `{path}` must be a relative path under $SWARMLAB_RUN_DIR"),
        ));
    }
    Ok(path.to_string())
}

/// A file of the track the verifier reads from the baseline: it must exist and must not be
/// editable.
fn trusted_file(
    ctx: &Ctx,
    value: &Spanned<String>,
    key: &str,
    files: &Files,
) -> Result<String, Failure> {
    let path = ctx.existing_path(value, key)?;
    if let Some(e) = files.editable.iter().find(|e| covers(e, &path)) {
        return Err(ctx.at(
            value,
            format!("`{key}` `{path}` is editable (through `{e}`); it must be trusted"),
        ));
    }
    Ok(path)
}

/// A trusted program must not be one of the files a proposal may change.
fn trusted_argv(
    ctx: &Ctx,
    argv: &Spanned<Vec<String>>,
    key: &str,
    files: &Files,
) -> Result<(), Failure> {
    for word in argv.get_ref() {
        let word = word.trim_start_matches("./");
        if let Some(e) = files.editable.iter().find(|e| covers(e, word)) {
            return Err(ctx.at(
                argv,
                format!("`{key}` runs `{word}`, which is editable (through `{e}`); a trusted program must not be"),
            ));
        }
    }
    Ok(())
}

/// Reads a byte table: `vocab` lines, each the number of bytes of text of one token (0 for a
/// special token, which is not scored).
fn byte_table(path: &std::path::Path, vocab: u32) -> Result<Vec<u32>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let table = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            line.trim()
                .parse::<u32>()
                .map_err(|_| format!("line {} is not a byte count: `{}`", i + 1, line.trim()))
        })
        .collect::<Result<Vec<u32>, String>>()?;
    if table.len() != vocab as usize {
        return Err(format!(
            "has {} lines, one per token of the vocabulary ({vocab}) was expected",
            table.len()
        ));
    }
    if table.iter().all(|&b| b == 0) {
        return Err("every token has 0 bytes".into());
    }
    Ok(table)
}
