//! The verifiers each track's ledger knows: their keys and their standing, written into
//! every track's ledger so that an audit of one track's export can check each report's
//! signature against the key its verifier held, and see that it was not suspended
//! (`domain/audit.rs`). A verifier in good standing is enrolled in every track's ledger
//! ([`Store::enroll_verifiers`]); its suspension and reinstatement go to every ledger that
//! enrolled it ([`Store::tell_ledgers`]). `ledger_verifiers` records who each ledger
//! enrolled; it decides nothing else.

use sqlx::Row;
use swarmlab_proto::EventBody;

use super::{Store, StoreError, Tx};

impl Store {
    /// Enrols, inside `tx`, every verifier in good standing that a track's ledger has not
    /// enrolled yet: a `verifier_enrolled` entry with its key in that ledger. Called where a
    /// verifier or a track comes to be, where a verifier is reinstated, and when the hub opens
    /// (ledgers begun before verifier keys were recorded catch up then).
    pub(super) async fn enroll_verifiers(
        &self,
        tx: &mut Tx<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        let missing = sqlx::query(
            "SELECT t.name AS track, i.id AS verifier, i.public_key FROM tracks t CROSS JOIN identities i \
             WHERE i.role = 'verifier' \
             AND NOT EXISTS (SELECT 1 FROM ledger_verifiers l WHERE l.track = t.name AND l.verifier = i.id) \
             AND NOT EXISTS (SELECT 1 FROM verifier_standing s WHERE s.verifier = i.id AND s.suspended_ms IS NOT NULL) \
             ORDER BY t.name, i.created_ms, i.id",
        )
        .fetch_all(&mut **tx)
        .await?;
        for row in missing {
            let track: String = row.try_get("track")?;
            let verifier: String = row.try_get("verifier")?;
            let public_key: Option<String> = row.try_get("public_key")?;
            let public_key = public_key.ok_or_else(|| {
                StoreError::Corrupt(format!("verifier `{verifier}` has no public key"))
            })?;
            sqlx::query("INSERT INTO ledger_verifiers (track, verifier) VALUES ($1, $2)")
                .bind(&track)
                .bind(&verifier)
                .execute(&mut **tx)
                .await?;
            let event = EventBody::VerifierEnrolled {
                verifier,
                public_key,
            };
            self.append(tx, &track, now, event).await?;
        }
        Ok(())
    }

    /// Appends `event` (a suspension or a reinstatement of `verifier`), inside `tx`, to every
    /// track's ledger that enrolled `verifier`.
    pub(super) async fn tell_ledgers(
        &self,
        tx: &mut Tx<'_>,
        verifier: &str,
        now: i64,
        event: &EventBody,
    ) -> Result<(), StoreError> {
        let tracks =
            sqlx::query("SELECT track FROM ledger_verifiers WHERE verifier = $1 ORDER BY track")
                .bind(verifier)
                .fetch_all(&mut **tx)
                .await?;
        for row in tracks {
            let track: String = row.try_get("track")?;
            self.append(tx, &track, now, event.clone()).await?;
        }
        Ok(())
    }

    /// Enrols every verifier in good standing in every track's ledger that lacks it: what a
    /// hub opening on a database from before verifier keys were recorded catches up on.
    pub async fn enroll_missing_verifiers(&self, now: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        self.enroll_verifiers(&mut tx, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use swarmlab_core::Goal;
    use swarmlab_proto::{signing, Role, Rule};

    use super::*;
    use crate::domain::identity::Identity;
    use crate::domain::track::TrackRecord;

    fn verifier(id: &str, seed: u8) -> Identity {
        Identity {
            id: id.into(),
            name: id.into(),
            role: Role::Verifier,
            public_key: Some(signing::public_key_hex(&signing::signing_key(&[seed; 32]))),
        }
    }

    #[tokio::test]
    async fn a_database_from_before_verifier_keys_enrols_its_verifiers_in_good_standing() {
        let dir = tempfile::tempdir().unwrap();
        let database = crate::store::Database::resolve(None, dir.path()).unwrap();
        let store = Store::open(&database, &dir.path().join("hub.key"))
            .await
            .unwrap();
        let track = TrackRecord {
            name: "t".into(),
            baseline: "b0".into(),
            head: "b0".into(),
            metric: "loss".into(),
            rule: Rule {
                goal: Goal::Minimize,
                alpha: 0.05,
                min_delta: 0.0,
                reruns: 3,
                max_reruns: None,
            },
            editable: vec!["a".into()],
            spec_toml: String::new(),
        };
        store.create_track(&track, 1).await.unwrap();
        store
            .create_identity(&verifier("v1", 1), "h1", 2)
            .await
            .unwrap();
        store
            .create_identity(&verifier("v2", 2), "h2", 3)
            .await
            .unwrap();
        // As a database from before: no enrolment, and v2 suspended.
        for sql in [
            "DELETE FROM ledger WHERE seq > 0",
            "DELETE FROM ledger_verifiers",
            "INSERT INTO verifier_standing (verifier, jobs_until_canary, suspended_ms) VALUES ('v2', 0, 3)",
        ] {
            sqlx::query(sql).execute(&store.pool).await.unwrap();
        }
        store.enroll_missing_verifiers(4).await.unwrap();
        // Twice is once.
        store.enroll_missing_verifiers(5).await.unwrap();
        let lines = store.ledger("t").await.unwrap();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains(r#""kind":"verifier_enrolled","verifier":"v1""#));
        let text = lines.join("\n") + "\n";
        let report = crate::domain::audit::audit(&text, &store.public_key()).unwrap();
        assert_eq!(report.verifiers, 1);
    }
}
