//! The embedded default track end to end: `swarmlab init` writes tinygpt, the setup step
//! builds it, and the loop trains a real GPT for a few seconds per experiment.
//!
//! The track builds into its own `target` (the loop sets `CARGO_TARGET_DIR` to the track's
//! `build_dir`, where its commands find the binary). That folder is kept between runs of
//! the test as `target/tinygpt-loop` of this workspace, moved in before and back after, so
//! that only the first run builds cold; a folder of its own, because cargo, which keys a
//! path package's build by its name and its sources' paths relative to it, would take an
//! edited copy's binary as up to date for the pristine track in a shared folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::{Output, BIN};

/// A folder moved to `to` when dropped.
struct MoveBack<'a>(&'a Path, &'a Path);

impl Drop for MoveBack<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.1);
        let _ = std::fs::rename(self.0, self.1);
    }
}

#[test]
fn tinygpt_trains_end_to_end_and_reports_its_entropy_floor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tinygpt");
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tinygpt-loop");
    let swarmlab = |args: &[&str]| -> Output {
        let output = Command::new(BIN)
            .args(args)
            .env("CARGO_TARGET_DIR", "/nonexistent/the-loop-sets-its-own")
            .stdin(Stdio::null())
            .output()
            .expect("swarmlab runs");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    };
    let dir_str = dir.to_str().unwrap();
    swarmlab(&["init", dir_str]).success();
    let build = dir.join("target");
    // Across file systems the move fails and the build starts cold.
    let _ = std::fs::rename(&target, &build);
    let _back = MoveBack(&build, &target);
    let out = swarmlab(&["run", dir_str, "--experiments", "2", "--budget", "3s"]).success();
    assert!(out.stderr.contains("setup: done"), "{out}");
    assert!(out.stderr.contains("entropy floor"), "{out}");

    let jsonl = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3, "{out}");
    let baseline = &records[0];
    assert_eq!(baseline["status"], "keep", "{out}");
    let bpb = baseline["metrics"]["val_bpb"].as_f64().expect("val_bpb");
    let floor = baseline["metrics"]["entropy_floor_bpb"]
        .as_f64()
        .expect("entropy_floor_bpb");
    assert!(floor > 0.5 && floor < 8.0, "{floor}");
    assert!(
        bpb > floor,
        "a model can not beat the entropy floor: {bpb} <= {floor}"
    );
    assert!(bpb < 8.0, "it learned nothing: {bpb} bits per byte");
    assert!(baseline["metrics"]["num_steps"].as_f64().unwrap() > 0.0);
    assert!(baseline["memory_gb"].as_f64().unwrap() > 0.0);
    for record in &records[1..] {
        let status = record["status"].as_str().unwrap();
        assert!(
            ["keep", "discard"].contains(&status),
            "experiment failed: {record}"
        );
    }
}

/// tinygpt is a workspace of its own (a track's files, copied out by `swarmlab init`), so
/// `cargo test --workspace` does not reach its unit tests: they run here, in release as the
/// track runs, built in `target/tinygpt`.
#[test]
fn the_tracks_own_tests_pass_in_release() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["test", "--release", "--locked", "--target-dir"])
        .arg(root.join("target/tinygpt"))
        .current_dir(root.join("tracks/tinygpt"))
        .stdin(Stdio::null())
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test result: ok"), "{stdout}");
}

/// The road of the efficacy bench: one build of tinygpt, whose constants a copy of
/// `src/train.rs` named by `TINYGPT_KNOBS_FROM` replaces. A run of the pristine build with an
/// edited copy must give exactly the val_bpb of a build of the edit.
#[test]
fn knobs_read_from_a_copy_train_exactly_as_a_build_of_the_edit() {
    use swarmlab_testkit::tinygpt;
    let (from, to) = (
        "pub const LR: f64 = 0.006;\npub const WARMUP_STEPS: usize = 50;",
        "pub const LR: f64 = 0.0021;\npub const WARMUP_STEPS: usize = 3;",
    );
    let edited = tinygpt::variant_of("lr-edit", "src/train.rs", from, to, "");
    let pristine = tinygpt::tinygpt();
    let tmp = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tracks/tinygpt/src/train.rs"),
    )
    .unwrap();
    let copy = tmp.path().join("train.rs");
    std::fs::write(&copy, source.replace(from, to)).unwrap();
    let val_bpb = |binary: &Path, knobs: Option<&Path>| -> String {
        let mut command = Command::new(binary);
        command
            .arg("train")
            .env("SWARMLAB_BUDGET_STEPS", "20")
            .env("SWARMLAB_SEED", "3")
            .env("SWARMLAB_RUN_DIR", tmp.path())
            .env("RAYON_NUM_THREADS", "2")
            .env_remove("SWARMLAB_BUDGET_SECONDS")
            .env_remove("SWARMLAB_BUDGET_TOKENS")
            .env_remove("TINYGPT_KNOBS_FROM");
        if let Some(path) = knobs {
            command.env("TINYGPT_KNOBS_FROM", path);
        }
        let out = command.stdin(Stdio::null()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout.lines().find(|l| l.starts_with("val_bpb: "));
        line.unwrap_or_else(|| panic!("no val_bpb in {stdout}"))
            .to_string()
    };
    let built = val_bpb(&edited, None);
    assert_eq!(val_bpb(&pristine, Some(&copy)), built);
    assert_ne!(
        val_bpb(&pristine, None),
        built,
        "the edit changes the result"
    );

    // A copy that cannot be read, or lacks a constant, is an error, never the defaults.
    let broken = tmp.path().join("broken.rs");
    std::fs::write(&broken, source.replace("pub const BETA1", "const BETA1")).unwrap();
    for (path, says) in [
        (
            tmp.path().join("absent.rs"),
            "failed to read TINYGPT_KNOBS_FROM",
        ),
        (broken, "constant BETA1 is missing"),
    ] {
        let out = Command::new(&pristine)
            .arg("train")
            .env("SWARMLAB_BUDGET_STEPS", "1")
            .env("TINYGPT_KNOBS_FROM", &path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}
