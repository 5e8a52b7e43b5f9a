//! The refusals of the loop that a user fixes in the repository, not in the track.

/// The repository is in a state swarmlab refuses to work in; the message says how to fix it.
#[derive(Debug)]
pub struct RepositoryState(pub String);

impl std::fmt::Display for RepositoryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RepositoryState {}
