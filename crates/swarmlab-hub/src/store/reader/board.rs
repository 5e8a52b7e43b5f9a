//! A track's three leaderboards, best first: contributors (by the verified gain of their
//! head moves), idea authors (by the gain of the moves credited to their ideas) and
//! verifiers (by verdicts given). The numbers are the track's credit (`credit.rs`, the same
//! that `GET tracks/{track}/credit` answers), from the verdict series already in memory;
//! the boards are kept until the ledger or the ideas grow.

use std::collections::HashMap;

use sqlx::Row;
use swarmlab_proto::PartyCredit;

use super::super::views::{AuthorRow, ContributorRow, Leaderboard, Party, VerifierRow};
use super::credit::Tally;
use super::{count, Reader, StoreError};

/// Rows per leaderboard.
const LEADERS: usize = 50;

/// The ledger's length and the last idea's id: the boards change only when one does.
pub(super) type BoardKey = (i64, i64);

impl Reader {
    /// A track's leaderboards, from the cache while the ledger and the ideas stand still.
    pub(super) async fn board(&self, track: &str) -> Result<Leaderboard, StoreError> {
        let Some(row) = self.track_row(track).await? else {
            return Ok(Leaderboard::default());
        };
        // The boards change only with the ledger (submissions, verdicts) and the ideas.
        let ledger_len = self.with_ledger(track, |index| index.next_seq).await?;
        let ideas: i64 =
            sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM ideas WHERE track = $1")
                .bind(track)
                .fetch_one(&self.read)
                .await?
                .try_get("m")?;
        let key = (ledger_len, ideas);
        if let Some((k, board)) = self.leaders.lock().expect("never poisoned").get(track) {
            if *k == key {
                return Ok(board.clone());
            }
        }
        let series = self.series(&row).await?;
        let tally = Tally::of(&series);
        let mut verifiers: Vec<VerifierRow> = tally
            .verdicts
            .iter()
            .map(|(id, (accepted, rejected))| VerifierRow {
                party: Party::unnamed(id),
                verdicts: accepted + rejected,
                accepted: *accepted,
                rejected: *rejected,
            })
            .collect();
        verifiers.sort_by(|a, b| {
            b.verdicts
                .cmp(&a.verdicts)
                .then(a.party.id.cmp(&b.party.id))
        });
        verifiers.truncate(LEADERS);
        let board = Leaderboard {
            contributors: self.contributors(track, &tally.parties).await?,
            authors: self.authors(track, &tally.parties).await?,
            verifiers,
        };
        let board = self.named(board).await?;
        self.leaders
            .lock()
            .expect("never poisoned")
            .insert(track.to_string(), (key, board.clone()));
        Ok(board)
    }

    /// Every worker that submitted to `track`, best first.
    async fn contributors(
        &self,
        track: &str,
        credited: &HashMap<String, PartyCredit>,
    ) -> Result<Vec<ContributorRow>, StoreError> {
        let mut contributors = sqlx::query(
            "SELECT worker, COUNT(*) AS n FROM submissions WHERE track = $1 GROUP BY worker",
        )
        .bind(track)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            let id: String = r.try_get("worker")?;
            let (n, gain) = credited
                .get(&id)
                .map_or((0, 0.0), |p| (p.improvements, p.gain));
            Ok(ContributorRow {
                party: Party::unnamed(&id),
                submissions: count(r, "n")?,
                accepted: n,
                gain,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        contributors.sort_by(|a, b| {
            b.gain
                .total_cmp(&a.gain)
                .then(b.accepted.cmp(&a.accepted))
                .then(a.submissions.cmp(&b.submissions))
        });
        contributors.truncate(LEADERS);
        Ok(contributors)
    }

    /// Every author of an idea for `track`, best first.
    async fn authors(
        &self,
        track: &str,
        credited: &HashMap<String, PartyCredit>,
    ) -> Result<Vec<AuthorRow>, StoreError> {
        let mut authors =
            sqlx::query("SELECT author, COUNT(*) AS n FROM ideas WHERE track = $1 GROUP BY author")
                .bind(track)
                .fetch_all(&self.read)
                .await?
                .iter()
                .map(|r| {
                    let id: String = r.try_get("author")?;
                    let (ideas, gain) = credited
                        .get(&id)
                        .map_or((0, 0.0), |p| (p.ideas_credited, p.idea_gain));
                    Ok(AuthorRow {
                        party: Party::unnamed(&id),
                        ideas: count(r, "n")?,
                        fruitful: ideas,
                        gain,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
        authors.sort_by(|a, b| {
            b.gain
                .total_cmp(&a.gain)
                .then(b.fruitful.cmp(&a.fruitful))
                .then(b.ideas.cmp(&a.ideas))
        });
        authors.truncate(LEADERS);
        Ok(authors)
    }

    /// The boards with their parties' display names.
    async fn named(&self, mut board: Leaderboard) -> Result<Leaderboard, StoreError> {
        let mut ids: Vec<&str> = board
            .contributors
            .iter()
            .map(|r| r.party.id.as_str())
            .chain(board.authors.iter().map(|r| r.party.id.as_str()))
            .chain(board.verifiers.iter().map(|r| r.party.id.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(board);
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, name FROM identities WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(*id);
        }
        let names: HashMap<String, String> = query
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
            .collect::<Result<_, StoreError>>()?;
        let name = |p: &mut Party| {
            if let Some(n) = names.get(&p.id) {
                p.name = n.clone();
            }
        };
        board
            .contributors
            .iter_mut()
            .for_each(|r| name(&mut r.party));
        board.authors.iter_mut().for_each(|r| name(&mut r.party));
        board.verifiers.iter_mut().for_each(|r| name(&mut r.party));
        Ok(board)
    }
}
