use thiserror::Error;

use super::DatabaseUrlError;
use crate::{crypto::CryptoError, domain::DomainError};

/// What can go wrong in storage. Messages are written for operators and
/// never contain personal data.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The database URL is not usable.
    #[error(transparent)]
    Url(#[from] DatabaseUrlError),
    /// The database could not be reached.
    #[error("cannot connect to the database {target}: {reason}")]
    Connect { target: String, reason: String },
    /// No connection became free in time.
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(diesel::result::Error),
    /// A unique value already exists.
    #[error("{what} already exists")]
    Conflict { what: String },
    /// A row the caller referred to does not exist.
    #[error("{what} not found")]
    NotFound { what: String },
    /// The row may not be changed in this way.
    #[error("{0}")]
    Refused(String),
    /// Stored data breaks a rule of the model.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(#[from] DomainError),
    /// Personal data could not be decrypted or the key is wrong.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// No key to decrypt personal data already in the database.
    #[error("missing encryption key: this database was set up with a secret key for personal data, so set HEROLD_SECRET_KEY or secret_key_file (expected the file {expected_file} to exist)")]
    MissingKey { expected_file: String },
    /// The configured key is not the one the data was encrypted with.
    #[error("wrong encryption key: the database was set up with key fingerprint {stored}, but the configured key has fingerprint {configured}")]
    WrongKey { stored: String, configured: String },
    /// The key file could not be read or written.
    #[error("secret key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
}

impl From<diesel::result::Error> for StorageError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => Self::Conflict {
                // PostgreSQL names the constraint; SQLite only says so in
                // its message ("UNIQUE constraint failed: table.column").
                // Neither includes the offending value.
                what: info
                    .constraint_name()
                    .or(info.column_name())
                    .unwrap_or(info.message())
                    .to_owned(),
            },
            Error::NotFound => Self::NotFound { what: "row".into() },
            Error::DatabaseError(_, ref info)
                if info.message().contains("immutable")
                    || info.message().contains("append-only")
                    || info.message().contains("never deleted") =>
            {
                Self::Refused(info.message().to_owned())
            }
            other => Self::Query(other),
        }
    }
}

/// Turns a missing row into [`StorageError::NotFound`] naming it.
pub(crate) trait OrNotFound<T> {
    /// `what` describes the row, e.g. `delivery 7`.
    fn or_not_found(self, what: impl FnOnce() -> String) -> Result<T, StorageError>;
}

impl<T> OrNotFound<T> for Option<T> {
    fn or_not_found(self, what: impl FnOnce() -> String) -> Result<T, StorageError> {
        self.ok_or_else(|| StorageError::NotFound { what: what() })
    }
}
