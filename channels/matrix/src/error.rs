//! Why the bot could not connect.

use herold_channel_api::SendError;
use matrix_sdk::ruma::api::client::error::ErrorKind;

use crate::map::{misconfigured_token, send_error, Place};

/// Why connecting (login or restore, store, first sync) failed. Messages
/// are log-safe: no token, password, room or user of a resident.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The configuration does not fit the homeserver or the store (a wrong
    /// password, a token of another device): an operator must act.
    #[error("{0}")]
    Config(String),
    /// `store_path` cannot be used (not writable, a damaged session file).
    #[error("{0}")]
    Store(String),
    /// Another Herold process holds `store_path` and runs the bot: one
    /// device cannot be used by two processes.
    #[error("another Herold process runs the Matrix bot (matrix.store_path is locked); only one process may")]
    Busy,
    /// The homeserver failed the way a send can fail (unreachable, 5xx,
    /// throttled, a revoked token).
    #[error("{0}")]
    Homeserver(SendError),
}

impl ConnectError {
    /// Classifies a matrix-sdk error met while connecting.
    pub(crate) fn from_sdk(err: &matrix_sdk::Error) -> Self {
        match err.client_api_error_kind() {
            Some(ErrorKind::Forbidden { .. }) => ConnectError::Config(
                "the homeserver refused the bot's login (M_FORBIDDEN): check matrix.user_id and matrix.password".into(),
            ),
            Some(ErrorKind::UnknownToken { .. }) => ConnectError::Homeserver(misconfigured_token()),
            _ => ConnectError::Homeserver(send_error(err, Place::Direct)),
        }
    }
}

impl From<ConnectError> for SendError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Config(reason) | ConnectError::Store(reason) => {
                SendError::Misconfigured { reason }
            }
            // A direct-chat reading of a connect failure (M_FORBIDDEN, not
            // found) would end a subscription that has nothing to do with
            // it: connecting never names a resident's room.
            ConnectError::Homeserver(SendError::Permanent { reason, .. }) => {
                SendError::Misconfigured { reason }
            }
            ConnectError::Homeserver(e) => e,
            // The engine asks `serves_here` first; a send that still meets
            // the lock is tried again (by the process that holds it).
            ConnectError::Busy => SendError::Transient {
                reason: ConnectError::Busy.to_string(),
                retry_after: Some(std::time::Duration::from_secs(5)),
            },
        }
    }
}
