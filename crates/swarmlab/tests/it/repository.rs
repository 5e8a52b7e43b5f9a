//! swarmlab never overwrites uncommitted work.

use crate::harness::{set_params, Track};

#[test]
fn a_dirty_tree_is_refused_before_anything_runs() {
    let track = Track::fake();
    track.write("train.sh", "#!/bin/sh\necho my own work\n");
    let out = track
        .run_script(&set_params("good", "1.5"), 1)
        .fails_with(4);
    assert!(out.stderr.contains("train.sh"), "{out}");
    assert!(track.records().is_empty(), "something was logged");
    assert!(!track.run_dir(0).exists(), "the baseline ran");
    assert_eq!(track.git(&["branch", "--show-current"]), "main");
    assert_eq!(track.read("train.sh"), "#!/bin/sh\necho my own work\n");
}

#[test]
fn a_dirty_tree_is_refused_on_the_swarmlab_branch_too() {
    let track = Track::fake();
    track.run_script(&set_params("good", "1.5"), 0).success();
    track.write("params.txt", "mode = good\nvalue = 0.1\n");
    let out = track
        .run_script(&set_params("good", "1.5"), 1)
        .fails_with(4);
    assert!(out.stderr.contains("params.txt"), "{out}");
    assert_eq!(track.records().len(), 1, "only the baseline");
    assert_eq!(track.read("params.txt"), "mode = good\nvalue = 0.1\n");
}

#[test]
fn a_folder_that_is_not_a_repository_is_refused() {
    let track = Track::fake();
    std::fs::remove_dir_all(track.path(".git")).expect("remove .git");
    let out = track
        .run_script(&set_params("good", "1.5"), 1)
        .fails_with(4);
    assert!(out.stderr.contains("error:"), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
}
