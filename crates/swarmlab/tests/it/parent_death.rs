//! The trainer dies with swarmlab: after kill -9 of swarmlab its direct child is killed by the
//! kernel at once (`PR_SET_PDEATHSIG`), and what that child started itself is found by the run
//! marker and killed when swarmlab starts again.

use std::time::Duration;

use crate::harness::{
    alive, assert_all_dead, first_then, poll_until, set_params, wait_for_file, Track,
};

#[test]
fn the_trainer_dies_with_swarmlab_and_its_children_at_the_next_start() {
    let track = Track::builder().run("timeout", r#""120s""#).build();
    let script = first_then(
        &set_params("sleep", "1"),
        &set_params("good", "3.$SWARMLAB_INDEX"),
    );
    let running = track.spawn(&["run", "--proposer", "script", "--script", &script]);
    wait_for_file(&track.run_dir(1).join("pids"), Duration::from_secs(30));
    // `sh train.sh` is the runner's child; the `sleep` it started in the background is not.
    let [trainer, grandchild] = track.pids(1)[..] else {
        panic!("the fake trainer writes two pids: {:?}", track.pids(1));
    };
    assert!(alive(trainer) && alive(grandchild));

    running.signal(libc::SIGKILL);
    running
        .wait(Duration::from_secs(15))
        .fails_with(128 + libc::SIGKILL);
    assert!(
        poll_until(Duration::from_secs(10), || !alive(trainer)),
        "the trainer {trainer} outlived swarmlab"
    );
    assert!(
        alive(grandchild),
        "the trainer's own child is left for the next start"
    );

    let out = track.run_script(&script, 1).success();
    assert!(
        out.stderr
            .contains("killed 1 process the unfinished experiment left running"),
        "{out}"
    );
    assert_all_dead(&[trainer, grandchild]);
    assert_eq!(track.statuses(), ["keep", "interrupted", "discard"]);
}
