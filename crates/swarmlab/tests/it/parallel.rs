//! Parallel runs (`swarmlab run --parallel N --devices LIST`): N experiments in flight on one
//! branch, one log and one best; results whose best moved on are merged or measured again; a
//! device that keeps failing is taken out; Ctrl-C and kill -9 with several in flight; resume
//! with another N. No GPU here: devices are fake ids handed over through the environment, and
//! CPU slots are real core sets.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    alive, assert_all_dead, poll_until, set_params, swarmlab, wait_for_file, Track, FAKE_PARAMS,
};
use crate::hubs::{client, enroll_verifier, free_address};
use crate::swarm::{Client, HubProcess};

/// The fake track's spec with a `[devices]` section: the device id reaches the trainer as
/// `SWARMLAB_GPU`, which the fake trainer records with the rest of its `SWARMLAB_*` env.
fn spec_with_devices(devices: &str, timeout: &str) -> String {
    format!(
        r#"[track]
name = "fake"

[run]
command = ["sh", "train.sh"]
budget = "1s"
timeout = "{timeout}"
grace = "1s"

[metric]
name = "loss"
goal = "minimize"

[files]
editable = ["params.txt"]
trusted = ["train.sh"]

[devices]
env = {{ SWARMLAB_GPU = "{{device}}" }}
{devices}
"#
    )
}

/// A script agent whose every change improves on the one before and takes about a second to
/// run (`slow` sleeps `value` seconds and prints it as the loss).
const IMPROVING_SLOWLY: &str = r#"printf "mode = slow\nvalue = 1.%03d\n" $((900 - SWARMLAB_INDEX)) > params.txt && echo "value down, try $SWARMLAB_INDEX""#;

fn metrics_in_file_order(records: &[Value], status: &str) -> Vec<f64> {
    records
        .iter()
        .filter(|r| r["status"] == status)
        .map(|r| r["metric"].as_f64().expect("a metric"))
        .collect()
}

#[test]
fn slots_share_one_branch_one_log_and_one_best_and_record_their_devices() {
    let track = Track::builder().spec(&spec_with_devices("", "30s")).build();
    let out = track
        .swarmlab(&[
            "run",
            "--proposer",
            "script",
            "--script",
            IMPROVING_SLOWLY,
            "--devices",
            "cuda:0-2",
            "-n",
            "6",
        ])
        .success();
    assert!(
        out.stderr
            .contains("parallel: 3 slots (cuda:0, cuda:1, cuda:2); results compared by each device's own baseline"),
        "{out}"
    );
    let records = track.records();
    // The baseline, the baseline again on the two other devices, and six experiments.
    assert_eq!(records.len(), 9, "{out}");
    let baselines: Vec<&Value> = records
        .iter()
        .filter(|r| r["proposer"] == "baseline")
        .collect();
    assert_eq!(baselines.len(), 3, "{out}");
    let mut devices: Vec<&str> = baselines
        .iter()
        .map(|r| r["device"].as_str().expect("a device"))
        .collect();
    devices.sort();
    assert_eq!(devices, ["cuda:0", "cuda:1", "cuda:2"]);
    for record in &records {
        let device = record["device"].as_str().expect("every run has a device");
        let index = record["index"].as_u64().expect("an index");
        let env = track.run_env(index);
        assert_eq!(
            Some(device.trim_start_matches("cuda:")),
            env.get("SWARMLAB_GPU").map(String::as_str),
            "experiment {index} ran on its slot's device"
        );
        assert!(record["slot"].as_u64().is_some_and(|s| s < 3));
    }
    // One search: what is kept improves on what was kept before it, and the tip is the last.
    let kept = metrics_in_file_order(&records, "keep");
    assert!(kept.len() >= 2, "{out}");
    assert!(kept.windows(2).all(|w| w[1] < w[0]), "{kept:?}");
    let last_kept = records
        .iter()
        .rev()
        .find(|r| r["status"] == "keep")
        .unwrap();
    assert_eq!(track.tip(), last_kept["commit"].as_str().unwrap());
    assert_eq!(track.porcelain(), "");
    assert_eq!(track.tsv().len(), 1 + records.len());
    let worktrees = track.git(&["worktree", "list"]);
    assert!(worktrees.contains(".swarmlab/slots/main/2"), "{worktrees}");
    assert!(!track.path(".swarmlab/slots/main/pending-1.json").exists());
}

#[test]
fn a_result_whose_best_moved_on_is_merged_and_measured_again_on_a_conflict() {
    let track = Track::builder()
        .spec(&spec_with_devices("compare = \"metric\"", "30s"))
        .build();
    let out = track
        .swarmlab(&[
            "run",
            "--proposer",
            "script",
            "--script",
            IMPROVING_SLOWLY,
            "--parallel",
            "3",
            "-n",
            "6",
        ])
        .success();
    // Every change rewrites the same lines, so a result that finds the best moved on
    // conflicts: the merge takes its side, and that tree runs again before it is kept.
    assert!(out.stderr.contains("measuring again"), "{out}");
    let records = track.records();
    assert_eq!(records.len(), 7, "{out}");
    let again: Vec<&Value> = records
        .iter()
        .filter(|r| {
            r["note"]
                .as_str()
                .is_some_and(|n| n.contains("then merged onto the best and measured again"))
        })
        .collect();
    assert!(!again.is_empty(), "{records:?}");
    // Measured again once, or twice when the best moved on again meanwhile (the most a
    // change is merged), each time in a folder of its own; the record cites the last.
    for record in &again {
        let index = record["index"].as_u64().unwrap();
        // "measured A, then merged onto the best and measured again", or "measured A, then
        // B, then merged ...": one measurement before each merge.
        let merges = record["note"].as_str().unwrap().matches(", then ").count();
        let log = format!(".swarmlab/runs/main/{index}-merged-{merges}/run.log");
        assert!(track.path(&log).exists(), "{log}");
        assert_eq!(record["log"], log);
    }
    let kept = metrics_in_file_order(&records, "keep");
    assert!(kept.windows(2).all(|w| w[1] < w[0]), "{kept:?}");
    let tip = track.tip();
    assert_eq!(
        tip,
        records
            .iter()
            .rev()
            .find(|r| r["status"] == "keep")
            .unwrap()["commit"]
            .as_str()
            .unwrap()
    );
    // The branch only ever moved forward: every kept commit is an ancestor of the tip.
    for record in records.iter().filter(|r| r["status"] == "keep") {
        let commit = record["commit"].as_str().unwrap();
        track.git(&["merge-base", "--is-ancestor", commit, &tip]);
    }
    assert_eq!(track.porcelain(), "");
}

/// Two knobs far apart in one file: the loss is their sum, after a second's sleep.
const TWO_KNOBS_TRAINER: &str = r#"#!/bin/sh
a=$(sed -n 's/^a = //p' params.txt)
b=$(sed -n 's/^b = //p' params.txt)
env | grep '^SWARMLAB_' | sort > "$SWARMLAB_RUN_DIR/env"
sleep 1
awk -v a="$a" -v b="$b" 'BEGIN { print "---"; printf "loss: %.6f\n", a + b }'
"#;

#[test]
fn changes_to_different_lines_merge_cleanly_and_are_kept_as_merged() {
    let track = Track::builder()
        .spec(&spec_with_devices("compare = \"metric\"", "30s"))
        .file("train.sh", TWO_KNOBS_TRAINER)
        .file("params.txt", "a = 1.0\n#\n#\n#\nb = 1.0\n")
        .build();
    // Odd experiments lower a, even ones lower b: two at a time, from the same best.
    let script = r#"if [ $((SWARMLAB_INDEX % 2)) = 1 ]; then sed -i "s/^a = .*/a = 0.$((90 - SWARMLAB_INDEX))/" params.txt; echo "a down"; else sed -i "s/^b = .*/b = 0.$((90 - SWARMLAB_INDEX))/" params.txt; echo "b down"; fi"#;
    let out = track
        .swarmlab(&[
            "run",
            "--proposer",
            "script",
            "--script",
            script,
            "--parallel",
            "2",
            "-n",
            "2",
        ])
        .success();
    let records = track.records();
    assert_eq!(track.statuses(), ["keep", "keep", "keep"], "{out}");
    let merged = records
        .iter()
        .find(|r| {
            r["note"]
                .as_str()
                .is_some_and(|n| n.contains("merged cleanly onto the best"))
        })
        .unwrap_or_else(|| panic!("one of the two was merged: {records:?}"));
    // The tip holds both changes: neither result was lost to the other.
    let params = track.read("params.txt");
    assert!(params.contains("a = 0.89"), "{params}");
    assert!(params.contains("b = 0.88"), "{params}");
    assert_eq!(track.tip(), merged["commit"].as_str().unwrap());
    assert_ne!(merged["commit"], merged["parent"]);
    assert_eq!(track.porcelain(), "");
}

#[test]
fn a_device_that_always_crashes_is_taken_out_and_the_others_go_on() {
    // A healthy run takes half the time of a failing one, so the failing device fails three
    // times while the others run well, and is out long before the 24 are handed out.
    let trainer = crate::harness::FAKE_TRAINER.replacen(
        "mode=$(",
        "[ \"$SWARMLAB_GPU\" = 1 ] && { sleep 0.5; echo 'device lost' >&2; exit 7; }\nsleep 0.25\nmode=$(",
        1,
    );
    let track = Track::builder()
        .spec(&spec_with_devices("compare = \"metric\"", "10s"))
        .file("train.sh", &trainer)
        .build();
    let script = set_params("good", "2.$SWARMLAB_INDEX");
    let out = track
        .swarmlab(&[
            "run",
            "--proposer",
            "script",
            "--script",
            &script,
            "--devices",
            "0,1,2",
            "-n",
            "24",
        ])
        .success();
    let taken_out = "cuda:1 taken out: its last 3 runs failed while other devices' runs went well";
    assert!(out.stderr.contains(taken_out), "{out}");
    // Said again in the closing lines, where the run's outcome is read.
    let (_, closing) = out
        .stderr
        .split_once("swarmlab/main: the baseline and")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(closing.contains(taken_out), "{out}");
    let records = track.records();
    let on = |device: &str| -> Vec<&Value> {
        records.iter().filter(|r| r["device"] == device).collect()
    };
    let lost = on("cuda:1");
    assert_eq!(lost.len(), 3, "{out}");
    assert!(lost.iter().all(|r| r["status"] == "crash"));
    assert!(on("cuda:0")
        .iter()
        .chain(&on("cuda:2"))
        .all(|r| r["status"] != "crash"));
    // The baseline and 24 experiments, the device's three crashes among them.
    assert_eq!(records.len(), 25, "{out}");
    assert_eq!(track.porcelain(), "");
}

/// Experiments that sleep (well within the timeout) on three slots.
fn three_sleeping(track: &Track) -> crate::harness::Running {
    let running = track.spawn(&[
        "run",
        "--proposer",
        "script",
        "--script",
        &set_params("sleep", "$SWARMLAB_INDEX"),
        "--parallel",
        "3",
    ]);
    for index in 1..=3 {
        wait_for_file(&track.run_dir(index).join("pids"), Duration::from_secs(60));
    }
    running
}

#[test]
fn ctrl_c_stops_every_slot_cleanly_and_a_sequential_run_resumes() {
    let track = Track::builder().run("timeout", r#""120s""#).build();
    let running = three_sleeping(&track);
    let trainers: Vec<i32> = (1..=3).flat_map(|i| track.pids(i)).collect();
    running.signal(libc::SIGINT);
    let out = running.wait(Duration::from_secs(30)).fails_with(130);
    assert_eq!(
        track.statuses(),
        ["keep", "interrupted", "interrupted", "interrupted"],
        "{out}"
    );
    assert_all_dead(&trainers);
    let baseline = track.record(0)["commit"].as_str().unwrap().to_string();
    assert_eq!(track.tip(), baseline);
    assert_eq!(track.read("params.txt"), FAKE_PARAMS);
    assert_eq!(track.porcelain(), "");
    for index in 1..=3 {
        assert!(!track
            .path(&format!(".swarmlab/slots/main/pending-{index}.json"))
            .exists());
    }

    let out = track
        .run_script(&set_params("good", "3.$SWARMLAB_INDEX"), 1)
        .success();
    assert!(!out.stderr.contains("repaired"), "{out}");
    assert_eq!(track.record(4)["status"], "discard");
}

#[test]
fn kill_9_with_three_in_flight_loses_only_those_and_a_run_with_two_slots_goes_on() {
    let track = Track::builder().run("timeout", r#""120s""#).build();
    let running = three_sleeping(&track);
    let trainers: Vec<i32> = (1..=3).flat_map(|i| track.pids(i)).collect();
    running.signal(libc::SIGKILL);
    running
        .wait(Duration::from_secs(15))
        .fails_with(128 + libc::SIGKILL);
    assert_eq!(track.statuses(), ["keep"]);
    assert!(
        trainers.iter().any(|p| alive(*p)),
        "the trainers outlive swarmlab"
    );
    for index in 1..=3 {
        assert!(track
            .path(&format!(".swarmlab/slots/main/pending-{index}.json"))
            .exists());
    }

    let out = track
        .swarmlab(&[
            "run",
            "--proposer",
            "script",
            "--script",
            &set_params("good", "3.$SWARMLAB_INDEX"),
            "--parallel",
            "2",
            "-n",
            "2",
        ])
        .success();
    assert!(
        out.stderr
            .contains("repaired: 3 experiments were in flight when swarmlab last stopped"),
        "{out}"
    );
    assert!(out.stderr.contains("killed"), "{out}");
    assert_all_dead(&trainers);
    let records = track.records();
    let statuses = track.statuses();
    assert_eq!(
        statuses,
        [
            "keep",
            "interrupted",
            "interrupted",
            "interrupted",
            "discard",
            "discard"
        ],
        "{out}"
    );
    for lost in &records[1..4] {
        assert_eq!(lost["parent"], track.record(0)["commit"]);
        assert!(lost["slot"].as_u64().is_some(), "{lost}");
    }
    assert_eq!(track.tip(), track.record(0)["commit"].as_str().unwrap());
    assert_eq!(track.porcelain(), "");
}

#[cfg(target_os = "linux")]
#[test]
fn cpu_slots_are_pinned_to_their_cores_with_a_thread_count_to_match() {
    let allowed = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Cpus_allowed_list:")
                .map(|v| v.trim().to_string())
        })
        .unwrap();
    // The first core this test may use, as a one-core slot.
    let core: usize = allowed
        .split([',', '-'])
        .next()
        .and_then(|c| c.parse().ok())
        .unwrap();
    let trainer = crate::harness::FAKE_TRAINER.replacen(
        "mode=$(",
        "grep Cpus_allowed_list /proc/self/status > \"$SWARMLAB_RUN_DIR/cpus\"\necho \"$OMP_NUM_THREADS\" > \"$SWARMLAB_RUN_DIR/threads\"\nmode=$(",
        1,
    );
    let track = Track::builder().file("train.sh", &trainer).build();
    let devices = format!("cpu:{core}");
    track
        .swarmlab(&[
            "run",
            "--proposer",
            "script",
            "--script",
            &set_params("good", "1.$SWARMLAB_INDEX"),
            "--devices",
            &devices,
            "-n",
            "2",
        ])
        .success();
    for record in track.records() {
        assert_eq!(record["device"], devices.as_str());
        let dir = track.run_dir(record["index"].as_u64().unwrap());
        let cpus = std::fs::read_to_string(dir.join("cpus")).unwrap();
        assert_eq!(
            cpus.split_whitespace().last(),
            Some(core.to_string().as_str())
        );
        assert_eq!(std::fs::read_to_string(dir.join("threads")).unwrap(), "1\n");
    }
}

#[test]
fn a_device_list_that_does_not_read_is_a_usage_error() {
    let track = Track::fake();
    let out = track
        .swarmlab(&["run", "--devices", "cuda:3-1"])
        .fails_with(2);
    assert!(out.stderr.contains("expected an id or a range"), "{out}");
    let out = track.swarmlab(&["run", "--parallel", "0"]).fails_with(2);
    assert!(out.stderr.contains("--parallel"), "{out}");
}

#[test]
fn work_devices_take_one_invite_code_each_and_refuse_codes_left_over() {
    let dir = tempfile::tempdir().unwrap();
    let worker_dir = dir.path().join("worker");
    // Checked before the hub is asked anything: nothing listens at this address.
    let out = swarmlab(
        &[
            "work",
            "--hub",
            "http://127.0.0.1:9",
            "--track",
            "toy",
            "--dir",
            worker_dir.to_str().unwrap(),
            "--devices",
            "rocm:0-1",
            "--invite",
            "sli_a,sli_b,sli_c",
        ],
        None,
    )
    .fails_with(1);
    assert!(out.stderr.contains("1 invite code(s) left over"), "{out}");
    assert!(!worker_dir.join("rocm-0").exists());
}

#[test]
fn work_and_verify_run_one_worker_and_one_verifier_per_device_from_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let data_str = data.to_str().unwrap();
    let repo = dir.path().join("toy");
    swarmlab(&["init", "--track", "toy", repo.to_str().unwrap()], None).success();
    let admin = swarmlab(&["hub", "admin-token", "--data-dir", data_str], None).success();
    let admin = admin.stdout.trim().to_string();
    swarmlab(
        &[
            "hub",
            "add-track",
            "--data-dir",
            data_str,
            repo.to_str().unwrap(),
        ],
        None,
    )
    .success();
    let address = free_address();
    let url = format!("http://{address}");
    let _hub = HubProcess::start(&data, &address);
    let as_admin = client(&address, &admin);

    // The verifier's key is made and enrolled once; each device's verifier shares it.
    let verifier_dir = dir.path().join("verifier");
    let verifier_str = verifier_dir.to_str().unwrap();
    let token = enroll_verifier(&url, data_str, verifier_str);
    let logs = dir.path();
    let mut verifier = Client::start(
        &[
            "verify",
            "--hub",
            &url,
            "--dir",
            verifier_str,
            "--sandbox",
            "off",
            "--token",
            &token,
            "--devices",
            "rocm:0-1",
        ],
        &logs.join("verifier.log"),
    );
    let worker_dir = dir.path().join("worker");
    let mut workers = Client::start(
        &[
            "work",
            "--hub",
            &url,
            "--track",
            "toy",
            "--dir",
            worker_dir.to_str().unwrap(),
            "--devices",
            "rocm:0-1",
        ],
        &logs.join("workers.log"),
    );
    let grew = poll_until(Duration::from_secs(120), || {
        let r = as_admin.get("/api/v1/tracks/toy");
        r.status == 200 && r.json()["chain"].as_array().is_some_and(|c| c.len() >= 2)
    });
    workers.stop();
    verifier.stop();
    let worker_log = std::fs::read_to_string(logs.join("workers.log")).unwrap();
    let verifier_log = std::fs::read_to_string(logs.join("verifier.log")).unwrap();
    assert!(
        grew,
        "no verified commit\n--- workers\n{worker_log}\n--- verifier\n{verifier_log}"
    );
    for device in ["rocm-0", "rocm-1"] {
        assert!(
            worker_log.contains(&format!("worker worker-{device}: runs on")),
            "{worker_log}"
        );
        // Each worker has its own identity and its own copy of the track, where it ran.
        let own = worker_dir.join(device);
        assert!(own.join("identity.json").exists());
        let results = std::fs::read_to_string(own.join("track/results.jsonl")).unwrap();
        assert!(results.lines().count() >= 1, "{device} ran nothing");
        assert!(verifier_log.contains(&format!("verifier {device}: runs on")));
    }
    let key = |dir: &std::path::Path| -> String {
        let text = std::fs::read_to_string(dir.join("identity.json")).unwrap();
        let identity: Value = serde_json::from_str(&text).unwrap();
        identity["secret_key"].to_string()
    };
    let shared = key(&verifier_dir);
    assert_eq!(key(&verifier_dir.join("rocm-0")), shared);
    assert_eq!(key(&verifier_dir.join("rocm-1")), shared);
}
