//! pygpt, the PyTorch track, outside a hub: the local loop trains it under a step budget and
//! reads the metric its trusted hook prints; the verifier's scoring of a run that serves
//! once trained (`serve = "run"`) scores an honest run and stops one that overruns its time
//! budget as soon as its budget and allowance are spent; a verifier's Python environment is
//! read-only in the sandbox.
//!
//! The tests that train need PyTorch: they run with `SWARMLAB_TEST_PYTHON` (see
//! `swarmlab_testkit::pygpt`) and say so and pass without it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use swarmlab_client::evaluate::{self, Scored, Side};
use swarmlab_client::python::PythonEnvs;
use swarmlab_core::TrackSpec;
use swarmlab_runner::{Cancel, Ending, Exit, RunSpec, SandboxConfig};
use swarmlab_testkit::pygpt;

use crate::harness::{Output, BIN};

/// A copy of the track in `dir` with `replace` applied to its spec, committed.
fn track(dir: &Path, replace: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    pygpt::copy_track(dir);
    let mut spec = std::fs::read_to_string(dir.join("swarmlab.toml")).unwrap();
    for (from, to) in replace {
        assert!(spec.contains(from), "pygpt's spec lost {from:?}");
        spec = spec.replace(from, to);
    }
    std::fs::write(dir.join("swarmlab.toml"), spec).unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "pygpt",
        ],
    ] {
        let status = Command::new("git")
            .current_dir(dir)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
}

/// Runs `python3 ARGS` of the test environment in `dir`.
fn python(python: &Path, dir: &Path, args: &[&str]) {
    let status = Command::new(python)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "python3 {args:?}");
}

#[test]
fn pygpt_runs_in_the_local_loop_under_a_step_budget() {
    let Some(test_python) = pygpt::python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pygpt");
    track(&dir, &[("budget = \"60s\"", "budget = { steps = 20 }")]);
    let output = Command::new(BIN)
        .args(["run", dir.to_str().unwrap(), "--experiments", "1"])
        .env("PATH", pygpt::path_with(&test_python))
        .env("SWARMLAB_THREADS", "2")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
    .success();
    let jsonl = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{out}");
    let baseline = &records[0];
    assert_eq!(baseline["status"], "keep", "{out}");
    let metrics = &baseline["metrics"];
    assert_eq!(metrics["num_steps"].as_f64(), Some(20.0), "{out}");
    let bpb = metrics["val_bpb"].as_f64().expect("val_bpb");
    let floor = metrics["entropy_floor_bpb"].as_f64().expect("the floor");
    // Between the language's entropy and the uniform distribution over 512 tokens.
    assert!(bpb > floor && bpb < 3.1, "{bpb}\n{out}");
    let status = records[1]["status"].as_str().unwrap();
    assert!(["keep", "discard"].contains(&status), "{}", records[1]);
}

#[test]
fn the_verifier_scores_a_run_that_serves_and_stops_one_that_overran_its_budget() {
    let Some(test_python) = pygpt::python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pygpt");
    track(
        &dir,
        &[
            ("budget = \"60s\"", "budget = \"2s\""),
            ("timeout = \"180s\"", "timeout = \"600s\""),
            ("allowance = \"30s\"", "allowance = \"40s\""),
            ("context = 256 ", "windows = 32\ncontext = 256 "),
        ],
    );
    python(&test_python, &dir, &["prepare.py"]);
    let (mut spec, _) = TrackSpec::load(&dir).unwrap();
    spec.run
        .env
        .insert("PATH".into(), pygpt::path_with(&test_python));
    spec.run.env.insert("SWARMLAB_THREADS".into(), "2".into());
    let cancel = Cancel::new();
    let tokens = evaluate::tokens(&spec, &dir, &tmp.path().join("data"), 7, None, &cancel)
        .unwrap()
        .expect("logits mode has tokens");
    assert!(tokens.iter().all(|&t| t < 512) && tokens.len() > 32 * 256);
    let side = |name: &str| Side {
        spec: &spec,
        seed: 1,
        marker: format!("pygpt-test-{name}"),
        run_dir: tmp.path().join(name),
        sandbox: None,
    };

    let honest = evaluate::score(&side("honest"), Some(&tokens), &cancel).unwrap();
    let Scored::Metric(bpb) = honest else {
        panic!("the honest run failed: {}", log(&tmp.path().join("honest")));
    };
    assert!(bpb > 0.92 && bpb < 3.1, "{bpb}");
    let run_log = log(&tmp.path().join("honest"));
    assert!(run_log.contains("swarmlab_logits: served"), "{run_log}");
    assert!(
        !run_log.contains("val_bpb:"),
        "it served instead: {run_log}"
    );

    // Training that ignores its budget is stopped once its budget and allowance are spent.
    let train = std::fs::read_to_string(dir.join("train.py")).unwrap();
    let forever = "while not budget.done(step, tokens):";
    assert!(train.contains(forever));
    std::fs::write(
        dir.join("train.py"),
        train.replace(forever, "while step < 10**9:  # the budget is for others"),
    )
    .unwrap();
    let overran = evaluate::score(&side("overran"), Some(&tokens), &cancel).unwrap();
    let Scored::Failed { timeout, why } = overran else {
        panic!("a run past its budget was scored");
    };
    assert!(timeout, "{why}");
    assert_eq!(
        why,
        format!(
            "the run was not serving logits within {:?} of its start (its time budget and the allowance): its training overran the budget",
            Duration::from_secs(42)
        )
    );
}

#[test]
fn a_python_environment_is_made_once_and_read_only_in_the_sandbox() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    // The sandbox's uid must reach the environment and the checkout.
    let open = |p: &Path| std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
    open(tmp.path()).unwrap();
    let checkout = tmp.path().join("checkout");
    std::fs::create_dir(&checkout).unwrap();
    open(&checkout).unwrap();
    let lock = tmp.path().join("requirements.lock");
    std::fs::write(&lock, "# the standard library is enough\n").unwrap();
    let mut sandbox = SandboxConfig::new(BIN, &checkout);
    sandbox.shim_args = vec!["__sandbox-shim".into()];
    let envs = PythonEnvs {
        store: &tmp.path().join("python"),
        interpreter: Path::new("/usr/bin/python3"),
        sandbox: Some(&sandbox),
        timeout: Duration::from_secs(300),
    };
    // Made (its `pip check` in the sandbox), then found as it is.
    let env = envs.prepare(&lock, &Cancel::new()).unwrap();
    assert!(env.made_in.is_some());
    assert_eq!(envs.prepare(&lock, &Cancel::new()).unwrap().made_in, None);

    // A run finds the environment's python3 first on PATH and cannot write into it.
    let mut config = sandbox.clone();
    env.bind(&mut config);
    let script = "import os, sys\nprint(sys.prefix, flush=True)\nopen(os.path.join(sys.prefix, 'poisoned'), 'w')";
    let mut run = RunSpec::new(
        vec!["python3".into(), "-c".into(), script.into()],
        &checkout,
        tmp.path().join("run.log"),
        Duration::from_secs(120),
    );
    run.env = env.env(true);
    run.sandbox = Some(config);
    let outcome = swarmlab_runner::run(&run, &Cancel::new(), &mut |_| {}).unwrap();
    let log = std::fs::read_to_string(tmp.path().join("run.log")).unwrap();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(1)), "{log}");
    assert!(
        log.starts_with(&format!("{}\n", env.root.display())),
        "{log}"
    );
    assert!(log.contains("Read-only file system"), "{log}");
    assert!(!env.root.join("poisoned").exists());
}

fn log(run_dir: &Path) -> String {
    std::fs::read_to_string(run_dir.join("run.log")).unwrap_or_default()
}
