//! The dashboard over real HTTP, without a browser: sign-in, what each role sees, escaping,
//! forms and their CSRF tokens, promotion, submission pages and the event stream.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::demo::{Demo, SCRIPT_IDEA};

pub struct Page {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

/// One request on a fresh connection; `cookie` is the session cookie's value.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
    extra: &[(&str, &str)],
) -> Page {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: swarmlab_session={c}\r\n"));
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = form.unwrap_or_default();
    let content_type = if body.starts_with('{') {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    head.push_str(&format!(
        "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Page {
        status,
        head: head.to_string(),
        body,
    }
}

fn dechunk(mut raw: &str) -> String {
    let mut out = String::new();
    while let Some(end) = raw.find("\r\n") {
        let size = usize::from_str_radix(raw[..end].trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 4 + size..];
    }
    out
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.bytes()
                    .map(|b| match b {
                        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs in with `token` through the form and returns the session cookie's value.
async fn sign_in(addr: SocketAddr, token: &str) -> String {
    let r = http(
        addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("token", token), ("next", "/")])),
        &[],
    )
    .await;
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

#[tokio::test]
async fn the_dashboard_shows_each_role_what_the_api_would() {
    let demo = Demo::start().await;
    let addr = demo.addr;

    // Nothing without a session; a bad token is refused.
    let r = http(addr, "GET", "/tracks/toy", None, None, &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/login?next=%2Ftracks%2Ftoy")
    );
    let r = http(addr, "POST", "/login", None, Some("token=slh_nope"), &[]).await;
    assert_eq!(r.status, 401);
    let worker = sign_in(addr, &demo.worker.token).await;
    let admin = sign_in(addr, &demo.admin.token).await;

    // The overview and the track page, with every chain commit on the chart.
    let r = http(addr, "GET", "/", Some(&worker), None, &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("href=\"/tracks/toy\""), "{}", r.body);
    assert!(r
        .header("server-timing")
        .is_some_and(|t| t.starts_with("app;dur=")));
    assert!(r.header("content-security-policy").is_some());
    let r = http(addr, "GET", "/tracks/toy", Some(&worker), None, &[]).await;
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

    // The chain, an entry with its verdict and its diff.
    let r = http(addr, "GET", "/tracks/toy/chain", Some(&worker), None, &[]).await;
    assert_eq!(r.body.matches("href=\"/tracks/toy/chain/").count() / 2, 12);
    let r = http(addr, "GET", "/tracks/toy/chain/2", Some(&worker), None, &[]).await;
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
    let r = http(addr, "GET", "/tracks/toy/ideas", Some(&worker), None, &[]).await;
    assert!(!r.body.contains(SCRIPT_IDEA));
    assert!(r
        .body
        .contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));

    // A form needs its CSRF token and a same-site origin.
    let csrf = r.csrf();
    let idea = form(&[("text", "Tie the embedding weights"), ("tags", "size")]);
    let r = http(
        addr,
        "POST",
        "/tracks/toy/ideas",
        Some(&worker),
        Some(&idea),
        &[],
    )
    .await;
    assert_eq!(r.status, 403, "no token");
    let with = format!("{idea}&csrf={csrf}");
    let r = http(
        addr,
        "POST",
        "/tracks/toy/ideas",
        Some(&worker),
        Some(&with),
        &[("Origin", "https://evil.example")],
    )
    .await;
    assert_eq!(r.status, 403, "another origin");
    let r = http(
        addr,
        "POST",
        "/tracks/toy/ideas",
        Some(&worker),
        Some(&with),
        &[],
    )
    .await;
    assert_eq!(r.status, 303);
    let r = http(addr, "GET", "/tracks/toy/ideas", Some(&worker), None, &[]).await;
    assert!(r.body.contains("Tie the embedding weights"));

    // Promotion: refused to a worker, done for a maintainer, recorded in the ledger.
    let head = demo.hub.track_info("toy").await.unwrap().head;
    let promote = form(&[("commit", &head), ("csrf", &csrf)]);
    let r = http(
        addr,
        "POST",
        "/tracks/toy/promote",
        Some(&worker),
        Some(&promote),
        &[],
    )
    .await;
    assert_eq!(r.status, 403);
    let api = json!({ "commit": head }).to_string();
    let r = http(
        addr,
        "POST",
        "/api/v1/tracks/toy/promote",
        None,
        Some(&api),
        &[("Authorization", &format!("Bearer {}", demo.worker.token))],
    )
    .await;
    assert_eq!(r.status, 403);
    let page = http(addr, "GET", "/tracks/toy/chain/11", Some(&admin), None, &[]).await;
    assert!(page.body.contains("Promote #11 to main"));
    let promote = form(&[("commit", &head), ("csrf", &page.csrf())]);
    let r = http(
        addr,
        "POST",
        "/tracks/toy/promote",
        Some(&admin),
        Some(&promote),
        &[],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/tracks/toy/chain/11?promoted=1")
    );
    let off_chain = json!({ "commit": "0123456789abcdef0123456789abcdef01234567" }).to_string();
    let r = http(
        addr,
        "POST",
        "/api/v1/tracks/toy/promote",
        None,
        Some(&off_chain),
        &[("Authorization", &format!("Bearer {}", demo.admin.token))],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let repo = demo.hub.config().track_repo("toy");
    assert_eq!(
        crate::support::git(&repo, &["rev-parse", "refs/heads/main"]),
        head
    );
    let ledger = demo.hub.ledger_text("toy").await.unwrap();
    let report = swarmlab_hub::audit(&ledger, &demo.hub.public_key()).unwrap();
    assert_eq!(
        (report.promotions, report.main.as_deref()),
        (1, Some(head.as_str()))
    );
    let r = http(
        addr,
        "GET",
        "/tracks/toy/chain/11",
        Some(&worker),
        None,
        &[],
    )
    .await;
    assert!(r.body.contains("<span class=\"badge main\">main</span>"));

    // A pending submission is its submitter's (and the maintainers'), and follows its verdict.
    let path = format!("/submissions/{}", demo.pending);
    let r = http(addr, "GET", &path, Some(&worker), None, &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("data-status=\"queued\""), "{}", r.body);
    let key =
        swarmlab_proto::signing::public_key_hex(&swarmlab_proto::signing::signing_key(&[9; 32]));
    let mallory = demo
        .hub
        .create_identity("mallory", swarmlab_proto::Role::Worker, Some(key))
        .await
        .unwrap();
    let mallory = sign_in(addr, &mallory.token).await;
    let r = http(addr, "GET", &path, Some(&mallory), None, &[]).await;
    assert_eq!(
        r.status, 404,
        "another worker's pending submission is hidden"
    );

    // The event stream says when it changes.
    let mut events = TcpStream::connect(addr).await.unwrap();
    events
        .write_all(
            format!(
                "GET /events?track=toy HTTP/1.1\r\nHost: {addr}\r\nCookie: swarmlab_session={worker}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut lines = BufReader::new(events).lines();
    let status = lines.next_line().await.unwrap().unwrap();
    assert!(status.contains("200"), "{status}");
    assert_eq!(demo.verify_pending().await, "accepted");
    let saw_verdict = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == "event: verdict" {
                return true;
            }
        }
        false
    })
    .await
    .expect("an event within 10 s");
    assert!(saw_verdict);
    let r = http(addr, "GET", &path, Some(&worker), None, &[]).await;
    assert!(r.body.contains("data-status=\"accepted\""));
    assert!(r.body.contains("chain #12"));

    // The leaderboard credits verified improvement.
    let r = http(
        addr,
        "GET",
        "/tracks/toy/leaderboard",
        Some(&worker),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("alice") && r.body.contains("verifier-eu-1"));

    // Unknown pages are HTML, unknown API routes JSON.
    let r = http(addr, "GET", "/nope", Some(&worker), None, &[]).await;
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let r = http(addr, "GET", "/api/v1/nope", None, None, &[]).await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("not_found"));

    // The server stops although an event stream is open.
    demo.stop().await;
    drop(lines);
}

#[tokio::test]
async fn the_track_page_shows_what_each_verifier_is_doing_and_for_how_long() {
    let demo = Demo::start().await;
    let addr = demo.addr;
    let worker = sign_in(addr, &demo.worker.token).await;
    let r = http(addr, "GET", "/tracks/toy", Some(&worker), None, &[]).await;
    assert!(r.body.contains("data-live=\"activity\""), "{}", r.body);
    assert!(r
        .body
        .contains("No verifier has said what it is doing lately."));

    let report = swarmlab_proto::ActivityReport {
        track: Some("toy".into()),
        doing: "building the <baseline>".into(),
    };
    assert!(
        demo.hub
            .report_activity(&demo.worker.identity, &report)
            .await
            .is_err(),
        "only verifiers say what they do"
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
    let r = http(addr, "GET", "/tracks/toy", Some(&worker), None, &[]).await;
    assert!(
        r.body.contains("building the &lt;baseline&gt;"),
        "{}",
        r.body
    );
    assert!(r.body.contains("data-elapsed=\""), "{}", r.body);
    // The same through the API, and the verdict's page says what the test asked for.
    let bearer = format!("Bearer {}", demo.worker.token);
    let api = http(
        addr,
        "GET",
        "/api/v1/tracks/toy/activity",
        None,
        None,
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(api.status, 200);
    assert!(
        api.body.contains("\"doing\":\"building the <baseline>\""),
        "{}",
        api.body
    );
    let r = http(addr, "GET", "/tracks/toy/chain/2", Some(&worker), None, &[]).await;
    assert!(
        r.body.contains("3 asked for, up to 9 while promising"),
        "{}",
        r.body
    );
    assert!(r.body.contains("one-sided Welch test"), "{}", r.body);
    demo.stop().await;
}
