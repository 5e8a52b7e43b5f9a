//! `swarmlab contest`: program files against each other on the toy track, with a script
//! proposer that reads the program its branch carries, so what a program says decides what
//! its runs find.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{poll_until, swarmlab, Track};

/// Sets the toy's lr near its optimum (0.01) when the program says "lower the lr", and to a
/// worse value otherwise; each experiment number gives a different change.
pub(crate) const PROPOSER: &str = r#"if grep -qi "lower the lr" program.md; then v="0.0${SWARMLAB_INDEX}1"; else v="0.000${SWARMLAB_INDEX}5"; fi
sleep "${CONTEST_SLEEP:-0}"
sed -i "s/^lr = .*/lr = $v/" params.txt
echo "lr $v""#;

pub(crate) const GOOD: &str = "Lower the lr: it is far too high.\n";
const VAGUE: &str = "Try whatever seems best.\n";

/// The toy track, the proposer script and two program files (name, text) beside it, outside
/// the track.
fn setup(programs: [(&str, &str); 2]) -> (Track, Vec<String>) {
    let track = Track::toy();
    let dir = track.path("..");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write a file beside the track");
        path.to_str().expect("UTF-8 paths").to_string()
    };
    let files = vec![
        format!("sh {}", write("propose.sh", PROPOSER)),
        write(programs[0].0, programs[0].1),
        write(programs[1].0, programs[1].1),
    ];
    (track, files)
}

fn contest_args<'a>(
    track: &'a Track,
    files: &'a [String],
    runs: &'a str,
    n: &'a str,
) -> Vec<&'a str> {
    vec![
        "contest",
        track.root_str(),
        "--programs",
        &files[1],
        &files[2],
        "--runs",
        runs,
        "--experiments",
        n,
        "--proposer",
        "script",
        "--script",
        &files[0],
    ]
}

fn standings(track: &Track) -> Vec<Value> {
    let text = track.read(".swarmlab/contest/contest.json");
    let json: Value = serde_json::from_str(&text).expect("contest.json is JSON");
    json["standings"].as_array().expect("standings").clone()
}

#[test]
fn the_better_program_ranks_first_with_a_clear_interval() {
    let (track, files) = setup([("lower-lr.md", GOOD), ("vague.md", VAGUE)]);
    let out = swarmlab(&contest_args(&track, &files, "3", "2"), None).success();
    let s = standings(&track);
    assert_eq!(s[0]["program"], "lower-lr", "{out}");
    assert_eq!(s[0]["clearly_ahead"], true, "{out}");
    let (good, poor) = (&s[0]["interval"], &s[1]["interval"]);
    assert!(good[1].as_f64() < poor[0].as_f64(), "{good} vs {poor}");
    assert_eq!(s[0]["experiments"], 6);
    assert!(s[0]["mean_gain_per_hour"].as_f64().expect("a gain") > 0.0);
    assert!(out.stdout.contains("| 1 | lower-lr |"), "{out}");
    // Every run is a branch of its own carrying its program; the checkout is back on main.
    for r in 1..=3 {
        let program = track.git(&["show", &format!("swarmlab/contest-vague-{r}:program.md")]);
        assert_eq!(program, "Try whatever seems best.");
    }
    assert_eq!(track.git(&["branch", "--show-current"]), "main");
    let svg = track.read(".swarmlab/contest/contest.svg");
    assert_eq!(svg.matches(r#"class="mean""#).count(), 2);
    assert!(track
        .read(".swarmlab/contest/contest.md")
        .contains("clearly"));
}

#[test]
fn identical_programs_are_not_separated() {
    // Both programs say the same thing; matched seeds make their runs alike.
    let (track, files) = setup([("a.md", GOOD), ("b.md", GOOD)]);
    let out = swarmlab(&contest_args(&track, &files, "2", "2"), None).success();
    let s = standings(&track);
    assert_eq!(s[0]["clearly_ahead"], false, "{out}");
    assert!(out.stdout.contains("no clear difference"), "{out}");
}

#[test]
fn a_contest_killed_midway_completes_on_rerun() {
    let (track, files) = setup([("lower-lr.md", GOOD), ("vague.md", VAGUE)]);
    let args = contest_args(&track, &files, "2", "3");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_swarmlab"));
    command
        .args(&args)
        .env("CONTEST_SLEEP", "0.1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = command.spawn().expect("swarmlab starts");
    let midway = poll_until(Duration::from_secs(20), || track.records().len() >= 7);
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    assert!(
        midway,
        "the contest logged too little: {:?}",
        track.records()
    );
    let logged = track.records().len();
    assert!(logged < 16, "the contest was not stopped midway");

    swarmlab(&args, None).success();
    let records = track.records();
    for branch in ["lower-lr-1", "lower-lr-2", "vague-1", "vague-2"] {
        let mine: Vec<&Value> = records
            .iter()
            .filter(|r| r["branch"] == format!("swarmlab/contest-{branch}"))
            .filter(|r| r["status"] != "interrupted")
            .collect();
        assert_eq!(mine.len(), 4, "{branch}: the baseline and 3 experiments");
    }
    let s = standings(&track);
    assert!(s.iter().all(|p| p["experiments"] == 6), "{s:?}");
}

#[test]
fn bad_input_is_refused_with_the_usage_code() {
    let (track, files) = setup([("lower-lr.md", GOOD), ("vague.md", VAGUE)]);
    let mut missing = files.clone();
    missing[2] = track
        .path("../nowhere.md")
        .to_str()
        .expect("UTF-8")
        .to_string();
    let out = swarmlab(&contest_args(&track, &missing, "2", "2"), None).fails_with(2);
    assert!(out.stderr.contains("cannot read program file"), "{out}");
    assert!(out.stderr.contains("nowhere.md"), "{out}");

    let out = swarmlab(&contest_args(&track, &files, "0", "2"), None).fails_with(2);
    assert!(out.stderr.contains("1 or more"), "{out}");
    let out = swarmlab(&contest_args(&track, &files, "2", "0"), None).fails_with(2);
    assert!(out.stderr.contains("1 or more"), "{out}");

    let mut same = files.clone();
    std::fs::create_dir(track.path("../other")).expect("mkdir");
    std::fs::write(track.path("../other/vague.md"), "x").expect("write");
    same[1] = track
        .path("../other/vague.md")
        .to_str()
        .expect("UTF-8")
        .to_string();
    let out = swarmlab(&contest_args(&track, &same, "2", "2"), None).fails_with(2);
    assert!(
        out.stderr.contains("two programs are named `vague`"),
        "{out}"
    );

    // A track without a program file has nothing for the programs to replace.
    let spec = track
        .read("swarmlab.toml")
        .replace("program = \"program.md\"\n", "");
    track.write("swarmlab.toml", &spec);
    track.git(&["commit", "--quiet", "-am", "no program"]);
    let out = swarmlab(&contest_args(&track, &files, "2", "2"), None).fails_with(3);
    assert!(out.stderr.contains("names no program file"), "{out}");
    assert!(track.records().is_empty(), "nothing ran");
}
