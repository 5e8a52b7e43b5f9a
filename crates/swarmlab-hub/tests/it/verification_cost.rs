//! What verification costs: the device-seconds of the verifiers' runs (head and candidate,
//! as their reports sign them) per accepted commit and against the search the workers said
//! they spent, in the API and on the track page, readable by anyone; and the quota, which
//! charges each waiting submission what verifying it is expected to cost.

use swarmlab_hub::HubError;
use swarmlab_proto::{
    signing, AddTrackRequest, BudgetKind, PairLoad, Pairs, ReportRequest, RunLoad, RunOutcome,
    SubmissionInfo,
};
use swarmlab_testkit::bundle::Candidate;
use swarmlab_testkit::http::Client;
use swarmlab_testkit::hub::Member;

use crate::support::{Edit, Fixture, BETTER, HEAD};

/// Measurements of `job` whose pair `i` ran the candidate for `walls[i].0` seconds and the
/// head for `walls[i].1`.
fn timed(
    f: &Fixture,
    v: &Member,
    job: i64,
    (candidate, head): (&[f64], &[f64]),
    walls: &[(f64, f64)],
) -> ReportRequest {
    let mut req = f.measurements(v, job, RunOutcome::Ok, candidate, head);
    let run = |wall_s: f64| RunLoad {
        wall_s,
        cpu_s: wall_s,
        load_avg: 0.5,
    };
    req.measurements.pairs = Some(Pairs {
        seeds: (1..=walls.len() as u64).collect(),
        budget: BudgetKind::Time,
        load: walls
            .iter()
            .map(|&(c, h)| PairLoad {
                candidate: run(c),
                head: run(h),
            })
            .collect(),
    });
    req.signature = signing::sign(&v.key, &req.measurements.signed_bytes());
    req
}

/// Submits a change of `params.txt` on `parent` of `track`, claiming `spent_s` seconds of
/// search; the hub's answer, refusals included.
async fn submit(
    f: &Fixture,
    w: &Member,
    (track, parent): (&str, &str),
    params: &str,
    spent_s: Option<f64>,
) -> Result<SubmissionInfo, HubError> {
    let (commit, bundle) = f.candidate(parent, &[Edit::Write("params.txt", params.as_bytes())]);
    let mut claim = f.claim(w, parent, &commit, 0.9, &format!("c-{commit}"));
    claim.track = track.into();
    claim.spent_s = spent_s;
    let req = Candidate {
        claim,
        bundle,
        log: String::new(),
    }
    .signed(&w.key);
    f.hub.submit(&w.identity, track, req).await
}

/// Reports `req` on `job` by `v`; the decision.
async fn decide(f: &Fixture, v: &Member, job: i64, req: ReportRequest) -> String {
    f.hub.report(&v.identity, job, req).await.unwrap().decision
}

#[tokio::test]
async fn the_cost_is_the_verdicts_run_seconds_per_accepted_commit_and_their_share_of_all() {
    let f = Fixture::new().await;
    let base = f.baseline.clone();
    let zero = f.hub.verification_cost("toy").await.unwrap();
    assert_eq!(
        (
            zero.verdicts,
            zero.verifier_s,
            zero.accepted,
            zero.verifier_share
        ),
        (0, 0.0, 0, None)
    );
    submit(&f, &f.w1, ("toy", &base), "lr = 0.1\n", Some(100.0))
        .await
        .unwrap();
    submit(&f, &f.w2, ("toy", &base), "lr = 0.2\n", Some(50.0))
        .await
        .unwrap();
    // A claim that says nothing of its search adds nothing to the workers' seconds.
    submit(&f, &f.w2, ("toy", &base), "lr = 0.3\n", None)
        .await
        .unwrap();

    let job = f.lease(&f.v1).await.unwrap().job_id;
    let walls = [(4.0, 3.0), (5.0, 3.5), (4.5, 3.0)];
    let accepted = timed(&f, &f.v1, job, (&BETTER, &HEAD), &walls);
    assert_eq!(decide(&f, &f.v1, job, accepted).await, "accepted");
    let job = f.lease(&f.v2).await.unwrap().job_id;
    let walls = [(2.0, 2.0), (2.0, 2.0), (2.0, 2.0)];
    let rejected = timed(&f, &f.v2, job, (&HEAD, &BETTER), &walls);
    assert_eq!(decide(&f, &f.v2, job, rejected).await, "rejected");
    // A verdict from a report without its runs' times counts, but costs nothing known.
    let job = f.lease(&f.v1).await.unwrap().job_id;
    let untimed = f.measurements(&f.v1, job, RunOutcome::Ok, &HEAD, &BETTER);
    assert_eq!(decide(&f, &f.v1, job, untimed).await, "rejected");

    let cost = f.hub.verification_cost("toy").await.unwrap();
    assert_eq!(cost.track, "toy");
    assert_eq!((cost.verdicts, cost.measured_verdicts), (3, 2));
    // 23 seconds for the accepted one, 12 for the rejected one.
    assert_eq!(cost.verifier_s, 35.0);
    assert_eq!(cost.accepted, 1);
    assert_eq!(cost.verifier_s_per_accepted, Some(35.0));
    assert_eq!(cost.verifier_s_per_verdict, Some(17.5));
    assert_eq!((cost.reported_submissions, cost.worker_s), (2, 150.0));
    assert_eq!(cost.verifier_share, Some(35.0 / 185.0));
    assert!(matches!(
        f.hub.verification_cost("nope").await,
        Err(HubError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn anyone_reads_the_cost_in_the_api_and_on_the_track_page() {
    let (f, served) = Fixture::served().await;
    let base = f.baseline.clone();
    let anyone = Client::new(served.addr);
    let page = anyone.get("/tracks/toy");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Verification cost")
            && page
                .body
                .contains("no worker has said what its search cost"),
        "{}",
        page.body
    );

    submit(&f, &f.w1, ("toy", &base), "lr = 0.1\n", Some(30.0))
        .await
        .unwrap();
    let job = f.lease(&f.v1).await.unwrap().job_id;
    let walls = [(1.5, 1.0), (1.5, 1.0), (1.0, 1.0)];
    let report = timed(&f, &f.v1, job, (&BETTER, &HEAD), &walls);
    assert_eq!(decide(&f, &f.v1, job, report).await, "accepted");

    let r = anyone.get("/api/v1/tracks/toy/cost");
    assert_eq!(r.status, 200, "{}", r.body);
    let cost = r.json();
    assert_eq!(cost["verifier_s"], 7.0);
    assert_eq!(cost["accepted"], 1);
    assert_eq!(cost["verifier_s_per_accepted"], 7.0);
    assert_eq!(cost["worker_s"], 30.0);
    assert_eq!(cost["verifier_share"], 7.0 / 37.0);
    let page = anyone.get("/tracks/toy").body;
    assert!(
        page.contains("7.0 s <small>verifier device-seconds per accepted commit")
            && page.contains("18.9% <small>of all device-seconds (30.0 s of search"),
        "{page}"
    );
    assert_eq!(anyone.get("/api/v1/tracks/nope/cost").status, 404);
    served.stop().await;
}

#[tokio::test]
async fn the_quota_charges_the_expected_cost_of_verifying_the_waiting_submissions() {
    let f = Fixture::new().await;
    let base = f.baseline.clone();
    // A second track whose runs take ten times as long: 20 s against toy's 2 s.
    let spec = std::fs::read_to_string(f.src.root().join("swarmlab.toml"))
        .unwrap()
        .replace("name = \"toy\"", "name = \"slow\"")
        .replace("budget = \"2s\"", "budget = \"20s\"")
        .replace("timeout = \"10s\"", "timeout = \"1m\"");
    let slow = swarmlab_testkit::hub::track_repo(&f.tmp.path().join("slow"), &spec);
    f.hub
        .add_track(&AddTrackRequest {
            repo: slow.root().display().to_string(),
            baseline: "main".into(),
        })
        .await
        .unwrap();
    // The two tracks' repositories share the baseline's tree, so the same commit builds on
    // either; the slow track's baseline is its own commit.
    let slow_base = f.hub.track_info("slow").await.unwrap().baseline;
    f.src
        .git(&["fetch", "-q", &slow.root().display().to_string(), "main"]);

    // w1 (a quota of 2) has one submission waiting on the slow track: 3 reruns of each side
    // at 20 s, 120 s. One more on toy, 12 s, would make 132 s, over 2 × 12 s.
    let waiting = submit(&f, &f.w1, ("slow", &slow_base), "lr = 0.1\n", None)
        .await
        .unwrap();
    assert_eq!(waiting.status, "queued", "{:?}", waiting.reason);
    let refused = submit(&f, &f.w1, ("toy", &base), "lr = 0.2\n", None)
        .await
        .unwrap_err();
    let HubError::Quota(message) = &refused else {
        panic!("{refused}")
    };
    assert_eq!(refused.status().0.as_u16(), 429);
    assert!(
        message.contains(
            "verifying your 1 waiting submission is expected to cost 120.0 device-seconds and \
             this one 12.0 more, over your allowance of 24.0 device-seconds (2 verifications at \
             12.0 each on this track: 3 reruns of the head and of the candidate at 2.0 s each"
        ),
        "{message}"
    );
    // On the slow track itself the allowance is 2 × 120 s: room for one more.
    submit(&f, &f.w1, ("slow", &slow_base), "lr = 0.3\n", None)
        .await
        .unwrap();
    assert!(matches!(
        submit(&f, &f.w1, ("slow", &slow_base), "lr = 0.4\n", None).await,
        Err(HubError::Quota(_))
    ));

    // A verdict on toy measures what it costs there: 150 s. w1's allowance on toy becomes
    // 2 × 150 s, and its 240 s waiting on the slow track and 150 s more are over it.
    submit(&f, &f.w2, ("toy", &base), "lr = 0.5\n", None)
        .await
        .unwrap();
    let mut toy_job = None;
    while toy_job.is_none() {
        let job = f.lease(&f.v2).await.unwrap();
        if job.track == "toy" {
            toy_job = Some(job.job_id);
        }
    }
    let job = toy_job.unwrap();
    let walls = [(25.0, 25.0), (25.0, 25.0), (25.0, 25.0)];
    let report = timed(&f, &f.v2, job, (&HEAD, &BETTER), &walls);
    assert_eq!(decide(&f, &f.v2, job, report).await, "rejected");
    let refused = submit(&f, &f.w1, ("toy", &base), "lr = 0.6\n", None)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains(
            "expected to cost 240.0 device-seconds and this one 150.0 more, over your \
             allowance of 300.0 device-seconds (2 verifications at 150.0 each on this track: \
             the mean of 1 measured verdict on the track)"
        ),
        "{refused}"
    );
}
