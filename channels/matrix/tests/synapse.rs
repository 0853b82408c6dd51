//! The Matrix adapter against a real Synapse (tests/common/synapse.rs of
//! the workspace; installed by scripts/test.sh).
//!
//! Residents are real encrypting clients: matrix-sdk with its own SQLite
//! store in a temporary directory, as Element would be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../tests/common/synapse.rs"]
mod synapse;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herold_channel_api::{
    Address, Channel, Command, Destination, Disposition, FetchError, FollowTarget, InboundContent,
    InboundEvent, InboundPoller, OutboundMessage, PollError, RenderedMessage, SendError,
};
use herold_channel_matrix::{MatrixChannel, MatrixConfig, SESSION_FILE};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::room::create_room::v3::{Request as CreateRoom, RoomPreset};
use matrix_sdk::ruma::api::client::room::Visibility;
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedUserId, RoomAliasId};
use matrix_sdk::Client;
use synapse::{Synapse, User};

const WITHIN: Duration = Duration::from_secs(30);

/// The core's polling loop in small: syncs through the channel's poller
/// until dropped, keeping what came in.
struct Receiver {
    events: Arc<Mutex<Vec<InboundEvent>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    fn start(channel: &MatrixChannel) -> Self {
        let poller = channel.poller().with_wait(Duration::from_millis(300));
        let events: Arc<Mutex<Vec<InboundEvent>>> = Arc::default();
        let sink = Arc::clone(&events);
        let task = tokio::spawn(async move {
            poller.start().await.unwrap();
            let mut cursor: Option<String> = None;
            loop {
                match poller.poll(cursor.as_deref()).await {
                    Ok(polled) => {
                        sink.lock().unwrap().extend(polled.events);
                        if polled.cursor.is_some() {
                            cursor = polled.cursor;
                        }
                    }
                    Err(e) => {
                        eprintln!("poll failed: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        Self { events, task }
    }

    /// Waits for the first event `pick` accepts and takes it out.
    async fn next<T>(&self, what: &str, pick: impl Fn(&InboundEvent) -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            {
                let mut events = self.events.lock().unwrap();
                if let Some(i) = events.iter().position(|e| pick(e).is_some()) {
                    let e = events.remove(i);
                    return pick(&e).unwrap();
                }
            }
            assert!(start.elapsed() < WITHIN, "never received {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A resident's (or the town's admin's) client: logged in, keys uploaded.
async fn client(hs: &Synapse, user: &User, store: &Path) -> Client {
    let client = Client::builder()
        .homeserver_url(hs.url())
        .sqlite_store(store, None)
        .build()
        .await
        .unwrap();
    client
        .matrix_auth()
        .login_username(&user.user_id, &user.password)
        .initial_device_display_name("resident")
        .await
        .unwrap();
    client.sync_once(SyncSettings::default()).await.unwrap();
    client
}

fn bot_config(hs: &Synapse, bot: &User, store: &Path) -> MatrixConfig {
    MatrixConfig::with_password(hs.url(), &bot.user_id, &bot.password, store)
}

fn announcement(key: &str, to: Destination) -> OutboundMessage {
    let mut message = RenderedMessage::new(
        "WASSERROHRBRUCH\nDie Hauptstraße ist gesperrt.\nhttps://example.org/a/1",
        "de",
    );
    message.html =
        Some("<p><b>Wasserrohrbruch</b></p><p>Die <b>Hauptstraße</b> ist gesperrt.</p>".into());
    OutboundMessage {
        idempotency_key: key.into(),
        destination: to,
        message,
        unsubscribe: None,
        recipient_last_wrote: None,
    }
}

fn events_of(events: &[serde_json::Value], sender: &str, kind: &str) -> usize {
    events
        .iter()
        .filter(|e| e["sender"] == sender && e["type"] == kind)
        .count()
}

/// Waits until `user_id`'s membership in `room_id` is `membership`.
async fn wait_membership(
    hs: &Synapse,
    token: &str,
    room_id: &str,
    user_id: &str,
    membership: &str,
) {
    let start = Instant::now();
    loop {
        let now = hs.membership(token, room_id, user_id);
        if now == membership {
            return;
        }
        assert!(
            start.elapsed() < WITHIN,
            "{user_id} not {membership} in the room but {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_direct_chat_gets_the_announcement_once() {
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let resident = hs.register("anna", "anna-password");
    let dir = tempfile::tempdir().unwrap();
    let channel = MatrixChannel::new(bot_config(&hs, &bot, &dir.path().join("bot"))).unwrap();
    channel.connect().await.unwrap();
    // Syncing (the core's polling loop) answers invites.
    let _receiver = Receiver::start(&channel);

    // The resident opens an encrypted direct chat, as Element does.
    let anna = client(&hs, &resident, &dir.path().join("anna")).await;
    let bot_id: OwnedUserId = bot.user_id.as_str().try_into().unwrap();
    let room = anna.create_dm(&bot_id).await.unwrap();
    assert!(room.latest_encryption_state().await.unwrap().is_encrypted());
    let room_id = room.room_id().to_string();
    wait_membership(&hs, &resident.access_token, &room_id, &bot.user_id, "join").await;

    let received: Arc<Mutex<Vec<RoomMessageEventContent>>> = Arc::default();
    let sink = Arc::clone(&received);
    let bot_sender = bot_id.clone();
    anna.add_event_handler(move |ev: OriginalSyncRoomMessageEvent| {
        let sink = Arc::clone(&sink);
        let from_bot = ev.sender == bot_sender;
        async move {
            if from_bot {
                sink.lock().unwrap().push(ev.content);
            }
        }
    });
    // The resident's client must know the bot's device before the bot's
    // room key arrives; one sync does it.
    anna.sync_once(SyncSettings::default()).await.unwrap();

    let to = Destination::Recipient(Address::new(room_id.clone()));
    let first = channel
        .send(&announcement("ann-1:anna", to.clone()))
        .await
        .unwrap();
    // A retry of the same delivery (after a timeout, a crash) …
    let again = channel
        .send(&announcement("ann-1:anna", to.clone()))
        .await
        .unwrap();
    assert_eq!(
        first.provider_message_id, again.provider_message_id,
        "deduplicated by txn id"
    );

    let start = Instant::now();
    while received.lock().unwrap().is_empty() {
        assert!(
            start.elapsed() < WITHIN,
            "the resident never decrypted the announcement"
        );
        anna.sync_once(SyncSettings::default().timeout(Duration::from_millis(500)))
            .await
            .unwrap();
    }
    let content = received.lock().unwrap()[0].clone();
    let MessageType::Text(text) = content.msgtype else {
        panic!("not m.text: {:?}", content.msgtype);
    };
    assert!(
        text.body.contains("Die Hauptstraße ist gesperrt."),
        "{}",
        text.body
    );
    let formatted = text.formatted.expect("formatted_body");
    assert_eq!(formatted.format.as_str(), "org.matrix.custom.html");
    assert!(
        formatted.body.contains("<b>Hauptstraße</b>"),
        "{}",
        formatted.body
    );

    // On the homeserver: one event from the bot, encrypted (no clear text).
    let events = hs.room_events(&resident.access_token, &room_id);
    assert_eq!(
        events_of(&events, &bot.user_id, "m.room.encrypted"),
        1,
        "{events:#?}"
    );
    assert_eq!(events_of(&events, &bot.user_id, "m.room.message"), 0);
    assert!(!serde_json::to_string(&events)
        .unwrap()
        .contains("Hauptstraße"));
    // A second announcement is a second event.
    channel.send(&announcement("ann-2:anna", to)).await.unwrap();
    let events = hs.room_events(&resident.access_token, &room_id);
    assert_eq!(events_of(&events, &bot.user_id, "m.room.encrypted"), 2);

    // After the resident's erasure the bot leaves and forgets the chat;
    // a send there is then "recipient gone".
    let here = Address::new(room_id.clone());
    channel.forget(&here).await.unwrap();
    wait_membership(&hs, &resident.access_token, &room_id, &bot.user_id, "leave").await;
    let after = channel
        .send(&announcement("ann-3:anna", Destination::Recipient(here)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            after,
            herold_channel_api::SendError::Permanent {
                recipient_gone: true,
                ..
            }
        ),
        "{after:?}"
    );

    // An invite to a room that is not a direct chat is declined.
    let mut group = CreateRoom::new();
    group.invite = vec![bot_id.clone()];
    group.name = Some("Stammtisch".into());
    let group = anna.create_room(group).await.unwrap();
    wait_membership(
        &hs,
        &resident.access_token,
        group.room_id().as_str(),
        &bot.user_id,
        "leave",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_room_gets_one_post_per_key() {
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let admin = hs.register("rathaus", "rathaus-password");
    let dir = tempfile::tempdir().unwrap();
    // The town's public room for "abfall", unencrypted, readable by anyone.
    let town = client(&hs, &admin, &dir.path().join("town")).await;
    let mut public = CreateRoom::new();
    public.preset = Some(RoomPreset::PublicChat);
    public.visibility = Visibility::Public;
    public.room_alias_name = Some("abfall".into());
    let room = town.create_room(public).await.unwrap();
    let room_id = room.room_id().to_string();
    let alias = format!("#abfall:{}", hs.server_name());
    assert!(RoomAliasId::parse(&alias).is_ok());

    let mut config = bot_config(&hs, &bot, &dir.path().join("bot"));
    config.follow_rooms.insert("abfall".into(), alias.clone());
    let channel = MatrixChannel::new(config).unwrap();
    let routes = channel.follow_routes();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].target.as_str(), alias);
    assert!(routes[0].carries("abfall") && !routes[0].carries("verkehr"));

    let to = Destination::Follow(FollowTarget::new(alias));
    let first = channel
        .send(&announcement("ann-1:follow", to.clone()))
        .await
        .unwrap();
    let again = channel
        .send(&announcement("ann-1:follow", to))
        .await
        .unwrap();
    assert_eq!(first.provider_message_id, again.provider_message_id);

    let events = hs.room_events(&admin.access_token, &room_id);
    assert_eq!(
        events_of(&events, &bot.user_id, "m.room.message"),
        1,
        "{events:#?}"
    );
    let post = events
        .iter()
        .find(|e| e["sender"] == bot.user_id.as_str() && e["type"] == "m.room.message")
        .unwrap();
    assert_eq!(post["content"]["msgtype"], "m.text");
    assert_eq!(post["content"]["format"], "org.matrix.custom.html");
    assert!(post["content"]["formatted_body"]
        .as_str()
        .unwrap()
        .contains("<b>Wasserrohrbruch</b>"));
    assert!(post["content"]["body"]
        .as_str()
        .unwrap()
        .contains("gesperrt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_is_the_same_device() {
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("bot");
    let first = MatrixChannel::new(bot_config(&hs, &bot, &store)).unwrap();
    let device = first.device_id().await.unwrap();
    assert_ne!(
        device, bot.device_id,
        "a device of its own, not registration's"
    );
    drop(first);
    // Give the aborted sync a moment to let go of the store.
    tokio::time::sleep(Duration::from_millis(300)).await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store), 0o700);
        assert_eq!(mode(&store.join(SESSION_FILE)), 0o600);
    }

    // A wrong password now would not matter: the stored session is used.
    let mut config = bot_config(&hs, &bot, &store);
    config.password = Some("not-used-any-more".into());
    let second = MatrixChannel::new(config).unwrap();
    assert_eq!(second.device_id().await.unwrap(), device);

    // The account has the registration's device and Herold's, no third.
    let session: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join(SESSION_FILE)).unwrap()).unwrap();
    let token = session["access_token"].as_str().unwrap();
    let (status, body) = hs.request("GET", "/_matrix/client/v3/devices", Some(token), None);
    assert_eq!(status, 200, "{body}");
    let devices: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(devices["devices"].as_array().unwrap().len(), 2, "{body}");

    // A room the bot is not in is a recipient gone, not a retry.
    let err = second
        .send(&announcement(
            "k",
            Destination::Recipient(Address::new("!nowhere:localhost")),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.disposition(),
        Disposition::GiveUp {
            recipient_gone: true
        },
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_holds_the_channel() {
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let admin = hs.register("rathaus", "rathaus-password");
    let dir = tempfile::tempdir().unwrap();
    let town = client(&hs, &admin, &dir.path().join("town")).await;
    let mut public = CreateRoom::new();
    public.preset = Some(RoomPreset::PublicChat);
    let room = town.create_room(public).await.unwrap();

    let mut config = bot_config(&hs, &bot, &dir.path().join("bot"));
    config.password = None;
    config.access_token = Some(bot.access_token.clone());
    let channel = MatrixChannel::new(config).unwrap();
    assert_eq!(
        channel.device_id().await.unwrap(),
        bot.device_id,
        "the token's device"
    );

    hs.logout(&bot.access_token);
    let to = Destination::Follow(FollowTarget::new(room.room_id().as_str()));
    let err = channel.send(&announcement("k", to)).await.unwrap_err();
    assert!(matches!(err, SendError::Misconfigured { .. }), "{err:?}");
    assert_eq!(err.disposition(), Disposition::Hold);
    let text = err.to_string();
    assert!(text.contains("M_UNKNOWN_TOKEN"), "{text}");
    assert!(!text.contains(&bot.access_token) && !text.contains(room.room_id().as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synapse_throttling_is_rate_limited_with_its_delay() {
    // Synapse's own limits: 0.2 messages a second per sender, burst 10.
    let hs = Synapse::start_with_default_limits();
    let bot = hs.register("herold", "bot-password");
    let admin = hs.register("rathaus", "rathaus-password");
    let dir = tempfile::tempdir().unwrap();
    let town = client(&hs, &admin, &dir.path().join("town")).await;
    let mut public = CreateRoom::new();
    public.preset = Some(RoomPreset::PublicChat);
    let room = town.create_room(public).await.unwrap();
    let channel = MatrixChannel::new(bot_config(&hs, &bot, &dir.path().join("bot"))).unwrap();
    let to = Destination::Follow(FollowTarget::new(room.room_id().as_str()));

    let mut sent = 0;
    let throttled = loop {
        match channel
            .send(&announcement(&format!("k{sent}"), to.clone()))
            .await
        {
            Ok(_) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 30, "Synapse never throttled");
    };
    assert!(sent >= 5, "throttled after {sent}");
    let SendError::RateLimited { retry_after } = throttled else {
        panic!("not RateLimited: {throttled:?}");
    };
    let after = retry_after.expect("Synapse says when (retry_after_ms)");
    assert!(
        after > Duration::ZERO && after < Duration::from_secs(60),
        "{after:?}"
    );
    assert!(matches!(
        SendError::RateLimited { retry_after }.disposition(),
        Disposition::BackOff { .. }
    ));
    // After the delay the same delivery goes through, once.
    tokio::time::sleep(after + Duration::from_millis(200)).await;
    channel
        .send(&announcement(&format!("k{sent}"), to))
        .await
        .unwrap();
    let events = hs.room_events(&admin.access_token, room.room_id().as_str());
    assert_eq!(events_of(&events, &bot.user_id, "m.room.message"), sent + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_messages_come_in_decrypted() {
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let resident = hs.register("anna", "anna-password");
    let dir = tempfile::tempdir().unwrap();
    let channel = MatrixChannel::new(bot_config(&hs, &bot, &dir.path().join("bot"))).unwrap();
    let receiver = Receiver::start(&channel);

    let anna = client(&hs, &resident, &dir.path().join("anna")).await;
    let bot_id: OwnedUserId = bot.user_id.as_str().try_into().unwrap();
    let room = anna.create_dm(&bot_id).await.unwrap();
    let room_id = room.room_id().to_string();
    wait_membership(&hs, &resident.access_token, &room_id, &bot.user_id, "join").await;
    // Anna's client learns the bot's device, so her room key reaches it.
    anna.sync_once(SyncSettings::default()).await.unwrap();

    room.send(RoomMessageEventContent::text_plain("Start"))
        .await
        .unwrap();
    let (from, id) = receiver
        .next("Start", |e| match e {
            InboundEvent::Command {
                from,
                command: Command::Start(_),
                provider_message_id,
                ..
            } => Some((from.clone(), provider_message_id.clone())),
            _ => None,
        })
        .await;
    assert_eq!(from.as_str(), room_id, "the address is the direct chat");
    assert!(id.unwrap().starts_with('$'), "the event id dedupes");
    // On the homeserver it was encrypted: the bot decrypted it.
    let events = hs.room_events(&resident.access_token, &room_id);
    assert_eq!(events_of(&events, &resident.user_id, "m.room.message"), 0);

    // A photo with a caption, encrypted as Element sends it.
    let photo: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    room.send_attachment(
        "IMG_0001.jpg",
        &mime::IMAGE_JPEG,
        photo.clone(),
        matrix_sdk::attachment::AttachmentConfig::new().caption(Some(
            matrix_sdk::ruma::events::room::message::TextMessageEventContent::plain(
                "Schlagloch vor Hausnummer 4",
            ),
        )),
    )
    .await
    .unwrap();
    let (media_id, caption) = receiver
        .next("the photo", |e| match e {
            InboundEvent::Message {
                content:
                    InboundContent::Photo {
                        media_id, caption, ..
                    },
                ..
            } => Some((media_id.clone(), caption.clone())),
            _ => None,
        })
        .await;
    assert_eq!(caption.as_deref(), Some("Schlagloch vor Hausnummer 4"));
    assert!(
        media_id.contains("\"file\""),
        "an encrypted file: {media_id}"
    );
    let fetched = channel.fetch_media(&media_id, 1_000_000).await.unwrap();
    assert_eq!(fetched.bytes, photo, "downloaded and decrypted");
    let too_large = channel.fetch_media(&media_id, 1000).await.unwrap_err();
    assert!(
        matches!(too_large, FetchError::TooLarge { max: 1000, .. }),
        "{too_large:?}"
    );

    // A voice message: refused by the core, so it must arrive as such.
    room.send_raw(
        "m.room.message",
        serde_json::json!({"msgtype": "m.audio", "body": "Sprachnachricht.ogg", "url": "mxc://localhost/nothing"}),
    )
    .await
    .unwrap();
    let kind = receiver
        .next("the voice message", |e| match e {
            InboundEvent::Message {
                content: InboundContent::Unsupported { kind },
                ..
            } => Some(kind.clone()),
            _ => None,
        })
        .await;
    assert_eq!(kind, "audio");
    // Nothing else came: not the bot's own events, not the membership.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        receiver.events.lock().unwrap().is_empty(),
        "{:?}",
        receiver.events.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_holds_the_device() {
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("bot");
    let first = MatrixChannel::new(bot_config(&hs, &bot, &store)).unwrap();
    assert!(first.serves_here());
    first.connect().await.unwrap();
    // A second Herold process on the same store (here: a second adapter,
    // the lock is per open file) stands back.
    let second = MatrixChannel::new(bot_config(&hs, &bot, &store)).unwrap();
    assert!(!second.serves_here());
    assert!(matches!(
        second.poller().start().await,
        Err(PollError::Conflict { .. })
    ));
    let err = second.connect().await.unwrap_err();
    assert!(err.to_string().contains("only one process"), "{err}");
    // Once the first is gone, the second takes over.
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(second.serves_here());
    second.connect().await.unwrap();
}

/// Herold stores a poll's events and cursor after the sync; a crash in
/// between must not lose what that sync brought, although matrix-sdk has
/// moved on (and a restart's first sync moves it further).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_sync_and_store_loses_nothing() {
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let resident = hs.register("anna", "anna-password");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("bot");
    let texts = |events: &[InboundEvent]| -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                InboundEvent::Command { command, .. } => format!("{command:?}"),
                InboundEvent::Message {
                    content: InboundContent::Text(t),
                    ..
                } => t.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    };

    let channel = MatrixChannel::new(bot_config(&hs, &bot, &store)).unwrap();
    let poller = channel.poller().with_wait(Duration::from_millis(300));
    poller.start().await.unwrap();
    let anna = client(&hs, &resident, &dir.path().join("anna")).await;
    let bot_id: OwnedUserId = bot.user_id.as_str().try_into().unwrap();
    let room = anna.create_dm(&bot_id).await.unwrap();
    let room_id = room.room_id().to_string();
    // Poll (storing each cursor) until the bot joined.
    let mut cursor: Option<String> = None;
    let start = Instant::now();
    while hs.membership(&resident.access_token, &room_id, &bot.user_id) != "join" {
        let polled = poller.poll(cursor.as_deref()).await.unwrap();
        cursor = polled.cursor.or(cursor);
        assert!(start.elapsed() < WITHIN, "the bot never joined");
    }
    anna.sync_once(SyncSettings::default()).await.unwrap();
    room.send(RoomMessageEventContent::text_plain("Hallo Rathaus"))
        .await
        .unwrap();
    // The poll that brings it; then the "crash": its cursor is not stored.
    let stored = cursor.clone();
    let start = Instant::now();
    loop {
        let polled = poller.poll(cursor.as_deref()).await.unwrap();
        if texts(&polled.events).iter().any(|t| t == "Hallo Rathaus") {
            break;
        }
        cursor = polled.cursor.or(cursor);
        assert!(start.elapsed() < WITHIN, "the message never came");
    }
    drop(poller);
    drop(channel);
    tokio::time::sleep(Duration::from_millis(300)).await;
    room.send(RoomMessageEventContent::text_plain("Noch da?"))
        .await
        .unwrap();

    // The next start: connects (its first sync), then polls from the
    // stored cursor.
    let channel = MatrixChannel::new(bot_config(&hs, &bot, &store)).unwrap();
    channel.connect().await.unwrap();
    let poller = channel.poller().with_wait(Duration::from_millis(300));
    let mut cursor = stored;
    let mut seen = Vec::new();
    let start = Instant::now();
    while !seen.iter().any(|t| t == "Noch da?") {
        let polled = poller.poll(cursor.as_deref()).await.unwrap();
        seen.extend(texts(&polled.events));
        cursor = polled.cursor.or(cursor);
        assert!(start.elapsed() < WITHIN, "seen only {seen:?}");
    }
    assert!(
        seen.iter().any(|t| t == "Hallo Rathaus"),
        "the message of the lost poll came again: {seen:?}"
    );
}
