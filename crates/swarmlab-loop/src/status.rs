//! What the user sees while the loop works, as cargo shows a build: on a terminal, one live
//! line redrawn in place (experiment number and quota, elapsed time against what a run
//! usually takes, best so far, counts, ETA, description); otherwise only plain permanent
//! lines, one per finished experiment.
//!
//! The texts are pure functions of what the session passes in, so tests can pin them; this
//! module decides no outcome and reads no file.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use swarmlab_core::{Record, Status};

/// Counts of the outcomes of experiments (baselines not counted).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub keep: u64,
    pub discard: u64,
    pub failed: u64,
    pub invalid: u64,
    pub interrupted: u64,
}

impl Counts {
    /// Counts `record` unless it is a baseline.
    pub fn add(&mut self, record: &Record) {
        if is_baseline(record) {
            return;
        }
        match record.status {
            Status::Keep => self.keep += 1,
            Status::Discard => self.discard += 1,
            Status::Invalid => self.invalid += 1,
            Status::Interrupted => self.interrupted += 1,
            _ => self.failed += 1,
        }
    }

    /// How many experiments were counted.
    pub fn total(&self) -> u64 {
        self.keep + self.discard + self.failed + self.invalid + self.interrupted
    }
}

/// `2 kept, 6 discarded, 1 failed, 1 interrupted`: kept and discarded always, the rest when
/// there are any, so the parts add up to the experiments counted.
impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} kept, {} discarded", self.keep, self.discard)?;
        for (n, word) in [
            (self.failed, "failed"),
            (self.invalid, "invalid"),
            (self.interrupted, "interrupted"),
        ] {
            if n > 0 {
                write!(f, ", {n} {word}")?;
            }
        }
        Ok(())
    }
}

/// A baseline measures the branch's starting point; it is no experiment of a proposer.
pub fn is_baseline(record: &Record) -> bool {
    record.proposer == "baseline"
}

/// Everything the live line shows about the experiment in flight.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    pub index: u64,
    /// This experiment's place in the session's quota, `(3, 10)`, when there is one.
    pub quota: Option<(u64, u64)>,
    pub description: &'a str,
    pub elapsed: Duration,
    /// What a complete run of this branch usually takes, once one has run.
    pub typical: Option<Duration>,
    /// The track's budget as it reads (`60s`, `2000 steps`), shown until a run has a time.
    pub budget: &'a str,
    /// The track's `build` step runs before the experiment, `elapsed` its time.
    pub building: bool,
    /// The best metric so far and its experiment.
    pub best: Option<(f64, u64)>,
    pub counts: Counts,
    /// Until the session is done, when it can be told.
    pub eta: Option<Duration>,
}

/// The live line: `#43 3/10 | 4.0s of ~4.1s | best 1.234567 (#31) | 2 kept, 1 discarded |
/// ETA 1m10s | lr 0.003 -> 0.01`. A budget is what the program is asked to honour, not how
/// long a run takes (start-up and evaluation are extra, and some tracks ignore it), so the
/// time is set against earlier runs once there are any.
pub fn progress_text(p: &Progress) -> String {
    let mut parts = vec![match p.quota {
        Some((k, n)) => format!("#{} {k}/{n}", p.index),
        None => format!("#{}", p.index),
    }];
    parts.push(match p.typical {
        _ if p.building => format!("building {}", clock(p.elapsed)),
        Some(typical) => format!("{} of ~{}", clock(p.elapsed), clock(typical)),
        None => format!("{} (budget {})", clock(p.elapsed), p.budget),
    });
    if let Some((value, index)) = p.best {
        parts.push(format!("best {value:.6} (#{index})"));
    }
    if p.counts.total() > 0 {
        parts.push(p.counts.to_string());
    }
    if let Some(eta) = p.eta {
        parts.push(format!("ETA {}", clock_coarse(eta)));
    }
    parts.push(p.description.to_string());
    parts.join(" | ")
}

/// The permanent line of a finished experiment:
/// `#43   3/10 discard     loss 2.100000 (best 1.234567)    4.1s  lr 0.003 -> 0.01`.
pub fn finished_text(
    record: &Record,
    quota: Option<(u64, u64)>,
    metric_name: &str,
    best: Option<f64>,
) -> String {
    let value = record
        .metric
        .map(|m| format!("{metric_name} {m:.6}"))
        .unwrap_or_else(|| format!("{metric_name} -"));
    let best = best
        .map(|b| format!("{b:.6}"))
        .unwrap_or_else(|| "-".into());
    let place = match quota {
        Some((k, n)) => {
            let width = 2 * n.to_string().len() + 1;
            format!(" {:>width$}", format!("{k}/{n}"))
        }
        None => String::new(),
    };
    format!(
        "#{:<4}{place} {:<11} {value} (best {best}) {:>7}  {}",
        record.index,
        record.status.as_str(),
        clock(Duration::from_secs_f64(record.wall_seconds.max(0.0))),
        record.description
    )
}

/// A time as a person reads it at a glance: `4.0s`, `1m05s`, `2h03m`.
pub fn clock(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        clock_coarse(d)
    }
}

/// A time to whole seconds: `45s`, `1m05s`, `2h03m`.
pub fn clock_coarse(d: Duration) -> String {
    let secs = d.as_secs_f64().round() as u64;
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The last line a program wrote, for a progress display: after the last newline or carriage
/// return (progress bars redraw with `\r`), colour and cursor escapes and control characters
/// dropped.
pub fn last_line(output: &str) -> Option<String> {
    output
        .split(['\n', '\r'])
        .rev()
        .map(|line| printable(line).trim().to_string())
        .find(|line| !line.is_empty())
}

/// `text` without ANSI escape sequences (`ESC [ ... letter`) and control characters.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.next() == Some('[') {
                // Parameters and intermediates up to the final byte, `@` to `~`.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
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

    /// True on a terminal, where one line is redrawn in place.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Redraws the live line with `text`, cut to the terminal's width (terminals only).
    pub fn redraw(&mut self, text: &str) {
        if !self.live {
            return;
        }
        let width = terminal_width();
        let line: String = text.chars().take(width.saturating_sub(1)).collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        self.drawn = true;
    }

    /// Redraws the line for the experiment in flight (terminals only).
    pub fn progress(&mut self, progress: &Progress) {
        if self.live {
            self.redraw(&progress_text(progress));
        }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record of experiment `index` (the baseline at 0), its commit named after it, run
    /// for 1.25 s.
    pub(crate) fn record(
        index: u64,
        status: Status,
        metric: Option<f64>,
        description: &str,
    ) -> Record {
        Record {
            index,
            branch: "swarmlab/main".into(),
            commit: format!("{index:07x}abcdef"),
            parent: String::new(),
            status,
            description: description.into(),
            proposer: if index == 0 { "baseline" } else { "script" }.into(),
            metric,
            metrics: Default::default(),
            memory_gb: 0.1,
            peak_rss_bytes: 0,
            wall_seconds: 1.25,
            exit: String::new(),
            seed: 0,
            diff: Default::default(),
            log: String::new(),
            started_at: String::new(),
            note: None,
            diff_hash: None,
            usage: None,
        }
    }

    fn timed(index: u64, status: Status, metric: Option<f64>, wall: f64) -> Record {
        Record {
            wall_seconds: wall,
            ..record(index, status, metric, "lr 0.003 -> 0.01")
        }
    }

    fn progress<'a>() -> Progress<'a> {
        Progress {
            index: 43,
            quota: Some((3, 10)),
            description: "lr 0.003 -> 0.01",
            elapsed: Duration::from_millis(4040),
            typical: Some(Duration::from_millis(4100)),
            budget: "1s",
            building: false,
            best: Some((1.234567, 31)),
            counts: Counts {
                keep: 2,
                discard: 1,
                ..Counts::default()
            },
            eta: Some(Duration::from_secs(70)),
        }
    }

    #[test]
    fn the_live_line_sets_the_time_against_earlier_runs() {
        insta::assert_snapshot!(progress_text(&progress()), @"#43 3/10 | 4.0s of ~4.1s | best 1.234567 (#31) | 2 kept, 1 discarded | ETA 1m10s | lr 0.003 -> 0.01");
    }

    #[test]
    fn the_first_run_shows_the_budget_as_what_was_asked() {
        let baseline = Progress {
            index: 0,
            quota: None,
            description: "baseline",
            typical: None,
            best: None,
            counts: Counts::default(),
            eta: None,
            ..progress()
        };
        insta::assert_snapshot!(progress_text(&baseline), @"#0 | 4.0s (budget 1s) | baseline");
        let building = Progress {
            building: true,
            ..progress()
        };
        assert!(progress_text(&building).starts_with("#43 3/10 | building 4.0s | best"));
    }

    #[test]
    fn finished_lines_align_and_count_the_quota() {
        let lines = [
            finished_text(
                &timed(0, Status::Keep, Some(2.0), 1.04),
                None,
                "loss",
                Some(2.0),
            ),
            finished_text(
                &timed(9, Status::Discard, Some(2.1), 75.0),
                Some((9, 10)),
                "loss",
                Some(2.0),
            ),
            finished_text(
                &timed(10, Status::Crash, None, 0.2),
                Some((10, 10)),
                "loss",
                Some(2.0),
            ),
        ];
        insta::assert_snapshot!(lines.join("\n"), @r"
        #0    keep        loss 2.000000 (best 2.000000)    1.0s  lr 0.003 -> 0.01
        #9     9/10 discard     loss 2.100000 (best 2.000000)   1m15s  lr 0.003 -> 0.01
        #10   10/10 crash       loss - (best 2.000000)    0.2s  lr 0.003 -> 0.01
        ");
    }

    #[test]
    fn counts_leave_out_baselines_and_add_up() {
        let mut counts = Counts::default();
        for (i, status) in [
            Status::Keep,
            Status::Keep,
            Status::Discard,
            Status::Crash,
            Status::Interrupted,
        ]
        .into_iter()
        .enumerate()
        {
            counts.add(&record(i as u64, status, None, ""));
        }
        assert_eq!(counts.total(), 4);
        assert_eq!(
            counts.to_string(),
            "1 kept, 1 discarded, 1 failed, 1 interrupted"
        );
    }

    #[test]
    fn clocks_read_at_a_glance() {
        let s = Duration::from_secs_f64;
        assert_eq!(clock(s(4.04)), "4.0s");
        assert_eq!(clock(s(65.0)), "1m05s");
        assert_eq!(clock(s(7380.0)), "2h03m");
        assert_eq!(clock_coarse(s(44.6)), "45s");
    }

    #[test]
    fn the_last_line_survives_carriage_returns_and_escapes() {
        assert_eq!(
            last_line("   Compiling a v1\n   Compiling b v2\n").as_deref(),
            Some("Compiling b v2")
        );
        assert_eq!(
            last_line("10%\r50%\r\x1b[K\x1b[1;32m90%\x1b[0m\r").as_deref(),
            Some("90%")
        );
        assert_eq!(last_line("\n \n"), None);
    }
}
