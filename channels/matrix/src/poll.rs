//! Receiving: the core's polling loop syncs through [`MatrixPoller`], and
//! the messages of residents' direct chats become inbound events.
//!
//! The cursor is the sync's `next_batch`, stored by the core with the
//! events in one transaction. Every poll syncs from the stored cursor, not
//! from matrix-sdk's own sync token: after a crash between a sync and the
//! store, the same events come again, and the core's deduplication (by
//! event id) drops them. matrix-sdk processes every sync response (room
//! state, keys, decryption), so the sync also keeps the sending side up to
//! date — which is why only the process that holds the store polls.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use herold_channel_api::{async_trait, InboundPoller, PollError, Polled, SendError};
use matrix_sdk::config::{SyncSettings, SyncToken};
use matrix_sdk::deserialized_responses::TimelineEventKind;
use matrix_sdk::ruma::api::client::error::ErrorKind;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::sync::sync_events;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::events::room::encrypted::OriginalSyncRoomEncryptedEvent;
use matrix_sdk::ruma::{RoomId, UInt};
use matrix_sdk::store::{StateStoreDataKey, StateStoreDataValue};
use matrix_sdk::Client;

use crate::channel::Inner;
use crate::error::ConnectError;
use crate::inbound::{read_event, Read};
use crate::map::{self, Place};

/// Timeline events per room and sync: enough that a resident's messages
/// while Herold was down come in one piece (Synapse's default is 10).
const TIMELINE_LIMIT: u32 = 100;

/// Syncs the bot's account for the core's polling loop and reads the
/// messages residents wrote in their direct chats.
pub struct MatrixPoller {
    inner: Arc<Inner>,
    wait: Duration,
}

impl std::fmt::Debug for MatrixPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixPoller")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl MatrixPoller {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        let wait = Duration::from_secs(u64::from(inner.config.sync_wait_seconds));
        Self { inner, wait }
    }

    /// The same poller with a shorter wait per sync (tests).
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    async fn client(&self) -> Result<&crate::channel::Connection, PollError> {
        if !self.inner.owns_store().map_err(connect_error)? {
            return Err(PollError::Conflict {
                reason: ConnectError::Busy.to_string(),
            });
        }
        self.inner.connection().await.map_err(connect_error)
    }
}

#[async_trait]
impl InboundPoller for MatrixPoller {
    /// Connects (logging in or restoring the device) if this process may
    /// use the store; another process holding it is a conflict.
    async fn start(&self) -> Result<(), PollError> {
        self.client().await.map(|_| ())
    }

    async fn poll(&self, cursor: Option<&str>) -> Result<Polled, PollError> {
        let conn = self.client().await?;
        // matrix-sdk keeps its own sync token and ignores a response that
        // ends where it already is. If it got ahead of the stored cursor (a
        // crash after its sync and before the core stored the events, or
        // the connect's first sync), read that stretch once more, raw.
        let sdk_token = sdk_token(&conn.client).await;
        if let (Some(stored), Some(sdk)) = (cursor, sdk_token.as_deref()) {
            if stored != sdk {
                return self.catch_up(&conn.client, stored, sdk).await;
            }
        }
        let token = match cursor {
            Some(c) => SyncToken::Specific(c.to_owned()),
            // Never polled: from matrix-sdk's token, or a full sync (the
            // recent history of each room) on a fresh store.
            None => SyncToken::ReusePrevious,
        };
        let settings = SyncSettings::default()
            .timeout(self.wait)
            .filter(Filter::FilterDefinition(timeline_filter()))
            .token(token);
        let response = match conn.client.sync_once(settings).await {
            Ok(r) => {
                conn.health.token_revoked.store(false, Ordering::Relaxed);
                r
            }
            Err(e) => {
                let revoked = matches!(
                    e.client_api_error_kind(),
                    Some(ErrorKind::UnknownToken { .. })
                );
                conn.health.token_revoked.store(revoked, Ordering::Relaxed);
                return Err(poll_error(map::send_error(&e, Place::Follow)));
            }
        };
        let bot = conn
            .client
            .user_id()
            .map(ToString::to_string)
            .unwrap_or_default();
        let mut polled = Polled::default();
        for (room_id, update) in &response.rooms.joined {
            let direct = self.is_direct_chat(&conn.client, room_id).await;
            tracing::debug!(
                direct,
                events = update.timeline.events.len(),
                limited = update.timeline.limited,
                "matrix: room in sync"
            );
            if !direct {
                continue;
            }
            for event in &update.timeline.events {
                if let TimelineEventKind::UnableToDecrypt { .. } = &event.kind {
                    // The resident's client did not share the room key with
                    // the bot's device (yet); nothing to read.
                    polled.malformed += 1;
                    continue;
                }
                let Ok(json) = serde_json::from_str(event.raw().json().get()) else {
                    polled.malformed += 1;
                    continue;
                };
                match read_event(room_id.as_str(), &bot, &json) {
                    Read::Event(e) => polled.events.push(e),
                    Read::Skip => {}
                    Read::Malformed => polled.malformed += 1,
                }
            }
        }
        if cursor != Some(response.next_batch.as_str()) {
            polled.cursor = Some(response.next_batch);
        }
        Ok(polled)
    }

    fn wait(&self) -> Duration {
        self.wait
    }
}

impl MatrixPoller {
    /// Reads the events after `stored` that matrix-sdk has processed
    /// already (up to its token `sdk`): one raw sync, no wait, decrypted
    /// with the keys the device has. The cursor then becomes matrix-sdk's
    /// token, where its next sync goes on; anything newer in this answer
    /// comes again with that sync (and is deduplicated by event id).
    async fn catch_up(
        &self,
        client: &Client,
        stored: &str,
        sdk: &str,
    ) -> Result<Polled, PollError> {
        let mut request = sync_events::v3::Request::new();
        request.since = Some(stored.to_owned());
        request.filter = Some(Filter::FilterDefinition(timeline_filter()));
        request.timeout = Some(Duration::ZERO);
        let response = client.send(request).await.map_err(|e| {
            poll_error(map::send_error(
                &matrix_sdk::Error::Http(Box::new(e)),
                Place::Follow,
            ))
        })?;
        let bot = client
            .user_id()
            .map(ToString::to_string)
            .unwrap_or_default();
        let mut polled = Polled::default();
        for (room_id, joined) in &response.rooms.join {
            if !self.is_direct_chat(client, room_id).await {
                continue;
            }
            let room = client.get_room(room_id);
            for raw in &joined.timeline.events {
                let encrypted = raw.get_field::<String>("type").ok().flatten().as_deref()
                    == Some("m.room.encrypted");
                let json = match (&room, encrypted) {
                    (Some(room), true) => {
                        let as_encrypted =
                            raw.cast_ref_unchecked::<OriginalSyncRoomEncryptedEvent>();
                        match room.decrypt_event(as_encrypted, None).await {
                            Ok(event) if !event.kind.is_utd() => {
                                event.raw().json().get().to_owned()
                            }
                            // Its key is newer than matrix-sdk's token:
                            // the next sync brings the event decrypted.
                            _ => continue,
                        }
                    }
                    (_, false) => raw.json().get().to_owned(),
                    (None, true) => continue,
                };
                let Ok(value) = serde_json::from_str(&json) else {
                    polled.malformed += 1;
                    continue;
                };
                match read_event(room_id.as_str(), &bot, &value) {
                    Read::Event(e) => polled.events.push(e),
                    Read::Skip => {}
                    Read::Malformed => polled.malformed += 1,
                }
            }
        }
        tracing::info!(
            events = polled.events.len(),
            "matrix: read again what arrived before the last stop"
        );
        polled.cursor = Some(sdk.to_owned());
        Ok(polled)
    }

    /// A resident's direct chat: marked direct (the bot joined it from a
    /// direct invite), or a private room with the bot and one other — not
    /// a follow room, which is public and configured.
    async fn is_direct_chat(&self, client: &Client, room_id: &RoomId) -> bool {
        if self.is_follow_room(room_id) {
            return false;
        }
        let Some(room) = client.get_room(room_id) else {
            return false;
        };
        if room.is_direct().await.unwrap_or(false) {
            return true;
        }
        room.is_public() != Some(true) && room.joined_members_count() <= 2
    }

    fn is_follow_room(&self, room_id: &RoomId) -> bool {
        let config = &self.inner.config;
        config
            .follow_rooms
            .values()
            .chain(config.follow_all_room.iter())
            .any(|r| r == room_id.as_str())
            || self.inner.is_resolved_alias(room_id)
    }
}

/// Up to [`TIMELINE_LIMIT`] timeline events per room and sync.
fn timeline_filter() -> FilterDefinition {
    let mut filter = FilterDefinition::default();
    filter.room.timeline.limit = Some(UInt::from(TIMELINE_LIMIT));
    filter
}

/// matrix-sdk's own sync token, as stored.
async fn sdk_token(client: &Client) -> Option<String> {
    client
        .state_store()
        .get_kv_data(StateStoreDataKey::SyncToken)
        .await
        .ok()
        .flatten()
        .and_then(StateStoreDataValue::into_sync_token)
}

fn connect_error(e: ConnectError) -> PollError {
    match e {
        ConnectError::Busy => PollError::Conflict {
            reason: e.to_string(),
        },
        other => poll_error(SendError::from(other)),
    }
}

/// A failed sync, read like a failed send to a follow room (nothing in it
/// is about a resident).
fn poll_error(e: SendError) -> PollError {
    match e {
        SendError::RateLimited { retry_after } => PollError::RateLimited { retry_after },
        SendError::Misconfigured { reason } => PollError::Misconfigured { reason },
        other => PollError::Transient {
            reason: other.to_string(),
        },
    }
}
