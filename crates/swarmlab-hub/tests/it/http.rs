use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{json, Value};
use swarmlab_hub::{audit, HubConfig, ManualClock, Server};
use swarmlab_proto::{signing, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{test_config, track_repo};

struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request on a fresh connection.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Response {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or_default();
    head.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading a large body; a failed write is fine then.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 4);
    let mut body = raw[split..].to_vec();
    if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Response { status, body }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 4 + size..];
    }
    out
}

struct Running {
    addr: SocketAddr,
    admin: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _tmp: tempfile::TempDir,
    src: std::path::PathBuf,
}

async fn start(adjust: impl FnOnce(&mut HubConfig)) -> Running {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src-repo");
    track_repo(&src);
    let mut config = test_config(&tmp.path().join("hub"));
    adjust(&mut config);
    let server = Server::bind(config, Arc::new(ManualClock::new(5_000)))
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let admin = server.hub().bootstrap_admin("root").await.unwrap().token;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Running {
        addr,
        admin,
        stop: Some(tx),
        task,
        _tmp: tmp,
        src,
    }
}

impl Running {
    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), self.task)
            .await
            .expect("graceful shutdown")
            .unwrap();
    }
}

#[tokio::test]
async fn auth_missing_or_wrong_token_is_401_and_wrong_role_is_403() {
    let s = start(|_| {}).await;
    assert_eq!(
        request(s.addr, "GET", "/api/v1/tracks", None, None)
            .await
            .status,
        401
    );
    assert_eq!(
        request(s.addr, "GET", "/api/v1/tracks", Some("slh_nope"), None)
            .await
            .status,
        401
    );
    let key = signing::signing_key(&[9; 32]);
    let reg = json!({"name": "w", "public_key": signing::public_key_hex(&key)}).to_string();
    let r = request(
        s.addr,
        "POST",
        "/api/v1/register",
        None,
        Some(reg.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 200);
    let worker = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        request(s.addr, "GET", "/api/v1/tracks", Some(&worker), None)
            .await
            .status,
        200
    );
    let add = json!({"repo": s.src.display().to_string(), "baseline": "main"}).to_string();
    let r = request(
        s.addr,
        "POST",
        "/api/v1/tracks",
        Some(&worker),
        Some(add.as_bytes()),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(
        request(s.addr, "POST", "/api/v1/jobs/lease", Some(&worker), None)
            .await
            .status,
        403
    );
    let r = request(
        s.addr,
        "POST",
        "/api/v1/tracks",
        Some(&s.admin),
        Some(add.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    s.stop().await;
}

#[tokio::test]
async fn closed_registration_is_refused() {
    let s = start(|c| c.open_registration = false).await;
    let key = signing::signing_key(&[9; 32]);
    let reg = json!({"name": "w", "public_key": signing::public_key_hex(&key)}).to_string();
    assert_eq!(
        request(
            s.addr,
            "POST",
            "/api/v1/register",
            None,
            Some(reg.as_bytes())
        )
        .await
        .status,
        403
    );
    s.stop().await;
}

#[tokio::test]
async fn a_request_over_the_size_limit_is_413() {
    let s = start(|c| c.max_request_bytes = 16 * 1024).await;
    let add = json!({"repo": s.src.display().to_string(), "baseline": "main"}).to_string();
    assert_eq!(
        request(
            s.addr,
            "POST",
            "/api/v1/tracks",
            Some(&s.admin),
            Some(add.as_bytes())
        )
        .await
        .status,
        200
    );
    let idea = json!({"text": "x".repeat(20 * 1024)}).to_string();
    let r = request(
        s.addr,
        "POST",
        "/api/v1/tracks/toy/ideas",
        Some(&s.admin),
        Some(idea.as_bytes()),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (413, Some("too_large"))
    );
    let idea = json!({"text": "a small idea"}).to_string();
    assert_eq!(
        request(
            s.addr,
            "POST",
            "/api/v1/tracks/toy/ideas",
            Some(&s.admin),
            Some(idea.as_bytes())
        )
        .await
        .status,
        200
    );
    s.stop().await;
}

#[tokio::test]
async fn an_identity_over_its_rate_is_429() {
    let s = start(|c| {
        c.rate_limit.burst = 5;
        c.rate_limit.per_second = 0.0;
    })
    .await;
    for _ in 0..5 {
        assert_eq!(
            request(s.addr, "GET", "/api/v1/tracks", Some(&s.admin), None)
                .await
                .status,
            200
        );
    }
    let r = request(s.addr, "GET", "/api/v1/tracks", Some(&s.admin), None).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (429, Some("rate_limited"))
    );
    s.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_every_route_exists() {
    let s = start(|_| {}).await;
    let doc = request(s.addr, "GET", "/api/v1/openapi.json", None, None)
        .await
        .json();
    let expected = [
        ("get", "/api/v1/hub"),
        ("get", "/api/v1/openapi.json"),
        ("post", "/api/v1/register"),
        ("get", "/api/v1/me"),
        ("post", "/api/v1/identities"),
        ("get", "/api/v1/tracks"),
        ("post", "/api/v1/tracks"),
        ("get", "/api/v1/tracks/{track}"),
        ("get", "/api/v1/tracks/{track}/bundle"),
        ("get", "/api/v1/tracks/{track}/ledger"),
        ("get", "/api/v1/tracks/{track}/noise"),
        ("get", "/api/v1/tracks/{track}/ideas"),
        ("post", "/api/v1/tracks/{track}/ideas"),
        ("post", "/api/v1/tracks/{track}/ideas/lease"),
        ("get", "/api/v1/tracks/{track}/activity"),
        ("get", "/api/v1/ideas/{id}"),
        ("post", "/api/v1/ideas/{id}/heartbeat"),
        ("post", "/api/v1/ideas/{id}/done"),
        ("post", "/api/v1/tracks/{track}/promote"),
        ("post", "/api/v1/tracks/{track}/submissions"),
        ("get", "/api/v1/submissions/{id}"),
        ("post", "/api/v1/jobs/lease"),
        ("post", "/api/v1/jobs/{id}/heartbeat"),
        ("get", "/api/v1/jobs/{id}/bundle"),
        ("post", "/api/v1/jobs/{id}/report"),
        ("post", "/api/v1/canaries"),
        ("get", "/api/v1/canaries"),
        ("post", "/api/v1/verifiers/{id}/reinstate"),
        ("post", "/api/v1/verifiers/activity"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, expected.len());
    assert_eq!(swarmlab_hub::web::api::route_docs().len(), expected.len());
    for (method, path) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from openapi"
        );
        // The route exists: an unknown one is our fallback's 404, a wrong method 405.
        let concrete = path.replace("{track}", "toy").replace("{id}", "1");
        let r = request(s.addr, &method.to_uppercase(), &concrete, None, None).await;
        assert!(
            ![404, 405].contains(&r.status),
            "{method} {path}: {}",
            r.status
        );
    }
    assert_eq!(
        request(s.addr, "GET", "/api/v1/nope", None, None)
            .await
            .status,
        404
    );
    s.stop().await;
}

#[tokio::test]
async fn a_worker_and_a_verifier_move_the_head_over_http_and_the_ledger_audits() {
    use base64::Engine;
    let s = start(|_| {}).await;
    let add = json!({"repo": s.src.display().to_string(), "baseline": "main"}).to_string();
    let track = request(
        s.addr,
        "POST",
        "/api/v1/tracks",
        Some(&s.admin),
        Some(add.as_bytes()),
    )
    .await
    .json();
    let baseline = track["head"].as_str().unwrap().to_string();
    let wkey = signing::signing_key(&[21; 32]);
    let reg = json!({"name": "w", "public_key": signing::public_key_hex(&wkey)}).to_string();
    let w = request(
        s.addr,
        "POST",
        "/api/v1/register",
        None,
        Some(reg.as_bytes()),
    )
    .await
    .json();
    let (wtoken, wid) = (
        w["token"].as_str().unwrap(),
        w["identity_id"].as_str().unwrap(),
    );
    let vkey = signing::signing_key(&[22; 32]);
    let body =
        json!({"name": "v", "role": Role::Verifier, "public_key": signing::public_key_hex(&vkey)})
            .to_string();
    let v = request(
        s.addr,
        "POST",
        "/api/v1/identities",
        Some(&s.admin),
        Some(body.as_bytes()),
    )
    .await
    .json();
    let (vtoken, vid) = (
        v["token"].as_str().unwrap(),
        v["identity_id"].as_str().unwrap(),
    );

    // The worker syncs the head from its bundle, commits a change and submits it.
    let bundle = request(
        s.addr,
        "GET",
        "/api/v1/tracks/toy/bundle",
        Some(wtoken),
        None,
    )
    .await;
    assert_eq!(bundle.status, 200);
    let work = s._tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let bpath = s._tmp.path().join("head.bundle");
    std::fs::write(&bpath, &bundle.body).unwrap();
    crate::support::git(
        &work,
        &["clone", "-q", "-b", "chain", bpath.to_str().unwrap(), "."],
    );
    std::fs::write(work.join("params.txt"), "lr = 0.02\nwidth = 64\n").unwrap();
    crate::support::git(&work, &["commit", "-qam", "raise lr"]);
    let commit = crate::support::git(&work, &["rev-parse", "HEAD"]);
    let cpath = s._tmp.path().join("cand.bundle");
    crate::support::git(
        &work,
        &[
            "bundle",
            "create",
            "-q",
            cpath.to_str().unwrap(),
            "chain",
            &format!("^{baseline}"),
        ],
    );
    let claim = swarmlab_proto::Claim {
        track: "toy".into(),
        parent: baseline.clone(),
        commit: commit.clone(),
        metrics: [("loss".to_string(), 0.8)].into(),
        idea_id: None,
        worker_id: wid.into(),
        nonce: "http-1".into(),
    };
    let submit = swarmlab_proto::SubmitRequest {
        signature: signing::sign(&wkey, &claim.signed_bytes()),
        claim,
        bundle: base64::engine::general_purpose::STANDARD.encode(std::fs::read(&cpath).unwrap()),
        log: "loss: 0.8\n".into(),
    };
    let body = serde_json::to_vec(&submit).unwrap();
    let sub = request(
        s.addr,
        "POST",
        "/api/v1/tracks/toy/submissions",
        Some(wtoken),
        Some(&body),
    )
    .await
    .json();
    assert_eq!(sub["status"], "queued", "{sub}");

    let job = request(s.addr, "POST", "/api/v1/jobs/lease", Some(vtoken), None)
        .await
        .json();
    let job_id = job["job_id"].as_i64().unwrap();
    let jb = request(
        s.addr,
        "GET",
        &format!("/api/v1/jobs/{job_id}/bundle"),
        Some(vtoken),
        None,
    )
    .await;
    assert_eq!(jb.status, 200);
    assert!(jb.body.starts_with(b"# v2 git bundle") || jb.body.starts_with(b"# v3 git bundle"));
    let m = swarmlab_proto::Measurements {
        job_id,
        verifier_id: vid.into(),
        hardware_class: "cpu".into(),
        outcome: swarmlab_proto::RunOutcome::Ok,
        candidate: vec![0.80, 0.81, 0.79],
        head: vec![1.0, 1.01, 0.99],
        detail: None,
        pairs: None,
    };
    let report = swarmlab_proto::ReportRequest {
        signature: signing::sign(&vkey, &m.signed_bytes()),
        measurements: m,
    };
    let body = serde_json::to_vec(&report).unwrap();
    let r = request(
        s.addr,
        "POST",
        &format!("/api/v1/jobs/{job_id}/report"),
        Some(vtoken),
        Some(&body),
    )
    .await
    .json();
    assert_eq!(r["decision"], "accepted", "{r}");

    let track = request(s.addr, "GET", "/api/v1/tracks/toy", Some(wtoken), None)
        .await
        .json();
    assert_eq!(track["head"].as_str(), Some(commit.as_str()));
    let info = request(s.addr, "GET", "/api/v1/hub", None, None)
        .await
        .json();
    let key = signing::parse_public_key(info["public_key"].as_str().unwrap()).unwrap();
    let ledger = request(
        s.addr,
        "GET",
        "/api/v1/tracks/toy/ledger",
        Some(wtoken),
        None,
    )
    .await;
    let audited = audit(std::str::from_utf8(&ledger.body).unwrap(), &key).unwrap();
    assert_eq!((audited.head_moves, audited.head), (1, commit));
    s.stop().await;
}

/// p50/p99 of two hot endpoints over loopback; prints, asserts nothing about speed.
/// `cargo test -p swarmlab-hub --test it -- --ignored --nocapture latency`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn latency_of_hot_endpoints() {
    let s = start(|c| c.rate_limit.burst = 1_000_000).await;
    let add = json!({"repo": s.src.display().to_string(), "baseline": "main"}).to_string();
    request(
        s.addr,
        "POST",
        "/api/v1/tracks",
        Some(&s.admin),
        Some(add.as_bytes()),
    )
    .await;
    let idea = json!({"text": "an idea"}).to_string();
    for (method, path, body) in [
        ("GET", "/api/v1/tracks/toy", None),
        ("POST", "/api/v1/tracks/toy/ideas", Some(idea.as_bytes())),
    ] {
        let mut times = Vec::new();
        for _ in 0..500 {
            let t = std::time::Instant::now();
            let r = request(s.addr, method, path, Some(&s.admin), body).await;
            times.push(t.elapsed());
            assert_eq!(r.status, 200);
        }
        times.sort();
        println!("{method} {path}: p50 {:?} p99 {:?}", times[250], times[495]);
    }
    s.stop().await;
}

#[tokio::test]
async fn a_track_whose_metric_is_printed_is_refused_unless_it_opts_in_as_insecure() {
    let s = start(|_| {}).await;
    let spec = crate::support::SPEC.replace("insecure = true", "insecure = false");
    std::fs::write(s.src.join("swarmlab.toml"), spec).unwrap();
    crate::support::git(&s.src, &["commit", "-qam", "no longer insecure"]);
    let add = json!({"repo": s.src.display().to_string(), "baseline": "main"}).to_string();
    let r = request(
        s.addr,
        "POST",
        "/api/v1/tracks",
        Some(&s.admin),
        Some(add.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["error"], "invalid_track");
    let message = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(
        message.contains("track `toy` takes its metric from what the run prints"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    s.stop().await;
}
