//! `logits` mode against fake servers (tests/fakes/logits_server.py): an honest bigram model
//! scores what the arithmetic says, and each way of cheating or breaking the protocol is a
//! clear error.

use std::fs;
use std::time::{Duration, Instant};

use swarmlab_eval::{
    collect_stdout, decode_tokens, score_logits, EvalError, LogitsConfig, LogitsScore,
};
use swarmlab_runner::{Cancel, RunSpec};
use swarmlab_testkit::scratch::Scratch;

use crate::sandbox::sandboxed;

const VOCAB: u32 = 16;
const CONTEXT: usize = 8;
const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fakes/logits_server.py");

fn server(fx: &Scratch, behaviour: &str, timeout: Duration) -> RunSpec {
    let mut spec = RunSpec::new(
        vec![
            "python3".into(),
            SERVER.into(),
            VOCAB.to_string(),
            behaviour.into(),
        ],
        fx.dir.path(),
        fx.path("server.log"),
        timeout,
    );
    spec.grace = Duration::from_millis(200);
    spec
}

fn config() -> LogitsConfig {
    LogitsConfig {
        vocab: VOCAB,
        context: CONTEXT,
        token_bytes: vec![1; VOCAB as usize],
        windows: None,
        batch: 8,
        probes: 2,
        tolerance: 1e-4,
        seed: 7,
        serve_within: None,
    }
}

/// 0, 1, 2, ...: every next token is the one the bigram favours.
fn cyclic(windows: usize) -> Vec<u32> {
    (0..(windows * CONTEXT + 1) as u32)
        .map(|i| i % VOCAB)
        .collect()
}

/// Tokens from a fixed LCG, so that the bigram is right about a sixteenth of the time.
fn random(windows: usize) -> Vec<u32> {
    let mut state = 12345u64;
    (0..windows * CONTEXT + 1)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % u64::from(VOCAB)) as u32
        })
        .collect()
}

fn serve(behaviour: &str, tokens: &[u32]) -> Result<LogitsScore, EvalError> {
    let fx = Scratch::new();
    let spec = server(&fx, behaviour, Duration::from_secs(60));
    score_logits(&spec, tokens, &config(), &Cancel::new())
}

#[test]
fn an_honest_model_passes_and_scores_what_the_arithmetic_says() {
    let score = serve("honest", &cyclic(40)).unwrap();
    // Half the probability on the right token: one bit per byte, exactly.
    assert!((score.bits_per_byte - 1.0).abs() < 1e-6, "{score:?}");
    assert!((score.nats_per_token - std::f64::consts::LN_2).abs() < 1e-6);
    assert_eq!((score.windows, score.tokens, score.bytes), (40, 320, 320));
    // 40 windows, 2 probes of 3 rows, 2 spot checks, the canary.
    assert_eq!(score.rows, 40 + 6 + 2 + 1);
    assert!(score.largest_change <= 1e-4, "{score:?}");

    // On random tokens: 1 bit where the bigram is right, log2(30) bits elsewhere.
    let tokens = random(40);
    let hits = tokens[..320]
        .iter()
        .zip(&tokens[1..])
        .filter(|(a, b)| (*a + 1) % VOCAB == **b)
        .count() as f64;
    let expected = (hits + (320.0 - hits) * 30f64.log2()) / 320.0;
    let score = serve("honest", &tokens).unwrap();
    assert!(
        (score.bits_per_byte - expected).abs() < 1e-6,
        "{} vs {expected}",
        score.bits_per_byte
    );
}

#[test]
fn the_verifiers_byte_table_and_window_cap_decide_the_count() {
    let fx = Scratch::new();
    let mut config = config();
    config.token_bytes = vec![2; VOCAB as usize];
    config.windows = Some(10);
    let spec = server(&fx, "honest", Duration::from_secs(60));
    let score = score_logits(&spec, &cyclic(40), &config, &Cancel::new()).unwrap();
    assert_eq!((score.windows, score.tokens, score.bytes), (10, 80, 160));
    assert!((score.bits_per_byte - 0.5).abs() < 1e-6);
}

#[test]
fn unnormalised_all_zero_logits_are_the_uniform_distribution() {
    let score = serve("zeros", &random(20)).unwrap();
    assert!((score.bits_per_byte - 4.0).abs() < 1e-9, "{score:?}");
}

#[test]
fn models_that_read_future_tokens_fail_the_causality_probe() {
    for behaviour in ["shifted", "mean", "last"] {
        let err = serve(behaviour, &random(40)).unwrap_err();
        assert!(
            matches!(err, EvalError::NotCausal { .. }),
            "{behaviour}: {err}"
        );
        assert!(err.blames_candidate());
        assert!(
            err.to_string()
                .starts_with("causality probe failed: in window "),
            "{err}"
        );
    }
}

#[test]
fn a_model_that_changes_between_calls_is_caught() {
    let err = serve("stateful", &random(40)).unwrap_err();
    assert!(matches!(err, EvalError::Stateful { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("was answered differently when sent again"),
        "{err}"
    );
}

#[test]
fn nan_logits_are_refused() {
    let err = serve("nan", &random(40)).unwrap_err();
    assert!(
        matches!(
            err,
            EvalError::NonFinite {
                request: 2,
                position: 1,
                token: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("sent NaN in request 2"), "{err}");
}

#[test]
fn protocol_mistakes_are_named() {
    let err = serve("short-header", &random(40)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the logits server broke the protocol: response 1 is for 5 rows of 8 tokens; 6 rows of 8 were asked"
    );
    let err = serve("wrong-vocab", &random(40)).unwrap_err();
    assert!(
        err.to_string()
            .contains("the server's vocabulary has 17 tokens, the track's 16"),
        "{err}"
    );
    assert!(err.blames_candidate());
}

#[test]
fn a_short_answer_or_a_hang_times_out_and_the_server_is_gone() {
    for behaviour in ["short-body", "hang"] {
        let fx = Scratch::new();
        let spec = server(&fx, behaviour, Duration::from_secs(2));
        let started = Instant::now();
        let err = score_logits(&spec, &random(40), &config(), &Cancel::new()).unwrap_err();
        assert!(
            matches!(err, EvalError::Timeout { .. }),
            "{behaviour}: {err}"
        );
        let expected = match behaviour {
            "short-body" => "timed out while probing causality, request 1 (",
            _ => "timed out while scoring, request 2 (0 of 8 bytes read)",
        };
        assert!(err.to_string().contains(expected), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[test]
fn a_server_that_floods_the_pipe_breaks_the_protocol_and_is_stopped() {
    let err = serve("flood", &random(40)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the logits server broke the protocol: response 2 is for 4294967295 rows of 4294967295 tokens; 8 rows of 8 were asked"
    );
    assert!(err.blames_candidate());
}

#[test]
fn a_server_that_trains_past_its_budget_and_allowance_overran_it() {
    let fx = Scratch::new();
    let spec = server(&fx, "late", Duration::from_secs(60));
    let mut late = config();
    late.serve_within = Some(Duration::from_millis(500));
    let err = score_logits(&spec, &cyclic(40), &late, &Cancel::new()).unwrap_err();
    assert!(matches!(err, EvalError::Overran { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "the run was not serving logits within 500ms of its start (its time budget and the allowance): its training overran the budget"
    );
    assert!(err.blames_candidate());
    // Within its allowance, the same server is scored.
    late.serve_within = Some(Duration::from_secs(30));
    let score = score_logits(&spec, &cyclic(40), &late, &Cancel::new()).unwrap();
    assert!(score.startup >= Duration::from_secs(3), "{score:?}");
}

#[test]
fn a_crashing_server_is_reported_with_its_log() {
    let err = serve("crash", &random(40)).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("exited with code 3"), "{message}");
    assert!(message.contains("out of memory in layer 3"), "{message}");
    assert!(err.blames_candidate());
}

#[test]
fn a_server_that_cannot_start_is_not_the_candidates_fault() {
    let fx = Scratch::new();
    let mut spec = server(&fx, "honest", Duration::from_secs(5));
    spec.command[0] = "no-such-python-swarmlab".into();
    let err = score_logits(&spec, &random(40), &config(), &Cancel::new()).unwrap_err();
    assert!(matches!(err, EvalError::Run(_)), "{err}");
    assert!(!err.blames_candidate());
}

#[test]
fn a_sandboxed_server_is_scored_the_same() {
    let sb = sandboxed();
    fs::copy(SERVER, sb.checkout.join("serve.py")).unwrap();
    let mut spec = sb.sh(
        &format!("exec python3 serve.py {VOCAB} honest"),
        Duration::from_secs(60),
    );
    spec.log_path = sb.fx.path("server.log");
    let score = score_logits(&spec, &cyclic(20), &config(), &Cancel::new()).unwrap();
    assert!((score.bits_per_byte - 1.0).abs() < 1e-6, "{score:?}");
}

#[test]
fn tokens_come_from_a_generators_stdout_only() {
    let fx = Scratch::new();
    let spec = fx.sh(
        "echo 'progress: 50%' >&2; printf 'abc'",
        Duration::from_secs(10),
    );
    let bytes = collect_stdout(&spec, 1 << 20, &Cancel::new()).unwrap();
    assert_eq!(decode_tokens(&bytes, 256).unwrap(), [97, 98, 99]);

    let spec = fx.sh("printf 'abcdef'", Duration::from_secs(10));
    let err = collect_stdout(&spec, 4, &Cancel::new()).unwrap_err();
    assert!(err.to_string().contains("wrote more than 4 bytes"), "{err}");

    let spec = fx.sh("echo broken >&2; exit 1", Duration::from_secs(10));
    let err = collect_stdout(&spec, 1 << 20, &Cancel::new()).unwrap_err();
    assert!(err.to_string().contains("broken"), "{err}");
    assert!(!err.blames_candidate());
}
