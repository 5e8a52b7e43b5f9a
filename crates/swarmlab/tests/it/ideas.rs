//! `swarmlab ideas` through the binary, against a real hub and the fake OpenAI server: ideas
//! are posted with their sources, a repeat of a queued idea and an idea citing a passage it
//! was not given are dropped, a PDF is read and a broken one skipped, a dry run posts
//! nothing, and garbage from the model, missing sources and an unreachable hub are clear
//! errors.

use std::path::Path;

use serde_json::{json, Value};
use swarmlab_testkit::http::Client;
use swarmlab_testkit::openai::{closed_port, Canned, FakeServer};

use crate::harness::{swarmlab, Output};
use crate::hub_liveness::Served;

const WARMUP: &str = "Training small transformers is unstable at first.\n\nA learning rate \
warmup of 500 steps, followed by cosine decay to a tenth of the peak, gave the best loss in \
every run we tried.";

/// `papers/`: the fixture PDF (p1), a broken PDF (skipped), a text file (p2).
fn papers(dir: &Path) -> std::path::PathBuf {
    let papers = dir.join("papers");
    std::fs::create_dir_all(&papers).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clipping.pdf");
    std::fs::copy(fixture, papers.join("clipping.pdf")).unwrap();
    std::fs::write(papers.join("broken.pdf"), "%PDF-1.4 and nothing else").unwrap();
    std::fs::write(papers.join("warmup.txt"), WARMUP).unwrap();
    papers
}

fn answer(ideas: Value) -> Canned {
    Canned::answer(&json!({ "ideas": ideas }).to_string())
}

fn ideas_of(hub: &Served) -> Vec<Value> {
    let body = Client::new(&hub.address)
        .get("/api/v1/tracks/toy/ideas")
        .json();
    body.as_array().unwrap().clone()
}

/// `swarmlab ideas` on the toy track of `hub_url`, the fake model behind `model`.
fn ideas(hub_url: &str, token: &str, sources: &Path, model: &FakeServer, extra: &[&str]) -> Output {
    let mut args = vec![
        "ideas",
        "--hub",
        hub_url,
        "--track",
        "toy",
        "--token",
        token,
        "--model",
        "fake-model",
        "--base-url",
        &model.base_url,
        "--sources",
        sources.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    swarmlab(&args, None)
}

#[test]
fn ideas_are_posted_with_their_sources_and_repeats_and_invented_citations_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Served::start(dir.path(), "");
    let queued = Client::new(&hub.address).bearer(&hub.admin).post_json(
        "/api/v1/tracks/toy/ideas",
        &json!({"text": "use a learning rate warmup of 500 steps"}),
    );
    assert!(queued.head.starts_with("HTTP/1.1 200"), "{queued:?}");
    let sources = papers(dir.path());
    let proposed = json!([
        {"idea": "Clip gradients at norm 1.0", "passage_id": "p1",
         "quote": "Gradient clipping at norm 1.0 stabilises", "tags": ["optim"]},
        {"idea": "Use a learning rate warmup of 500 steps.", "passage_id": "p2",
         "quote": "A learning rate warmup of 500 steps"},
        {"idea": "Decay the learning rate to a tenth with a cosine", "passage_id": "p2",
         "quote": "followed by cosine decay to a tenth of the peak"},
        {"idea": "Triple the batch size", "passage_id": "p7",
         "quote": "larger batches always help"}
    ]);
    let model = FakeServer::start(vec![answer(proposed.clone()), answer(proposed)]);

    // A dry run prints and posts nothing.
    let dry = ideas(&hub.url, &hub.admin, &sources, &model, &["--dry-run"]).success();
    assert!(
        dry.stdout.contains("dry run: Clip gradients at norm 1.0"),
        "{dry}"
    );
    assert_eq!(ideas_of(&hub).len(), 1);

    let out = ideas(&hub.url, &hub.admin, &sources, &model, &[]).success();
    assert!(
        out.stderr.contains("skipped ") && out.stderr.contains("broken.pdf"),
        "{out}"
    );
    assert!(out.stderr.contains("read 2 documents"), "{out}");
    assert!(
        out.stderr
            .contains("\"Use a learning rate warmup of 500 steps.\": it nearly repeats #"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("\"Triple the batch size\": it cites passage `p7`, which was not given"),
        "{out}"
    );
    assert!(out.stderr.contains("posted 2 ideas, dropped 2"), "{out}");

    let ideas = ideas_of(&hub);
    assert_eq!(ideas.len(), 3, "{ideas:?}");
    assert_eq!(ideas[0]["source"], Value::Null);
    let clip = &ideas[1];
    assert_eq!(clip["text"], "Clip gradients at norm 1.0");
    assert_eq!(clip["tags"], json!(["optim"]));
    assert!(clip["source"]["document"]
        .as_str()
        .unwrap()
        .ends_with("papers/clipping.pdf"));
    assert_eq!(
        clip["source"]["passage"],
        "Gradient clipping at norm 1.0 stabilises"
    );
    let decay = &ideas[2];
    assert!(decay["source"]["document"]
        .as_str()
        .unwrap()
        .ends_with("papers/warmup.txt"));
    let one = Client::new(&hub.address)
        .get(&format!("/api/v1/ideas/{}", decay["id"]))
        .json();
    assert_eq!(one["source"], decay["source"]);

    // The model saw the queue's idea as history and the PDF's text as a passage.
    let request = model.received()[1].json();
    let prompt = request["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        prompt.contains("(queued): use a learning rate warmup of 500 steps"),
        "{prompt}"
    );
    assert!(prompt.contains("[p1] from ") && prompt.contains("Gradient clipping at norm 1.0"));

    // The idea page shows where each idea came from.
    let page = Client::new(&hub.address).get("/tracks/toy/ideas");
    assert!(
        page.body
            .contains("followed by cosine decay to a tenth of the peak"),
        "{}",
        page.body
    );
}

#[test]
fn an_answer_that_is_not_json_is_asked_again_once_then_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Served::start(dir.path(), "");
    let sources = papers(dir.path());
    let good = answer(
        json!([{"idea": "Clip gradients at norm 1.0", "passage_id": "p1",
        "quote": "gradient clipping at norm 1.0"}]),
    );
    let model = FakeServer::start(vec![Canned::answer("Sure! Here are some ideas."), good]);
    ideas(&hub.url, &hub.admin, &sources, &model, &[]).success();
    assert_eq!(model.received().len(), 2);
    assert_eq!(ideas_of(&hub).len(), 1);

    let model = FakeServer::start(vec![Canned::answer("no"), Canned::answer("{\"ideas\": 3}")]);
    let out = ideas(&hub.url, &hub.admin, &sources, &model, &[]).fails_with(1);
    assert!(
        out.stderr
            .contains("the model's answer is not the JSON asked for, also when asked again"),
        "{out}"
    );
    assert_eq!(model.received().len(), 2);
    assert_eq!(ideas_of(&hub).len(), 1);
}

#[test]
fn missing_sources_and_an_unreachable_hub_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = FakeServer::start(vec![Canned::answer("{}")]);
    let hub_url = format!("http://127.0.0.1:{}", closed_port());
    let missing = dir.path().join("nowhere");
    let out = ideas(&hub_url, "t", &missing, &model, &[]).fails_with(1);
    assert!(out.stderr.contains("nowhere does not exist"), "{out}");

    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = ideas(&hub_url, "t", &empty, &model, &[]).fails_with(1);
    assert!(
        out.stderr.contains("no readable text in the sources"),
        "{out}"
    );

    let sources = papers(dir.path());
    let out = ideas(&hub_url, "t", &sources, &model, &[]).fails_with(1);
    assert!(out.stderr.contains("the hub is unreachable"), "{out}");
    assert!(
        model.received().is_empty(),
        "the model was asked before the hub answered"
    );
}
