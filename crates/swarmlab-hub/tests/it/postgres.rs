//! The hub's whole integration suite again, on PostgreSQL: a throwaway cluster
//! (`swarmlab_testkit::postgres`) and this test binary run once more with
//! `SWARMLAB_TEST_DATABASE_URL` naming it, so that every test hub gets a database of its own
//! there (`swarmlab_testkit::database`). Where PostgreSQL is not installed it skips, unless
//! `SWARMLAB_TEST_POSTGRES=required` (as in `.ci/run`).

use std::process::Command;

use swarmlab_testkit::database::ENV;
use swarmlab_testkit::postgres::Cluster;

#[test]
fn the_whole_suite_passes_on_postgresql() {
    if std::env::var(ENV).is_ok() {
        return; // already the run on PostgreSQL
    }
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let me = std::env::current_exe().expect("a test binary knows its path");
    let out = Command::new(me)
        .args(["--skip", "postgres::", "--test-threads", "4"])
        .env(ENV, &cluster.url)
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the suite failed on PostgreSQL:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passed = stdout
        .lines()
        .find(|l| l.starts_with("test result: ok."))
        .expect("the run reports its result");
    assert!(!passed.contains(" 0 passed"), "nothing ran: {passed}");
    eprintln!("on PostgreSQL: {passed}");
}
