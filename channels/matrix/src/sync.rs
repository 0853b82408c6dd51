//! What every sync does besides reading messages.
//!
//! Sending needs sync: matrix-sdk only knows the rooms, their members and
//! whether they are encrypted from sync, and only sync uploads the
//! device's keys and receives the to-device messages that carry other
//! devices' keys. So the adapter syncs once when it connects
//! ([`first_sync`]); after that the core's polling loop syncs
//! ([`crate::MatrixPoller`]), which also reads residents' messages.
//!
//! Invites are handled here: an invite to a direct chat (`is_direct` on
//! the bot's membership event, as Element and other clients set it) is
//! accepted, any other invite declined.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::events::room::member::StrippedRoomMemberEvent;
use matrix_sdk::{Client, Room};

use crate::error::ConnectError;

/// What syncing tells the senders.
#[derive(Debug, Default)]
pub(crate) struct SyncHealth {
    /// The homeserver answered the last sync with `M_UNKNOWN_TOKEN`.
    pub token_revoked: AtomicBool,
}

/// Registers the invite handler.
pub(crate) fn install_handlers(client: &Client) {
    client.add_event_handler(
        |event: StrippedRoomMemberEvent, room: Room, client: Client| async move {
            if client.user_id() != Some(event.state_key.as_ref()) {
                return;
            }
            let direct = event.content.is_direct.unwrap_or(false);
            // Joining from inside the handler would wait for the sync that runs
            // it; answer the invite beside it.
            tokio::spawn(async move {
                let result = if direct {
                    room.join().await
                } else {
                    room.leave().await
                };
                match (direct, result) {
                    (true, Ok(())) => {
                        tracing::info!("matrix: joined a direct chat a resident opened")
                    }
                    (false, Ok(())) => tracing::info!(
                        "matrix: declined an invite to a room that is not a direct chat"
                    ),
                    (_, Err(e)) => tracing::warn!(
                        error = %crate::map::send_error(&e, crate::map::Place::Direct),
                        "matrix: could not answer an invite"
                    ),
                }
            });
        },
    );
}

/// The first sync, before anything is sent (no long wait).
pub(crate) async fn first_sync(client: &Client) -> Result<(), ConnectError> {
    client
        .sync_once(SyncSettings::default().timeout(Duration::ZERO))
        .await
        .map(|_| ())
        .map_err(|e| ConnectError::from_sdk(&e))
}
