//! [`IntakeReason`]: why intake turned a submission away, by the rule it broke. Its name
//! ([`IntakeReason::as_str`]) is what the store records and the API reports as the
//! submission's `reason`; [`IntakeReason::status`] says whether the submission is `invalid`
//! (it broke a rule) or `rejected` (well-formed, but refused).

use swarmlab_core::change::ChangeRefusal;

use super::bundle::BundleRefusal;

/// Why intake turned a submission away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeReason {
    /// The claim names another worker than the one who sent it.
    WrongWorker,
    /// The claim names another track than the one it was sent to.
    WrongTrack,
    /// The claim's signature does not verify with the worker's registered key.
    BadSignature,
    /// The bundle is over the hub's size cap.
    BundleTooLarge,
    /// The bundle's pack holds more objects than the hub's cap.
    TooManyObjects,
    /// The bundle's objects would inflate past the hub's cap.
    InflatedTooLarge,
    /// Git's work on the bundle ran past the hub's time cap per submission.
    TooCostly,
    /// The run log is over the hub's size cap.
    LogTooLarge,
    /// The commit or its parent is not 40 lowercase hex digits.
    BadCommitId,
    /// The claim has no finite value for the track's metric.
    MissingMetric,
    /// The claim's nonce was used before by the same worker.
    Replay,
    /// The parent is not a commit of the track's chain.
    ParentUnknown,
    /// The code broke one of the rules read from git (`swarmlab_core::change`), which
    /// verifiers check again: the bundle itself, the commit's parent, the paths it touches.
    Change(ChangeRefusal),
    /// The parent is on the chain but further behind the head than the hub allows.
    Stale,
    /// The change does not apply to the head it had to be rebased onto.
    RebaseConflict,
    /// An earlier submission of the track made the same change (by normalised diff).
    Duplicate,
}

impl IntakeReason {
    /// The reason's name, as recorded and reported.
    pub fn as_str(self) -> &'static str {
        match self {
            IntakeReason::WrongWorker => "wrong_worker",
            IntakeReason::WrongTrack => "wrong_track",
            IntakeReason::BadSignature => "bad_signature",
            IntakeReason::BundleTooLarge => "bundle_too_large",
            IntakeReason::TooManyObjects => "too_many_objects",
            IntakeReason::InflatedTooLarge => "inflated_too_large",
            IntakeReason::TooCostly => "too_costly",
            IntakeReason::LogTooLarge => "log_too_large",
            IntakeReason::BadCommitId => "bad_commit_id",
            IntakeReason::MissingMetric => "missing_metric",
            IntakeReason::Replay => "replay",
            IntakeReason::ParentUnknown => "parent_unknown",
            IntakeReason::Change(refusal) => refusal.as_str(),
            IntakeReason::Stale => "stale",
            IntakeReason::RebaseConflict => "rebase_conflict",
            IntakeReason::Duplicate => "duplicate",
        }
    }

    /// The submission's status: `rejected` for a well-formed submission refused (stale, not
    /// applicable to the head, or a duplicate), `invalid` for one that broke a rule.
    pub fn status(self) -> &'static str {
        match self {
            IntakeReason::Stale | IntakeReason::RebaseConflict | IntakeReason::Duplicate => {
                "rejected"
            }
            IntakeReason::WrongWorker
            | IntakeReason::WrongTrack
            | IntakeReason::BadSignature
            | IntakeReason::BundleTooLarge
            | IntakeReason::TooManyObjects
            | IntakeReason::InflatedTooLarge
            | IntakeReason::TooCostly
            | IntakeReason::LogTooLarge
            | IntakeReason::BadCommitId
            | IntakeReason::MissingMetric
            | IntakeReason::Replay
            | IntakeReason::ParentUnknown
            | IntakeReason::Change(_) => "invalid",
        }
    }
}

impl From<BundleRefusal> for IntakeReason {
    fn from(refusal: BundleRefusal) -> IntakeReason {
        match refusal {
            BundleRefusal::Malformed => ChangeRefusal::BadBundle.into(),
            BundleRefusal::TooManyObjects => IntakeReason::TooManyObjects,
            BundleRefusal::InflatedTooLarge => IntakeReason::InflatedTooLarge,
        }
    }
}

impl From<ChangeRefusal> for IntakeReason {
    fn from(refusal: ChangeRefusal) -> IntakeReason {
        IntakeReason::Change(refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_keep_their_wire_names_and_statuses() {
        let named = [
            (IntakeReason::BadSignature, "bad_signature", "invalid"),
            (IntakeReason::Replay, "replay", "invalid"),
            (IntakeReason::TooManyObjects, "too_many_objects", "invalid"),
            (
                IntakeReason::InflatedTooLarge,
                "inflated_too_large",
                "invalid",
            ),
            (IntakeReason::TooCostly, "too_costly", "invalid"),
            (
                IntakeReason::Change(ChangeRefusal::NotAFile),
                "not_a_file",
                "invalid",
            ),
            (
                IntakeReason::Change(ChangeRefusal::KnobUnmatched),
                "knob_unmatched",
                "invalid",
            ),
            (
                IntakeReason::Change(ChangeRefusal::OutsideEditable),
                "outside_editable",
                "invalid",
            ),
            (IntakeReason::Stale, "stale", "rejected"),
            (IntakeReason::RebaseConflict, "rebase_conflict", "rejected"),
            (IntakeReason::Duplicate, "duplicate", "rejected"),
        ];
        for (reason, name, status) in named {
            assert_eq!((reason.as_str(), reason.status()), (name, status));
        }
    }
}
