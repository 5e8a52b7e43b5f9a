//! `swarmlab report`: the comparison of two runs side by side, and the served dashboard that
//! Ctrl-C stops with the documented code of an interrupted command.

use std::fs;
use std::time::Duration;

use crate::harness::{poll_until, set_params, Track};

#[test]
fn two_runs_compare_in_one_table_and_one_chart() {
    let track = Track::fake();
    let run = |tag: &str, value: &str| {
        track.swarmlab(&[
            "run",
            "--tag",
            tag,
            "--proposer",
            "script",
            "--script",
            &set_params("good", value),
            "-n",
            "2",
        ])
    };
    run("first", "1.$SWARMLAB_INDEX").success();
    track.git(&["switch", "--quiet", "main"]);
    run("second", "3.$SWARMLAB_INDEX").success();

    let out = track
        .swarmlab(&["report", "--compare", "first", "second"])
        .success();
    let table: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        table[0].split('|').map(str::trim).collect::<Vec<_>>(),
        ["", "", "first", "second", ""],
        "{out}"
    );
    let row = |name: &str| {
        table
            .iter()
            .find(|l| l.starts_with(&format!("| {name} ")))
            .unwrap_or_else(|| panic!("no row {name}: {out}"))
            .split('|')
            .map(str::trim)
            .skip(2)
            .take(2)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("experiments"), ["2", "2"]);
    assert_eq!(row("kept"), ["1 (50%)", "0 (0%)"]);
    assert_eq!(row("best loss"), ["1.100000 (#1)", "2.000000 (#0)"]);
    assert_eq!(row("best by #2"), ["1.100000", "2.000000"]);

    let svg = fs::read_to_string(track.path("compare-first-second.svg")).expect("the chart");
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let tags: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("data-tag"))
        .collect();
    assert_eq!(tags, ["first", "second"]);
    let markdown = fs::read_to_string(track.path("compare-first-second.md")).expect("the table");
    assert!(markdown.contains(table[2]), "{markdown}");

    let out = track
        .swarmlab(&["report", "--compare", "first", "third"])
        .fails_with(1);
    assert!(
        out.stderr.contains("no results of branch swarmlab/third")
            && out.stderr.contains("the tags with results: first, second"),
        "{out}"
    );
}

#[test]
fn ctrl_c_stops_the_served_dashboard_with_130() {
    let track = Track::fake();
    track.run_script(&set_params("good", "1.5"), 1).success();
    let running = track.spawn(&["report", "--serve", "127.0.0.1:0"]);
    // The signal handlers are in place before the listener is bound; the runtime's own
    // sockets come earlier, so only a listening TCP socket of the process counts.
    let serving = poll_until(Duration::from_secs(30), || listens(running.pid()));
    assert!(serving, "the dashboard never listened");
    running.signal(libc::SIGINT);
    let out = running.wait(Duration::from_secs(15)).fails_with(130);
    assert!(
        out.stderr.contains("report: serving http://127.0.0.1:"),
        "{out}"
    );
}

/// Whether process `pid` holds a TCP socket in the LISTEN state (`/proc/net/tcp`, state 0A).
fn listens(pid: i32) -> bool {
    let inodes: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| {
            let target = fs::read_link(fd.path()).ok()?;
            let target = target.to_string_lossy();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 9 && fields[3] == "0A" && inodes.iter().any(|i| i == fields[9])
    })
}
