//! [`HubError`]: every way a hub operation fails. The web layer maps it to HTTP status codes
//! in one place (`web::api::error`).

use crate::store::StoreError;

/// Why a hub operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("missing or unknown bearer token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    TooLarge,
    #[error("rate limit exceeded; retry later")]
    RateLimited,
    /// Too many of the worker's submissions are waiting for verification.
    #[error("{0}")]
    Quota(String),
    #[error("store: {0}")]
    Store(StoreError),
    #[error("git: {0}")]
    Git(#[from] swarmlab_core::GitError),
    #[error("track spec: {0}")]
    Spec(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("internal: {0}")]
    Internal(String),
}

impl HubError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> HubError {
        HubError::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<StoreError> for HubError {
    fn from(e: StoreError) -> HubError {
        match e {
            StoreError::NotFound(what) => HubError::NotFound(what),
            StoreError::Conflict(why) => HubError::Conflict(why),
            StoreError::Forbidden(why) => HubError::Forbidden(why),
            StoreError::Quota(why) => HubError::Quota(why),
            StoreError::Key(why) => HubError::Internal(why),
            StoreError::Io { context, source } => HubError::Io { context, source },
            other => HubError::Store(other),
        }
    }
}
