//! The dashboard over real HTTP, without a browser: sign-in, what each role sees, escaping,
//! forms and their CSRF tokens, promotion, submission pages and the event stream.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use swarmlab_testkit::git::git;
use swarmlab_testkit::http::{form, Client, Response};

use crate::demo::{Demo, SCRIPT_IDEA};

const TEN_SECONDS: Duration = Duration::from_secs(10);

/// The value of the first hidden `csrf` field of `page`.
fn csrf_token(page: &Response) -> String {
    let at = page.body.find("name=\"csrf\" value=\"").expect("a form");
    let rest = &page.body[at + 19..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Signs in with `token` through the form and returns the session cookie's value.
pub fn sign_in(addr: SocketAddr, token: &str) -> String {
    let r = Client::new(addr).post_form("/login", &form(&[("token", token), ("next", "/")]));
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.header("set-cookie").expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("swarmlab_session=")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_shows_each_role_what_the_api_would() {
    let demo = Demo::start().await;
    let addr = demo.addr;

    // Anyone reads a public hub, offered to sign in (public.rs has the rest); a bad token
    // is refused.
    let r = Client::new(addr).get("/tracks/toy");
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("<a href=\"/login\">Sign in</a>"),
        "{}",
        r.body
    );
    let r = Client::new(addr).post_form("/login", "token=slh_nope");
    assert_eq!(r.status, 401);
    let worker = sign_in(addr, &demo.worker.token);
    let admin = sign_in(addr, &demo.admin.token);

    // The overview and the track page, with every chain commit on the chart.
    let r = Client::new(addr).cookie(&worker).get("/");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("href=\"/tracks/toy\""), "{}", r.body);
    assert!(r
        .header("server-timing")
        .is_some_and(|t| t.starts_with("app;dur=")));
    assert!(r.header("content-security-policy").is_some());
    let r = Client::new(addr).cookie(&worker).get("/tracks/toy");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body.matches("class=\"pt\"").count(),
        12,
        "baseline and 11 steps"
    );
    assert!(
        r.body.contains("Cosine learning-rate decay"),
        "labels come from git"
    );
    assert!(r.body.contains("floor 0.5500"));
    assert!(
        r.body
            .contains("11 <small>improvements on the baseline</small>"),
        "the baseline is not counted as an improvement"
    );
    assert!(
        r.body.contains("Submissions, last hour"),
        "a count, not a rate"
    );

    // The chain, an entry with its verdict and its diff.
    let r = Client::new(addr).cookie(&worker).get("/tracks/toy/chain");
    assert_eq!(r.body.matches("href=\"/tracks/toy/chain/").count() / 2, 12);
    let r = Client::new(addr).cookie(&worker).get("/tracks/toy/chain/2");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Widen the MLP to 128"));
    assert!(
        r.body.contains("<span class=\"add\">+width = 128</span>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("p-value") && r.body.contains("verifier-"));
    assert!(r.body.contains("head_move #"), "the ledger entry is cited");
    assert!(
        !r.body.contains("Promote #2"),
        "workers get no promote button"
    );

    // Idea text is shown, never run.
    let r = Client::new(addr).cookie(&worker).get("/tracks/toy/ideas");
    assert!(!r.body.contains(SCRIPT_IDEA));
    assert!(r
        .body
        .contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));

    // A form needs its CSRF token and a same-site origin.
    let csrf = csrf_token(&r);
    let idea = form(&[("text", "Tie the embedding weights"), ("tags", "size")]);
    let r = Client::new(addr)
        .cookie(&worker)
        .post_form("/tracks/toy/ideas", &idea);
    assert_eq!(r.status, 403, "no token");
    let with = format!("{idea}&csrf={csrf}");
    let r = Client::new(addr)
        .cookie(&worker)
        .header("Origin", "https://evil.example")
        .post_form("/tracks/toy/ideas", &with);
    assert_eq!(r.status, 403, "another origin");
    let r = Client::new(addr)
        .cookie(&worker)
        .post_form("/tracks/toy/ideas", &with);
    assert_eq!(r.status, 303);
    let r = Client::new(addr).cookie(&worker).get("/tracks/toy/ideas");
    assert!(r.body.contains("Tie the embedding weights"));

    // Promotion: refused to a worker, done for a maintainer, recorded in the ledger.
    let head = demo.hub.track_info("toy").await.unwrap().head;
    let promote = form(&[("commit", &head), ("csrf", &csrf)]);
    let r = Client::new(addr)
        .cookie(&worker)
        .post_form("/tracks/toy/promote", &promote);
    assert_eq!(r.status, 403);
    let api = json!({ "commit": head }).to_string();
    let r = Client::new(addr)
        .bearer(&demo.worker.token)
        .post("/api/v1/tracks/toy/promote", &api);
    assert_eq!(r.status, 403);
    let page = Client::new(addr).cookie(&admin).get("/tracks/toy/chain/11");
    assert!(page.body.contains("Promote #11 to main"));
    let promote = form(&[("commit", &head), ("csrf", &csrf_token(&page))]);
    let r = Client::new(addr)
        .cookie(&admin)
        .post_form("/tracks/toy/promote", &promote);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/tracks/toy/chain/11?promoted=1")
    );
    let off_chain = json!({ "commit": "0123456789abcdef0123456789abcdef01234567" }).to_string();
    let r = Client::new(addr)
        .bearer(&demo.admin.token)
        .post("/api/v1/tracks/toy/promote", &off_chain);
    assert_eq!(r.status, 409, "{}", r.body);
    let repo = demo.hub.config().track_repo("toy");
    assert_eq!(git(&repo, &["rev-parse", "refs/heads/main"]), head);
    let ledger = demo.hub.ledger_text("toy").await.unwrap();
    let report = swarmlab_hub::audit(&ledger, &demo.hub.public_key()).unwrap();
    assert_eq!(
        (report.promotions, report.main.as_deref()),
        (1, Some(head.as_str()))
    );
    let r = Client::new(addr)
        .cookie(&worker)
        .get("/tracks/toy/chain/11");
    assert!(r.body.contains("<span class=\"badge main\">main</span>"));

    // The same change again is a duplicate, and its page links the original.
    let again = demo.submit_pending_again().await;
    assert_eq!(again.reason.as_deref(), Some("duplicate"), "{again:?}");
    let r = Client::new(addr)
        .cookie(&admin)
        .get(&format!("/submissions/{}", again.id));
    assert!(
        r.body.contains(&format!(
            "It repeats <a href=\"/submissions/{0}\">submission #{0}</a>.",
            demo.pending
        )),
        "{}",
        r.body
    );

    // A pending submission is its submitter's (and the maintainers'), and follows its verdict.
    let path = format!("/submissions/{}", demo.pending);
    let r = Client::new(addr).cookie(&worker).get(&path);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("data-status=\"queued\""), "{}", r.body);
    let key =
        swarmlab_proto::signing::public_key_hex(&swarmlab_proto::signing::signing_key(&[9; 32]));
    let mallory = demo
        .hub
        .create_identity("mallory", swarmlab_proto::Role::Worker, Some(key))
        .await
        .unwrap();
    let mallory = sign_in(addr, &mallory.token);
    let r = Client::new(addr).cookie(&mallory).get(&path);
    assert_eq!(
        r.status, 404,
        "another worker's pending submission is hidden"
    );

    // The event stream says when it changes.
    let mut events = Client::new(addr)
        .cookie(&worker)
        .events("/events?track=toy");
    let status = events.next_line(TEN_SECONDS).expect("a status line");
    assert!(status.contains("200"), "{status}");
    assert_eq!(demo.verify_pending().await, "accepted");
    let saw_verdict = events
        .until(TEN_SECONDS, |line| line == "event: verdict")
        .expect("an event within 10 s");
    assert!(saw_verdict);
    let r = Client::new(addr).cookie(&worker).get(&path);
    assert!(r.body.contains("data-status=\"accepted\""));
    assert!(r.body.contains("chain #12"));

    // A rejected submission says what its reason means, and shows its diff.
    let rejected = (1..demo.pending)
        .map(|id| {
            Client::new(addr)
                .cookie(&admin)
                .get(&format!("/submissions/{id}"))
        })
        .find(|r| r.body.contains("data-status=\"rejected\""))
        .expect("the demo has a rejected submission");
    let meaning = ["the verifier", "the candidate's run failed"];
    assert!(
        rejected.body.contains("<p class=\"reason\"><code>")
            && meaning.iter().any(|m| rejected.body.contains(m)),
        "{}",
        rejected.body
    );
    assert!(
        rejected.body.contains("<span class=\"add\">+seed = "),
        "{}",
        rejected.body
    );

    // The leaderboard credits verified improvement.
    let r = Client::new(addr)
        .cookie(&worker)
        .get("/tracks/toy/leaderboard");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("alice") && r.body.contains("verifier-eu-1"));

    // Unknown pages are HTML, unknown API routes JSON.
    let r = Client::new(addr).cookie(&worker).get("/nope");
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let r = Client::new(addr).get("/api/v1/nope");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("not_found"));

    // The server stops although an event stream is open.
    demo.stop().await;
    drop(events);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_track_page_shows_what_each_verifier_is_doing_and_for_how_long() {
    let demo = Demo::start().await;
    let addr = demo.addr;
    let worker = sign_in(addr, &demo.worker.token);
    let r = Client::new(addr).cookie(&worker).get("/tracks/toy");
    assert!(r.body.contains("data-live=\"activity\""), "{}", r.body);
    assert!(r
        .body
        .contains("No verifier or worker has said what it is doing lately."));

    let report = swarmlab_proto::ActivityReport {
        track: Some("toy".into()),
        doing: "building the <baseline>".into(),
        idle_on: None,
    };
    assert!(
        demo.hub
            .report_activity(&demo.admin.identity, &report)
            .await
            .is_err(),
        "only verifiers and workers say what they do"
    );
    let mut events = demo.hub.events().subscribe();
    demo.hub
        .report_activity(&demo.verifier.identity, &report)
        .await
        .unwrap();
    let event = events.try_recv().unwrap();
    assert_eq!(
        (event.kind.as_str(), event.track.as_str()),
        ("activity", "toy")
    );
    let r = Client::new(addr).cookie(&worker).get("/tracks/toy");
    assert!(
        r.body.contains("building the &lt;baseline&gt;"),
        "{}",
        r.body
    );
    assert!(r.body.contains("data-elapsed=\""), "{}", r.body);
    // The same through the API, and the verdict's page says what the test asked for.
    let api = Client::new(addr)
        .bearer(&demo.worker.token)
        .get("/api/v1/tracks/toy/activity");
    assert_eq!(api.status, 200);
    assert!(
        api.body.contains("\"doing\":\"building the <baseline>\""),
        "{}",
        api.body
    );
    let r = Client::new(addr).cookie(&worker).get("/tracks/toy/chain/2");
    assert!(
        r.body.contains("3 asked for, up to 9 while promising"),
        "{}",
        r.body
    );
    assert!(r.body.contains("one-sided Welch test"), "{}", r.body);
    demo.stop().await;
}
