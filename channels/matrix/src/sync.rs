//! The bot's sync loop, which the adapter owns and runs in the background.
//!
//! Sending needs it: matrix-sdk only knows the rooms, their members and
//! whether they are encrypted from sync, and only sync uploads the
//! device's keys and receives the to-device messages that carry other
//! devices' keys. So the adapter syncs once before its first send
//! ([`first_sync`]) and then keeps syncing ([`run`]); the sync token is
//! kept in the state store, so a restart goes on where it stopped.
//!
//! Invites are handled here: an invite to a direct chat (`is_direct` on
//! the bot's membership event, as Element and other clients set it) is
//! accepted, any other invite declined.
//!
//! Inbound messages (next step of the channel) hook in beside the invite
//! handler: a handler for room messages in joined direct chats that turns
//! them into `InboundEvent`s.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::error::ErrorKind;
use matrix_sdk::ruma::events::room::member::StrippedRoomMemberEvent;
use matrix_sdk::{Client, Room};

use crate::error::ConnectError;

/// How long one sync request waits for news.
const SYNC_WAIT: Duration = Duration::from_secs(30);
/// First pause after a failed sync; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What the sync loop tells the senders.
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

/// Syncs until the task is aborted; a failure pauses (1 s doubling to a
/// minute; a revoked token is marked in `health` and tried every minute).
pub(crate) async fn run(client: Client, health: Arc<SyncHealth>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match client
            .sync_once(SyncSettings::default().timeout(SYNC_WAIT))
            .await
        {
            Ok(_) => {
                backoff = FIRST_BACKOFF;
                health.token_revoked.store(false, Ordering::Relaxed);
            }
            Err(e) => {
                let revoked = matches!(
                    e.client_api_error_kind(),
                    Some(ErrorKind::UnknownToken { .. })
                );
                health.token_revoked.store(revoked, Ordering::Relaxed);
                let pause = if revoked { MAX_BACKOFF } else { backoff };
                tracing::warn!(
                    error = %crate::map::send_error(&e, crate::map::Place::Follow),
                    pause_secs = pause.as_secs(),
                    "matrix: sync failed"
                );
                tokio::time::sleep(pause).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
