//! Errors a user makes, each a message that names the file, the line and the fix, with its
//! documented exit code: 2 for the command line, 3 for the track spec.

use crate::harness::{swarmlab, Track};

/// The track's temporary path varies from run to run.
fn settings(track: &Track) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&format!("{}/", track.root_str()), "[track]/");
    settings
}

#[test]
fn a_missing_folder_is_named_with_the_command_that_makes_a_track() {
    let track = Track::fake();
    let missing = format!("{}/nope", track.root_str());
    let out = swarmlab(&["run", &missing], None).fails_with(2);
    settings(&track).bind(|| {
        insta::assert_snapshot!(out.stderr, @"error: there is no folder [track]/nope; `swarmlab init [track]/nope` creates a track there");
    });
}

#[test]
fn a_folder_without_a_spec_says_how_to_write_one() {
    let track = Track::fake();
    std::fs::remove_file(track.path("swarmlab.toml")).expect("the spec was written");
    let out = track.swarmlab(&["track", "check"]).fails_with(3);
    assert!(
        out.stderr.contains("has no swarmlab.toml")
            && out.stderr.contains("`swarmlab init --spec-only "),
        "{out}"
    );
}

#[test]
fn a_toml_syntax_error_shows_its_line_with_a_caret() {
    let spec =
        "[track]\nname = \"fake\"\n\n[run]\ncommand = [\"sh\", \"train.sh\"\ntimeout = \"2s\"\n";
    let track = Track::builder().spec(spec).build();
    let out = track.swarmlab(&["run"]).fails_with(3);
    settings(&track).bind(|| {
        insta::assert_snapshot!(out.stderr, @r#"
        error: [track]/swarmlab.toml at line 6: this is not valid TOML: invalid array; expected `]`
          |
        6 | timeout = "2s"
          | ^
        "#);
    });
}

#[test]
fn a_knob_pattern_that_matches_nothing_points_at_itself_and_the_line_it_missed() {
    let track = Track::builder().run("budget", r#""1s""#).build();
    let mut spec = track.read("swarmlab.toml");
    spec.push_str("\n[knobs]\nvalue = { file = \"params.txt\", pattern = 'value: (?P<v>[0-9.]+)', range = [1.0, 3.0] }\n");
    track.write("swarmlab.toml", &spec);
    let out = track.swarmlab(&["track", "check"]).fails_with(3);
    settings(&track).bind(|| {
        insta::assert_snapshot!(out.stderr, @r#"
        error: [track]/swarmlab.toml at line 19: knob `value`: pattern does not match anything in `params.txt`; its line 2 reads `value = 2.0`
           |
        19 | value = { file = "params.txt", pattern = 'value: (?P<v>[0-9.]+)', range = [1.0, 3.0] }
           |                                          ^^^^^^^^^^^^^^^^^^^^^^^
        "#);
    });
}

#[test]
fn a_value_that_is_wrong_names_the_key_and_shows_it() {
    let track = Track::builder().run("timeout", r#""0.5s""#).build();
    let out = track.swarmlab(&["run"]).fails_with(3);
    settings(&track).bind(|| {
        insta::assert_snapshot!(out.stderr, @r#"
        error: [track]/swarmlab.toml at line 7: `run.timeout` (0.500s) must be at least the budget (1s)
          |
        7 | timeout = "0.5s"
          |           ^^^^^^
        "#);
    });
}

#[test]
fn a_negative_count_is_a_clear_usage_error() {
    let track = Track::fake();
    let out = track
        .swarmlab(&["run", "--experiments", "-1"])
        .fails_with(2);
    assert!(
        out.stderr.contains("`-1` is not a number of experiments"),
        "{out}"
    );
    assert!(
        !out.stderr.contains("-- -1"),
        "clap's tip is wrong here: {out}"
    );
    assert!(track.records().is_empty());
}

#[test]
fn a_bad_tag_is_a_usage_error() {
    let track = Track::fake();
    let out = track
        .swarmlab(&["run", "--tag", "two words", "-n", "1"])
        .fails_with(2);
    assert!(
        out.stderr
            .contains("`two words` cannot be part of a branch name"),
        "{out}"
    );
    assert!(track.records().is_empty());
}
