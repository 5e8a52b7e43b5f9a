//! `logits` mode: the candidate serves logits, the verifier scores them.
//!
//! [`score_logits`] starts the candidate's server as a piped run (the runner's supervision and
//! sandbox), checks its handshake (in time, when the server is a run that trains first),
//! runs the causality probe (phase 1), then scores every window with spot checks and the
//! canary hidden among them (phase 2; see `plan`), and computes bits per byte itself (see
//! `score`). It trusts nothing the server says but the numbers, and those only after checking
//! them.
//!
//! Memory: a response is read one row at a time (a row is `context * vocab` f32s), so a
//! request costs two rows whatever its size; the windows kept for the checks cost at most
//! `5 * probes` rows (each probe's window, its two perturbed prefixes, each spot check's window
//! and its perturbed prefix). For vocab 8,192 and context 2,048 a row is 64 MiB: with 8 probes
//! at most 42 rows, 2.6 GiB.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::plan::{Plan, Role, Row, Windows};
use crate::rng::Rng;
use crate::score::{first_non_finite, largest_change, Tally};
use crate::wire::{self, Wire, WireError, HANDSHAKE_BYTES, HEADER_BYTES, MAGIC, VERSION};
use crate::EvalError;
use swarmlab_runner::Cancel;
use swarmlab_runner::Piped;
use swarmlab_runner::RunSpec;
use swarmlab_runner::{Ending, RunOutcome};

/// How to score: the shape of the data and of the checks. The server's time limit is its
/// `RunSpec::timeout`, for the whole session.
#[derive(Debug, Clone, PartialEq)]
pub struct LogitsConfig {
    /// Tokens are `0..vocab`; each answer has `vocab` logits per position.
    pub vocab: u32,
    /// Tokens per window sent; at least 2.
    pub context: usize,
    /// Bytes of text of each token (`vocab` entries; 0: not scored).
    pub token_bytes: Vec<u32>,
    /// At most this many windows are scored; `None`: all the data holds.
    pub windows: Option<usize>,
    /// Rows per request.
    pub batch: usize,
    /// Windows probed in phase 1, and spot checks in phase 2.
    pub probes: usize,
    /// Largest change (nats of the target's log-probability, or total variation) that
    /// counts as unchanged.
    pub tolerance: f64,
    /// Seeds which windows are probed, where they split, their new suffixes and the order of
    /// rows. The verifier's choice; a server must not be able to guess it.
    pub seed: u64,
    /// The server must send its handshake within this long of its start, else
    /// [`EvalError::Overran`]: for a server that is the training run itself, its time budget
    /// plus an allowance. `None`: only the session's timeout bounds it.
    pub serve_within: Option<Duration>,
}

/// What scoring measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LogitsScore {
    /// The metric: cross-entropy in bits per byte of text, over the scored windows.
    pub bits_per_byte: f64,
    /// Mean cross-entropy in nats per scored token.
    pub nats_per_token: f64,
    /// Windows scored.
    pub windows: usize,
    /// Predictions scored (tokens of zero bytes are not).
    pub tokens: u64,
    /// Bytes of text those predictions stand for.
    pub bytes: u64,
    /// Rows sent in all, checks included.
    pub rows: usize,
    /// The largest change seen between two answers that had to agree (at most `tolerance`).
    pub largest_change: f64,
    /// From the start of the server to its handshake.
    pub startup: Duration,
    /// Phase 1: the causality probe.
    pub probe: Duration,
    /// Phase 2: scoring, with its spot checks and the canary.
    pub scoring: Duration,
    /// How the server's run ended (stopped by the verifier once done).
    pub outcome: RunOutcome,
}

/// Serves `server` (the candidate's command, under its timeout and sandbox), probes it and
/// scores the windows of `tokens`. Errors that are the candidate's fault say so through
/// [`EvalError::blames_candidate`].
pub fn score_logits(
    server: &RunSpec,
    tokens: &[u32],
    config: &LogitsConfig,
    cancel: &Cancel,
) -> Result<LogitsScore, EvalError> {
    check_config(config, tokens)?;
    let windows = Windows::new(tokens, config.context, config.windows).ok_or_else(|| {
        EvalError::Data(format!(
            "the data holds {} tokens, fewer than one window of {} + 1",
            tokens.len(),
            config.context
        ))
    })?;
    let mut rng = Rng::new(config.seed);
    let plan = Plan::new(
        &windows,
        config.vocab,
        config.probes,
        config.batch,
        &mut rng,
    );

    let started = Instant::now();
    let mut piped = Piped::start(server, cancel)?;
    let deadline = started + server.timeout;
    let mut session = Session {
        config,
        windows: &windows,
        plan: &plan,
        originals: HashMap::new(),
        perturbed: Vec::new(),
        spotted: HashMap::new(),
        tally: Tally::default(),
        largest: 0.0,
        request: 0,
        row_bytes: Vec::new(),
        row: Vec::new(),
    };
    let result = session.run(&mut piped, deadline, started);
    // A server that hung up mid-session gets a moment to exit, so that its exit code (a
    // crash) is reported rather than our stopping it.
    let outcome = match &result {
        Err(Failure::Wire {
            error: WireError::Closed { .. },
            ..
        }) => piped.stop_after(HANG_UP_GRACE)?,
        _ => piped.stop()?,
    };
    let (startup, probe, scoring) = result.map_err(|failure| failure.explain(&outcome, server))?;
    if session.tally.bytes == 0 {
        return Err(EvalError::Data(
            "no scored token stands for any bytes of text (all have 0 in the byte table)".into(),
        ));
    }
    Ok(LogitsScore {
        bits_per_byte: session.tally.bits_per_byte(),
        nats_per_token: session.tally.nats_per_token(),
        windows: windows.count,
        tokens: session.tally.tokens,
        bytes: session.tally.bytes,
        rows: plan
            .probe_requests
            .iter()
            .chain(&plan.score_requests)
            .map(Vec::len)
            .sum(),
        largest_change: session.largest,
        startup,
        probe,
        scoring,
        outcome,
    })
}

fn check_config(config: &LogitsConfig, tokens: &[u32]) -> Result<(), EvalError> {
    let bad = |m: String| Err(EvalError::Config(m));
    if config.vocab < 2 || config.token_bytes.len() != config.vocab as usize {
        return bad(format!(
            "vocab {} with a byte table of {} entries",
            config.vocab,
            config.token_bytes.len()
        ));
    }
    if config.context < 2 || config.batch == 0 || config.probes == 0 {
        return bad("context must be at least 2, batch and probes at least 1".into());
    }
    if !(config.tolerance >= 0.0 && config.tolerance.is_finite()) {
        return bad(format!(
            "tolerance {} is not a number >= 0",
            config.tolerance
        ));
    }
    if let Some(at) = tokens.iter().position(|&t| t >= config.vocab) {
        return Err(EvalError::Data(format!(
            "token {} at {at} is outside the vocabulary of {}",
            tokens[at], config.vocab
        )));
    }
    Ok(())
}

/// What the verifier does until the server has said hello.
pub(crate) const WAITING_FOR_THE_HANDSHAKE: &str = "waiting for the handshake";

/// How long a server that closed its stdout gets to exit by itself.
const HANG_UP_GRACE: Duration = Duration::from_secs(2);

/// What went wrong inside a session, before the server's ending is known.
enum Failure {
    Wire { during: String, error: WireError },
    Eval(EvalError),
}

impl From<EvalError> for Failure {
    fn from(e: EvalError) -> Self {
        Failure::Eval(e)
    }
}

impl Failure {
    /// The error to report, now that the server's run has ended.
    fn explain(self, outcome: &RunOutcome, server: &RunSpec) -> EvalError {
        let (during, error) = match self {
            Failure::Eval(e) => return e,
            Failure::Wire { during, error } => (during, error),
        };
        let during = match &error {
            WireError::Timeout { done, wanted } | WireError::Closed { done, wanted } => {
                format!("{during} ({done} of {wanted} bytes read)")
            }
            _ => during,
        };
        match (outcome.ending, error) {
            (Ending::Interrupted, WireError::Closed { .. }) => EvalError::Interrupted,
            (Ending::TimedOut, _) | (_, WireError::Timeout { .. }) => EvalError::Timeout {
                during,
                after: server.timeout,
            },
            (ending, WireError::Closed { .. }) => EvalError::Ended {
                during,
                ending: describe(ending),
                log: swarmlab_runner::tail(&server.log_path, 2000).unwrap_or_default(),
            },
            (_, WireError::TooLong { max }) => {
                EvalError::Protocol(format!("more than {max} bytes while {during}"))
            }
            (_, WireError::Io(source)) => EvalError::Io {
                what: format!("talking to the server while {during}"),
                source,
            },
        }
    }
}

fn describe(ending: Ending) -> String {
    match ending {
        Ending::Exited(swarmlab_runner::Exit::Code(code)) => format!("exited with code {code}"),
        Ending::Exited(swarmlab_runner::Exit::Signal(signal)) => {
            format!("was killed by signal {signal}")
        }
        Ending::TimedOut => "timed out".into(),
        Ending::Interrupted => "was stopped".into(),
    }
}

struct Session<'a> {
    config: &'a LogitsConfig,
    windows: &'a Windows<'a>,
    plan: &'a Plan,
    /// Phase 1's answers for each probe's unchanged window.
    originals: HashMap<usize, Vec<f32>>,
    /// Answers for perturbed rows: (check, logits of the positions before its split).
    perturbed: Vec<(usize, Vec<f32>)>,
    /// Phase 2's answers for the windows of spot checks.
    spotted: HashMap<usize, Vec<f32>>,
    tally: Tally,
    largest: f64,
    /// Requests sent so far.
    request: usize,
    /// One row of a response, as read and as decoded.
    row_bytes: Vec<u8>,
    row: Vec<f32>,
}

impl Session<'_> {
    fn run(
        &mut self,
        piped: &mut Piped,
        deadline: Instant,
        started: Instant,
    ) -> Result<(Duration, Duration, Duration), Failure> {
        let stdin = piped.stdin.as_mut().expect("a started run has its stdin");
        // A server that trains first must be serving by the end of its budget and allowance.
        let serve_by = self
            .config
            .serve_within
            .map(|within| started + within)
            .filter(|&by| by < deadline);
        let mut wire = Wire::new(stdin, &mut piped.stdout, serve_by.unwrap_or(deadline)).map_err(
            |source| EvalError::Io {
                what: "setting up the server's pipes".into(),
                source,
            },
        )?;
        match (self.handshake(&mut wire), self.config.serve_within) {
            (
                Err(Failure::Wire {
                    error: WireError::Timeout { .. },
                    ..
                }),
                Some(limit),
            ) if serve_by.is_some() => return Err(EvalError::Overran { limit }.into()),
            (result, _) => result?,
        }
        let startup = started.elapsed();
        wire.extend(deadline);

        let phase = Instant::now();
        for request in &self.plan.probe_requests {
            self.send(&mut wire, request, "probing causality")?;
        }
        self.check_perturbed(0..self.plan.probes)?;
        let probe = phase.elapsed();

        let phase = Instant::now();
        for request in &self.plan.score_requests {
            self.send(&mut wire, request, "scoring")?;
        }
        self.check_perturbed(self.plan.probes..self.plan.checks.len())?;
        Ok((startup, probe, phase.elapsed()))
    }

    fn handshake(&mut self, wire: &mut Wire) -> Result<(), Failure> {
        let mut hello = [0u8; HANDSHAKE_BYTES];
        wire.read_exact(&mut hello).map_err(|error| Failure::Wire {
            during: WAITING_FOR_THE_HANDSHAKE.into(),
            error,
        })?;
        if &hello[..8] != MAGIC {
            return Err(protocol(format!(
                "the handshake starts with {:?}, not {:?}",
                String::from_utf8_lossy(&hello[..8]),
                String::from_utf8_lossy(MAGIC)
            )));
        }
        let (version, vocab) = (wire::u32_at(&hello, 8), wire::u32_at(&hello, 12));
        if version != VERSION {
            return Err(protocol(format!(
                "the server speaks version {version}, the verifier {VERSION}"
            )));
        }
        if vocab != self.config.vocab {
            return Err(protocol(format!(
                "the server's vocabulary has {vocab} tokens, the track's {}",
                self.config.vocab
            )));
        }
        Ok(())
    }

    fn send(&mut self, wire: &mut Wire, rows: &[Row], during: &str) -> Result<(), Failure> {
        self.request += 1;
        let n = self.request;
        let tokens: Vec<&[u32]> = rows.iter().map(|r| r.tokens.as_slice()).collect();
        let request = wire::encode_request(&tokens);
        let (vocab, len) = (self.config.vocab as usize, self.windows.context);
        let wire_failure = |error| Failure::Wire {
            during: format!("{during}, request {n}"),
            error,
        };
        let mut header = [0u8; HEADER_BYTES];
        wire.exchange(&request, &mut header).map_err(wire_failure)?;
        let (got_rows, got_len) = (wire::u32_at(&header, 0), wire::u32_at(&header, 4));
        if (got_rows as usize, got_len as usize) != (rows.len(), len) {
            return Err(protocol(format!(
                "response {n} is for {got_rows} rows of {got_len} tokens; {} rows of {len} were asked",
                rows.len()
            )));
        }
        // One row at a time: a request costs two rows of memory, whatever its size.
        self.row_bytes.resize(len * vocab * 4, 0);
        for (r, row) in rows.iter().enumerate() {
            wire.read_exact(&mut self.row_bytes).map_err(wire_failure)?;
            wire::decode_logits_into(&self.row_bytes, &mut self.row);
            if let Some((position, token, value)) = first_non_finite(&self.row, vocab) {
                return Err(EvalError::NonFinite {
                    request: n,
                    row: r,
                    position,
                    token,
                    value,
                }
                .into());
            }
            let logits = std::mem::take(&mut self.row);
            let accepted = self.accept(row, &logits);
            self.row = logits;
            accepted?;
        }
        Ok(())
    }

    /// Keeps what later checks need, scores what is scored, and compares repeated windows.
    fn accept(&mut self, row: &Row, logits: &[f32]) -> Result<(), Failure> {
        let vocab = self.config.vocab as usize;
        match row.role {
            Role::Original { check } => {
                self.originals.insert(check, logits.to_vec());
            }
            Role::Perturbed { check } => {
                let split = self.plan.checks[check].split;
                self.perturbed
                    .push((check, logits[..split * vocab].to_vec()));
            }
            Role::Score(window) => {
                self.tally.add(
                    logits,
                    self.windows.targets(window),
                    &self.config.token_bytes,
                );
                for (k, check) in self.plan.checks.iter().enumerate() {
                    if check.window != window {
                        continue;
                    }
                    if k < self.plan.probes {
                        self.same_as_before(k, window, logits)?;
                    } else {
                        self.spotted.insert(window, logits.to_vec());
                    }
                }
            }
            Role::Canary => self.same_as_before(0, self.plan.checks[0].window, logits)?,
        }
        Ok(())
    }

    /// A window answered in phase 1 must be answered the same in phase 2.
    fn same_as_before(
        &mut self,
        check: usize,
        window: usize,
        logits: &[f32],
    ) -> Result<(), Failure> {
        let vocab = self.config.vocab as usize;
        let before = &self.originals[&check];
        let (position, change) = largest_change(
            before,
            logits,
            self.windows.targets(window),
            vocab,
            self.windows.context,
        );
        self.largest = self.largest.max(change);
        if change > self.config.tolerance {
            return Err(EvalError::Stateful {
                window,
                position,
                change,
                tolerance: self.config.tolerance,
            }
            .into());
        }
        Ok(())
    }

    /// Perturbed rows of the checks in `range` against their unchanged window.
    fn check_perturbed(&mut self, range: std::ops::Range<usize>) -> Result<(), Failure> {
        let vocab = self.config.vocab as usize;
        for (check, prefix) in self.perturbed.iter().filter(|(k, _)| range.contains(k)) {
            let c = self.plan.checks[*check];
            let original = if *check < self.plan.probes {
                &self.originals[check]
            } else {
                &self.spotted[&c.window]
            };
            let (position, change) = largest_change(
                original,
                prefix,
                self.windows.targets(c.window),
                vocab,
                c.split,
            );
            self.largest = self.largest.max(change);
            if change > self.config.tolerance {
                return Err(EvalError::NotCausal {
                    window: c.window,
                    split: c.split,
                    position,
                    change,
                    tolerance: self.config.tolerance,
                }
                .into());
            }
        }
        Ok(())
    }
}

fn protocol(message: String) -> Failure {
    Failure::Eval(EvalError::Protocol(message))
}
