use std::fs;

use super::*;

const GOOD: &str = r#"
[track]
name = "toy"
program = "program.md"

[run]
command = ["sh", "train.sh"]
budget = "2s"
timeout = "10s"

[metric]
name = "loss"
goal = "minimize"

[files]
editable = ["params.txt"]
trusted = ["train.sh"]

[knobs]
lr = { file = "params.txt", pattern = 'lr = (?P<v>[0-9.e-]+)', range = [1e-4, 1e-1], scale = "log" }
act = { file = "params.txt", pattern = 'act = (\w+)', choices = ["relu", "gelu"] }
"#;

fn track(
    spec: &str,
) -> (
    tempfile::TempDir,
    Result<(TrackSpec, Vec<Warning>), SpecError>,
) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("program.md"), "do research").unwrap();
    fs::write(dir.path().join("params.txt"), "lr = 0.01\nact = relu\n").unwrap();
    fs::write(dir.path().join("train.sh"), "echo hi").unwrap();
    fs::write(dir.path().join(SPEC_FILE), spec).unwrap();
    let loaded = TrackSpec::load(dir.path());
    (dir, loaded)
}

fn error(spec: &str) -> String {
    match track(spec).1 {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn loads_a_good_spec_with_defaults() {
    let (_dir, loaded) = track(GOOD);
    let (spec, warnings) = loaded.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(spec.name, "toy");
    assert_eq!(spec.run.budget, Budget::Time(Duration::from_secs(2)));
    assert_eq!(spec.run.grace, Duration::from_secs(5));
    assert_eq!(spec.metric.goal, Goal::Minimize);
    assert_eq!(spec.knobs.len(), 2);
    assert!(spec.files.is_editable("params.txt"));
    assert!(!spec.files.is_editable("train.sh"));
    let act = spec.knobs.iter().find(|k| k.name == "act").unwrap();
    let (range, value) = act.locate("lr = 1\nact = gelu\n").unwrap();
    assert_eq!((range, value), (13..17, "gelu"));
}

#[test]
fn step_and_token_budgets_parse() {
    let (_d, loaded) = track(&GOOD.replace("budget = \"2s\"", "budget = { steps = 2000 }"));
    assert_eq!(loaded.unwrap().0.run.budget, Budget::Steps(2000));
    let (_d, loaded) = track(&GOOD.replace("budget = \"2s\"", "budget = { tokens = 5_000_000 }"));
    assert_eq!(loaded.unwrap().0.run.budget, Budget::Tokens(5_000_000));
}

#[test]
fn syntax_errors_name_the_line() {
    let message = error(&GOOD.replace("goal = \"minimize\"", "goal = minimize"));
    assert!(message.contains("swarmlab.toml at line 13"), "{message}");
}

#[test]
fn wrong_goal_is_an_error_with_its_line() {
    let message = error(&GOOD.replace("\"minimize\"", "\"minimise\""));
    assert!(message.contains("at line 13"), "{message}");
    assert!(message.contains("minimize"), "{message}");
}

#[test]
fn unknown_keys_warn_with_a_suggestion() {
    let (_d, loaded) =
        track(&GOOD.replace("timeout = \"10s\"", "timeout = \"10s\"\nbugdet = \"5s\""));
    let (_, warnings) = loaded.unwrap();
    assert_eq!(
        warnings[0].to_string(),
        "swarmlab.toml line 10: unknown key `bugdet` in [run] (did you mean `budget`?); it is ignored"
    );
}

#[test]
fn timeout_below_budget_is_refused() {
    let message = error(&GOOD.replace("timeout = \"10s\"", "timeout = \"1s\""));
    assert!(message.contains("at line 9"), "{message}");
    assert!(
        message.contains("`run.timeout` (1s) must be at least the budget (2s)"),
        "{message}"
    );
}

#[test]
fn missing_editable_path_is_refused() {
    let message = error(&GOOD.replace("editable = [\"params.txt\"]", "editable = [\"nope.rs\"]"));
    assert!(
        message.contains("`files.editable` entry `nope.rs` does not exist"),
        "{message}"
    );
}

#[test]
fn paths_escaping_the_track_are_refused() {
    let message = error(&GOOD.replace("trusted = [\"train.sh\"]", "trusted = [\"../etc/passwd\"]"));
    assert!(
        message.contains("must be a relative path inside the track"),
        "{message}"
    );
}

#[test]
fn overlapping_editable_and_trusted_is_refused() {
    let message = error(&GOOD.replace("trusted = [\"train.sh\"]", "trusted = [\"params.txt\"]"));
    assert!(
        message.contains("`params.txt` is both trusted and editable"),
        "{message}"
    );
}

#[test]
fn duration_nonsense_is_refused() {
    let message = error(&GOOD.replace("budget = \"2s\"", "budget = \"a while\""));
    assert!(
        message.contains("at line 8: `run.budget`: `a while` is not a duration"),
        "{message}"
    );
}

#[test]
fn knob_outside_editable_is_refused() {
    let message =
        error(&GOOD.replace("lr = { file = \"params.txt\"", "lr = { file = \"train.sh\""));
    assert!(
        message.contains("knob `lr`: file `train.sh` is not in `files.editable`"),
        "{message}"
    );
}

#[test]
fn knob_pattern_must_match_the_file() {
    let message = error(&GOOD.replace("'lr = (?P<v>", "'rate = (?P<v>"));
    assert!(
        message.contains("knob `lr`: pattern does not match anything in `params.txt`"),
        "{message}"
    );
}

#[test]
fn log_knob_needs_a_positive_range() {
    let message = error(&GOOD.replace("range = [1e-4, 1e-1]", "range = [0.0, 1e-1]"));
    assert!(
        message.contains("a log scale needs a positive range"),
        "{message}"
    );
}

#[test]
fn missing_section_is_named() {
    let message = error("[track]\nname = \"x\"\n");
    assert!(message.contains("missing section [run]"), "{message}");
}

#[test]
fn unreadable_spec_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where the file should be: there, but not readable as text.
    fs::create_dir(dir.path().join(SPEC_FILE)).unwrap();
    let message = TrackSpec::load(dir.path()).unwrap_err().to_string();
    assert!(message.starts_with("failed to read "), "{message}");
    assert!(message.contains("swarmlab.toml"), "{message}");
}

#[test]
fn a_missing_spec_or_folder_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let error = TrackSpec::load(dir.path()).unwrap_err();
    assert!(matches!(error, SpecError::NoSpec { .. }), "{error:?}");
    assert!(
        error.to_string().contains("has no swarmlab.toml")
            && error.to_string().contains("swarmlab init --spec-only"),
        "{error}"
    );
    let error = TrackSpec::load(&dir.path().join("nope")).unwrap_err();
    assert!(matches!(error, SpecError::NoFolder { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with("there is no folder "),
        "{error}"
    );
}

#[test]
fn an_error_shows_its_line_with_carets_under_the_value() {
    let error = track(&GOOD.replace("timeout = \"10s\"", "timeout = \"1s\""))
        .1
        .unwrap_err();
    assert_eq!(error.line(), Some(9));
    let message = error.to_string();
    let excerpt = message
        .split_once('\n')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    assert_eq!(
        excerpt, "  |\n9 | timeout = \"1s\"\n  |           ^^^^",
        "{message}"
    );
}

#[test]
fn experiment_env_carries_budget_and_seed() {
    let (_d, loaded) = track(GOOD);
    let env = loaded.unwrap().0.experiment_env(7);
    assert!(env.contains(&("SWARMLAB_BUDGET_SECONDS".into(), "2".into())));
    assert!(env.contains(&("SWARMLAB_SEED".into(), "7".into())));
}

#[test]
fn a_budget_override_keeps_the_timeout_margin() {
    let (_d, loaded) = track(GOOD);
    let mut spec = loaded.unwrap().0;
    spec.override_budget(Budget::Time(Duration::from_secs(20)));
    assert_eq!(spec.run.budget, Budget::Time(Duration::from_secs(20)));
    assert_eq!(spec.run.timeout, Duration::from_secs(28));
    spec.override_budget(Budget::Time(Duration::from_secs(1)));
    assert_eq!(
        spec.run.timeout,
        Duration::from_secs(28),
        "the timeout never shrinks"
    );
    spec.override_budget(Budget::Steps(400));
    assert_eq!(spec.run.budget, Budget::Steps(400));
    assert_eq!(spec.run.timeout, Duration::from_secs(28));
}

#[test]
fn the_reference_spec_loads_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["program.md", "train.py", "prepare.py"] {
        fs::write(dir.path().join(file), "LR = 0.01\n").unwrap();
    }
    fs::write(dir.path().join(SPEC_FILE), REFERENCE).unwrap();
    let (spec, warnings) = TrackSpec::load(dir.path()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(spec.metric.name, "val_bpb");
    assert_eq!(spec.run.timeout, Duration::from_secs(600));
}

/// GOOD with `[eval]` set to `eval`, in a track that also holds `val.bin`, `bytes.txt` (3
/// tokens) and `evaluate.sh`.
fn with_eval(
    eval: &str,
) -> (
    tempfile::TempDir,
    Result<(TrackSpec, Vec<Warning>), SpecError>,
) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("val.bin"), b"some validation text").unwrap();
    fs::write(dir.path().join("bytes.txt"), "1\n2\n0\n").unwrap();
    fs::write(dir.path().join("evaluate.sh"), "echo ok").unwrap();
    for (file, text) in [
        ("program.md", "do research"),
        ("params.txt", "lr = 0.01\nact = relu\n"),
        ("train.sh", "echo hi"),
    ] {
        fs::write(dir.path().join(file), text).unwrap();
    }
    let spec = GOOD.replace("[knobs]", &format!("[eval]\n{eval}\n\n[knobs]"));
    fs::write(dir.path().join(SPEC_FILE), spec).unwrap();
    let loaded = TrackSpec::load(dir.path());
    (dir, loaded)
}

fn eval_error(eval: &str) -> String {
    match with_eval(eval).1 {
        Ok(_) => panic!("expected an error for {eval}"),
        Err(e) => e.to_string(),
    }
}

/// The line of `[eval]` in [`with_eval`]'s spec, plus `offset`.
fn eval_line(offset: usize) -> usize {
    GOOD.lines().position(|l| l == "[knobs]").unwrap() + 2 + offset
}

const LOGITS: &str = r#"mode = "logits"
serve = ["python3", "serve.py"]
data = "val.bin"
vocab = 256
context = 64"#;

#[test]
fn without_eval_the_mode_is_stdout_and_a_hub_refuses_untrusted_runs() {
    let (spec, _) = track(GOOD).1.unwrap();
    assert_eq!(spec.eval.mode, EvalMode::Stdout);
    assert!(!spec.eval.accepts_untrusted());
    let (spec, warnings) = with_eval("mode = \"stdout\"\ninsecure = true").1.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(spec.eval.insecure && spec.eval.accepts_untrusted());
    assert!(spec.describe().contains(
        "eval       stdout: the run prints its metric; insecure: a hub accepts it from untrusted workers\n"
    ));
}

#[test]
fn insecure_only_applies_to_stdout() {
    let message = eval_error(
        "mode = \"command\"\ncommand = [\"sh\", \"evaluate.sh\"]\nartifact = \"m.pt\"\ninsecure = true",
    );
    assert!(
        message.contains(&format!("at line {}", eval_line(3))),
        "{message}"
    );
    assert!(
        message.contains("`eval.insecure` only applies to mode = \"stdout\""),
        "{message}"
    );
}

#[test]
fn command_mode_names_its_evaluator_and_artifact() {
    let (spec, warnings) =
        with_eval("mode = \"command\"\ncommand = [\"sh\", \"evaluate.sh\"]\nartifact = \"out/model.pt\"\ntimeout = \"30s\"")
            .1
            .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let EvalMode::Command(command) = &spec.eval.mode else {
        panic!("{:?}", spec.eval.mode)
    };
    assert_eq!(command.command, ["sh", "evaluate.sh"]);
    assert_eq!(command.artifact, "out/model.pt");
    assert_eq!(command.timeout, Duration::from_secs(30));
    assert!(spec.eval.accepts_untrusted());
    assert!(spec.describe().contains(
        "eval       command: sh evaluate.sh on $SWARMLAB_RUN_DIR/out/model.pt (timeout 30s)\n           local runs read the metric the run prints\n"
    ));
    // The evaluator's timeout defaults to the run's.
    let (spec, _) =
        with_eval("mode = \"command\"\ncommand = [\"sh\", \"evaluate.sh\"]\nartifact = \"m\"")
            .1
            .unwrap();
    let EvalMode::Command(command) = spec.eval.mode else {
        panic!()
    };
    assert_eq!(command.timeout, Duration::from_secs(10));
}

#[test]
fn command_mode_needs_an_artifact_inside_the_run_dir() {
    let message = eval_error("mode = \"command\"\ncommand = [\"sh\", \"evaluate.sh\"]");
    assert!(message.contains("needs `eval.artifact`"), "{message}");
    let message =
        eval_error("mode = \"command\"\ncommand = [\"sh\", \"evaluate.sh\"]\nartifact = \"../x\"");
    assert!(
        message.contains(&format!("at line {}", eval_line(2))),
        "{message}"
    );
    assert!(
        message.contains("`eval.artifact` `../x` must be a relative path under $SWARMLAB_RUN_DIR"),
        "{message}"
    );
}

#[test]
fn an_editable_evaluator_is_refused() {
    let message =
        eval_error("mode = \"command\"\ncommand = [\"sh\", \"./params.txt\"]\nartifact = \"m\"");
    assert!(
        message.contains(&format!("at line {}", eval_line(1))),
        "{message}"
    );
    assert!(
        message.contains("`eval.command` runs `params.txt`, which is editable"),
        "{message}"
    );
}

#[test]
fn logits_mode_loads_with_its_defaults() {
    let (spec, warnings) = with_eval(LOGITS).1.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let EvalMode::Logits(logits) = &spec.eval.mode else {
        panic!("{:?}", spec.eval.mode)
    };
    assert_eq!(
        logits.serve,
        Serve::Command(vec!["python3".into(), "serve.py".into()])
    );
    assert_eq!(logits.data, DataSource::File("val.bin".into()));
    assert_eq!((logits.vocab, logits.context), (256, 64));
    assert_eq!(logits.token_bytes, vec![1; 256]);
    assert_eq!((logits.batch, logits.probes, logits.windows), (16, 8, None));
    assert_eq!(logits.tolerance, 1e-4);
    assert_eq!(logits.timeout, Duration::from_secs(10));
    assert!(spec.describe().contains(
        "eval       logits: serve python3 serve.py\n           data file val.bin; vocab 256, one byte per token\n           all windows of 64 tokens, 16 per request; 8 probes, tolerance 0.0001, timeout 10s\n"
    ));
}

#[test]
fn logits_mode_reads_a_generator_and_a_byte_table() {
    let eval = "mode = \"logits\"\nserve = [\"./serve\"]\ndata_command = [\"sh\", \"evaluate.sh\"]\nvocab = 3\ncontext = 8\ntoken_bytes = \"bytes.txt\"\nwindows = 4\nbatch = 2\nprobes = 1\ntolerance = 0.0";
    let (spec, _) = with_eval(eval).1.unwrap();
    let EvalMode::Logits(logits) = spec.eval.mode else {
        panic!()
    };
    assert_eq!(
        logits.data,
        DataSource::Command(vec!["sh".into(), "evaluate.sh".into()])
    );
    assert_eq!(logits.token_bytes, [1, 2, 0]);
    assert_eq!(logits.token_bytes_file.as_deref(), Some("bytes.txt"));
    assert_eq!(
        (
            logits.windows,
            logits.batch,
            logits.probes,
            logits.tolerance
        ),
        (Some(4), 2, 1, 0.0)
    );
}

#[test]
fn logits_mode_refuses_what_it_cannot_score() {
    let cases = [
        (LOGITS.replace("data = \"val.bin\"\n", ""), "needs the validation tokens"),
        (
            format!("{LOGITS}\ndata_command = [\"sh\", \"evaluate.sh\"]"),
            "give either `eval.data` (a file) or `eval.data_command`, not both",
        ),
        (LOGITS.replace("vocab = 256", "vocab = 1"), "`eval.vocab` must be an integer from 2"),
        (LOGITS.replace("context = 64\n", "").replace("context = 64", ""), "needs `eval.context`"),
        (
            LOGITS.replace("vocab = 256", "vocab = 1000"),
            "a vocabulary over 256 tokens needs `eval.token_bytes`",
        ),
        (
            format!("{LOGITS}\ntoken_bytes = \"bytes.txt\""),
            "`eval.token_bytes` file `bytes.txt`: has 3 lines, one per token of the vocabulary (256) was expected",
        ),
        (
            LOGITS.replace("\"val.bin\"", "\"params.txt\""),
            "`eval.data` `params.txt` is editable (through `params.txt`); it must be trusted",
        ),
        (format!("{LOGITS}\ntolerance = 2.0"), "`eval.tolerance` must be at least 0"),
        (format!("{LOGITS}\ncommand = [\"x\"]"), "`eval.command` belongs to mode = \"command\", not \"logits\""),
    ];
    for (eval, expected) in cases {
        let message = eval_error(&eval);
        assert!(message.contains(expected), "{eval}\n→ {message}");
    }
    let message = error(
        &GOOD
            .replace("[knobs]", &format!("[eval]\n{LOGITS}\n\n[knobs]"))
            .replace("\"minimize\"", "\"maximize\""),
    );
    assert!(
        message.contains("`metric.goal` must be \"minimize\""),
        "{message}"
    );
}

#[test]
fn stdout_mode_refuses_keys_of_other_modes() {
    let message = eval_error("mode = \"stdout\"\nserve = [\"x\"]");
    assert!(
        message.contains(&format!("at line {}", eval_line(0))),
        "{message}"
    );
    assert!(
        message.contains("`eval.serve` belongs to mode = \"logits\", not \"stdout\""),
        "{message}"
    );
    let message = eval_error("mode = \"stdout\"\ntimeout = \"1m\"");
    assert!(
        message.contains("`eval.timeout` has no use with mode = \"stdout\""),
        "{message}"
    );
}

#[test]
fn unknown_eval_keys_warn_with_a_suggestion() {
    let (_, warnings) = with_eval(&format!("{LOGITS}\nprobs = 3")).1.unwrap();
    assert_eq!(
        warnings[0].to_string(),
        format!(
            "swarmlab.toml line {}: unknown key `probs` in [eval] (did you mean `probes`?); it is ignored",
            eval_line(5)
        )
    );
}

#[test]
fn the_toy_track_declares_its_floor() {
    let toy = crate::TrackSpec::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tracks/toy"
    )))
    .unwrap()
    .0;
    assert_eq!(toy.metric.floor, Some(1.0));
    assert_eq!(toy.metric.target, None);
}

#[test]
fn a_compiled_track_names_its_build_its_folder_and_toolchain() {
    let spec = GOOD.replace(
        "budget = \"2s\"",
        "budget = \"2s\"\nbuild = [\"cargo\", \"build\"]\nbuild_dir = \"target/\"\ntoolchain = \"cargo\"",
    );
    let (dir, loaded) = track(&spec);
    let (spec, warnings) = loaded.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        spec.run.build.as_deref(),
        Some(&["cargo".to_string(), "build".to_string()][..])
    );
    assert_eq!(spec.run.build_dir.as_deref(), Some("target"));
    assert_eq!(spec.run.toolchain, Some(Toolchain::Cargo));
    let target = dir.path().join("target").display().to_string();
    assert!(spec
        .build_env(1)
        .contains(&("CARGO_TARGET_DIR".to_string(), target)));
    assert!(!spec
        .experiment_env(1)
        .iter()
        .any(|(k, _)| k == "CARGO_TARGET_DIR"));
    assert!(spec
        .describe()
        .contains("build dir  target, toolchain cargo"));
    // A root given relative (`swarmlab run demo`): cargo runs in the root, so the folder must
    // not be relative to where swarmlab runs.
    let mut relative = spec.clone();
    relative.root = std::path::PathBuf::from("demo");
    let env = relative.build_env(1);
    let (_, target) = env.iter().find(|(k, _)| k == "CARGO_TARGET_DIR").unwrap();
    let expected = std::env::current_dir().unwrap().join("demo").join("target");
    assert_eq!(std::path::Path::new(target), expected);
}

#[test]
fn a_build_folder_must_stay_inside_and_away_from_the_sources() {
    let with = |keys: &str| GOOD.replace("budget = \"2s\"", &format!("budget = \"2s\"\n{keys}"));
    let e = error(&with("build_dir = \"../out\""));
    assert!(
        e.contains("must be a relative path inside the track"),
        "{e}"
    );
    let e = error(&with("build_dir = \".\""));
    assert!(
        e.contains("must be a relative path inside the track"),
        "{e}"
    );
    let e = error(&with("build_dir = \"params.txt\""));
    assert!(e.contains("overlaps the source file `params.txt`"), "{e}");
    let e = error(&with("toolchain = \"cargo\""));
    assert!(e.contains("needs `run.build_dir`"), "{e}");
    let e = error(&with("build_dir = \"out\"\ntoolchain = \"make\""));
    assert!(e.contains("must be \"cargo\""), "{e}");
}

#[test]
fn devices_say_how_a_run_gets_its_device_and_how_results_compare() {
    let (_d, loaded) = track(GOOD);
    let spec = loaded.unwrap().0;
    assert_eq!(spec.devices, DeviceSpec::default());
    assert_eq!(spec.devices.env["CUDA_VISIBLE_DEVICES"], "{device}");
    assert_eq!(spec.devices.compare(&spec.run.budget), Compare::Device);

    let with = |section: &str| GOOD.replace("[knobs]", &format!("{section}\n\n[knobs]"));
    let text = with("[devices]\nenv = { HIP_VISIBLE_DEVICES = \"{device}\" }\ncompare = \"metric\"\nremeasure = \"merges\"");
    let (_d, loaded) = track(&text);
    let (spec, warnings) = loaded.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        spec.devices.env.keys().collect::<Vec<_>>(),
        ["HIP_VISIBLE_DEVICES"]
    );
    assert_eq!(spec.devices.compare(&spec.run.budget), Compare::Metric);
    assert_eq!(spec.devices.remeasure, Remeasure::Merges);
    assert!(spec
        .describe()
        .contains("compare metric, re-measure on merges"));

    let e = error(&with(
        "[devices]\ncpu_env = { OMP_NUM_THREADS = \"{thread}\" }",
    ));
    assert!(
        e.contains("unknown placeholder `{thread}`; known: {threads}, {cores}"),
        "{e}"
    );
    let e = error(&with("[devices]\ncompare = \"speed\""));
    assert!(e.contains("`devices.compare` must be"), "{e}");
}

#[test]
fn the_rerun_cap_defaults_to_three_times_the_reruns_and_never_falls_below_them() {
    let (_d, loaded) = track(GOOD);
    let verify = loaded.unwrap().0.verify;
    assert_eq!((verify.reruns, verify.max_reruns), (3, 9));
    let (_d, loaded) = track(&format!("{GOOD}\n[verify]\nreruns = 4\n"));
    assert_eq!(loaded.unwrap().0.verify.max_reruns, 12);
    let (_d, loaded) = track(&format!("{GOOD}\n[verify]\nreruns = 2\nmax_reruns = 5\n"));
    assert_eq!(loaded.unwrap().0.verify.max_reruns, 5);
    let err = error(&format!("{GOOD}\n[verify]\nreruns = 4\nmax_reruns = 3\n"));
    assert!(
        err.contains("`verify.max_reruns` must be at least `reruns` (4)"),
        "{err}"
    );
}

#[test]
fn a_run_that_serves_once_trained_is_timed_by_its_budget_and_allowance() {
    let eval = LOGITS.replace("[\"python3\", \"serve.py\"]", "\"run\"");
    let (spec, warnings) = with_eval(&format!("{eval}\nallowance = \"20s\""))
        .1
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let EvalMode::Logits(logits) = &spec.eval.mode else {
        panic!("{:?}", spec.eval.mode)
    };
    assert_eq!(logits.serve, Serve::Run);
    assert_eq!(logits.allowance, Duration::from_secs(20));
    assert_eq!(logits.timeout, spec.run.timeout);
    assert!(spec.describe().contains(
        "eval       logits: the run serves once trained (SWARMLAB_LOGITS=serve), within its budget + 20s\n"
    ));
    let (spec, _) = with_eval(&eval).1.unwrap();
    let EvalMode::Logits(logits) = &spec.eval.mode else {
        panic!()
    };
    assert_eq!(logits.allowance, Duration::from_secs(30));

    let cases = [
        (
            format!("{eval}\ntimeout = \"1m\""),
            "`eval.timeout` has no use with serve = \"run\"",
        ),
        (
            format!("{eval}\nartifact = \"m.pt\""),
            "`eval.artifact` has no use with serve = \"run\"",
        ),
        (
            format!("{LOGITS}\nallowance = \"20s\""),
            "`eval.allowance` applies to serve = \"run\"",
        ),
        (
            LOGITS.replace("[\"python3\", \"serve.py\"]", "\"train\""),
            "`eval.serve` must be \"run\"",
        ),
        (
            LOGITS.replace("[\"python3\", \"serve.py\"]", "[]"),
            "`eval.serve` must name a program",
        ),
        (
            LOGITS.replace("serve = [\"python3\", \"serve.py\"]\n", ""),
            "mode = \"logits\" needs `eval.serve`",
        ),
    ];
    for (eval, expected) in cases {
        let message = eval_error(&eval);
        assert!(message.contains(expected), "{eval}\n→ {message}");
    }
}

#[test]
fn a_holdout_pool_is_a_trusted_folder_with_enough_files() {
    let pool = |eval: &str, files: usize| {
        let (dir, _) = with_eval(LOGITS);
        std::fs::create_dir_all(dir.path().join("holdout/deeper")).unwrap();
        for i in 0..files {
            let sub = if i % 2 == 0 {
                "holdout"
            } else {
                "holdout/deeper"
            };
            fs::write(dir.path().join(format!("{sub}/{i}.bin")), b"tokens").unwrap();
        }
        let spec = GOOD.replace("[knobs]", &format!("[eval]\n{eval}\n\n[knobs]"));
        fs::write(dir.path().join(SPEC_FILE), spec).unwrap();
        let loaded = TrackSpec::load(dir.path());
        (dir, loaded)
    };
    let eval = LOGITS.replace(
        "data = \"val.bin\"",
        "holdout = \"holdout/\"\nholdout_files = 3",
    );
    let (spec, warnings) = pool(&eval, 3).1.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let EvalMode::Logits(logits) = &spec.eval.mode else {
        panic!()
    };
    assert_eq!(
        logits.data,
        DataSource::Holdout {
            folder: "holdout".into(),
            files: 3
        }
    );
    assert!(spec
        .describe()
        .contains("data 3 held-out file(s) of holdout/ drawn per job"));

    let message = pool(&eval, 2).1.unwrap_err().to_string();
    assert!(
        message.contains("`eval.holdout` `holdout` holds 2 file(s); 3 are drawn per job"),
        "{message}"
    );
    let cases = [
        (
            format!("{eval}\ndata_command = [\"sh\", \"evaluate.sh\"]"),
            "`eval.holdout` is a source of validation tokens of its own",
        ),
        (
            format!("{LOGITS}\nholdout_files = 2"),
            "`eval.holdout_files` needs `eval.holdout`",
        ),
        (
            LOGITS.replace("data = \"val.bin\"", "holdout = \"params.txt\""),
            "`eval.holdout` `params.txt` is editable",
        ),
        (
            LOGITS.replace("data = \"val.bin\"", "holdout = \"nowhere\""),
            "`eval.holdout` entry `nowhere` does not exist",
        ),
    ];
    for (eval, expected) in cases {
        let message = pool(&eval, 3).1.unwrap_err().to_string();
        assert!(message.contains(expected), "{eval}\n→ {message}");
    }
}

#[test]
fn a_python_track_names_its_lock() {
    let with = |keys: &str| GOOD.replace("budget = \"2s\"", &format!("budget = \"2s\"\n{keys}"));
    let (_dir, loaded) = track(&with("toolchain = \"python\"\nlock = \"train.sh\""));
    let (spec, warnings) = loaded.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(spec.run.toolchain, Some(Toolchain::Python));
    assert_eq!(spec.run.lock.as_deref(), Some("train.sh"));
    assert!(spec
        .describe()
        .contains("toolchain  python, pinned by train.sh\n"));

    let e = error(&with("toolchain = \"python\""));
    assert!(
        e.contains("`run.toolchain = \"python\"` needs `run.lock`"),
        "{e}"
    );
    let e = error(&with("lock = \"train.sh\""));
    assert!(
        e.contains("`run.lock` belongs to toolchain = \"python\""),
        "{e}"
    );
    let e = error(&with("toolchain = \"python\"\nlock = \"params.txt\""));
    assert!(e.contains("`run.lock` `params.txt` is editable"), "{e}");
    let e = error(&with("toolchain = \"python\"\nlock = \"missing.lock\""));
    assert!(
        e.contains("`run.lock` entry `missing.lock` does not exist"),
        "{e}"
    );
}
