//! What `swarmlab run` prints: one plain line per experiment when stderr is not a terminal,
//! one line redrawn in place when it is; the resume line, the closing totals and the short
//! table with the path of the full one, and the hint to go on.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{first_then, set_params, wait_for_file, Track, BIN};

/// Times, commits and the track's temporary path vary from run to run.
fn settings(track: &Track) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(track.root_str()), "[track]");
    settings.add_filter(r"\b[0-9a-f]{7}\b", "[commit]");
    settings.add_filter(r"\d+(\.\d)?s\b", "[t]");
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Experiment 1 is the best; every later one is worse than the baseline.
fn one_good_then_worse() -> String {
    first_then(
        &set_params("good", "1.5"),
        &set_params("good", "3.$SWARMLAB_INDEX"),
    )
}

#[test]
fn a_run_prints_a_line_per_experiment_and_a_short_closing_table() {
    let track = Track::fake();
    let out = track.run_script(&one_good_then_worse(), 7).success();
    settings(&track).bind(|| {
        insta::assert_snapshot!(out.stderr, @r"
        baseline: running fake at [commit]
        #0    0/7 keep        loss 2.000000 (best 2.000000)    [t]  baseline
        #1    1/7 keep        loss 1.500000 (best 1.500000)    [t]  good 1.5
        #2    2/7 discard     loss 3.200000 (best 1.500000)    [t]  good 3.2
        #3    3/7 discard     loss 3.300000 (best 1.500000)    [t]  good 3.3
        #4    4/7 discard     loss 3.400000 (best 1.500000)    [t]  good 3.4
        #5    5/7 discard     loss 3.500000 (best 1.500000)    [t]  good 3.5
        #6    6/7 discard     loss 3.600000 (best 1.500000)    [t]  good 3.6
        #7    7/7 discard     loss 3.700000 (best 1.500000)    [t]  good 3.7

        swarmlab/main: the baseline and 7 experiments
        experiments: 1 kept, 6 discarded
        best loss 1.500000 at [commit] (#1; baseline 2.000000, -0.500000): good 1.5

        #      commit           loss memory_gb     time  status      description
        #1     [commit]      1.500000       0.0     [t]  keep        good 1.5  <- best
        #3     [commit]      3.300000       0.0     [t]  discard     good 3.3
        #4     [commit]      3.400000       0.0     [t]  discard     good 3.4
        #5     [commit]      3.500000       0.0     [t]  discard     good 3.5
        #6     [commit]      3.600000       0.0     [t]  discard     good 3.6
        #7     [commit]      3.700000       0.0     [t]  discard     good 3.7
        (6 of 8 rows; all in [track]/results.tsv)
        chart:   [track]/progress.svg (summary: [track]/summary.md)
        run the same command to continue (it resumes at #8)
        ");
    });

    let out = track
        .run_script(&set_params("good", "4.$SWARMLAB_INDEX"), 1)
        .success();
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "resuming swarmlab/main at #8: the baseline and 7 experiments logged, best loss 1.500000 (#1)",
        "{out}"
    );
    assert!(
        out.stderr.contains(
            "swarmlab/main: the baseline and 8 experiments, 1 of them in this session\n\
             experiments: 1 kept, 7 discarded (this session: 0 kept, 1 discarded)"
        ),
        "{out}"
    );
}

#[test]
fn an_interrupted_run_is_counted_and_says_how_to_go_on() {
    let track = Track::builder().run("timeout", r#""120s""#).build();
    let script = first_then(
        &set_params("sleep", "1"),
        &set_params("good", "3.$SWARMLAB_INDEX"),
    );
    let running = track.spawn(&["run", "--proposer", "script", "--script", &script]);
    wait_for_file(&track.run_dir(1).join("pids"), Duration::from_secs(30));
    running.signal(libc::SIGINT);
    let out = running.wait(Duration::from_secs(15)).fails_with(130);
    assert!(
        out.stderr
            .contains("swarmlab/main: the baseline and 1 experiment\nexperiments: 0 kept, 0 discarded, 1 interrupted"),
        "{out}"
    );
    assert!(out.stderr.contains("\nstopped by the user\n"), "{out}");
    assert!(
        out.stderr
            .trim_end()
            .ends_with("run the same command to continue (it resumes at #2)"),
        "{out}"
    );

    let out = track.run_script(&script, 1).success();
    assert!(
        out.stderr.starts_with(
            "resuming swarmlab/main at #2: the baseline and 1 experiment logged, best loss 2.000000 (#0); #1 was interrupted\n"
        ),
        "{out}"
    );
}

#[test]
fn on_a_terminal_the_setup_the_build_and_the_experiment_redraw_one_line() {
    let setup = r#"["sh", "-c", "echo '   Compiling fake v0.1.0'; sleep 1"]"#;
    let track = Track::builder()
        .run("setup", setup)
        .run("build", r#"["sleep", "0.5"]"#)
        .file("params.txt", "mode = slow\nvalue = 1\n")
        .build();
    // `script` gives swarmlab a terminal; its output is what the terminal received.
    let command = format!(
        "{BIN} run --proposer script --script 'true' --experiments 0 {}",
        track.root_str()
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux runs");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    let redraw = "\r\x1b[2K";
    assert!(
        screen.contains(&format!("{redraw}setup: 0s | Compiling fake v0.1.0")),
        "the setup's own output is shown in place: {screen:?}"
    );
    assert!(
        screen.contains(&format!("{redraw}#0 | building 0.")),
        "the build's live line: {screen:?}"
    );
    assert!(
        screen.contains(&format!("{redraw}#0 | ")) && screen.contains("(budget 1s) | baseline"),
        "the baseline's live line: {screen:?}"
    );
    // The live line is cleared before each permanent line, which stays.
    assert!(
        screen.contains(&format!("{redraw}#0    keep        loss 1.000000")),
        "{screen:?}"
    );
    assert!(!screen.contains("still running after"), "{screen:?}");
}
