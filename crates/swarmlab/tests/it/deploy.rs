//! The deployment files under `deploy/` (docs/deploy.md): the Slurm scripts parse with bash
//! and carry only `#SBATCH` options sbatch knows, where sbatch reads them; the Kubernetes
//! manifests validate against the Kubernetes schemas (`kubernetes-validate` from PyPI); and,
//! with `SWARMLAB_TEST_SLURM=1` on a machine with a running Slurm cluster (`.ci/run` starts
//! one with `deploy/slurm/test-cluster.sh`), a worker array and a verifier submitted with the
//! scripts grow a local hub's toy chain.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{poll_until, swarmlab, BIN};
use crate::hubs::{client, enroll_verifier, free_address};
use crate::swarm::HubProcess;

/// The version of `kubernetes-validate` the manifests are checked with (.ci/run installs it).
const K8S_VALIDATE_VERSION: &str = "1.37.0";

/// The long options of sbatch (Slurm 22.05 and later) the scripts may use, and whether each
/// takes a value.
const SBATCH_OPTIONS: &[(&str, bool)] = &[
    ("account", true),
    ("array", true),
    ("chdir", true),
    ("constraint", true),
    ("cpus-per-gpu", true),
    ("cpus-per-task", true),
    ("error", true),
    ("exclusive", false),
    ("export", true),
    ("gpus", true),
    ("gpus-per-node", true),
    ("gpus-per-task", true),
    ("gres", true),
    ("job-name", true),
    ("mem", true),
    ("mem-per-gpu", true),
    ("nodes", true),
    ("ntasks", true),
    ("open-mode", true),
    ("output", true),
    ("partition", true),
    ("qos", true),
    ("requeue", false),
    ("signal", true),
    ("time", true),
];

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One `#SBATCH --name[=value]` line of a script.
#[derive(Debug, PartialEq)]
struct SbatchOption {
    name: String,
    value: Option<String>,
}

/// The `#SBATCH` options of `script` (named `file` in errors), as sbatch reads them: only
/// before the first line that is neither blank nor a comment. An option sbatch would ignore
/// (after that line), an unknown one, or one missing its value is an error naming the line.
fn sbatch_options(file: &str, script: &str) -> Result<Vec<SbatchOption>, String> {
    let mut options = Vec::new();
    let mut in_header = true;
    for (index, line) in script.lines().enumerate() {
        let at = format!("{file}:{}", index + 1);
        let trimmed = line.trim();
        if let Some(rest) = line.strip_prefix("#SBATCH") {
            if !in_header {
                return Err(format!(
                    "{at}: `#SBATCH` after the first command, where sbatch ignores it; move it above `set` and the rest"
                ));
            }
            let word = rest.trim();
            let Some(long) = word.strip_prefix("--") else {
                return Err(format!(
                    "{at}: `{word}` is not a long option (--name=value)"
                ));
            };
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            let Some((_, takes_value)) = SBATCH_OPTIONS.iter().find(|(known, _)| *known == name)
            else {
                return Err(format!("{at}: unknown sbatch option `--{name}`"));
            };
            if *takes_value != value.is_some() {
                return Err(format!(
                    "{at}: `--{name}` {}",
                    if *takes_value {
                        "needs =VALUE"
                    } else {
                        "takes no value"
                    }
                ));
            }
            options.push(SbatchOption {
                name: name.to_string(),
                value,
            });
        } else if !trimmed.is_empty() && !trimmed.starts_with('#') {
            in_header = false;
        }
    }
    Ok(options)
}

fn option<'a>(options: &'a [SbatchOption], name: &str) -> Option<&'a SbatchOption> {
    options.iter().find(|o| o.name == name)
}

#[test]
fn the_slurm_scripts_parse_and_ask_for_an_array_a_gpu_per_task_and_requeue() {
    for name in ["worker.sbatch", "verifier.sbatch"] {
        let path = root().join("deploy/slurm").join(name);
        let syntax = Command::new("bash").arg("-n").arg(&path).output().unwrap();
        assert!(
            syntax.status.success(),
            "bash -n {name}: {}",
            String::from_utf8_lossy(&syntax.stderr)
        );
        let script = std::fs::read_to_string(&path).unwrap();
        let options = sbatch_options(name, &script).unwrap_or_else(|e| panic!("{e}"));
        assert!(option(&options, "array").is_some(), "{name}: no --array");
        assert!(
            option(&options, "requeue").is_some(),
            "{name}: no --requeue"
        );
        let gres = option(&options, "gres").and_then(|o| o.value.as_deref());
        assert_eq!(gres, Some("gpu:1"), "{name}: one GPU per task");
        assert!(
            !script.contains("--token") && !script.contains("--invite"),
            "{name}: a secret on a command line shows in ps and scontrol"
        );
    }
}

#[test]
fn sbatch_lines_sbatch_would_ignore_or_reject_are_errors_naming_the_line() {
    let late = "#!/bin/bash\n#SBATCH --array=0-1\nset -e\n#SBATCH --requeue\n";
    let err = sbatch_options("late.sbatch", late).unwrap_err();
    assert!(err.starts_with("late.sbatch:4: `#SBATCH` after"), "{err}");

    let unknown = "#!/bin/bash\n# a comment\n\n#SBATCH --reqeue\n";
    let err = sbatch_options("typo.sbatch", unknown).unwrap_err();
    assert_eq!(err, "typo.sbatch:4: unknown sbatch option `--reqeue`");

    let bare = "#SBATCH --gres\n";
    let err = sbatch_options("bare.sbatch", bare).unwrap_err();
    assert_eq!(err, "bare.sbatch:1: `--gres` needs =VALUE");

    let ok = "#!/bin/bash\n#SBATCH --array=0-3\n#SBATCH --requeue\necho\n";
    let options = sbatch_options("ok.sbatch", ok).unwrap();
    assert_eq!(
        options,
        vec![
            SbatchOption {
                name: "array".into(),
                value: Some("0-3".into())
            },
            SbatchOption {
                name: "requeue".into(),
                value: None
            }
        ]
    );
}

/// `kubernetes-validate`, from the venv .ci/run makes under target/; `None` (the test
/// skips) when it is missing, unless `SWARMLAB_TEST_K8S` is set, which makes it required.
fn k8s_validator() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target.join("k8s-validate-venv/bin/kubernetes-validate");
    let version = Command::new(&path).arg("--version").output();
    let found = version.is_ok_and(|v| {
        v.status.success() && String::from_utf8_lossy(&v.stdout).contains(K8S_VALIDATE_VERSION)
    });
    match (found, std::env::var_os("SWARMLAB_TEST_K8S")) {
        (true, _) => Some(path),
        (false, Some(_)) => panic!(
            "SWARMLAB_TEST_K8S is set but {} (kubernetes-validate {K8S_VALIDATE_VERSION}) is missing; \
             .ci/run installs it",
            path.display()
        ),
        (false, None) => {
            eprintln!(
                "skipped: no kubernetes-validate {K8S_VALIDATE_VERSION} at {} (.ci/run installs it)",
                path.display()
            );
            None
        }
    }
}

#[test]
fn the_kubernetes_manifests_validate_against_the_schemas_and_a_broken_one_does_not() {
    let Some(validator) = k8s_validator() else {
        return;
    };
    let dir = root().join("deploy/kubernetes");
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    manifests.sort();
    let out = Command::new(&validator)
        .arg("--strict")
        .args(&manifests)
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    for resource in [
        "service/swarmlab-hub",
        "statefulset/swarmlab-hub",
        "statefulset/swarmlab-verifier",
        "deployment/swarmlab-worker",
        "secret/swarmlab-verifiers",
        "secret/swarmlab-worker",
    ] {
        assert!(
            report.contains(&format!("passed for resource {resource} ")),
            "{resource} was not validated\n{report}"
        );
    }

    // The same hub with a misspelt field: the schemas, not the test, must refuse it.
    let hub = std::fs::read_to_string(dir.join("hub.yaml")).unwrap();
    assert!(hub.contains("volumeClaimTemplates:"));
    let broken = tempfile::tempdir().unwrap();
    let path = broken.path().join("hub.yaml");
    std::fs::write(
        &path,
        hub.replace("volumeClaimTemplates:", "volumeClaimTemplate:"),
    )
    .unwrap();
    let out = Command::new(&validator)
        .arg("--strict")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a misspelt field passed");
}

/// `sbatch --parsable` of `script` with `args` and `env`; returns the job id.
fn sbatch(script: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .envs(env.iter().copied())
        .output()
        .expect("sbatch runs");
    assert!(
        out.status.success(),
        "sbatch {} refused: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout);
    id.trim().split(';').next().unwrap_or_default().to_string()
}

/// Cancels a Slurm job (SIGTERM to its tasks) when dropped, so that a failing test leaves
/// nothing queued.
struct SlurmJob(String);

impl Drop for SlurmJob {
    fn drop(&mut self) {
        let _ = Command::new("scancel").arg(&self.0).status();
    }
}

#[test]
fn a_slurm_worker_array_and_verifier_grow_a_local_hubs_chain() {
    if std::env::var_os("SWARMLAB_TEST_SLURM").is_none() {
        eprintln!("skipped: set SWARMLAB_TEST_SLURM=1 on a machine with a running Slurm cluster (docs/deploy.md)");
        return;
    }
    let sinfo = Command::new("sinfo").arg("--noheader").output();
    assert!(
        sinfo.is_ok_and(|o| o.status.success()),
        "SWARMLAB_TEST_SLURM is set but sinfo cannot reach a Slurm controller"
    );
    // The verifier's sandbox uid must enter the verifier's folder, under this one.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .unwrap();
    let data = dir.path().join("hub");
    let data_str = data.to_str().unwrap();
    let repo = dir.path().join("toy");
    swarmlab(&["init", "--track", "toy", repo.to_str().unwrap()], None).success();
    let admin = swarmlab(&["hub", "admin-token", "--data-dir", data_str], None).success();
    let admin = admin.stdout.trim().to_string();
    let repo_str = repo.to_str().unwrap();
    swarmlab(
        &["hub", "add-track", "--data-dir", data_str, repo_str],
        None,
    )
    .success();
    let address = free_address();
    let url = format!("http://{address}");
    let _hub = HubProcess::start(&data, &address);

    // The verifier's identity, enrolled as docs/deploy.md says: its key from a first start,
    // its token in STATE/verifiers/v0.token.
    let state = dir.path().join("state");
    let verifiers = state.join("verifiers");
    let token = enroll_verifier(&url, data_str, verifiers.join("v0").to_str().unwrap());
    std::fs::write(verifiers.join("v0.token"), token).unwrap();

    let state_str = state.to_str().unwrap();
    // The workers run in a "node-local" folder, their identities kept on the shared one.
    let local = dir.path().join("local");
    let local_str = local.to_str().unwrap();
    let env = [
        ("SWARMLAB_HUB", url.as_str()),
        ("SWARMLAB_TRACK", "toy"),
        ("SWARMLAB_STATE", state_str),
        ("SWARMLAB_LOCAL", local_str),
        ("SWARMLAB_BIN", BIN),
        ("SWARMLAB_GPU", "none"),
    ];
    let logs = dir.path().to_str().unwrap();
    let output = |name: &str| format!("--output={logs}/{name}-%A_%a.log");
    // The scripts' requests fitted to a one-node test cluster without GPUs.
    let small = ["--gres=none", "--mem=1G", "--cpus-per-task=1"];
    let workers_output = output("worker");
    let mut worker_args = vec!["--array=0-1", workers_output.as_str()];
    worker_args.extend(small);
    let verifier_output = output("verifier");
    let mut verifier_args = vec!["--array=0", verifier_output.as_str()];
    verifier_args.extend(small);
    let slurm = root().join("deploy/slurm");
    let verifier = SlurmJob(sbatch(&slurm.join("verifier.sbatch"), &verifier_args, &env));
    let workers = SlurmJob(sbatch(&slurm.join("worker.sbatch"), &worker_args, &env));

    let as_admin = client(&address, &admin);
    let grew = poll_until(Duration::from_secs(300), || {
        std::thread::sleep(Duration::from_millis(500));
        let r = as_admin.get("/api/v1/tracks/toy");
        r.status == 200 && r.json()["chain"].as_array().is_some_and(|c| c.len() >= 3)
    });
    let logs_text = || {
        let mut text = String::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "log") {
                text += &format!("--- {}\n", path.display());
                text += &std::fs::read_to_string(&path).unwrap_or_default();
            }
        }
        text
    };
    assert!(
        grew,
        "the chain did not grow by 2 within 5 minutes\n{}",
        logs_text()
    );
    // Each array task keeps its own identity on the shared folder.
    let identity_id = |path: &Path| -> String {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let identity: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        identity["identity_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let shared = state.join("workers/toy-0/identity.json");
    let shared_ids = || -> Vec<String> {
        (0..2)
            .map(|task| identity_id(&state.join(format!("workers/toy-{task}/identity.json"))))
            .collect()
    };
    // The scripts copy a new identity to the shared folder within 5 seconds.
    poll_until(Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(200));
        shared_ids().iter().all(|id| !id.is_empty())
    });
    let ids = shared_ids();
    assert!(
        !ids[0].is_empty() && !ids[1].is_empty() && ids[0] != ids[1],
        "each task registers once, as itself: {ids:?}\n{}",
        logs_text()
    );

    // Task 0 requeued as on preemption, onto a node without its local folder: it comes
    // back as the same worker, from the identity on the shared folder.
    let task0 = local.join("swarmlab-worker-toy-0");
    let task = format!("{}_0", workers.0);
    let scontrol = |args: &[&str]| {
        let status = Command::new("scontrol").args(args).status().unwrap();
        assert!(status.success(), "scontrol {args:?} failed");
    };
    scontrol(&["requeuehold", &task]);
    let held = poll_until(Duration::from_secs(120), || {
        std::thread::sleep(Duration::from_millis(200));
        let job = Command::new("scontrol")
            .args(["show", "job", &task])
            .output()
            .unwrap();
        let job = String::from_utf8_lossy(&job.stdout);
        job.contains("JobState=PENDING") && job.contains("Restarts=1")
    });
    assert!(held, "task 0 was not requeued");
    std::fs::remove_dir_all(&task0).unwrap();
    scontrol(&["release", &task]);
    // slurmctld holds a requeued job back for a while (its begin time); start it now.
    scontrol(&["update", &format!("jobid={task}"), "StartTime=now"]);
    let back = poll_until(Duration::from_secs(120), || {
        std::thread::sleep(Duration::from_millis(200));
        !identity_id(&task0.join("identity.json")).is_empty()
    });
    assert!(back, "task 0 did not start again\n{}", logs_text());
    assert_eq!(identity_id(&task0.join("identity.json")), ids[0]);
    assert_eq!(identity_id(&shared), ids[0]);

    // The verifier's reports were sandboxed: an unsandboxed one says so in the ledger.
    let ledger = as_admin.get("/api/v1/tracks/toy/ledger").body;
    assert!(ledger.contains("\"verdict\""), "{ledger}");
    assert!(!ledger.contains("unsandboxed"), "{ledger}");
    drop(workers);
    drop(verifier);
}

#[test]
fn a_live_hubs_sqlite_backup_with_its_key_and_tracks_restores_the_same_hub() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let data_str = data.to_str().unwrap();
    let repo = dir.path().join("toy");
    swarmlab(&["init", "--track", "toy", repo.to_str().unwrap()], None).success();
    let admin = swarmlab(&["hub", "admin-token", "--data-dir", data_str], None).success();
    let admin = admin.stdout.trim().to_string();
    let repo_str = repo.to_str().unwrap();
    swarmlab(
        &["hub", "add-track", "--data-dir", data_str, repo_str],
        None,
    )
    .success();
    let address = free_address();
    let _live = HubProcess::start(&data, &address);
    let live = client(&address, &admin);
    let added = live.post_json(
        "/api/v1/tracks/toy/ideas",
        &serde_json::json!({ "text": "written while the hub runs" }),
    );
    assert_eq!(added.status, 200, "{}", added.body);

    // docs/deploy.md, "Backups": the database with sqlite3's online backup while the hub
    // runs, then the track repositories and hub.key.
    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    let backup = restored.join("hub.db");
    let out = Command::new("sqlite3")
        .arg(data.join("hub.db"))
        .arg(format!(".backup '{}'", backup.display()))
        .output()
        .expect("sqlite3 is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copied = Command::new("cp")
        .arg("-a")
        .arg(data.join("tracks"))
        .arg(data.join("hub.key"))
        .arg(&restored)
        .status()
        .unwrap();
    assert!(copied.success());

    let restored_address = free_address();
    let _restored = HubProcess::start(&restored, &restored_address);
    let restored = client(&restored_address, &admin);
    let ideas = restored.get("/api/v1/tracks/toy/ideas");
    assert!(
        ideas.body.contains("written while the hub runs"),
        "the idea written before the backup is missing: {}",
        ideas.body
    );
    let ledger = |hub: &swarmlab_testkit::http::Client| hub.get("/api/v1/tracks/toy/ledger").body;
    assert_eq!(ledger(&restored), ledger(&live));
    let key =
        |hub: &swarmlab_testkit::http::Client| hub.get("/api/v1/hub").json()["public_key"].clone();
    assert_eq!(
        key(&restored),
        key(&live),
        "the restored hub signs with another key"
    );
    let bundle = restored.get("/api/v1/tracks/toy/bundle");
    assert_eq!(
        bundle.status, 200,
        "the restored track repository: {}",
        bundle.body
    );
}
