//! [`MatrixChannel`]: the bot that sends announcements and replies.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use herold_channel_api::{
    Capabilities, Channel, ChannelKind, Destination, FetchError, FetchedMedia, FollowRoute,
    FollowTarget, Formatting, JoinLink, MediaKind, OutboundMessage, RateLimit, Reach, Receipt,
    SendError,
};
use matrix_sdk::config::RequestConfig;
use matrix_sdk::ruma::api::client::room::create_room::v3::{Request as CreateRoom, RoomPreset};
use matrix_sdk::ruma::api::client::room::Visibility;
use matrix_sdk::ruma::events::room::history_visibility::{
    HistoryVisibility, RoomHistoryVisibilityEventContent,
};
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::{OwnedRoomId, RoomAliasId, RoomId, RoomOrAliasId};
use matrix_sdk::{Client, Room, RoomMemberships, RoomState};
use tokio::sync::OnceCell;

use crate::config::{ConfigError, Credentials, MatrixConfig};
use crate::error::ConnectError;
use crate::map::{self, gone, Place};
use crate::poll::MatrixPoller;
use crate::session;
use crate::sync::{self, SyncHealth};

/// Longest text the renderer produces for Matrix, in UTF-16 units. Matrix
/// limits an event to 64 KiB; `body` and `formatted_body` both carry the
/// text, and encryption adds a third (base64), so 5,000 characters stay
/// within it even with many multi-byte characters.
pub const MAX_TEXT_CHARS: usize = 5000;
/// How long one request to the homeserver may take (sync adds its wait).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a media download or upload may take.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(60);

/// The Matrix channel: a bot account with one end-to-end encrypting
/// device, sending to residents' direct chats (the address is the direct
/// chat's room id) and to public follow rooms.
///
/// Building it only checks the configuration; the first send (or
/// [`MatrixChannel::connect`]) logs in or restores the session from
/// `store_path`, syncs once and starts the background sync. A connection
/// that failed is tried again by the next send.
pub struct MatrixChannel {
    inner: Arc<Inner>,
}

/// What the channel and its [`MatrixPoller`] share: one client, one device.
pub(crate) struct Inner {
    pub(crate) config: MatrixConfig,
    credentials: Credentials,
    capabilities: Capabilities,
    connection: OnceCell<Connection>,
    /// Follow rooms' aliases resolved to room ids.
    aliases: Mutex<HashMap<String, OwnedRoomId>>,
    /// The store's lock file while this process holds it.
    store_lock: Mutex<Option<std::fs::File>>,
    /// For media downloads (no redirects: the token must not travel on).
    http: matrix_sdk::reqwest::Client,
    /// Announcement images already uploaded, by Herold's URL: one upload
    /// serves every room.
    uploads: Mutex<HashMap<String, crate::media::Uploaded>>,
}

/// A logged-in client.
pub(crate) struct Connection {
    pub(crate) client: Client,
    pub(crate) health: SyncHealth,
}

impl std::fmt::Debug for MatrixChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixChannel")
            .field("config", &self.inner.config)
            .field("connected", &self.inner.connection.initialized())
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
            outbound_media: vec![MediaKind::Image],
            inbound_media: vec![MediaKind::Image],
            default_rate: RateLimit::new(
                config.rate_per_second,
                config.rate_per_second.ceil().clamp(1.0, 1000.0) as u32,
            ),
            per_recipient_rate: None,
            inbound: true,
            delivery_receipts: false,
            read_receipts: false,
            idempotent_sends: true,
            unsubscribe_links: false,
        };
        let http = matrix_sdk::reqwest::Client::builder()
            .redirect(matrix_sdk::reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(MEDIA_TIMEOUT)
            .build()
            .map_err(|e| ConfigError::Invalid {
                field: "homeserver",
                expected: format!("a usable HTTP client ({e})"),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                credentials,
                capabilities,
                connection: OnceCell::new(),
                aliases: Mutex::new(HashMap::new()),
                store_lock: Mutex::new(None),
                uploads: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The poller that receives residents' messages by syncing, sharing
    /// this channel's client and device.
    pub fn poller(&self) -> MatrixPoller {
        MatrixPoller::new(Arc::clone(&self.inner))
    }

    /// Logs in (or restores the stored session), syncs once and starts the
    /// background sync, unless that happened already.
    pub async fn connect(&self) -> Result<(), ConnectError> {
        self.inner.connection().await.map(|_| ())
    }

    /// The bot's device id (not personal: it names the town's bot).
    pub async fn device_id(&self) -> Result<String, ConnectError> {
        let conn = self.inner.connection().await?;
        conn.client
            .device_id()
            .map(ToString::to_string)
            .ok_or_else(|| ConnectError::Config("the bot is not logged in".into()))
    }
}

impl Inner {
    /// Whether this process holds the store (taking it if it is free):
    /// one device cannot be used by two processes at once, its encryption
    /// sessions would fork. The lock lasts as long as the process.
    pub(crate) fn owns_store(&self) -> Result<bool, ConnectError> {
        let mut held = self
            .store_lock
            .lock()
            .map_err(|_| ConnectError::Store("the store lock is poisoned".into()))?;
        if held.is_some() {
            return Ok(true);
        }
        session::prepare_store(&self.config.store_path)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.config.store_path.join(session::LOCK_FILE))
            .map_err(|e| {
                ConnectError::Store(format!(
                    "cannot open the lock file in matrix.store_path: {e}"
                ))
            })?;
        match file.try_lock() {
            Ok(()) => {
                *held = Some(file);
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(ConnectError::Store(format!(
                "cannot lock matrix.store_path: {e}"
            ))),
        }
    }

    /// Joins the follow room `room`, creating it first if it is an alias on
    /// the bot's homeserver that nobody has taken yet.
    async fn ensure_follow_room(&self, client: &Client, room: &str) -> Result<String, SendError> {
        let target = FollowTarget::new(room);
        match self.follow_room(client, &target).await {
            Ok(_) => return Ok(format!("{room}: exists; the bot is in it")),
            Err(SendError::Misconfigured { .. }) => {}
            Err(e) => return Err(e),
        }
        let misconfigured = |reason: String| SendError::Misconfigured { reason };
        let alias = <&RoomAliasId>::try_from(room).map_err(|_| {
            misconfigured(format!(
                "matrix.follow_rooms: {room} cannot be joined, and only a room alias can be created"
            ))
        })?;
        let own_server = client.user_id().map(|u| u.server_name().to_owned());
        if own_server.as_deref() != Some(alias.server_name()) {
            return Err(misconfigured(format!(
                "{room} cannot be joined and is on another homeserver than the bot's: create it there and invite the bot"
            )));
        }
        let mut request = CreateRoom::new();
        request.preset = Some(RoomPreset::PublicChat);
        request.visibility = Visibility::Public;
        request.room_alias_name = Some(alias.alias().to_owned());
        request.name = Some(alias.alias().to_owned());
        request.topic = Some("Bekanntmachungen / announcements (Herold)".into());
        request.initial_state =
            vec![
                InitialStateEvent::with_empty_state_key(RoomHistoryVisibilityEventContent::new(
                    HistoryVisibility::WorldReadable,
                ))
                .to_raw_any(),
            ];
        // Only the bot (power 100) posts; followers read.
        request.power_level_content_override = serde_json::from_value(serde_json::json!({
            "events_default": 50,
        }))
        .ok();
        let created = client
            .create_room(request)
            .await
            .map_err(|e| map::send_error(&e, Place::Follow))?;
        Ok(format!(
            "{room}: created ({}), public and unencrypted, readable by anyone",
            created.room_id()
        ))
    }

    /// The announcement image on the homeserver, uploaded on first use.
    async fn uploaded(
        &self,
        client: &Client,
        image: &herold_channel_api::Media,
    ) -> Result<crate::media::Uploaded, SendError> {
        let cached = self
            .uploads
            .lock()
            .ok()
            .and_then(|m| m.get(&image.url).cloned());
        if let Some(done) = cached {
            return Ok(done);
        }
        let done = crate::media::upload(&self.http, client, &image.url, &image.mime_type).await?;
        if let Ok(mut m) = self.uploads.lock() {
            // A handful of announcements' images at a time; forget the
            // old ones rather than grow.
            if m.len() >= 64 {
                m.clear();
            }
            m.insert(image.url.clone(), done.clone());
        }
        Ok(done)
    }

    /// Whether `room_id` is a follow room configured by its alias.
    pub(crate) fn is_resolved_alias(&self, room_id: &RoomId) -> bool {
        self.aliases
            .lock()
            .is_ok_and(|m| m.values().any(|id| id == room_id))
    }

    pub(crate) async fn connection(&self) -> Result<&Connection, ConnectError> {
        self.connection.get_or_try_init(|| self.open()).await
    }

    async fn open(&self) -> Result<Connection, ConnectError> {
        if !self.owns_store()? {
            return Err(ConnectError::Busy);
        }
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
        tracing::info!("matrix: connected");
        Ok(Connection {
            client,
            health: SyncHealth::default(),
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
        &self.inner.capabilities
    }

    /// Only the process holding `store_path` sends (see [`Inner::owns_store`]).
    fn serves_here(&self) -> bool {
        // An unusable store: let the send fail with the reason, where the
        // engine reports it.
        self.inner.owns_store().unwrap_or(true)
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        let inner = &self.inner;
        let conn = inner.connection().await.map_err(SendError::from)?;
        if conn.health.token_revoked.load(Ordering::Relaxed) {
            return Err(map::misconfigured_token());
        }
        let (room, place) = match &msg.destination {
            Destination::Recipient(address) => (
                inner.direct_room(&conn.client, address.as_str()).await?,
                Place::Direct,
            ),
            Destination::Follow(target) => (
                inner.follow_room(&conn.client, target).await?,
                Place::Follow,
            ),
        };
        // The image first, as its own `m.image` event (its own transaction
        // id from the same key), then the text.
        if let Some(image) = msg
            .message
            .media
            .iter()
            .find(|m| m.kind == MediaKind::Image)
        {
            let uploaded = inner.uploaded(&conn.client, image).await?;
            let mut request = room.send(map::image(image, &uploaded));
            if let Some(txn_id) = map::transaction_id(&format!("{}#image", msg.idempotency_key))
                .filter(|_| !msg.idempotency_key.is_empty())
            {
                request = request.with_transaction_id(txn_id);
            }
            request.await.map_err(|e| map::send_error(&e, place))?;
        }
        let mut request = room.send(map::content(&msg.message));
        if let Some(txn_id) = map::transaction_id(&msg.idempotency_key) {
            request = request.with_transaction_id(txn_id);
        }
        let response = request.await.map_err(|e| map::send_error(&e, place))?;
        Ok(Receipt::now(Some(response.event_id.to_string())))
    }

    /// Creates the follow rooms that do not exist yet — public, unencrypted,
    /// readable by anyone, only the bot may post — for every alias on the
    /// bot's own homeserver in `matrix.follow_rooms` and
    /// `matrix.follow_all_room`, and joins those that exist.
    async fn setup(&self, webhook_url: Option<&str>) -> Result<Option<String>, SendError> {
        let _ = webhook_url;
        let conn = self.inner.connection().await.map_err(SendError::from)?;
        let config = &self.inner.config;
        let rooms = config
            .follow_rooms
            .values()
            .chain(config.follow_all_room.iter());
        let mut done = Vec::new();
        for room in rooms {
            done.push(self.inner.ensure_follow_room(&conn.client, room).await?);
        }
        if done.is_empty() {
            return Ok(Some(
                "matrix: no follow rooms configured (matrix.follow_rooms, matrix.follow_all_room); direct chats need no setup".into(),
            ));
        }
        Ok(Some(done.join("\n")))
    }

    /// Downloads a resident's image ([`crate::inbound::MediaRef`]),
    /// decrypting it if it came from an encrypted room.
    async fn fetch_media(
        &self,
        media_id: &str,
        max_bytes: u64,
    ) -> Result<FetchedMedia, FetchError> {
        let conn = self
            .inner
            .connection()
            .await
            .map_err(|e| FetchError::Provider(e.into()))?;
        crate::media::fetch(&self.inner.http, &conn.client, media_id, max_bytes).await
    }

    fn follow_routes(&self) -> Vec<FollowRoute> {
        self.inner.config.follow_routes()
    }

    fn join_links(&self) -> Vec<JoinLink> {
        self.inner.config.join_links()
    }

    /// Leaves the erased resident's direct chat and forgets it: the
    /// homeserver hides it from the bot, and the bot's store no longer
    /// keeps its members or history.
    async fn forget(&self, address: &herold_channel_api::Address) -> Result<(), SendError> {
        let conn = self.inner.connection().await.map_err(SendError::from)?;
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
