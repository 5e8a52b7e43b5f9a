//! Promotion: a maintainer (an admin) moves a track's `main` to a commit of its verified
//! chain. The chain says what is verified; `main` says what its maintainers stand behind.
//! Only chain commits can be promoted, and each promotion is a ledger entry, so an audit
//! checks that `main` never held anything unverified.

use swarmlab_proto::PromotionInfo;

use super::error::HubError;
use super::event::{EventKind, HubEvent};
use super::hub::{blocking, Hub};
use super::identity::Identity;
use super::roles::{require, Action};

/// The branch a promotion moves, in the track's repository.
pub const MAIN_REF: &str = "refs/heads/main";

fn full_commit_id(text: &str) -> bool {
    text.len() == 40
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Hub {
    /// Moves `main` of `track` to `commit`, which must be on the track's chain.
    pub async fn promote(
        &self,
        caller: &Identity,
        track: &str,
        commit: &str,
    ) -> Result<PromotionInfo, HubError> {
        require(caller, Action::Promote)?;
        self.track(track).await?;
        if !full_commit_id(commit) {
            return Err(HubError::BadRequest(format!(
                "`{commit}` is not a full commit id (40 lowercase hex digits)"
            )));
        }
        let chain_seq = self
            .store
            .chain_seq_of(track, commit)
            .await?
            .ok_or_else(|| {
                HubError::Conflict(format!(
                    "{commit} is not on the verified chain of track `{track}`; only verified commits can be promoted"
                ))
            })?;
        let chain_seq = u64::try_from(chain_seq)
            .map_err(|_| HubError::Internal(format!("negative chain seq {chain_seq}")))?;
        let repo = self.repo(track)?;
        let new = commit.to_string();
        // Compare-and-swap on the ref: two promotions at once cannot both think they won.
        let previous = blocking(move || {
            let old = repo.resolve(MAIN_REF)?;
            let mut args = vec!["update-ref", MAIN_REF, new.as_str()];
            if let Some(old) = &old {
                args.push(old.as_str());
            }
            repo.run(&args)
                .map_err(|e| HubError::Conflict(format!("main moved meanwhile: {e}")))?;
            Ok(old)
        })
        .await?;
        let recorded = self
            .store
            .record_promotion(track, commit, chain_seq, &caller.id, self.now())
            .await;
        let entry = match recorded {
            Ok(entry) => entry,
            Err(e) => {
                // The ledger is the record: without its entry, main goes back.
                let repo = self.repo(track)?;
                let (new, previous) = (commit.to_string(), previous.clone());
                let _ = blocking(move || {
                    let restore = match &previous {
                        Some(old) => vec!["update-ref", MAIN_REF, old.as_str(), new.as_str()],
                        None => vec!["update-ref", "-d", MAIN_REF, new.as_str()],
                    };
                    Ok(repo.run(&restore)?)
                })
                .await;
                return Err(e.into());
            }
        };
        self.publish(HubEvent::new(EventKind::Promotion, track));
        Ok(PromotionInfo {
            track: track.to_string(),
            commit: commit.to_string(),
            chain_seq,
            previous,
            ledger_seq: entry.seq,
        })
    }
}
