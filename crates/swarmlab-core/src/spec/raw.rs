//! The spec as serde reads it, and its conversion into a validated [`TrackSpec`].
//!
//! Every error names its key and, where the text gives one, its line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::devices::{Compare, DeviceSpec, Remeasure};
use super::duration::{parse_duration, seconds_to_duration};
use super::eval::{self, RawEval};
use super::unknown::unknown_keys;
use super::{
    Budget, Domain, Files, Knob, KnobPlace, MetricSpec, RunSpec, Scale, Toolchain, TrackSpec,
    Verify, Warning,
};
use crate::Goal;

/// An error message and, when known, the byte range of the text it is about.
pub(super) type Failure = (Option<Range<usize>>, String);

#[derive(Deserialize)]
struct RawSpec {
    track: Option<RawTrack>,
    run: Option<RawRun>,
    metric: Option<RawMetric>,
    files: Option<RawFiles>,
    eval: Option<RawEval>,
    verify: Option<RawVerify>,
    devices: Option<RawDevices>,
    #[serde(default)]
    knobs: BTreeMap<String, Spanned<RawKnob>>,
}

#[derive(Deserialize)]
struct RawTrack {
    name: Spanned<String>,
    program: Option<Spanned<String>>,
}

#[derive(Deserialize)]
struct RawRun {
    command: Spanned<Vec<String>>,
    setup: Option<Spanned<Vec<String>>>,
    setup_timeout: Option<Spanned<toml::Value>>,
    build: Option<Spanned<Vec<String>>>,
    build_dir: Option<Spanned<String>>,
    toolchain: Option<Spanned<String>>,
    lock: Option<Spanned<String>>,
    budget: Option<Spanned<toml::Value>>,
    timeout: Spanned<toml::Value>,
    grace: Option<Spanned<toml::Value>>,
    seed: Option<u64>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawMetric {
    name: Spanned<String>,
    goal: Goal,
    regex: Option<Spanned<String>>,
    memory: Option<String>,
    floor: Option<Spanned<f64>>,
    target: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
struct RawFiles {
    editable: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    trusted: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
struct RawVerify {
    reruns: Option<Spanned<u32>>,
    max_reruns: Option<Spanned<u32>>,
    alpha: Option<Spanned<f64>>,
    min_delta: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
struct RawDevices {
    env: Option<Spanned<BTreeMap<String, String>>>,
    cpu_env: Option<Spanned<BTreeMap<String, String>>>,
    compare: Option<Spanned<String>>,
    remeasure: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawScale {
    Linear,
    Log,
    Int,
}

#[derive(Deserialize)]
struct RawKnob {
    file: Spanned<String>,
    pattern: Spanned<String>,
    range: Option<[f64; 2]>,
    scale: Option<RawScale>,
    choices: Option<Vec<String>>,
}

pub(super) struct Ctx<'a> {
    pub(super) root: &'a Path,
}

impl Ctx<'_> {
    pub(super) fn at<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> Failure {
        (Some(spanned.span()), message.into())
    }

    pub(super) fn duration(
        &self,
        value: &Spanned<toml::Value>,
        key: &str,
    ) -> Result<Duration, Failure> {
        let parsed = match value.get_ref() {
            toml::Value::String(s) => parse_duration(s),
            toml::Value::Integer(n) => seconds_to_duration(*n as f64),
            toml::Value::Float(x) => seconds_to_duration(*x),
            other => Err(format!(
                "expected a duration like \"90s\", found {}",
                other.type_str()
            )),
        };
        parsed.map_err(|m| self.at(value, format!("`{key}`: {m}")))
    }

    fn budget(&self, value: &Spanned<toml::Value>) -> Result<Budget, Failure> {
        let toml::Value::Table(table) = value.get_ref() else {
            return self.duration(value, "run.budget").map(Budget::Time);
        };
        let count = |key: &str| -> Result<Option<u64>, Failure> {
            match table.get(key) {
                None => Ok(None),
                Some(toml::Value::Integer(n)) if *n > 0 => Ok(Some(*n as u64)),
                Some(_) => Err(self.at(
                    value,
                    format!("`run.budget.{key}` must be a positive integer"),
                )),
            }
        };
        match (count("steps")?, count("tokens")?) {
            (Some(steps), None) => Ok(Budget::Steps(steps)),
            (None, Some(tokens)) => Ok(Budget::Tokens(tokens)),
            _ => Err(self.at(
                value,
                "`run.budget` must be a duration (\"60s\"), { steps = N } or { tokens = N }",
            )),
        }
    }

    /// A track-relative path that must stay inside the track and exist.
    pub(super) fn existing_path(
        &self,
        path: &Spanned<String>,
        key: &str,
    ) -> Result<String, Failure> {
        let p = self.inside(path, key)?;
        if !self.root.join(&p).exists() {
            return Err(self.at(
                path,
                format!(
                    "`{key}` entry `{p}` does not exist in {}",
                    self.root.display()
                ),
            ));
        }
        Ok(p)
    }

    /// A track-relative path that stays inside the track (it need not exist).
    fn inside(&self, path: &Spanned<String>, key: &str) -> Result<String, Failure> {
        let p = path.get_ref().trim_end_matches('/');
        let escapes = Path::new(p).is_absolute()
            || Path::new(p)
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)));
        if p.is_empty() || escapes {
            return Err(self.at(
                path,
                format!("`{key}` entry `{p}` must be a relative path inside the track"),
            ));
        }
        Ok(p.to_string())
    }

    fn pattern(&self, text: &str, at: &Spanned<impl Sized>, key: &str) -> Result<Regex, Failure> {
        let re = Regex::new(text)
            .map_err(|e| self.at(at, format!("`{key}` is not a valid regex: {e}")))?;
        if re.capture_names().flatten().all(|n| n != "v") && re.captures_len() != 2 {
            return Err(self.at(at, format!("`{key}` needs a group named `v` that captures the value, e.g. (?P<v>[0-9.e-]+)")));
        }
        Ok(re)
    }
}

/// The knobs' places in spec text, without the files it names: what a hub that keeps only
/// the spec's text checks a change against.
pub(super) fn knob_places(text: &str) -> Result<Vec<KnobPlace>, String> {
    let raw: RawSpec = toml::from_str(text).map_err(|e| e.message().to_string())?;
    raw.knobs
        .iter()
        .map(|(name, knob)| {
            let knob = knob.get_ref();
            let pattern = Regex::new(knob.pattern.get_ref())
                .map_err(|e| format!("`knobs.{name}.pattern` is not a valid regex: {e}"))?;
            Ok(KnobPlace {
                name: name.clone(),
                file: knob.file.get_ref().clone(),
                pattern,
            })
        })
        .collect()
}

pub(super) fn parse(root: &Path, text: &str) -> Result<(TrackSpec, Vec<Warning>), Failure> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        (
            e.span(),
            format!("this is not valid TOML: {}", toml_message(text, &e)),
        )
    })?;
    let warnings = unknown_keys(text, &doc);
    let raw: RawSpec = toml::from_str(text).map_err(|e| (e.span(), toml_message(text, &e)))?;
    let ctx = Ctx { root };

    let missing = |section: &str| (None, format!("missing section [{section}]"));
    let track = raw.track.ok_or_else(|| missing("track"))?;
    let run = raw.run.ok_or_else(|| missing("run"))?;
    let metric = raw.metric.ok_or_else(|| missing("metric"))?;
    let files = raw.files.ok_or_else(|| missing("files"))?;

    if track.name.get_ref().trim().is_empty() {
        return Err(ctx.at(&track.name, "`track.name` must not be empty"));
    }
    let program = match &track.program {
        Some(p) => Some(ctx.existing_path(p, "track.program")?),
        None => None,
    };

    let build_dir = run.build_dir.clone();
    let lock = run.lock.clone();
    let mut run = convert_run(&ctx, run)?;
    let metric = convert_metric(&ctx, metric)?;
    let files = convert_files(&ctx, files)?;
    run.lock = convert_lock(&ctx, lock.as_ref(), run.toolchain, &files)?;
    if let (Some(at), Some(dir)) = (&build_dir, &run.build_dir) {
        if let Some(f) = files
            .editable
            .iter()
            .chain(&files.trusted)
            .find(|f| super::covers(dir, f) || super::covers(f, dir))
        {
            return Err(ctx.at(
                at,
                format!("`run.build_dir` `{dir}` overlaps the source file `{f}`"),
            ));
        }
    }
    let eval = eval::convert(&ctx, raw.eval, run.timeout, metric.goal, &files)?;
    let verify = convert_verify(&ctx, raw.verify)?;
    let devices = convert_devices(&ctx, raw.devices)?;
    let knobs = raw
        .knobs
        .iter()
        .map(|(name, knob)| convert_knob(&ctx, &files, name, knob))
        .collect::<Result<Vec<_>, _>>()?;

    let spec = TrackSpec {
        root: root.to_path_buf(),
        name: track.name.into_inner(),
        program,
        run,
        metric,
        files,
        eval,
        verify,
        devices,
        knobs,
    };
    Ok((spec, warnings))
}

/// toml's message on one line; a missing key names its table (`[run] lacks the key
/// \`timeout\``), which toml only points at.
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    let Some(key) = message.strip_prefix("missing field ") else {
        return message;
    };
    let header = e
        .span()
        .and_then(|span| text.get(span))
        .map(str::trim)
        .filter(|h| h.starts_with('[') && h.ends_with(']'));
    match header {
        Some(header) => format!("{header} lacks the key {key}"),
        None => format!("a key is missing: {key}"),
    }
}

fn convert_run(ctx: &Ctx, run: RawRun) -> Result<RunSpec, Failure> {
    if run.command.get_ref().is_empty() {
        return Err(ctx.at(&run.command, "`run.command` must name a program"));
    }
    let setup = match run.setup {
        Some(s) if s.get_ref().is_empty() => {
            return Err(ctx.at(&s, "`run.setup` must name a program"))
        }
        Some(s) => Some(s.into_inner()),
        None => None,
    };
    let setup_timeout = match &run.setup_timeout {
        Some(v) => ctx.duration(v, "run.setup_timeout")?,
        None => Duration::from_secs(30 * 60),
    };
    let build = match run.build {
        Some(b) if b.get_ref().is_empty() => {
            return Err(ctx.at(&b, "`run.build` must name a program"))
        }
        Some(b) => Some(b.into_inner()),
        None => None,
    };
    let build_dir = match &run.build_dir {
        Some(dir) => Some(ctx.inside(dir, "run.build_dir")?),
        None => None,
    };
    let toolchain = match &run.toolchain {
        Some(t) if t.get_ref() == "cargo" => Some(Toolchain::Cargo),
        Some(t) if t.get_ref() == "python" => Some(Toolchain::Python),
        Some(t) => {
            return Err(ctx.at(
                t,
                format!(
                    "`run.toolchain` must be \"cargo\" or \"python\", found `{}`",
                    t.get_ref()
                ),
            ))
        }
        None => None,
    };
    if let (Some(at), Some(Toolchain::Cargo), None) = (&run.toolchain, toolchain, &build_dir) {
        return Err(ctx.at(
            at,
            "`run.toolchain` needs `run.build_dir`, the folder the build writes",
        ));
    }
    let budget = match &run.budget {
        Some(b) => ctx.budget(b)?,
        None => Budget::Time(Duration::from_secs(300)),
    };
    let timeout = ctx.duration(&run.timeout, "run.timeout")?;
    if timeout.is_zero() {
        return Err(ctx.at(&run.timeout, "`run.timeout` must be more than zero"));
    }
    if let Some(time) = budget.time() {
        if timeout < time {
            return Err(ctx.at(
                &run.timeout,
                format!(
                    "`run.timeout` ({}) must be at least the budget ({})",
                    super::format_duration(timeout),
                    super::format_duration(time)
                ),
            ));
        }
    }
    let grace = match &run.grace {
        Some(v) => ctx.duration(v, "run.grace")?,
        None => Duration::from_secs(5),
    };
    Ok(RunSpec {
        command: run.command.into_inner(),
        setup,
        setup_timeout,
        build,
        build_dir,
        toolchain,
        lock: None,
        budget,
        timeout,
        grace,
        seed: run.seed,
        env: run.env,
    })
}

/// `run.lock`: required by the Python toolchain and only allowed with it; a file of the track
/// that no proposal may change.
fn convert_lock(
    ctx: &Ctx,
    lock: Option<&Spanned<String>>,
    toolchain: Option<Toolchain>,
    files: &Files,
) -> Result<Option<String>, Failure> {
    match (lock, toolchain) {
        (Some(lock), Some(Toolchain::Python)) => {
            let path = ctx.existing_path(lock, "run.lock")?;
            if let Some(e) = files.editable.iter().find(|e| super::covers(e, &path)) {
                return Err(ctx.at(
                    lock,
                    format!("`run.lock` `{path}` is editable (through `{e}`); it must be trusted"),
                ));
            }
            Ok(Some(path))
        }
        (Some(lock), _) => Err(ctx.at(
            lock,
            "`run.lock` belongs to toolchain = \"python\", the environment it pins",
        )),
        (None, Some(Toolchain::Python)) => Err((
            None,
            "`run.toolchain = \"python\"` needs `run.lock`, the file that pins every package (`name==version` lines)".into(),
        )),
        (None, _) => Ok(None),
    }
}

fn convert_metric(ctx: &Ctx, metric: RawMetric) -> Result<MetricSpec, Failure> {
    let name = metric.name.get_ref();
    if name.trim().is_empty() || name.contains(char::is_whitespace) {
        return Err(ctx.at(
            &metric.name,
            format!("`metric.name` must be one word, found `{name}`"),
        ));
    }
    let regex = match &metric.regex {
        Some(r) => Some(ctx.pattern(r.get_ref(), r, "metric.regex")?),
        None => None,
    };
    Ok(MetricSpec {
        name: metric.name.into_inner(),
        goal: metric.goal,
        regex,
        memory: metric.memory,
        floor: finite(ctx, metric.floor, "metric.floor")?,
        target: finite(ctx, metric.target, "metric.target")?,
    })
}

fn finite(ctx: &Ctx, value: Option<Spanned<f64>>, key: &str) -> Result<Option<f64>, Failure> {
    match value {
        Some(v) if !v.get_ref().is_finite() => {
            Err(ctx.at(&v, format!("`{key}` must be a finite number")))
        }
        v => Ok(v.map(Spanned::into_inner)),
    }
}

fn convert_files(ctx: &Ctx, files: RawFiles) -> Result<Files, Failure> {
    if files.editable.get_ref().is_empty() {
        return Err(ctx.at(
            &files.editable,
            "`files.editable` must list at least one path",
        ));
    }
    let editable = files
        .editable
        .get_ref()
        .iter()
        .map(|p| ctx.existing_path(p, "files.editable"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut trusted = Vec::new();
    for path in &files.trusted {
        let t = ctx.existing_path(path, "files.trusted")?;
        if let Some(e) = editable
            .iter()
            .find(|e| super::covers(e, &t) || super::covers(&t, e))
        {
            return Err(ctx.at(
                path,
                format!("`{t}` is both trusted and editable (through `{e}`)"),
            ));
        }
        trusted.push(t);
    }
    Ok(Files { editable, trusted })
}

/// `verify.max_reruns` when the spec gives none: this many times `reruns`.
const MAX_RERUNS_FACTOR: u32 = 3;

fn convert_verify(ctx: &Ctx, verify: Option<RawVerify>) -> Result<Verify, Failure> {
    let mut out = Verify {
        reruns: 3,
        max_reruns: MAX_RERUNS_FACTOR * 3,
        alpha: 0.01,
        min_delta: 0.0,
    };
    let Some(v) = verify else { return Ok(out) };
    if let Some(r) = &v.reruns {
        if *r.get_ref() == 0 {
            return Err(ctx.at(r, "`verify.reruns` must be at least 1"));
        }
        out.reruns = *r.get_ref();
    }
    out.max_reruns = MAX_RERUNS_FACTOR * out.reruns.max(2);
    if let Some(m) = &v.max_reruns {
        if *m.get_ref() < out.reruns.max(2) {
            return Err(ctx.at(
                m,
                format!(
                    "`verify.max_reruns` must be at least `reruns` ({})",
                    out.reruns.max(2)
                ),
            ));
        }
        out.max_reruns = *m.get_ref();
    }
    if let Some(a) = &v.alpha {
        if !(*a.get_ref() > 0.0 && *a.get_ref() < 1.0) {
            return Err(ctx.at(a, "`verify.alpha` must lie strictly between 0 and 1"));
        }
        out.alpha = *a.get_ref();
    }
    if let Some(d) = &v.min_delta {
        if !(*d.get_ref() >= 0.0 && d.get_ref().is_finite()) {
            return Err(ctx.at(d, "`verify.min_delta` must be zero or more"));
        }
        out.min_delta = *d.get_ref();
    }
    Ok(out)
}

fn convert_devices(ctx: &Ctx, devices: Option<RawDevices>) -> Result<DeviceSpec, Failure> {
    let mut out = DeviceSpec::default();
    let Some(d) = devices else { return Ok(out) };
    let templates = |table: &Spanned<BTreeMap<String, String>>,
                     key: &str,
                     known: &[&str]|
     -> Result<BTreeMap<String, String>, Failure> {
        for (name, value) in table.get_ref() {
            let mut rest = value.as_str();
            while let Some(open) = rest.find('{') {
                let Some(close) = rest[open..].find('}') else {
                    break;
                };
                let word = &rest[open + 1..open + close];
                if !known.contains(&word) {
                    return Err(ctx.at(
                        table,
                        format!(
                            "`devices.{key}.{name}`: unknown placeholder `{{{word}}}`; known: {}",
                            known
                                .iter()
                                .map(|k| format!("{{{k}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                rest = &rest[open + close + 1..];
            }
        }
        Ok(table.get_ref().clone())
    };
    if let Some(env) = &d.env {
        out.env = templates(env, "env", &["device"])?;
    }
    if let Some(env) = &d.cpu_env {
        out.cpu_env = templates(env, "cpu_env", &["threads", "cores"])?;
    }
    if let Some(compare) = &d.compare {
        out.compare = Some(match compare.get_ref().as_str() {
            "metric" => Compare::Metric,
            "device" => Compare::Device,
            other => {
                return Err(ctx.at(
                    compare,
                    format!("`devices.compare` must be \"metric\" or \"device\", found `{other}`"),
                ))
            }
        });
    }
    if let Some(remeasure) = &d.remeasure {
        out.remeasure = match remeasure.get_ref().as_str() {
            "conflicts" => Remeasure::Conflicts,
            "merges" => Remeasure::Merges,
            other => {
                return Err(ctx.at(
                    remeasure,
                    format!(
                        "`devices.remeasure` must be \"conflicts\" or \"merges\", found `{other}`"
                    ),
                ))
            }
        };
    }
    Ok(out)
}

fn convert_knob(
    ctx: &Ctx,
    files: &Files,
    name: &str,
    knob: &Spanned<RawKnob>,
) -> Result<Knob, Failure> {
    let raw = knob.get_ref();
    let file = raw.file.get_ref();
    let fail = |m: String| ctx.at(knob, format!("knob `{name}`: {m}"));
    if !files.is_editable(file) {
        return Err(ctx.at(
            &raw.file,
            format!("knob `{name}`: file `{file}` is not in `files.editable`"),
        ));
    }
    let pattern = ctx.pattern(
        raw.pattern.get_ref(),
        &raw.pattern,
        &format!("knobs.{name}.pattern"),
    )?;
    let domain = match (&raw.range, &raw.choices) {
        (Some([low, high]), None) => {
            let scale = match raw.scale {
                None | Some(RawScale::Linear) => Scale::Linear,
                Some(RawScale::Log) => Scale::Log,
                Some(RawScale::Int) => Scale::Int,
            };
            if !(low.is_finite() && high.is_finite() && low < high) {
                return Err(fail(format!("range [{low}, {high}] must have low < high")));
            }
            if scale == Scale::Log && *low <= 0.0 {
                return Err(fail("a log scale needs a positive range".into()));
            }
            Domain::Range {
                low: *low,
                high: *high,
                scale,
            }
        }
        (None, Some(choices)) if !choices.is_empty() => Domain::Choices(choices.clone()),
        (None, Some(_)) => return Err(fail("`choices` must not be empty".into())),
        _ => {
            return Err(fail(
                "give either `range` (with `scale`) or `choices`".into(),
            ))
        }
    };
    let content = std::fs::read_to_string(ctx.root.join(file))
        .map_err(|e| fail(format!("cannot read `{file}`: {e}")))?;
    let knob = Knob {
        name: name.to_string(),
        file: file.clone(),
        pattern,
        domain,
    };
    if knob.locate(&content).is_none() {
        return Err(ctx.at(
            &raw.pattern,
            format!(
                "knob `{name}`: pattern does not match anything in `{file}`{}",
                nearest_line(&content, name)
            ),
        ));
    }
    Ok(knob)
}

/// A hint for a pattern that matches nothing: the first line of the file that names the
/// knob, which is most often the one the pattern was written for.
fn nearest_line(content: &str, name: &str) -> String {
    content
        .lines()
        .enumerate()
        .find(|(_, line)| line.contains(name))
        .map(|(n, line)| format!("; its line {} reads `{}`", n + 1, line.trim()))
        .unwrap_or_default()
}
