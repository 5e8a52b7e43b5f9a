use swarmlab_hub::{audit, AuditError};
use swarmlab_proto::{signing, AddTrackRequest, EventBody};

use crate::support::{events, resealed, Fixture, BETTER, HEAD};

async fn busy_ledger() -> (Fixture, String) {
    let f = Fixture::new().await;
    let s = f
        .submit(&f.w1, &f.baseline, "lr = 0.02\nwidth = 64\n")
        .await;
    f.submit(&f.w2, &f.baseline, "lr = 0.02\nwidth = 64\n")
        .await; // duplicate
    let job = f.lease(&f.v1).await.unwrap();
    f.report(&f.v1, job.job_id, &BETTER, &HEAD).await.unwrap();
    let head = f.head().await;
    assert_eq!(head, s.commit);
    let r = f.submit(&f.w2, &head, "lr = 0.02\nwidth = 65\n").await;
    let job = f.lease(&f.v2).await.unwrap();
    f.report(&f.v2, job.job_id, &HEAD, &HEAD).await.unwrap();
    assert_eq!(
        f.hub.submission(&f.w2.identity, r.id).await.unwrap().status,
        "rejected"
    );
    let text = f.hub.ledger_text("toy").await.unwrap();
    (f, text)
}

#[tokio::test]
async fn the_ledger_audits_with_the_hubs_key() {
    let (f, text) = busy_ledger().await;
    let report = audit(&text, &f.hub.public_key()).unwrap();
    assert_eq!(report.track, "toy");
    assert_eq!(
        (report.submissions, report.verdicts, report.head_moves),
        (3, 2, 1)
    );
    assert_eq!(report.head, f.head().await);
    // The track, both verifiers' enrolments, three submissions, two verdicts, a head move.
    assert_eq!(report.entries, 9);
    // Each verdict's report checked against the key its verifier was enrolled with.
    assert_eq!(
        (report.verifiers, report.signatures, report.unchecked),
        (2, 2, 0)
    );
    for v in [&f.v1, &f.v2] {
        let key = signing::public_key_hex(&v.key);
        assert!(
            text.contains(&format!(
                r#""kind":"verifier_enrolled","verifier":"{}","public_key":"{key}""#,
                v.identity.id
            )),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_track_added_after_its_verifiers_enrols_them_before_any_report() {
    let f = Fixture::new().await;
    let repo = swarmlab_testkit::hub::track_repo(
        &f.tmp.path().join("second"),
        &std::fs::read_to_string(f.src.root().join("swarmlab.toml"))
            .unwrap()
            .replace("name = \"toy\"", "name = \"second\""),
    );
    f.hub
        .add_track(&AddTrackRequest {
            repo: repo.root().display().to_string(),
            baseline: "main".into(),
        })
        .await
        .unwrap();
    let text = f.hub.ledger_text("second").await.unwrap();
    let kinds: Vec<&str> = events(&text)
        .iter()
        .map(|(_, e)| match e {
            EventBody::TrackCreated { format: 3, .. } => "track_created",
            EventBody::VerifierEnrolled { .. } => "verifier_enrolled",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["track_created", "verifier_enrolled", "verifier_enrolled"]
    );
    assert_eq!(audit(&text, &f.hub.public_key()).unwrap().verifiers, 2);
    // Reopening the hub enrols no one twice.
    let config = f.hub.config().clone();
    let reopened = swarmlab_hub::Hub::open(config, f.clock.clone())
        .await
        .unwrap();
    assert_eq!(reopened.ledger_text("second").await.unwrap(), text);
}

#[tokio::test]
async fn a_verdict_altered_or_forged_after_its_verifier_signed_fails_the_audit() {
    let (f, text) = busy_ledger().await;
    // Whoever holds the hub's key can rewrite the ledger; only verifier keys can tell.
    let hub = signing::signing_key(&[77; 32]);
    let genuine = events(&text);
    let sound = audit(&resealed(&genuine, &hub), &hub.verifying_key()).unwrap();
    assert_eq!(sound.signatures, 2);
    let verdict_line = genuine
        .iter()
        .position(|(_, e)| matches!(e, EventBody::Verdict { .. }))
        .unwrap()
        + 1;

    // The accepted candidate's first rerun, made a little better after v1 signed it.
    let mut altered = genuine.clone();
    if let EventBody::Verdict { measurements, .. } = &mut altered[verdict_line - 1].1 {
        measurements.candidate[0] -= 0.01;
    }
    let err = audit(&resealed(&altered, &hub), &hub.verifying_key()).unwrap_err();
    assert!(
        matches!(
            &err,
            AuditError::ForgedReport { line, verifier, .. }
                if *line == verdict_line && verifier == &f.v1.identity.id
        ),
        "{err}"
    );

    // The same numbers signed by a worker's key in v1's name.
    let mut forged = genuine.clone();
    if let EventBody::Verdict {
        measurements,
        verifier_signature,
        ..
    } = &mut forged[verdict_line - 1].1
    {
        *verifier_signature = signing::sign(&f.w1.key, &measurements.signed_bytes());
    }
    let err = audit(&resealed(&forged, &hub), &hub.verifying_key()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "line {verdict_line}: the report of `{}` does not verify against the key enrolled \
             at line 2: it was forged or altered after signing",
            f.v1.identity.id
        )
    );

    // A verdict in the name of a verifier the hub never enrolled (here: a worker).
    let mut stranger = genuine;
    if let EventBody::Verdict {
        measurements,
        verifier_signature,
        ..
    } = &mut stranger[verdict_line - 1].1
    {
        measurements.verifier_id = f.w1.identity.id.clone();
        *verifier_signature = signing::sign(&f.w1.key, &measurements.signed_bytes());
    }
    assert!(matches!(
        audit(&resealed(&stranger, &hub), &hub.verifying_key()),
        Err(AuditError::UnknownVerifier { line, .. }) if line == verdict_line
    ));
}

#[tokio::test]
async fn tampering_with_any_one_byte_is_detected() {
    let (f, text) = busy_ledger().await;
    let key = f.hub.public_key();
    let bytes = text.as_bytes();
    // Every byte of the first two lines, then a stride through the rest (ed25519 in a debug
    // build is slow).
    let second_end = text.match_indices('\n').nth(1).unwrap().0 + 1;
    let positions = (0..second_end).chain((second_end..bytes.len()).step_by(7));
    let mut checked = 0;
    for i in positions {
        let mut tampered = bytes.to_vec();
        // Change the byte to another printable one (and keep UTF-8 valid).
        tampered[i] = if bytes[i] == b'1' {
            b'2'
        } else if bytes[i] == b'\n' {
            b' '
        } else {
            b'1'
        };
        let Ok(tampered) = String::from_utf8(tampered) else {
            continue;
        };
        assert!(
            audit(&tampered, &key).is_err(),
            "byte {i} ({:?}) changed unnoticed",
            bytes[i] as char
        );
        checked += 1;
    }
    assert!(checked > 500, "{checked}");
    // Dropping a line breaks the chain of hashes.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(2);
    let cut = lines.join("\n") + "\n";
    assert!(matches!(
        audit(&cut, &key),
        Err(AuditError::Sequence { line: 3, .. })
    ));
}
