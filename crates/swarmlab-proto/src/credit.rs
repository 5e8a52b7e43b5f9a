//! Credit: who a head move is owed to, as the ledger records it in the move's entry, and the
//! track's credit as `GET /api/v1/tracks/{track}/credit` answers it. The rule that decides
//! it lives in the hub (`domain/credit.rs`); these are its wire forms.

use serde::{Deserialize, Serialize};

/// Who moved the head, carried by a `head_move` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credit {
    /// The identity that submitted the candidate.
    pub finder: String,
    /// The verifiers whose signed reports decided the move: the cited verdict's verifier.
    pub verifiers: Vec<String>,
    /// The improvement as verified, in the goal's direction: the mean of the verdict's head
    /// reruns against the mean of its candidate reruns.
    pub gain: f64,
    /// The idea the move is credited to, when the submission named one and its change was
    /// not already on the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idea: Option<CreditedIdea>,
}

/// An idea of the track's queue, by id, with the identity that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditedIdea {
    pub id: i64,
    pub author: String,
}

/// `GET /api/v1/tracks/{track}/credit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackCredit {
    pub track: String,
    /// Everyone credited with anything, most verified gain found first.
    pub parties: Vec<PartyCredit>,
    /// Every head move, oldest first, with its credit.
    pub head_moves: Vec<HeadMoveCredit>,
}

/// What one identity is credited with on a track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartyCredit {
    pub identity: String,
    /// Head moves it found (submitted).
    pub improvements: u64,
    /// The verified gain of those moves, summed.
    pub gain: f64,
    /// Verdicts it gave as a verifier, accepting or rejecting.
    pub verifications: u64,
    /// Its ideas that head moves were credited to.
    pub ideas_credited: u64,
    /// The verified gain of the moves credited to its ideas, summed.
    pub idea_gain: f64,
}

/// One head move and who it is credited to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadMoveCredit {
    /// The move's place on the chain (the baseline is 0).
    pub chain_seq: u64,
    /// The commit the head moved to.
    pub commit: String,
    pub submission_id: i64,
    /// The verdict that decided it.
    pub verdict_id: i64,
    pub at_ms: i64,
    pub credit: Credit,
}
