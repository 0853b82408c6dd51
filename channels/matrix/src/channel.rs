//! [`MatrixChannel`]: the bot that sends announcements and replies.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use herold_channel_api::{
    Capabilities, Channel, ChannelKind, Destination, FollowRoute, FollowTarget, Formatting,
    OutboundMessage, RateLimit, Reach, Receipt, SendError,
};
use matrix_sdk::config::RequestConfig;
use matrix_sdk::ruma::{OwnedRoomId, RoomId, RoomOrAliasId};
use matrix_sdk::{Client, Room, RoomMemberships, RoomState};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use crate::config::{ConfigError, Credentials, MatrixConfig};
use crate::error::ConnectError;
use crate::map::{self, gone, Place};
use crate::session;
use crate::sync::{self, SyncHealth};

/// Longest text the renderer produces for Matrix, in UTF-16 units. Matrix
/// limits an event to 64 KiB; `body` and `formatted_body` both carry the
/// text, and encryption adds a third (base64), so 5,000 characters stay
/// within it even with many multi-byte characters.
pub const MAX_TEXT_CHARS: usize = 5000;
/// How long one request to the homeserver may take (sync adds its wait).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The Matrix channel: a bot account with one end-to-end encrypting
/// device, sending to residents' direct chats (the address is the direct
/// chat's room id) and to public follow rooms.
///
/// Building it only checks the configuration; the first send (or
/// [`MatrixChannel::connect`]) logs in or restores the session from
/// `store_path`, syncs once and starts the background sync. A connection
/// that failed is tried again by the next send.
pub struct MatrixChannel {
    config: MatrixConfig,
    credentials: Credentials,
    capabilities: Capabilities,
    connection: OnceCell<Connection>,
    /// Follow rooms' aliases resolved to room ids.
    aliases: Mutex<HashMap<String, OwnedRoomId>>,
}

/// A logged-in client and its sync loop (aborted on drop).
struct Connection {
    client: Client,
    health: Arc<SyncHealth>,
    sync_task: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.sync_task.abort();
    }
}

impl std::fmt::Debug for MatrixChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixChannel")
            .field("config", &self.config)
            .field("connected", &self.connection.initialized())
            .finish()
    }
}

impl MatrixChannel {
    /// Checks `config` (reading a `*_file`) and builds the adapter without
    /// connecting.
    pub fn new(config: MatrixConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let credentials = config.credentials()?;
        let capabilities = Capabilities {
            reach: Reach::Both,
            max_text_chars: Some(MAX_TEXT_CHARS),
            max_subject_chars: None,
            formatting: Formatting::MatrixHtml,
            outbound_media: Vec::new(),
            inbound_media: Vec::new(),
            default_rate: RateLimit::new(
                config.rate_per_second,
                config.rate_per_second.ceil().clamp(1.0, 1000.0) as u32,
            ),
            per_recipient_rate: None,
            inbound: false,
            delivery_receipts: false,
            read_receipts: false,
            idempotent_sends: true,
            unsubscribe_links: false,
        };
        Ok(Self {
            config,
            credentials,
            capabilities,
            connection: OnceCell::new(),
            aliases: Mutex::new(HashMap::new()),
        })
    }

    /// Logs in (or restores the stored session), syncs once and starts the
    /// background sync, unless that happened already.
    pub async fn connect(&self) -> Result<(), ConnectError> {
        self.connection().await.map(|_| ())
    }

    /// The bot's device id (not personal: it names the town's bot).
    pub async fn device_id(&self) -> Result<String, ConnectError> {
        let conn = self.connection().await?;
        conn.client
            .device_id()
            .map(ToString::to_string)
            .ok_or_else(|| ConnectError::Config("the bot is not logged in".into()))
    }

    async fn connection(&self) -> Result<&Connection, ConnectError> {
        self.connection.get_or_try_init(|| self.open()).await
    }

    async fn open(&self) -> Result<Connection, ConnectError> {
        session::prepare_store(&self.config.store_path)?;
        let client = Client::builder()
            .homeserver_url(&self.config.homeserver)
            .sqlite_store(&self.config.store_path, None)
            // The engine decides about retries; matrix-sdk would otherwise
            // retry throttled and failed requests itself, holding the send.
            .request_config(
                RequestConfig::new()
                    .disable_retry()
                    .timeout(REQUEST_TIMEOUT),
            )
            .build()
            .await
            .map_err(|e| match e {
                matrix_sdk::ClientBuildError::SqliteStore(_) => {
                    ConnectError::Store("cannot open the SQLite store in matrix.store_path".into())
                }
                _ => ConnectError::Config(
                    "matrix.homeserver: cannot use it as the homeserver".into(),
                ),
            })?;
        session::log_in(
            &client,
            &self.config.user_id,
            &self.credentials,
            &self.config.store_path,
        )
        .await?;
        sync::install_handlers(&client);
        sync::first_sync(&client).await?;
        let health = Arc::new(SyncHealth::default());
        let sync_task = tokio::spawn(sync::run(client.clone(), Arc::clone(&health)));
        tracing::info!("matrix: connected, syncing");
        Ok(Connection {
            client,
            health,
            sync_task,
        })
    }

    /// The resident's direct chat, if the bot is still in it with them.
    async fn direct_room(&self, client: &Client, address: &str) -> Result<Room, SendError> {
        let room_id = <&RoomId>::try_from(address)
            .map_err(|_| gone("the address is not a Matrix room id"))?;
        let room = client
            .get_room(room_id)
            .ok_or_else(|| gone("the bot is not in this direct chat"))?;
        match room.state() {
            RoomState::Joined => {}
            RoomState::Invited => room
                .join()
                .await
                .map_err(|e| map::send_error(&e, Place::Direct))?,
            _ => return Err(gone("the bot left or was removed from this direct chat")),
        }
        // The summary's count can lag behind a join the bot just made; ask
        // for the members before ending a subscription on it.
        if room.joined_members_count() <= 1 {
            let joined = room
                .members(RoomMemberships::JOIN)
                .await
                .map_err(|e| map::send_error(&e, Place::Direct))?;
            if joined.len() <= 1 {
                return Err(gone("the resident left the direct chat"));
            }
        }
        Ok(room)
    }

    /// A follow room, joined if the bot is not in it yet.
    async fn follow_room(&self, client: &Client, target: &FollowTarget) -> Result<Room, SendError> {
        let misconfigured = |reason: &str| SendError::Misconfigured {
            reason: reason.into(),
        };
        let id_or_alias = <&RoomOrAliasId>::try_from(target.as_str())
            .map_err(|_| misconfigured("a follow room is neither a room alias nor a room id"))?;
        let room_id = match <&RoomId>::try_from(id_or_alias) {
            Ok(id) => id.to_owned(),
            Err(alias) => {
                let cached = self
                    .aliases
                    .lock()
                    .ok()
                    .and_then(|m| m.get(alias.as_str()).cloned());
                match cached {
                    Some(id) => id,
                    None => {
                        let resolved = client.resolve_room_alias(alias).await.map_err(|e| {
                            map::send_error(&matrix_sdk::Error::Http(Box::new(e)), Place::Follow)
                        })?;
                        if let Ok(mut m) = self.aliases.lock() {
                            m.insert(alias.as_str().to_owned(), resolved.room_id.clone());
                        }
                        resolved.room_id
                    }
                }
            }
        };
        if let Some(room) = client.get_room(&room_id) {
            if room.state() == RoomState::Joined {
                return Ok(room);
            }
        }
        client
            .join_room_by_id_or_alias(id_or_alias, &[])
            .await
            .map_err(|e| map::send_error(&e, Place::Follow))
    }
}

#[async_trait]
impl Channel for MatrixChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Matrix
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        let conn = self.connection().await.map_err(SendError::from)?;
        if conn.health.token_revoked.load(Ordering::Relaxed) {
            return Err(map::misconfigured_token());
        }
        let (room, place) = match &msg.destination {
            Destination::Recipient(address) => (
                self.direct_room(&conn.client, address.as_str()).await?,
                Place::Direct,
            ),
            Destination::Follow(target) => {
                (self.follow_room(&conn.client, target).await?, Place::Follow)
            }
        };
        let mut request = room.send(map::content(&msg.message));
        if let Some(txn_id) = map::transaction_id(&msg.idempotency_key) {
            request = request.with_transaction_id(txn_id);
        }
        let response = request.await.map_err(|e| map::send_error(&e, place))?;
        Ok(Receipt::now(Some(response.event_id.to_string())))
    }

    fn follow_routes(&self) -> Vec<FollowRoute> {
        self.config.follow_routes()
    }

    /// Leaves the erased resident's direct chat and forgets it: the
    /// homeserver hides it from the bot, and the bot's store no longer
    /// keeps its members or history.
    async fn forget(&self, address: &herold_channel_api::Address) -> Result<(), SendError> {
        let conn = self.connection().await.map_err(SendError::from)?;
        let Ok(room_id) = <&RoomId>::try_from(address.as_str()) else {
            return Ok(());
        };
        let Some(room) = conn.client.get_room(room_id) else {
            return Ok(());
        };
        if matches!(
            room.state(),
            RoomState::Joined | RoomState::Invited | RoomState::Knocked
        ) {
            room.leave()
                .await
                .map_err(|e| map::send_error(&e, Place::Direct))?;
        }
        match conn.client.get_room(room_id) {
            Some(left) if matches!(left.state(), RoomState::Left | RoomState::Banned) => left
                .forget()
                .await
                .map_err(|e| map::send_error(&e, Place::Direct)),
            _ => Ok(()),
        }
    }
}
