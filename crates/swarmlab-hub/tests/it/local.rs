//! A local run's dashboard (`swarmlab report --serve`): the same pages over a track's
//! `results.jsonl`, without sign-in, moving when the file grows.

use std::time::Duration;

use swarmlab_core::{Goal, Record, ResultsLog, Status};
use swarmlab_hub::web::local::{serve, LocalRun};
use swarmlab_testkit::git::Repo;
use swarmlab_testkit::http::Client;

fn record(index: u64, commit: &str, status: Status, metric: Option<f64>, what: &str) -> Record {
    swarmlab_testkit::record::record(index)
        .commit(commit)
        .status(status)
        .metric(metric)
        .description(what)
        .printed("entropy_floor_bpb", 0.5)
        .memory_gb(0.1)
        .build()
}

fn commit(repo: &Repo, params: &str, message: &str) -> String {
    repo.write("params.txt", params);
    repo.commit_all(message)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_run_is_served_read_only_and_live() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let repo = Repo::open(&dir);
    repo.git(&["init", "-q", "-b", "main"]);
    let c0 = commit(&repo, "lr = 0.01\n", "baseline");
    // The loop resets a discarded or crashed experiment's commit: it stays in the repository,
    // on no branch.
    let discarded = commit(&repo, "lr = 0.01\nwidth = 32\n", "width 64 -> 32");
    repo.git(&["reset", "-q", "--hard", &c0]);
    let c2 = commit(&repo, "lr = 0.02\n", "lr 0.01 -> 0.02");
    let crashed = commit(&repo, "lr = 0.02\nwidth = 4096\n", "width 64 -> 4096");
    repo.git(&["reset", "-q", "--hard", &c2]);
    let c4 = commit(&repo, "lr = 0.03\n", "lr 0.02 -> <0.03>");
    let run_log = ".swarmlab/runs/main/3/run.log";
    std::fs::create_dir_all(dir.join(".swarmlab/runs/main/3")).unwrap();
    std::fs::write(
        dir.join(run_log),
        "step 1 loss 1.2\nRuntimeError: out of <memory>\n",
    )
    .unwrap();
    let log = ResultsLog::new(&dir, "loss");
    let mut crash = record(3, &crashed, Status::Crash, None, "width 64 -> 4096");
    crash.parent = c2.clone();
    crash.log = run_log.into();
    crash.exit = "exit 1".into();
    crash.note = Some("RuntimeError: out of memory".into());
    for (r, parent) in [
        (record(0, &c0, Status::Keep, Some(1.0), "baseline"), ""),
        (
            record(1, &discarded, Status::Discard, Some(1.1), "width 64 -> 32"),
            &c0,
        ),
        (
            record(2, &c2, Status::Keep, Some(0.9), "lr 0.01 -> 0.02"),
            &c0,
        ),
        (crash, &c2),
        (
            record(4, &c4, Status::Keep, Some(0.8), "lr 0.02 -> <0.03>"),
            &c2,
        ),
    ] {
        log.append(&Record {
            parent: parent.to_string(),
            ..r
        })
        .unwrap();
    }
    let run = LocalRun {
        dir: dir.clone(),
        track: "toy".into(),
        metric: "loss".into(),
        goal: Goal::Minimize,
        branch: "swarmlab/main".into(),
    };
    let (ready, bound) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(
            run,
            "127.0.0.1:0",
            move |addr| ready.send(addr).unwrap(),
            async {
                let _ = stopped.await;
            },
        )
        .await
    });
    let addr = bound.await.unwrap();

    let r = Client::new(addr).get("/");
    assert_eq!(r.status, 200, "no sign-in for a local run");
    assert!(r.body.contains("local run") && r.body.contains("href=\"/tracks/toy\""));
    let r = Client::new(addr).get("/tracks/toy");
    for n in 0..=4 {
        assert!(
            r.body
                .contains(&format!("href=\"/tracks/toy/experiments/{n}\"")),
            "the chart links experiment {n}, whatever became of it\n{}",
            r.body
        );
    }
    assert!(r.body.contains("entropy floor 0.5000"));
    assert!(r.body.contains("experiment #1: 1.1000 (not kept)"));
    // One numbering: the chain's entries are the experiments' own numbers.
    assert!(r.body.contains("experiment #4: 0.8000"), "{}", r.body);
    assert!(!r.body.contains("chain #"), "{}", r.body);
    assert!(
        r.body.contains("lr 0.02 -&gt; &lt;0.03&gt;"),
        "descriptions are escaped"
    );
    let r = Client::new(addr).get("/tracks/toy/chain");
    assert!(
        r.body.contains("The baseline and 2 improvements"),
        "the baseline is not counted as an improvement\n{}",
        r.body
    );
    let r = Client::new(addr).get("/tracks/toy/chain/4");
    assert_eq!(r.status, 303, "a chain entry is its experiment's page");
    assert_eq!(
        r.header("location").as_deref(),
        Some("/tracks/toy/experiments/4")
    );
    let r = Client::new(addr).get("/tracks/toy/experiments/4");
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("<span class=\"add\">+lr = 0.03</span>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("nobody else verified it"));
    assert!(r.body.contains("href=\"/tracks/toy/experiments/2\">#2</a>"));
    // A discarded experiment: its value against where it started, and its diff.
    let r = Client::new(addr).get("/tracks/toy/experiments/1");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("was not better"), "{}", r.body);
    assert!(r.body.contains("<span class=\"add\">+width = 32</span>"));
    // A crashed one: why, the end of its log (escaped), and its diff.
    let r = Client::new(addr).get("/tracks/toy/experiments/3");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("exit 1"));
    assert!(
        r.body.contains("RuntimeError: out of &lt;memory&gt;"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<span class=\"add\">+width = 4096</span>"));
    for missing in ["/tracks/toy/experiments/9", "/tracks/toy/experiments/x"] {
        assert_eq!(Client::new(addr).get(missing).status, 404, "{missing}");
    }
    for path in [
        "/tracks/toy/ideas",
        "/login",
        "/submissions",
        "/tracks/other",
    ] {
        assert_eq!(Client::new(addr).get(path).status, 404, "{path}");
    }

    // A new experiment in the file is an event.
    let mut events = Client::new(addr).events("/events");
    assert!(events
        .next_line(Duration::from_secs(10))
        .expect("a status line")
        .contains("200"));
    log.append(&record(
        5,
        &c4,
        Status::Discard,
        Some(0.85),
        "width 64 -> 80",
    ))
    .unwrap();
    let seen = events
        .until(Duration::from_secs(10), |line| line.starts_with("event: "))
        .expect("an event within 10 s");
    assert!(seen);
    let r = Client::new(addr).get("/tracks/toy");
    assert!(r.body.contains("experiment #5"));
    // The subtitle names the head, so a live refresh replaces it too.
    assert!(r.body.contains("<div class=\"head\" data-live=\"title\">"));

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops with an event stream open")
        .unwrap()
        .unwrap();
    drop(events);
}
