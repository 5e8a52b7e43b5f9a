use swarmlab_hub::{audit, AuditError};

use crate::support::{Fixture, BETTER, HEAD};

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
    assert_eq!(report.entries, 7);
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
