//! Public read over real HTTP: anyone reads a hub's public record (pages, API, the ledger,
//! the event stream) with answers a cache may keep; a pending submission stays with its
//! submitter, verifiers and admins; writes still need an identity; a hub whose config
//! closes its reads asks for one as before; anonymous readers are rate limited by address.

use std::time::Duration;

use serde_json::json;
use swarmlab_proto::{signing, Role};
use swarmlab_testkit::http::{form, Client, Response};

use crate::demo::Demo;

/// Whether `r` may be kept by any cache for a short while, but never handed to someone
/// signed in.
fn cached_publicly(r: &Response) -> bool {
    r.header("cache-control").as_deref() == Some("public, max-age=10")
        && r.header("vary")
            .is_some_and(|v| v.contains("Cookie") && v.contains("Authorization"))
}

/// The session cookie of `token`, through the sign-in form.
fn sign_in(demo: &Demo, token: &str) -> String {
    let r = Client::new(demo.addr).post_form("/login", &form(&[("token", token), ("next", "/")]));
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.header("set-cookie").expect("a session cookie");
    cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("swarmlab_session=")
        .to_string()
}

/// The id of a submission of the demo in `status`, as an admin finds it.
fn submission_in(demo: &Demo, status: &str) -> i64 {
    let admin = Client::new(demo.addr).bearer(&demo.admin.token);
    (1..demo.pending)
        .find(|id| {
            admin.get(&format!("/api/v1/submissions/{id}")).json()["status"].as_str()
                == Some(status)
        })
        .unwrap_or_else(|| panic!("the demo has a submission {status}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn anyone_reads_the_public_record_and_a_cache_may_keep_it() {
    let demo = Demo::start().await;
    let anyone = Client::new(demo.addr);

    // The pages, each offering to sign in and holding no form.
    for path in [
        "/",
        "/tracks/toy",
        "/tracks/toy/chain",
        "/tracks/toy/chain/2",
        "/tracks/toy/ideas",
        "/tracks/toy/leaderboard",
        "/submissions",
    ] {
        let r = anyone.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(cached_publicly(&r), "{path}: {}", r.head);
        assert!(r.body.contains("<a href=\"/login\">Sign in</a>"), "{path}");
        assert!(
            !r.body.contains("name=\"csrf\""),
            "{path}: no form for anyone"
        );
        assert!(!r.body.contains("Sign out"), "{path}");
    }
    let r = anyone.get("/tracks/toy");
    assert_eq!(r.body.matches("class=\"pt\"").count(), 12, "the chart");
    let r = anyone.get("/tracks/toy/chain/2");
    assert!(
        r.body.contains("<span class=\"add\">+width = 128</span>"),
        "an accepted diff"
    );
    let r = anyone.get("/tracks/toy/ideas");
    assert!(r.body.contains("Try RMSNorm instead of LayerNorm"));
    assert!(r.body.contains("to add an idea"), "{}", r.body);
    let r = anyone.get("/tracks/toy/leaderboard");
    assert!(r.body.contains("alice") && r.body.contains("verifier-eu-1"));

    // The API, and the ledger a stranger downloads audits against the hub's key.
    for path in [
        "/api/v1/tracks",
        "/api/v1/tracks/toy",
        "/api/v1/tracks/toy/ideas",
        "/api/v1/tracks/toy/noise",
        "/api/v1/tracks/toy/activity",
        "/api/v1/tracks/toy/credit",
        "/api/v1/tracks/toy/ledger",
    ] {
        let r = anyone.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(cached_publicly(&r), "{path}: {}", r.head);
    }
    let track = anyone.get("/api/v1/tracks/toy").json();
    assert_eq!(track["chain"].as_array().map(Vec::len), Some(12), "{track}");
    let ledger = anyone.get("/api/v1/tracks/toy/ledger").body;
    let report = swarmlab_hub::audit(&ledger, &demo.hub.public_key()).unwrap();
    assert_eq!(report.head_moves, 11);
    assert_eq!((report.credited, report.credited_to_ideas), (11, 3));
    // The credit anyone reads is each head move's as its ledger entry records it.
    let credit = anyone.get("/api/v1/tracks/toy/credit").json();
    let moves = credit["head_moves"].as_array().expect("head moves");
    let recorded: Vec<serde_json::Value> = ledger
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"]["kind"] == "head_move")
        .map(|e| e["event"]["credit"].clone())
        .collect();
    let served: Vec<serde_json::Value> = moves.iter().map(|m| m["credit"].clone()).collect();
    assert_eq!(served, recorded);
    let ideas: u64 = credit["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ideas_credited"].as_u64().unwrap())
        .sum();
    assert_eq!(ideas, 3, "{credit}");

    // The head's code stays with identities; an answer to one is private.
    assert_eq!(anyone.get("/api/v1/tracks/toy/bundle").status, 401);
    let worker = anyone.bearer(&demo.worker.token);
    let r = worker.get("/api/v1/tracks/toy");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("private, no-store")
    );
    let session = sign_in(&demo, &demo.worker.token);
    let r = anyone.cookie(&session).get("/tracks/toy");
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("private, no-store")
    );
    assert!(r.body.contains("Sign out"));

    // Errors are never kept; the event stream is open to anyone.
    let r = anyone.get("/tracks/nope");
    assert_eq!(
        (r.status, r.header("cache-control").as_deref()),
        (404, Some("no-store"))
    );
    let mut events = anyone.events("/events?track=toy");
    let status = events
        .next_line(Duration::from_secs(10))
        .expect("a status line");
    assert!(status.contains("200"), "{status}");
    demo.stop().await;
    drop(events);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_submission_is_hidden_from_all_but_its_submitter_verifiers_and_admins() {
    let demo = Demo::start().await;
    let addr = demo.addr;
    let anyone = Client::new(addr);
    let key = signing::public_key_hex(&signing::signing_key(&[9; 32]));
    let mallory = demo
        .hub
        .create_identity("mallory", Role::Worker, Some(key))
        .await
        .unwrap();
    let mallory_session = sign_in(&demo, &mallory.token);
    let page = format!("/submissions/{}", demo.pending);
    let api = format!("/api/v1/submissions/{}", demo.pending);
    let missing = anyone.get("/api/v1/submissions/999999");
    assert_eq!(missing.status, 404);

    // Anyone and another worker are told it does not exist, as for a missing one.
    for (who, client) in [
        ("anyone", anyone.clone()),
        ("another worker", anyone.bearer(&mallory.token)),
    ] {
        let r = client.get(&api);
        assert_eq!(r.status, 404, "{who}: {}", r.body);
        assert_eq!(r.json()["error"], missing.json()["error"], "{who}");
        assert_eq!(
            r.header("cache-control")
                .as_deref()
                .map(|c| c.contains("no-store")),
            Some(true)
        );
    }
    assert_eq!(anyone.get(&page).status, 404);
    assert_eq!(anyone.cookie(&mallory_session).get(&page).status, 404);
    let listed = format!("href=\"/submissions/{}\"", demo.pending);
    let r = anyone.get("/submissions");
    assert!(!r.body.contains(&listed), "not listed to anyone");
    let r = anyone.cookie(&mallory_session).get("/submissions");
    assert!(!r.body.contains(&listed), "not listed to another worker");

    // Its submitter, a verifier and an admin see it, and the submitter finds it listed.
    let worker_session = sign_in(&demo, &demo.worker.token);
    for token in [&demo.worker.token, &demo.verifier.token, &demo.admin.token] {
        let r = anyone.bearer(token).get(&api);
        assert_eq!(
            (r.status, r.json()["status"].as_str()),
            (200, Some("queued"))
        );
    }
    let r = anyone.cookie(&worker_session).get(&page);
    assert!(r.body.contains("data-status=\"queued\""), "{}", r.body);
    assert!(anyone
        .cookie(&worker_session)
        .get("/submissions")
        .body
        .contains(&listed));

    // A decided one is anyone's to read: a rejected one without its change, an accepted one
    // with it.
    let rejected = submission_in(&demo, "rejected");
    let r = anyone.get(&format!("/submissions/{rejected}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("data-status=\"rejected\""));
    assert!(!r.body.contains("class=\"add\""), "{}", r.body);
    assert!(!r.body.contains("Run log"));
    assert!(r
        .body
        .contains("shown to its submitter, verifiers and maintainers only"));
    assert!(anyone
        .get("/submissions")
        .body
        .contains(&format!("href=\"/submissions/{rejected}\"")));
    let r = anyone
        .cookie(&mallory_session)
        .get(&format!("/api/v1/submissions/{rejected}"));
    assert_eq!(r.status, 200);

    // Once decided, the pending one is anyone's too.
    assert_eq!(demo.verify_pending().await, "accepted");
    let r = anyone.get(&page);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("data-status=\"accepted\"") && r.body.contains("class=\"add\""));
    assert_eq!(anyone.get(&api).json()["status"], "accepted");
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_write_still_needs_an_identity() {
    let demo = Demo::start().await;
    let anyone = Client::new(demo.addr);
    let ideas = anyone.get("/api/v1/tracks/toy/ideas").json();
    let idea = json!({"text": "an anonymous idea"}).to_string();
    for (path, body) in [
        ("/api/v1/tracks/toy/ideas", idea.as_str()),
        ("/api/v1/tracks/toy/ideas/lease", ""),
        ("/api/v1/tracks/toy/submissions", "{}"),
        ("/api/v1/tracks/toy/promote", "{}"),
        ("/api/v1/jobs/lease", ""),
        ("/api/v1/jobs/1/report", "{}"),
        ("/api/v1/tracks", "{}"),
        ("/api/v1/identities", "{}"),
    ] {
        let r = anyone.post(path, body);
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (401, Some("unauthorized")),
            "{path}"
        );
    }
    let r = anyone.post_form("/tracks/toy/ideas", &form(&[("text", "an anonymous idea")]));
    assert_eq!(r.status, 303);
    assert!(r.header("location").unwrap().starts_with("/login?next="));
    assert_eq!(
        anyone.get("/api/v1/tracks/toy/ideas").json(),
        ideas,
        "nothing was added"
    );
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_whose_reads_are_closed_asks_every_reader_for_an_identity() {
    let demo = Demo::start_with(|c| c.public_read = false).await;
    let anyone = Client::new(demo.addr);
    for path in [
        "/",
        "/tracks/toy",
        "/tracks/toy/chain/2",
        "/tracks/toy/ideas",
        "/submissions",
    ] {
        let r = anyone.get(path);
        assert_eq!(r.status, 303, "{path}");
        assert!(
            r.header("location").unwrap().starts_with("/login?next="),
            "{path}"
        );
        assert_eq!(
            r.header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
    }
    for path in [
        "/api/v1/tracks",
        "/api/v1/tracks/toy",
        "/api/v1/tracks/toy/ledger",
        "/api/v1/submissions/1",
    ] {
        assert_eq!(anyone.get(path).status, 401, "{path}");
    }
    assert_eq!(anyone.get("/events?track=toy").status, 401);
    let r = anyone.get("/login");
    assert_eq!(
        (r.status, r.header("cache-control").as_deref()),
        (200, Some("no-store"))
    );

    // Signed in, a worker reads as before: its own submissions only, decided or not.
    let worker = anyone.bearer(&demo.worker.token);
    assert_eq!(worker.get("/api/v1/tracks/toy").status, 200);
    assert_eq!(
        worker
            .get(&format!("/api/v1/submissions/{}", demo.pending))
            .status,
        200
    );
    let rejected = submission_in(&demo, "rejected");
    let owner = demo
        .hub
        .submission(&demo.admin.identity, rejected)
        .await
        .unwrap()
        .worker;
    let other = if owner == demo.worker.identity.id {
        let key = signing::public_key_hex(&signing::signing_key(&[9; 32]));
        demo.hub
            .create_identity("mallory", Role::Worker, Some(key))
            .await
            .unwrap()
            .token
    } else {
        demo.worker.token.clone()
    };
    let r = anyone
        .bearer(&other)
        .get(&format!("/api/v1/submissions/{rejected}"));
    assert_eq!(
        r.status, 404,
        "another worker's verdict stays hidden on a closed hub"
    );
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_readers_are_rate_limited_by_address() {
    let demo = Demo::start_with(|c| {
        c.anonymous.burst = 3;
        c.anonymous.per_second = 0.001;
    })
    .await;
    let anyone = Client::new(demo.addr);
    // Pages, the API and the event stream draw on the same bucket.
    assert_eq!(anyone.get("/tracks/toy").status, 200);
    assert_eq!(anyone.get("/api/v1/tracks/toy").status, 200);
    let mut events = anyone.events("/events?track=toy");
    let status = events
        .next_line(Duration::from_secs(10))
        .expect("a status line");
    assert!(status.contains("200"), "{status}");
    let r = anyone.get("/api/v1/tracks/toy/ledger");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (429, Some("rate_limited"))
    );
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let r = anyone.get("/tracks/toy");
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert!(anyone
        .events("/events?track=toy")
        .next_line(Duration::from_secs(10))
        .unwrap()
        .contains("429"));

    // An identity has its own bucket.
    let worker = anyone.bearer(&demo.worker.token);
    for _ in 0..5 {
        assert_eq!(worker.get("/api/v1/tracks/toy").status, 200);
    }
    demo.stop().await;
    drop(events);
}
