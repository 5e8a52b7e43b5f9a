//! `command` mode: the artifact a training run wrote is taken out of its run directory safely
//! and a trusted evaluator computes the metric from it; what the candidate printed is not
//! part of the evaluator's output.

use std::fs;
use std::os::unix::fs::symlink;
use std::time::Duration;

use swarmlab_eval::{check_artifact, evaluate_command, stage_artifact, EvalError};
use swarmlab_runner::{Cancel, Ending, Exit, RunSpec};
use swarmlab_testkit::scratch::{run_plain, Scratch};

use crate::sandbox::sandboxed;

const BUDGET: Duration = Duration::from_secs(20);
/// The trusted evaluator: the metric is the artifact's size in bytes.
const EVALUATOR: &str = r#"printf -- '---\nloss: %s\n' "$(wc -c < "$SWARMLAB_ARTIFACT")""#;

#[test]
fn the_evaluator_scores_the_artifact_and_the_candidates_own_claim_is_not_read() {
    let fx = Scratch::new();
    let run_dir = fx.path("run");
    fs::create_dir(&run_dir).unwrap();
    let training = fx.sh(
        &format!(
            "mkdir -p {0}/out && printf 'twelve bytes' > {0}/out/model.bin; printf -- '---\\nloss: 0.0001\\n'",
            run_dir.display()
        ),
        BUDGET,
    );
    assert_eq!(run_plain(&training).ending, Ending::Exited(Exit::Code(0)));
    assert!(fx.log().contains("loss: 0.0001"));

    let staged = fx.path("artifact");
    assert_eq!(
        stage_artifact(&run_dir, "out/model.bin", &staged, 1 << 20).unwrap(),
        12
    );
    let mut evaluator = fx.sh(EVALUATOR, BUDGET);
    evaluator.log_path = fx.path("evaluator.log");
    let out = evaluate_command(&evaluator, &staged, &Cancel::new()).unwrap();
    assert_eq!(out.outcome.ending, Ending::Exited(Exit::Code(0)));
    assert_eq!(out.output, "---\nloss: 12\n");
}

#[test]
fn only_a_regular_file_inside_the_run_directory_is_staged() {
    let fx = Scratch::new();
    let run_dir = fx.path("run");
    fs::create_dir_all(run_dir.join("real")).unwrap();
    fs::write(run_dir.join("real/model.bin"), "weights").unwrap();
    fs::write(fx.path("secret"), "host secret").unwrap();
    symlink(fx.path("secret"), run_dir.join("link.bin")).unwrap();
    symlink(run_dir.join("real"), run_dir.join("dir-link")).unwrap();
    fs::write(run_dir.join("big.bin"), vec![0u8; 2000]).unwrap();
    let fifo = std::ffi::CString::new(run_dir.join("fifo").to_str().unwrap()).unwrap();
    // SAFETY: a valid path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);

    let cases = [
        ("link.bin", "cannot open it without following links"),
        (
            "dir-link/model.bin",
            "cannot open directory `dir-link` without following links",
        ),
        ("fifo", "is not a regular file"),
        ("big.bin", "has 2000 bytes, more than the 1000 allowed"),
        ("missing.bin", "the run did not write it"),
        (
            "../secret",
            "must be a relative path inside the run directory",
        ),
        (
            "/etc/passwd",
            "must be a relative path inside the run directory",
        ),
    ];
    for (i, (relative, expected)) in cases.iter().enumerate() {
        let dest = fx.path(&format!("staged-{i}"));
        let err = stage_artifact(&run_dir, relative, &dest, 1000).unwrap_err();
        assert!(matches!(err, EvalError::Artifact(_)), "{relative}: {err}");
        let check = check_artifact(&run_dir, relative, 1000).unwrap_err();
        assert_eq!(check.to_string(), err.to_string());
        assert!(err.to_string().contains(expected), "{relative}: {err}");
        assert!(err.blames_candidate());
        assert!(!fs::read(&dest).is_ok_and(|b| b == b"host secret"));
    }
    let dest = fx.path("ok");
    assert_eq!(check_artifact(&run_dir, "real/model.bin", 1000).unwrap(), 7);
    stage_artifact(&run_dir, "real/model.bin", &dest, 1000).unwrap();
    assert_eq!(fs::read_to_string(dest).unwrap(), "weights");
}

#[test]
fn training_and_evaluation_run_in_two_sandboxes_sharing_only_the_artifact() {
    // The candidate trains in one sandbox whose scratch is a host directory.
    let candidate = sandboxed();
    let run_dir = candidate.fx.path("run");
    fs::create_dir(&run_dir).unwrap();
    std::os::unix::fs::chown(&run_dir, Some(65534), Some(65534)).unwrap();
    let mut config = candidate.config();
    config.scratch_host = Some(run_dir.clone());
    let training = candidate.sh_with(
        config,
        "printf 'abc' > /scratch/model.bin; printf -- '---\\nloss: 0.0\\n'",
        BUDGET,
    );
    assert_eq!(run_plain(&training).ending, Ending::Exited(Exit::Code(0)));

    // The trusted evaluator runs from the baseline in a second sandbox.
    let baseline = sandboxed();
    fs::write(baseline.checkout.join("evaluate.sh"), EVALUATOR).unwrap();
    let staged = baseline.fx.path("artifact.bin");
    stage_artifact(&run_dir, "model.bin", &staged, 1 << 20).unwrap();
    let mut evaluator: RunSpec = baseline.sh("sh evaluate.sh; cat /scratch/model.bin", BUDGET);
    evaluator.log_path = baseline.fx.path("evaluator.log");
    let out = evaluate_command(&evaluator, &staged, &Cancel::new()).unwrap();
    assert!(out.output.starts_with("---\nloss: 3\n"), "{}", out.output);
    assert!(
        out.output.contains("No such file"),
        "the candidate's scratch is not visible: {}",
        out.output
    );
}
