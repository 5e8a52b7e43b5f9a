//! [`LoadMeter`]: what the machine's load was during one run, as the verifier saw it: the
//! run's wall time, the CPU time its processes used, and the load average when it ended. The
//! hub shows it beside the measurements; it decides nothing.
//!
//! It reads the kernel's accounts of this process's children; it must not start anything.

use std::time::Instant;

use swarmlab_proto::RunLoad;

/// Started before a run, read after it.
pub(super) struct LoadMeter {
    started: Instant,
    children_cpu: f64,
}

impl LoadMeter {
    pub(super) fn start() -> LoadMeter {
        LoadMeter {
            started: Instant::now(),
            children_cpu: children_cpu_seconds(),
        }
    }

    /// The load since [`LoadMeter::start`]. The runs are this process's children (the
    /// runner reaps every descendant), so the CPU time of the children that ended since is
    /// the run's.
    pub(super) fn finish(self) -> RunLoad {
        RunLoad {
            wall_s: round(self.started.elapsed().as_secs_f64()),
            cpu_s: round((children_cpu_seconds() - self.children_cpu).max(0.0)),
            load_avg: load_average().unwrap_or(0.0),
        }
    }
}

/// User and system seconds of the children this process has waited for.
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the zero-initialised struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return 0.0;
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The one-minute load average; `None` where `/proc/loadavg` cannot be read.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Milliseconds are plenty, and keep the signed report short.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_burns_cpu_shows_in_its_run_load() {
        let meter = LoadMeter::start();
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let load = meter.finish();
        assert!(load.cpu_s > 0.0, "{load:?}");
        assert!(load.wall_s > 0.0, "{load:?}");
        assert!(load.load_avg >= 0.0);
    }
}
