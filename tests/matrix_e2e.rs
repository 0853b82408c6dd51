//! Residents on Matrix, end to end: `herold serve` with the real Matrix
//! adapter (matrix-sdk, its SQLite store, end-to-end encryption) against a
//! real Synapse (tests/common/synapse.rs), and residents on real encrypting
//! clients (matrix-sdk) — on SQLite and PostgreSQL.
//!
//! Anna opens an encrypted direct chat with the town's bot and writes
//! "Start"; Herold crashes and comes back mid-conversation without
//! answering anything twice; an announcement with an image reaches her and
//! the public follow room Fritz reads; a voice message is refused; a photo
//! opens a case and is stored without its metadata; after Stop nothing
//! more comes; after Löschen her chat and user id are nowhere in Herold's
//! database and the bot has left the chat.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::server::{pillow, Server};
use common::synapse::{encode, Synapse, User};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::events::room::message::{
    OriginalSyncRoomMessageEvent, RoomMessageEventContent, TextMessageEventContent,
};
use matrix_sdk::ruma::OwnedUserId;
use matrix_sdk::Client;

const WITHIN: Duration = Duration::from_secs(40);

/// Runs blocking test plumbing (the server's start and restarts, the CLI)
/// beside the residents' async clients.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn fixture() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/gps.jpg"))
        .unwrap()
}

/// A resident's client: logged in, keys uploaded, collecting what the bot
/// sends as `(msgtype, body)`.
struct Resident {
    client: Client,
    from_bot: Arc<Mutex<Vec<(String, String)>>>,
}

impl Resident {
    async fn login(hs: &Synapse, user: &User, bot: &str, store: &Path) -> Self {
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
        let from_bot: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let sink = Arc::clone(&from_bot);
        let bot: OwnedUserId = bot.try_into().unwrap();
        client.add_event_handler(move |ev: OriginalSyncRoomMessageEvent| {
            let sink = Arc::clone(&sink);
            let bot = bot.clone();
            async move {
                if ev.sender == bot {
                    let kind = ev.content.msgtype().to_owned();
                    let body = ev.content.body().to_owned();
                    sink.lock().unwrap().push((kind, body));
                }
            }
        });
        client.sync_once(SyncSettings::default()).await.unwrap();
        Self { client, from_bot }
    }

    async fn sync(&self) {
        self.client
            .sync_once(SyncSettings::default().timeout(Duration::from_millis(300)))
            .await
            .unwrap();
    }

    /// Syncs until the bot has sent `n` messages (all of them; the
    /// server's log if it times out).
    async fn expect(&self, n: usize, s: &Server) -> Vec<(String, String)> {
        let start = Instant::now();
        loop {
            let got = self.from_bot.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < WITHIN,
                "{} of {n} messages from the bot: {got:#?}\n{}",
                got.len(),
                s.log()
            );
            self.sync().await;
        }
    }

    fn texts(&self) -> Vec<String> {
        self.from_bot
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k == "m.text")
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// The bot's events in a room, as the homeserver stores them.
fn bot_events(hs: &Synapse, token: &str, room_id: &str, bot: &str) -> Vec<serde_json::Value> {
    hs.room_events(token, room_id)
        .into_iter()
        .filter(|e| e["sender"] == bot && e["type"] != "m.room.member")
        .collect()
}

/// `user` opens a plain (unencrypted) direct chat with the bot, waits until
/// the bot joined, and writes "Start" (transaction `txn`); returns the
/// room id.
fn plain_chat_with_start(hs: &Synapse, user: &User, bot: &User, txn: &str) -> String {
    let (status, body) = hs.request(
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(&user.access_token),
        Some(&serde_json::json!({"preset": "trusted_private_chat", "is_direct": true, "invite": [bot.user_id]})),
    );
    assert_eq!(status, 200, "{body}");
    let room = serde_json::from_str::<serde_json::Value>(&body).unwrap()["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    common::poll_until(WITHIN, || {
        let m = hs.membership(&user.access_token, &room, &bot.user_id);
        if m == "join" {
            Ok(())
        } else {
            Err(format!("the bot is {m:?}"))
        }
    });
    let (status, body) = hs.request(
        "PUT",
        &format!(
            "/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}",
            encode(&room)
        ),
        Some(&user.access_token),
        Some(&serde_json::json!({"msgtype": "m.text", "body": "Start"})),
    );
    assert_eq!(status, 200, "{body}");
    room
}

/// `n` residents, each with a plain direct chat with the bot in which they
/// wrote "Start" and got the welcome; their accounts and rooms.
fn welcomed_residents(hs: &Synapse, bot: &User, n: usize) -> Vec<(User, String)> {
    let residents: Vec<(User, String)> = (0..n)
        .map(|i| {
            let user = hs.register(&format!("resident{i}"), "pw-resident");
            let room = plain_chat_with_start(hs, &user, bot, &format!("start{i}"));
            (user, room)
        })
        .collect();
    for (user, room) in &residents {
        common::poll_until(WITHIN, || {
            match bot_events(hs, &user.access_token, room, &bot.user_id).len() {
                1 => Ok(()),
                n => Err(format!("{n} messages from the bot")),
            }
        });
    }
    residents
}

fn matrix_env<'a>(hs_url: &'a str, bot: &'a User, store: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("HEROLD_DELIVERY__CHANNELS", r#"["matrix"]"#),
        ("HEROLD_MATRIX__HOMESERVER", hs_url),
        ("HEROLD_MATRIX__USER_ID", bot.user_id.as_str()),
        ("HEROLD_MATRIX__PASSWORD", bot.password.as_str()),
        ("HEROLD_MATRIX__STORE_PATH", store),
        ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
        ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
        // A crashed process's receiving lease expires within seconds.
        ("HEROLD_MATRIX__SYNC_WAIT_SECONDS", "2"),
    ]
}

async fn residents_on_matrix(database_url: Option<&str>) {
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let anna_user = hs.register("anna", "anna-password");
    let town = hs.register("rathaus", "rathaus-password");
    let fritz = hs.register("fritz", "fritz-password");
    let dir = tempfile::tempdir().unwrap();

    // The town's public follow room; Fritz follows it without the bot
    // knowing him.
    let alias = format!("#musterstadt:{}", hs.server_name());
    let (status, body) = hs.request(
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(&town.access_token),
        Some(&serde_json::json!({"preset": "public_chat", "room_alias_name": "musterstadt", "visibility": "public"})),
    );
    assert_eq!(status, 200, "{body}");
    let follow_room = serde_json::from_str::<serde_json::Value>(&body).unwrap()["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = hs.request(
        "POST",
        &format!("/_matrix/client/v3/join/{}", encode(&alias)),
        Some(&fritz.access_token),
        Some(&serde_json::json!({})),
    );
    assert_eq!(status, 200, "{body}");

    let store = dir.path().join("matrix-store");
    let store = store.to_str().unwrap();
    let hs_url = hs.url();
    let mut env = matrix_env(&hs_url, &bot, store);
    env.push(("HEROLD_MATRIX__FOLLOW_ALL_ROOM", &alias));
    let mut s = blocking(|| Server::start_with(database_url, &env));
    blocking(|| s.cli(&["category", "add", "abfall", "--name", "Abfall"]));

    // Anna opens an encrypted direct chat with the bot, as Element does.
    let anna = Resident::login(&hs, &anna_user, &bot.user_id, &dir.path().join("anna")).await;
    let bot_id: OwnedUserId = bot.user_id.as_str().try_into().unwrap();
    let room = anna.client.create_dm(&bot_id).await.unwrap();
    assert!(room.latest_encryption_state().await.unwrap().is_encrypted());
    let room_id = room.room_id().to_string();
    common::poll_until(WITHIN, || {
        let m = hs.membership(&anna_user.access_token, &room_id, &bot.user_id);
        if m == "join" {
            Ok(())
        } else {
            Err(format!("the bot is {m:?} in Anna's chat"))
        }
    });
    anna.sync().await;
    room.send(RoomMessageEventContent::text_plain("Start"))
        .await
        .unwrap();
    let got = anna.expect(1, &s).await;
    assert!(got[0].1.contains("Willkommen"), "{got:?}");

    // Herold crashes and comes back mid-conversation: nothing is answered
    // twice (the stored cursor and the event ids).
    blocking(|| s.crash_and_restart(&[]));
    room.send(RoomMessageEventContent::text_plain("Kategorien"))
        .await
        .unwrap();
    let got = anna.expect(2, &s).await;
    assert!(got[1].1.contains("Abfall"), "{got:?}");
    blocking(|| s.restart_gracefully());
    tokio::time::sleep(Duration::from_secs(2)).await;
    anna.sync().await;
    assert_eq!(anna.from_bot.lock().unwrap().len(), 2, "nothing twice");

    // An announcement with an image: to Anna (image, then text) and to
    // the follow room.
    let image = dir.path().join("plan.jpg");
    std::fs::write(&image, fixture()).unwrap();
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne & Gelber Sack",
        "--body",
        "Abholung am **Samstag** statt Freitag.",
        "--image",
        image.to_str().unwrap(),
        "--image-alt",
        "Plan der Abholbezirke",
    ]);
    let got = anna.expect(4, &s).await;
    assert_eq!(got[2].0, "m.image", "{got:?}");
    assert_eq!(got[2].1, "Plan der Abholbezirke");
    assert_eq!(got[3].0, "m.text");
    assert!(got[3].1.contains("Samstag"), "{got:?}");
    let posted = common::poll_until(WITHIN, || {
        let events = bot_events(&hs, &fritz.access_token, &follow_room, &bot.user_id);
        if events.len() >= 2 {
            Ok(events)
        } else {
            Err(format!("{} events in the follow room", events.len()))
        }
    });
    assert_eq!(posted[0]["type"], "m.room.message", "unencrypted");
    assert_eq!(posted[0]["content"]["msgtype"], "m.image");
    assert_eq!(posted[1]["content"]["format"], "org.matrix.custom.html");
    assert!(
        posted[1]["content"]["formatted_body"]
            .as_str()
            .unwrap()
            .contains("<strong>Samstag</strong>")
            || posted[1]["content"]["formatted_body"]
                .as_str()
                .unwrap()
                .contains("<b>Samstag</b>")
    );

    // A voice message: refused politely.
    room.send_raw(
        "m.room.message",
        serde_json::json!({"msgtype": "m.audio", "body": "Sprachnachricht.ogg", "url": "mxc://localhost/nothing"}),
    )
    .await
    .unwrap();
    let got = anna.expect(5, &s).await;
    assert!(got[4].1.contains("nur Text und Fotos"), "{got:?}");

    // A photo with a caption: a case, answered; stored without metadata.
    room.send_attachment(
        "IMG_0001.jpg",
        &mime::IMAGE_JPEG,
        fixture(),
        matrix_sdk::attachment::AttachmentConfig::new().caption(Some(
            TextMessageEventContent::plain("Schlagloch vor Hausnummer 17"),
        )),
    )
    .await
    .unwrap();
    let got = anna.expect(6, &s).await;
    assert!(got[5].1.contains("Vorgang"), "{got:?}");
    let app = blocking(|| s.open_database(database_url));
    let open = common::poll_until(WITHIN, || {
        let open = app.inbox(false, 10).unwrap();
        match open.first() {
            Some(c)
                if !app
                    .conversation(c.conversation.id)
                    .unwrap()
                    .photos
                    .is_empty() =>
            {
                Ok(c.conversation.id)
            }
            _ => Err("no conversation with a photo yet".into()),
        }
    });
    let view = app.conversation(open).unwrap();
    assert_eq!(
        view.messages[0].text.as_deref(),
        Some("Schlagloch vor Hausnummer 17")
    );
    let out = dir.path().join("exported.jpg");
    s.cli(&[
        "inbox",
        "photo",
        &view.photos[0].id.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let original = pillow(&fixture());
    assert!(original["gps_tags"].as_u64().unwrap() > 0);
    let stripped = pillow(&std::fs::read(&out).unwrap());
    assert_eq!(stripped["gps_tags"], 0, "{stripped}");
    assert_eq!(stripped["pixels"], original["pixels"], "same pixels");
    // Staff answer; it reaches her chat.
    s.cli(&[
        "inbox",
        "reply",
        &open.to_string(),
        "--text",
        "Danke, der Bauhof kommt morgen.",
    ]);
    let got = anna.expect(7, &s).await;
    assert!(got[6].1.contains("Bauhof kommt morgen"), "{got:?}");

    // Stop: confirmed; the next announcement reaches the follow room only.
    room.send(RoomMessageEventContent::text_plain("Stop"))
        .await
        .unwrap();
    let got = anna.expect(8, &s).await;
    assert!(got[7].1.contains("abgemeldet"), "{got:?}");
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Sperrmüll",
        "--body",
        "Anmeldung bis Montag.",
    ]);
    common::poll_until(WITHIN, || {
        let n = bot_events(&hs, &fritz.access_token, &follow_room, &bot.user_id).len();
        if n >= 3 {
            Ok(())
        } else {
            Err(format!("{n} events in the follow room"))
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    anna.sync().await;
    assert_eq!(anna.from_bot.lock().unwrap().len(), 8, "{:?}", anna.texts());

    // Löschen: answered, then her traces go, here and on the bot's side.
    room.send(RoomMessageEventContent::text_plain("Löschen"))
        .await
        .unwrap();
    let got = anna.expect(9, &s).await;
    assert!(got[8].1.contains("gelöscht"), "{got:?}");
    common::poll_until(WITHIN, || {
        let m = hs.membership(&anna_user.access_token, &room_id, &bot.user_id);
        if m == "leave" {
            Ok(())
        } else {
            Err(format!("the bot is still {m:?} in Anna's chat"))
        }
    });
    common::poll_until(WITHIN, || {
        match app
            .db()
            .find_subscriber_by_address(herold_channel_api::ChannelKind::Matrix, &room_id)
            .unwrap()
        {
            None => Ok(()),
            Some(s) => Err(format!("still there: {:?}", s.status)),
        }
    });
    blocking(|| drop(app));
    common::assert_nowhere_in_database(
        s.dir.path(),
        database_url,
        &[room_id.as_str(), anna_user.user_id.as_str()],
        "Abfall",
    );
    // Neither her room, her user id nor her report is in the log.
    s.assert_log_private(&[
        room_id.as_str(),
        anna_user.user_id.as_str(),
        "Schlagloch vor Hausnummer",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_on_matrix_on_sqlite() {
    residents_on_matrix(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_on_matrix_on_postgres() {
    let pg = common::PgDatabase::create();
    residents_on_matrix(Some(&pg.url)).await;
}

/// `herold channels setup matrix` creates the follow rooms on the bot's
/// homeserver — public, unencrypted, readable by anyone, only the bot
/// posts — and a second run finds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_setup_creates_the_follow_rooms() {
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let reader = hs.register("leser", "leser-password");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("matrix-store");
    let hs_url = hs.url();
    let alias = format!("#musterstadt-abfall:{}", hs.server_name());
    let mut env: Vec<(String, String)> = matrix_env(&hs_url, &bot, store.to_str().unwrap())
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    env.push(("HEROLD_MATRIX__FOLLOW_ROOMS__ABFALL".into(), alias.clone()));
    let setup = || {
        let out = Server::command(dir.path(), &env)
            .args(["channels", "setup", "matrix"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = setup();
    assert!(first.contains("created"), "{first}");
    let second = setup();
    assert!(second.contains("exists"), "{second}");

    // Anyone can read it without joining; it is not encrypted; only the
    // bot may post.
    let (status, body) = hs.request(
        "GET",
        &format!("/_matrix/client/v3/directory/room/{}", encode(&alias)),
        Some(&reader.access_token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let room_id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let state = |kind: &str| {
        hs.request(
            "GET",
            &format!(
                "/_matrix/client/v3/rooms/{}/state/{kind}/",
                encode(&room_id)
            ),
            Some(&reader.access_token),
            None,
        )
    };
    let (status, body) = state("m.room.history_visibility");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("world_readable"), "{body}");
    let (status, _) = state("m.room.encryption");
    assert_eq!(status, 404, "not encrypted");
    let (status, body) = hs.request(
        "POST",
        &format!("/_matrix/client/v3/join/{}", encode(&room_id)),
        Some(&reader.access_token),
        Some(&serde_json::json!({})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = hs.request(
        "PUT",
        &format!(
            "/_matrix/client/v3/rooms/{}/send/m.room.message/t1",
            encode(&room_id)
        ),
        Some(&reader.access_token),
        Some(&serde_json::json!({"msgtype": "m.text", "body": "hallo"})),
    );
    assert_eq!(status, 403, "followers only read: {body}");
}

/// Herold killed in the middle of a fan-out: after the restart every
/// subscriber has the announcement exactly once (the transaction id of
/// each delivery makes the homeserver drop a repeated send).
#[test]
fn a_fan_out_killed_midway_delivers_each_once() {
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("matrix-store");
    let hs_url = hs.url();
    let mut env = matrix_env(&hs_url, &bot, store.to_str().unwrap());
    // One message a second: the fan-out takes long enough to be cut.
    env.push(("HEROLD_MATRIX__RATE_PER_SECOND", "1"));
    // A crashed process's claimed batch is taken over within seconds.
    env.push(("HEROLD_DELIVERY__LEASE_SECONDS", "3"));
    let mut s = Server::start_with(None, &env);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);

    // Four residents with plain (unencrypted) direct chats, each "Start".
    let residents = welcomed_residents(&hs, &bot, 4);
    let count =
        |user: &User, room: &str| bot_events(&hs, &user.access_token, room, &bot.user_id).len();

    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Abholung am Samstag.",
    ]);
    // Killed once the first resident has it, the rest still queued.
    common::poll_until(WITHIN, || {
        let done = residents.iter().filter(|(u, r)| count(u, r) >= 2).count();
        if done >= 1 {
            Ok(())
        } else {
            Err("no announcement yet".to_owned())
        }
    });
    s.crash_and_restart(&[]);
    for (user, room) in &residents {
        common::poll_until(WITHIN, || match count(user, room) {
            n if n >= 2 => Ok(()),
            n => Err(format!("{n} messages from the bot\n{}", s.log())),
        });
    }
    std::thread::sleep(Duration::from_secs(3));
    for (user, room) in &residents {
        let events = bot_events(&hs, &user.access_token, room, &bot.user_id);
        assert_eq!(events.len(), 2, "welcome and one announcement: {events:#?}");
    }
}

/// Synapse's own limits (0.2 messages a second after a burst of 10) with
/// Herold's default rate: the homeserver answers `M_LIMIT_EXCEEDED`, Herold
/// waits as told, and every announcement still arrives, none twice.
#[test]
fn homeserver_throttling_delays_but_loses_nothing() {
    let hs = Synapse::start_with_default_limits();
    let bot = hs.register("herold", "bot-password");
    let resident = hs.register("anna", "anna-password");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("matrix-store");
    let hs_url = hs.url();
    let env = matrix_env(&hs_url, &bot, store.to_str().unwrap());
    let s = Server::start_with(None, &env);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    let room = plain_chat_with_start(&hs, &resident, &bot, "start");
    let bodies = || -> Vec<String> {
        bot_events(&hs, &resident.access_token, &room, &bot.user_id)
            .iter()
            .map(|e| e["content"]["body"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    common::poll_until(WITHIN, || match bodies().len() {
        1 => Ok(()),
        n => Err(format!("{n} messages from the bot")),
    });
    // Twelve announcements: with the welcome, three more than the burst.
    for i in 0..12 {
        s.cli(&[
            "publish",
            "--category",
            "abfall",
            "--title",
            &format!("Meldung {i:02}"),
            "--body",
            "Text.",
        ]);
    }
    let got = common::poll_until(Duration::from_secs(90), || {
        let got = bodies();
        if got.len() >= 13 {
            Ok(got)
        } else {
            Err(format!("{} of 13 messages", got.len()))
        }
    });
    for i in 0..12 {
        let title = format!("Meldung {i:02}");
        assert_eq!(
            got.iter().filter(|b| b.contains(&title)).count(),
            1,
            "{title}: {got:#?}"
        );
    }
    // Synapse did throttle, and Herold waited instead of failing.
    assert!(
        s.log().contains("throttl") || s.log().contains("rate limited"),
        "no throttling seen: {}",
        s.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(bodies().len(), 13);
}

/// The homeserver goes down in the middle of a fan-out and comes back
/// seconds later: the sends that failed are retried after a backoff, and
/// every resident has the announcement exactly once (a send whose answer
/// was lost in the outage is repeated with its transaction id, which the
/// homeserver deduplicates).
#[test]
fn a_homeserver_outage_mid_broadcast_loses_nothing() {
    let mut hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("matrix-store");
    let hs_url = hs.url();
    let mut env = matrix_env(&hs_url, &bot, store.to_str().unwrap());
    // Two messages a second: the fan-out is still running when the
    // homeserver goes down.
    env.push(("HEROLD_MATRIX__RATE_PER_SECOND", "2"));
    let s = Server::start_with(None, &env);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    let residents = welcomed_residents(&hs, &bot, 8);
    let count = |hs: &Synapse, user: &User, room: &str| {
        bot_events(hs, &user.access_token, room, &bot.user_id).len()
    };
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Abholung am Samstag.",
    ]);
    let reached = |hs: &Synapse| {
        residents
            .iter()
            .filter(|(u, r)| count(hs, u, r) >= 2)
            .count()
    };
    common::poll_until(WITHIN, || match reached(&hs) {
        0 => Err("no announcement yet".to_owned()),
        _ => Ok(()),
    });
    // The outage: connections refused for eight seconds.
    hs.stop();
    std::thread::sleep(Duration::from_secs(8));
    hs.restart();
    common::poll_until(Duration::from_secs(90), || match reached(&hs) {
        n if n == residents.len() => Ok(()),
        n => Err(format!("{n} of {} have it\n{}", residents.len(), s.log())),
    });
    // Sends failed during the outage and were tried again.
    let app = s.open_database(None);
    let deliveries = app.db().deliveries_of(1).unwrap();
    assert_eq!(deliveries.len(), residents.len());
    assert!(
        deliveries.iter().any(|d| d.attempts > 1),
        "no send was retried: {deliveries:#?}"
    );
    std::thread::sleep(Duration::from_secs(3));
    for (user, room) in &residents {
        let events = bot_events(&hs, &user.access_token, room, &bot.user_id);
        assert_eq!(events.len(), 2, "welcome and one announcement: {events:#?}");
    }
}
