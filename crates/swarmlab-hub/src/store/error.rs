//! [`StoreError`]: why a store operation failed. The domain turns the ones a caller can
//! cause (not found, conflict, forbidden, quota) into the matching [`HubError`] variants.
//!
//! [`HubError`]: crate::HubError

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database URL names no database the hub can open.
    #[error("bad database URL {0}")]
    Url(String),
    /// The database did not answer (down, wrong host or port, refused credentials).
    #[error("cannot reach the database at {url}: {source}")]
    Unreachable { url: String, source: sqlx::Error },
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// Verifying the worker's waiting submissions and this one would cost more than its quota
    /// allows.
    #[error("{0}")]
    Quota(String),
    /// The hub's signing key is not a key, or none could be made.
    #[error("internal: {0}")]
    Key(String),
    /// The hub's signing key could not be read or written.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}
