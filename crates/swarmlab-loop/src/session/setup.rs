//! The track's setup step (a release build, a data download), run once before the baseline
//! with its own timeout, showing the step's own progress: its last output line.
//!
//! It runs nothing else and decides nothing about experiments.

use std::path::Path;
use std::time::Duration;

use swarmlab_core::spec::Toolchain;
use swarmlab_runner::{Ending, Exit, RunSpec};

use super::Session;
use crate::status::{clock, clock_coarse, last_line};
use crate::LoopError;

impl Session {
    /// Runs the track's setup step (e.g. a release build) once, with its own timeout.
    pub fn setup(&mut self) -> Result<(), LoopError> {
        let Some(command) = self.spec.run.setup.clone() else {
            return Ok(());
        };
        let log_path = self.state_dir().join("setup.log");
        let mut run = RunSpec::new(
            command.clone(),
            &self.spec.root,
            &log_path,
            self.spec.run.setup_timeout,
        );
        run.env = self.spec.build_env(self.experiment_seed(0));
        if self.spec.run.toolchain == Some(Toolchain::Cargo) {
            // cargo draws its progress bar (`Building [===>  ] 45/120: serde`) only on a
            // terminal unless asked, and the setup's log is none; its last line is shown.
            run.env
                .push(("CARGO_TERM_PROGRESS_WHEN".into(), "always".into()));
            run.env
                .push(("CARGO_TERM_PROGRESS_WIDTH".into(), "100".into()));
        }
        let shown = command.join(" ");
        self.status
            .say(&format!("setup: {shown} (log: {})", log_path.display()));
        let status = &mut self.status;
        let mut watch = SetupWatch::new(status.is_live());
        let outcome = swarmlab_runner::run(&run, &self.cancel, &mut |tick| {
            if let Some(text) = watch.tick(tick.elapsed, &log_path) {
                if status.is_live() {
                    status.redraw(&text);
                } else {
                    status.say(&text);
                }
            }
        })?;
        let wall = clock(outcome.wall);
        match outcome.ending {
            Ending::Exited(Exit::Code(0)) => {
                self.status.say(&format!("setup: done in {wall}"));
                Ok(())
            }
            Ending::Interrupted => Err(LoopError::SetupInterrupted),
            ending => {
                let tail = swarmlab_runner::tail(&log_path, 2000).unwrap_or_default();
                Err(LoopError::SetupFailed {
                    command: shown,
                    ending,
                    wall: outcome.wall,
                    log: log_path,
                    tail: tail.trim_end().to_string(),
                })
            }
        }
    }
}

/// What the setup shows while it runs: its own last output line (cargo's `Compiling x`), in
/// place on a terminal about five times a second, otherwise as a plain line every 30 seconds.
struct SetupWatch {
    live: bool,
    next: Duration,
}

impl SetupWatch {
    const LIVE_EVERY: Duration = Duration::from_millis(200);
    const PLAIN_EVERY: Duration = Duration::from_secs(30);

    fn new(live: bool) -> SetupWatch {
        SetupWatch {
            live,
            next: if live {
                Duration::ZERO
            } else {
                SetupWatch::PLAIN_EVERY
            },
        }
    }

    /// The line to show at `elapsed`, when one is due.
    fn tick(&mut self, elapsed: Duration, log: &Path) -> Option<String> {
        if elapsed < self.next {
            return None;
        }
        self.next = elapsed
            + if self.live {
                SetupWatch::LIVE_EVERY
            } else {
                SetupWatch::PLAIN_EVERY
            };
        let last = swarmlab_runner::tail(log, 4096)
            .ok()
            .and_then(|text| last_line(&text));
        let clock = clock_coarse(elapsed);
        Some(match last {
            Some(line) => format!("setup: {clock} | {line}"),
            None => format!("setup: {clock} | no output yet"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setup_shows_its_last_line_every_30s_when_not_on_a_terminal() {
        let log = std::env::temp_dir().join(format!("swarmlab-setup-{}.log", std::process::id()));
        std::fs::write(&log, "   Compiling a v1.0.0\n   Compiling b v2.0.0\n").unwrap();
        let mut watch = SetupWatch::new(false);
        assert_eq!(watch.tick(Duration::from_secs(1), &log), None);
        assert_eq!(
            watch.tick(Duration::from_secs(30), &log).as_deref(),
            Some("setup: 30s | Compiling b v2.0.0")
        );
        assert_eq!(watch.tick(Duration::from_secs(31), &log), None);
        assert!(watch.tick(Duration::from_secs(60), &log).is_some());
        let mut live = SetupWatch::new(true);
        assert!(live.tick(Duration::ZERO, &log).is_some());
        assert_eq!(live.tick(Duration::from_millis(100), &log), None);
        std::fs::remove_file(&log).unwrap();
        assert_eq!(
            live.tick(Duration::from_millis(200), &log).as_deref(),
            Some("setup: 0s | no output yet")
        );
    }
}
