//! What the user sees while the loop works: on a terminal, one live line redrawn in place
//! (experiment number, description, elapsed/budget, best so far, counts); otherwise one plain
//! line per finished experiment.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use swarmlab_core::{Record, Status};

/// Counts of outcomes so far.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub keep: u64,
    pub discard: u64,
    pub failed: u64,
}

impl Counts {
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Keep => self.keep += 1,
            Status::Discard => self.discard += 1,
            Status::Invalid | Status::Interrupted => {}
            _ => self.failed += 1,
        }
    }
}

/// The live status line (or its plain-text stand-in).
pub struct StatusLine {
    live: bool,
    drawn: bool,
}

impl StatusLine {
    pub fn new() -> StatusLine {
        StatusLine {
            live: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    /// Redraws the line for the experiment in flight (terminals only).
    pub fn progress(
        &mut self,
        index: u64,
        description: &str,
        elapsed: Duration,
        budget: &str,
        best: Option<f64>,
        counts: Counts,
    ) {
        if !self.live {
            return;
        }
        let best = best
            .map(|b| format!("{b:.6}"))
            .unwrap_or_else(|| "-".into());
        let line = format!(
            "#{index} {:.1}s/{budget} | best {best} | keep {} discard {} fail {} | {}",
            elapsed.as_secs_f64(),
            counts.keep,
            counts.discard,
            counts.failed,
            description
        );
        let width = terminal_width();
        let line: String = line.chars().take(width.saturating_sub(1)).collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        self.drawn = true;
    }

    /// Prints a permanent line, clearing the live one first.
    pub fn say(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.drawn {
            let _ = write!(err, "\r\x1b[2K");
            self.drawn = false;
        }
        let _ = writeln!(err, "{text}");
    }

    /// The permanent line of a finished experiment.
    pub fn finished(&mut self, record: &Record, metric_name: &str, best: Option<f64>) {
        let value = record
            .metric
            .map(|m| format!("{metric_name} {m:.6}"))
            .unwrap_or_else(|| format!("{metric_name} -"));
        let best = best
            .map(|b| format!("{b:.6}"))
            .unwrap_or_else(|| "-".into());
        self.say(&format!(
            "#{:<4} {:<11} {value} (best {best}) {:>6.1}s  {}",
            record.index,
            record.status.as_str(),
            record.wall_seconds,
            record.description
        ));
    }
}

fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize struct we own.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0 {
            return size.ws_col as usize;
        }
    }
    100
}
