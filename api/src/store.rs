//! The error of every persistence module (the tenants, clusters, configs and replays
//! repositories, the unit of work, the outbox, onboarding): what went wrong in Postgres,
//! without any HTTP in it. [`crate::error::ApiError`] converts from it at the edge, in
//! one place, so a CLI command reports the same cause.

/// A failed read or write of stored state.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The query failed (constraint violations are told apart at the edge).
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// A stored value no longer parses: a bug or a manual edit, never client input.
    #[error("stored {what} is invalid: {reason}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A value could not be encoded for storage.
    #[error("encoding {what} for storage: {source}")]
    Encode {
        /// Which value.
        what: &'static str,
        /// The encoder's error.
        source: serde_json::Error,
    },
}

impl StoreError {
    /// A stored value that does not parse.
    pub fn corrupt(what: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what,
            reason: reason.to_string(),
        }
    }
}
