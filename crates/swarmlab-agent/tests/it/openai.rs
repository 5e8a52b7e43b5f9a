//! The `openai` proposer against a fake chat-completions server: a good edit, a repair turn,
//! retries on 429 and 5xx, and the errors a user must act on.

use std::time::Duration;

use swarmlab_agent::{OpenAiConfig, OpenAiProposer, Prices, Proposal, Proposer, Usage};

use crate::support::{Canned, FakeServer, Track};

const GOOD: &str = "\
DESCRIPTION: raise lr to 0.003
params.txt
<<<<<<< SEARCH
lr = 0.002
=======
lr = 0.003
>>>>>>> REPLACE
";

/// A config for the fake server: fast retries, the key in a variable of the test's own.
fn config(server: &FakeServer, key_env: &str) -> OpenAiConfig {
    let mut config = OpenAiConfig::new("fake-model");
    config.base_url = server.base_url.clone();
    config.api_key_env = key_env.to_string();
    config.timeout = Duration::from_secs(20);
    config.retries = 2;
    config.backoff = Duration::from_millis(10);
    config
}

#[test]
fn a_good_answer_is_applied_and_its_usage_recorded() {
    let track = Track::new();
    let server = FakeServer::start(vec![Canned::answer(GOOD)]);
    std::env::set_var("SWARMLAB_TEST_KEY_GOOD", "sk-test-123");
    let mut config = config(&server, "SWARMLAB_TEST_KEY_GOOD");
    config.prices = Some(Prices {
        input_per_million: 2.0,
        output_per_million: 8.0,
    });
    config.log_dir = Some(".swarmlab/agent".into());
    let mut proposer = OpenAiProposer::new(config).unwrap();
    let proposal = proposer.propose(&track.context()).unwrap();
    assert_eq!(
        proposal,
        Proposal::Change {
            description: "raise lr to 0.003".into()
        }
    );
    assert_eq!(track.read("params.txt"), "lr = 0.003\nwidth = 128\n");

    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].head.starts_with("POST /v1/chat/completions "));
    assert!(
        received[0].head.contains("Bearer sk-test-123"),
        "{}",
        received[0].head
    );
    let body = received[0].json();
    assert_eq!(body["model"], "fake-model");
    let prompt = body["messages"][1]["content"].as_str().unwrap();
    assert!(
        prompt.contains("params.txt\n```\nlr = 0.002\nwidth = 128\n```"),
        "{prompt}"
    );
    assert!(prompt.contains("<<<<<<< SEARCH"), "the format is explained");

    let usage = proposer.last_usage().unwrap();
    assert_eq!(
        (usage.requests, usage.prompt_tokens, usage.completion_tokens),
        (1, 1000, 50)
    );
    let cost = usage.cost_usd.unwrap();
    assert!((cost - 0.0024).abs() < 1e-12, "{cost}");
    assert!(track
        .read(".swarmlab/agent/1.chat.json")
        .contains("raise lr to 0.003"));
}

#[test]
fn a_malformed_answer_is_sent_back_with_the_error_and_the_repair_applied() {
    let track = Track::new();
    let malformed = GOOD.replace("=======\n", "");
    let server = FakeServer::start(vec![Canned::answer(&malformed), Canned::answer(GOOD)]);
    let mut proposer = OpenAiProposer::new(config(&server, "SWARMLAB_TEST_KEY_UNSET")).unwrap();
    let proposal = proposer.propose(&track.context()).unwrap();
    assert!(matches!(proposal, Proposal::Change { .. }), "{proposal:?}");
    assert_eq!(track.read("params.txt"), "lr = 0.003\nwidth = 128\n");

    let received = server.received();
    assert_eq!(received.len(), 2);
    assert!(
        !received[0].head.contains("Authorization"),
        "no key, no header"
    );
    let messages = received[1].json()["messages"].as_array().unwrap().clone();
    assert_eq!(
        messages.len(),
        4,
        "system, prompt, first answer, repair request"
    );
    assert_eq!(messages[2]["role"], "assistant");
    assert_eq!(messages[2]["content"], malformed.as_str());
    let repair = messages[3]["content"].as_str().unwrap();
    assert!(repair.contains("has no `=======` line"), "{repair}");
    let usage = proposer.last_usage().unwrap();
    assert_eq!((usage.requests, usage.prompt_tokens), (2, 2000));
}

#[test]
fn answers_that_never_apply_fail_after_the_repair_turns() {
    let track = Track::new();
    let cheat = GOOD.replace("params.txt", "eval.txt");
    let server = FakeServer::start(vec![Canned::answer(&cheat)]);
    let mut proposer = OpenAiProposer::new(config(&server, "SWARMLAB_TEST_KEY_UNSET")).unwrap();
    let proposal = proposer.propose(&track.context()).unwrap();
    let Proposal::Failed { reason } = proposal else {
        panic!("expected a failure, got {proposal:?}");
    };
    assert!(reason.contains("after 2 repair turns"), "{reason}");
    assert!(reason.contains("`eval.txt` is not editable"), "{reason}");
    assert_eq!(server.received().len(), 3);
    assert_eq!(track.read("eval.txt"), "score honestly\n");
}

#[test]
fn a_429_is_retried_after_the_wait_the_server_asks_for() {
    let track = Track::new();
    let server = FakeServer::start(vec![
        Canned::error(429, "Rate limit reached").with_header("Retry-After", "0"),
        Canned::answer(GOOD),
    ]);
    let mut config = config(&server, "SWARMLAB_TEST_KEY_UNSET");
    // Were Retry-After ignored, the backoff would make this test hang for a minute.
    config.backoff = Duration::from_secs(60);
    let mut proposer = OpenAiProposer::new(config).unwrap();
    let proposal = proposer.propose(&track.context()).unwrap();
    assert!(matches!(proposal, Proposal::Change { .. }), "{proposal:?}");
    assert_eq!(server.received().len(), 2, "retried once");
    assert_eq!(proposer.last_usage().map(|u| u.requests), Some(2));
}

#[test]
fn a_refused_key_is_an_error_that_says_so() {
    let track = Track::new();
    let server = FakeServer::start(vec![Canned::error(401, "Incorrect API key provided")]);
    std::env::set_var("SWARMLAB_TEST_KEY_BAD", "sk-wrong");
    let mut proposer = OpenAiProposer::new(config(&server, "SWARMLAB_TEST_KEY_BAD")).unwrap();
    let err = proposer.propose(&track.context()).unwrap_err().to_string();
    assert!(err.contains("the API key was refused"), "{err}");
    assert!(err.contains("$SWARMLAB_TEST_KEY_BAD"), "{err}");
    assert!(err.contains("Incorrect API key provided"), "{err}");
    assert_eq!(server.received().len(), 1, "a bad key is not retried");
}

#[test]
fn server_errors_are_retried_then_given_up_on() {
    let track = Track::new();
    let server = FakeServer::start(vec![Canned::error(500, "The server had an error")]);
    let mut proposer = OpenAiProposer::new(config(&server, "SWARMLAB_TEST_KEY_UNSET")).unwrap();
    let err = proposer.propose(&track.context()).unwrap_err().to_string();
    assert!(err.contains("gave up after 3 attempts"), "{err}");
    assert!(err.contains("HTTP 500"), "{err}");
    assert!(err.contains("The server had an error"), "{err}");
    assert_eq!(server.received().len(), 3);
    assert_eq!(
        proposer.last_usage(),
        Some(Usage {
            requests: 3,
            ..Usage::default()
        })
    );
    assert_eq!(track.read("params.txt"), "lr = 0.002\nwidth = 128\n");
}

#[test]
fn a_wrong_url_or_model_names_the_url_and_the_model() {
    let track = Track::new();
    let server = FakeServer::start(vec![Canned::error(404, "model not found")]);
    let mut proposer = OpenAiProposer::new(config(&server, "SWARMLAB_TEST_KEY_UNSET")).unwrap();
    let err = proposer.propose(&track.context()).unwrap_err().to_string();
    let url = format!("{}/chat/completions", server.base_url);
    assert!(err.contains(&url), "{err}");
    assert!(err.contains("`fake-model`"), "{err}");
    assert_eq!(server.received().len(), 1);
}

#[test]
fn nothing_listening_is_an_error_naming_the_url() {
    let track = Track::new();
    let port = swarmlab_testkit::closed_port();
    let mut config = OpenAiConfig::new("m");
    config.base_url = format!("http://127.0.0.1:{port}/v1");
    config.backoff = Duration::from_millis(10);
    let mut proposer = OpenAiProposer::new(config).unwrap();
    let err = proposer.propose(&track.context()).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "could not connect to http://127.0.0.1:{port}/v1/chat/completions"
        )),
        "{err}"
    );
}

#[test]
fn the_openai_api_without_a_key_is_refused_up_front() {
    let mut config = OpenAiConfig::new("gpt-x");
    config.api_key_env = "SWARMLAB_TEST_KEY_UNSET".into();
    let err = OpenAiProposer::new(config).unwrap_err().to_string();
    assert!(err.contains("$SWARMLAB_TEST_KEY_UNSET is not set"), "{err}");
}
