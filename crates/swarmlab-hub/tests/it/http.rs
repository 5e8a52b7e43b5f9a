use std::sync::Arc;

use serde_json::json;
use swarmlab_hub::{audit, HubConfig, ManualClock};
use swarmlab_proto::{signing, Role};
use swarmlab_testkit::bundle::Candidate;
use swarmlab_testkit::git::Repo;
use swarmlab_testkit::http::Client;
use swarmlab_testkit::hub::{Seed, SeededHub, Served, TRACK_SPEC};

/// A hub on loopback with an admin (`root`), its track's repository written but not added.
async fn start(adjust: impl FnOnce(&mut HubConfig)) -> (SeededHub, Served) {
    Seed::new()
        .clock(Arc::new(ManualClock::new(5_000)))
        .config(adjust)
        .without_track()
        .admin("root")
        .serve()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_missing_or_wrong_token_is_401_and_wrong_role_is_403() {
    let (s, served) = start(|_| {}).await;
    let api = Client::new(served.addr);
    assert_eq!(api.get("/api/v1/me").status, 401);
    assert_eq!(api.bearer("slh_nope").get("/api/v1/tracks").status, 401);
    let key = signing::signing_key(&[9; 32]);
    let reg = json!({"name": "w", "public_key": signing::public_key_hex(&key)}).to_string();
    let r = api.post("/api/v1/register", &reg);
    assert_eq!(r.status, 200);
    let worker = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(api.bearer(&worker).get("/api/v1/tracks").status, 200);
    let add = json!({"repo": s.repo.root().display().to_string(), "baseline": "main"}).to_string();
    assert_eq!(
        api.post("/api/v1/tracks", &add).status,
        401,
        "a write needs a token"
    );
    let r = api.bearer(&worker).post("/api/v1/tracks", &add);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(
        api.bearer(&worker).post("/api/v1/jobs/lease", "").status,
        403
    );
    let r = api.bearer(&s.admin.token).post("/api/v1/tracks", &add);
    assert_eq!(r.status, 200, "{}", r.body);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_registration_is_refused() {
    let (_s, served) = start(|c| c.open_registration = false).await;
    let key = signing::signing_key(&[9; 32]);
    let reg = json!({"name": "w", "public_key": signing::public_key_hex(&key)}).to_string();
    assert_eq!(
        Client::new(served.addr)
            .post("/api/v1/register", &reg)
            .status,
        403
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_over_the_size_limit_is_413() {
    let (s, served) = start(|c| c.max_request_bytes = 16 * 1024).await;
    let admin = Client::new(served.addr).bearer(&s.admin.token);
    let add = json!({"repo": s.repo.root().display().to_string(), "baseline": "main"}).to_string();
    assert_eq!(admin.post("/api/v1/tracks", &add).status, 200);
    let idea = json!({"text": "x".repeat(20 * 1024)}).to_string();
    let r = admin.post("/api/v1/tracks/toy/ideas", &idea);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (413, Some("too_large"))
    );
    let idea = json!({"text": "a small idea"}).to_string();
    assert_eq!(admin.post("/api/v1/tracks/toy/ideas", &idea).status, 200);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_over_its_rate_is_429() {
    let (s, served) = start(|c| {
        c.rate_limit.burst = 5;
        c.rate_limit.per_second = 0.0;
    })
    .await;
    let admin = Client::new(served.addr).bearer(&s.admin.token);
    for _ in 0..5 {
        assert_eq!(admin.get("/api/v1/tracks").status, 200);
    }
    let r = admin.get("/api/v1/tracks");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (429, Some("rate_limited"))
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_lists_every_route_and_every_route_exists() {
    let (_s, served) = start(|_| {}).await;
    let api = Client::new(served.addr);
    let doc = api.get("/api/v1/openapi.json").json();
    let expected = [
        ("get", "/api/v1/hub"),
        ("get", "/api/v1/openapi.json"),
        ("post", "/api/v1/register"),
        ("post", "/api/v1/invites"),
        ("get", "/api/v1/me"),
        ("post", "/api/v1/identities"),
        ("get", "/api/v1/tracks"),
        ("post", "/api/v1/tracks"),
        ("get", "/api/v1/tracks/{track}"),
        ("get", "/api/v1/tracks/{track}/bundle"),
        ("get", "/api/v1/tracks/{track}/ledger"),
        ("get", "/api/v1/tracks/{track}/noise"),
        ("get", "/api/v1/tracks/{track}/credit"),
        ("get", "/api/v1/tracks/{track}/cost"),
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
        ("post", "/api/v1/workers/activity"),
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
        // The route exists: an unknown one is our fallback's 404, a wrong method 405 (a
        // public read of a track this hub lacks is a 404 of its own).
        let concrete = path.replace("{track}", "toy").replace("{id}", "1");
        let r = api.send(&method.to_uppercase(), &concrete, b"");
        assert!(
            r.status != 405 && !r.body.contains("route not found"),
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
    }
    let r = api.get("/api/v1/nope");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("route not found"), "{}", r.body);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_and_a_verifier_move_the_head_over_http_and_the_ledger_audits() {
    let (s, served) = start(|_| {}).await;
    let api = Client::new(served.addr);
    let admin = api.bearer(&s.admin.token);
    let add = json!({"repo": s.repo.root().display().to_string(), "baseline": "main"}).to_string();
    let track = admin.post("/api/v1/tracks", &add).json();
    let baseline = track["head"].as_str().unwrap().to_string();
    let wkey = signing::signing_key(&[21; 32]);
    let reg = json!({"name": "w", "public_key": signing::public_key_hex(&wkey)}).to_string();
    let w = api.post("/api/v1/register", &reg).json();
    let (wtoken, wid) = (
        w["token"].as_str().unwrap(),
        w["identity_id"].as_str().unwrap(),
    );
    let vkey = signing::signing_key(&[22; 32]);
    let body =
        json!({"name": "v", "role": Role::Verifier, "public_key": signing::public_key_hex(&vkey)})
            .to_string();
    let v = admin.post("/api/v1/identities", &body).json();
    let (vtoken, vid) = (
        v["token"].as_str().unwrap(),
        v["identity_id"].as_str().unwrap(),
    );
    let (worker, verifier) = (api.bearer(wtoken), api.bearer(vtoken));

    // The worker syncs the head from its bundle, commits a change and submits it.
    let bundle = worker.get("/api/v1/tracks/toy/bundle");
    assert_eq!(bundle.status, 200);
    let work = Repo::open(&s.tmp.path().join("work"));
    std::fs::create_dir_all(work.root()).unwrap();
    let bpath = s.tmp.path().join("head.bundle");
    std::fs::write(&bpath, &bundle.bytes).unwrap();
    work.git(&["clone", "-q", "-b", "chain", bpath.to_str().unwrap(), "."]);
    work.write("params.txt", "lr = 0.02\nwidth = 64\n");
    let commit = work.commit_all("raise lr");
    let mut candidate = Candidate::new(&work, &baseline, &commit, wid);
    candidate.claim.metrics = [("loss".to_string(), 0.8)].into();
    candidate.claim.nonce = "http-1".into();
    candidate.log = "loss: 0.8\n".into();
    let sub = worker
        .post_json("/api/v1/tracks/toy/submissions", &candidate.signed(&wkey))
        .json();
    assert_eq!(sub["status"], "queued", "{sub}");

    let job = verifier.post("/api/v1/jobs/lease", "").json();
    let job_id = job["job_id"].as_i64().unwrap();
    let jb = verifier.get(&format!("/api/v1/jobs/{job_id}/bundle"));
    assert_eq!(jb.status, 200);
    assert!(jb.bytes.starts_with(b"# v2 git bundle") || jb.bytes.starts_with(b"# v3 git bundle"));
    let m = swarmlab_proto::Measurements {
        job_id,
        verifier_id: vid.into(),
        hardware_class: "cpu".into(),
        outcome: swarmlab_proto::RunOutcome::Ok,
        candidate: vec![0.80, 0.81, 0.79],
        head: vec![1.0, 1.01, 0.99],
        detail: None,
        unsandboxed: false,
        pairs: None,
    };
    let report = swarmlab_proto::ReportRequest {
        signature: signing::sign(&vkey, &m.signed_bytes()),
        measurements: m,
    };
    let r = verifier
        .post_json(&format!("/api/v1/jobs/{job_id}/report"), &report)
        .json();
    assert_eq!(r["decision"], "accepted", "{r}");

    let track = worker.get("/api/v1/tracks/toy").json();
    assert_eq!(track["head"].as_str(), Some(commit.as_str()));
    let info = api.get("/api/v1/hub").json();
    let key = signing::parse_public_key(info["public_key"].as_str().unwrap()).unwrap();
    let ledger = worker.get("/api/v1/tracks/toy/ledger");
    let audited = audit(&ledger.body, &key).unwrap();
    assert_eq!((audited.head_moves, audited.head), (1, commit));
    served.stop().await;
}

/// p50/p99 of two hot endpoints over loopback; prints, asserts nothing about speed.
/// `cargo test -p swarmlab-hub --test it -- --ignored --nocapture latency`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn latency_of_hot_endpoints() {
    let (s, served) = start(|c| c.rate_limit.burst = 1_000_000).await;
    let admin = Client::new(served.addr).bearer(&s.admin.token);
    let add = json!({"repo": s.repo.root().display().to_string(), "baseline": "main"}).to_string();
    admin.post("/api/v1/tracks", &add);
    let idea = json!({"text": "an idea"}).to_string();
    for (method, path, body) in [
        ("GET", "/api/v1/tracks/toy", ""),
        ("POST", "/api/v1/tracks/toy/ideas", idea.as_str()),
    ] {
        let mut times = Vec::new();
        for _ in 0..500 {
            let t = std::time::Instant::now();
            let r = admin.send(method, path, body.as_bytes());
            times.push(t.elapsed());
            assert_eq!(r.status, 200);
        }
        times.sort();
        println!("{method} {path}: p50 {:?} p99 {:?}", times[250], times[495]);
    }
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_track_whose_metric_is_printed_is_refused_unless_it_opts_in_as_insecure() {
    let (s, served) = start(|_| {}).await;
    let spec = TRACK_SPEC.replace("insecure = true", "insecure = false");
    s.repo.write("swarmlab.toml", spec);
    s.repo.git(&["commit", "-qam", "no longer insecure"]);
    let add = json!({"repo": s.repo.root().display().to_string(), "baseline": "main"}).to_string();
    let r = Client::new(served.addr)
        .bearer(&s.admin.token)
        .post("/api/v1/tracks", &add);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"], "invalid_track");
    let message = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(
        message.contains("track `toy` takes its metric from what the run prints"),
        "{}",
        r.body
    );
    served.stop().await;
}
