//! Peak memory of the whole process tree.

use std::time::Duration;

use swarmlab_runner::{run, Cancel, Ending, Exit};
use swarmlab_testkit::scratch::{run_plain, Scratch};

const MIB: u64 = 1 << 20;

#[test]
fn one_process_touching_100_mib_peaks_above_90_mb() {
    let fx = Scratch::new();
    let spec = fx.sh(
        "python3 -c 'x = b\"x\" * (100 << 20); print(len(x))'",
        Duration::from_secs(60),
    );
    let outcome = run_plain(&spec);
    assert_eq!(
        outcome.ending,
        Ending::Exited(Exit::Code(0)),
        "{}",
        fx.log()
    );
    assert!(
        outcome.peak_rss_bytes >= 90_000_000,
        "peak {}",
        outcome.peak_rss_bytes
    );
}

#[test]
fn two_processes_holding_100_mib_each_peak_at_about_the_sum() {
    let fx = Scratch::new();
    let hold = "import os, time
x = b'x' * (100 << 20)
print('ready', flush=True)
while not os.path.exists('release'):
    time.sleep(0.01)";
    let spec = fx.sh(
        &format!("python3 -c \"{hold}\" & python3 -c \"{hold}\" & wait"),
        Duration::from_secs(60),
    );
    let mut both_ready_seen = false;
    let mut max_tick = 0;
    let outcome = run(&spec, &Cancel::new(), &mut |tick| {
        max_tick = max_tick.max(tick.rss_bytes);
        // Release one tick after both reported ready, so that tick's sample saw both.
        if both_ready_seen {
            std::fs::write(fx.path("release"), "").unwrap();
        }
        let log = std::fs::read_to_string(fx.path("log")).unwrap_or_default();
        both_ready_seen = log.matches("ready").count() == 2;
    })
    .unwrap();
    assert_eq!(
        outcome.ending,
        Ending::Exited(Exit::Code(0)),
        "{}",
        fx.log()
    );
    let peak = outcome.peak_rss_bytes;
    assert!(peak >= 200 * MIB, "peak {peak}");
    assert!(peak <= 300 * MIB, "peak {peak} is far above the sum");
    assert_eq!(max_tick, peak, "the peak is the largest tick sample here");
}
