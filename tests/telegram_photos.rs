//! Residents' photos, the photo half of the media gate (seed 002).
//!
//! End to end through `herold serve` with a fake Bot API (wiremock): a photo
//! Update with a caption → `getFile` and the download → the conversation
//! holds the caption and the photo, stripped of EXIF/GPS with the pixels
//! unchanged (checked with Pillow) → `herold inbox photo` writes it. The same
//! Update twice stores one photo; a photo over `conversations.max_photo_bytes`
//! is refused politely, never downloaded and nothing stored; a passing
//! provider failure is retried; Löschen erases the photos.
//!
//! Through the library: processing the same event twice stores one photo;
//! a photo goes with its deleted message, its purged conversation and its
//! resident's erasure; what is no image, or was not received, is refused.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    server::{pillow, Server},
    TestDb,
};
use diesel::{sql_types::BigInt, QueryableByName, RunQueryDsl};
use herold::{service::InboundOutcome, storage::Pool};
use herold_channel_api::{
    Address, ChannelKind, FetchError, FetchedMedia, InboundContent, InboundEvent, SendError,
};
use serde_json::{json, Value};
use std::{path::Path, time::Duration};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "123456789:AAphoto-token";
const SECRET: &str = "photo_hook-secret";
const CHAT: i64 = 4711;
const CAPTION: &str = "Schlagloch vor Hausnummer 17";
/// The limit the server runs with: the fixture (1,304 bytes) fits.
const MAX_PHOTO: u64 = 4096;
/// Strings the fixture carries in its metadata (tests/fixtures/media/make_fixtures.py).
const MARKERS: [&str; 5] = [
    "HeroldCam",
    "HEROLD-GPS-DATUM",
    "herold-xmp-secret",
    "herold-comment",
    "herold-trailer",
];

fn fixture() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/gps.jpg"))
        .unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Rows in `conversation_photos`, whatever they belong to.
fn photo_rows(app: &herold::service::Herold) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let q = "SELECT COUNT(*) AS n FROM conversation_photos";
    match app.db().pool() {
        Pool::Sqlite(p) => diesel::sql_query(q).get_result::<Count>(&mut *p.get().unwrap()),
        Pool::Postgres(p) => diesel::sql_query(q).get_result::<Count>(&mut *p.get().unwrap()),
    }
    .unwrap()
    .n
}

/// A Telegram Update carrying a photo (two sizes; the larger is `file_id`).
fn photo_update(chat: i64, id: i64, file_id: &str, caption: Option<&str>) -> Value {
    let mut message = json!({
        "message_id": id, "date": 1_764_400_000,
        "chat": {"id": chat, "type": "private", "first_name": "Erika"},
        "from": {"id": chat, "is_bot": false, "first_name": "Erika"},
        "photo": [
            {"file_id": "thumb", "file_unique_id": "t", "width": 32, "height": 24, "file_size": 600},
            {"file_id": file_id, "file_unique_id": "u", "width": 64, "height": 48, "file_size": 1304}
        ]
    });
    if let Some(c) = caption {
        message["caption"] = json!(c);
    }
    json!({"update_id": 20_000 + id, "message": message})
}

/// The fake Bot API: sendMessage, and getFile/downloads for the file ids
/// the test uses.
async fn bot_api(jpeg: &[u8]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/sendMessage")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "result": {"message_id": 1, "date": 1_764_400_000, "chat": {"id": CHAT, "type": "private"}}
        })))
        .mount(&server)
        .await;
    let get_file = |file_id: &str, size: u64, file_path: &str| {
        Mock::given(method("POST"))
            .and(path(format!("/bot{TOKEN}/getFile")))
            .and(body_partial_json(json!({"file_id": file_id})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true,
                "result": {"file_id": file_id, "file_unique_id": "u", "file_size": size, "file_path": file_path}
            })))
    };
    let file = |file_path: &str| {
        Mock::given(method("GET")).and(path(format!("/file/bot{TOKEN}/{file_path}")))
    };
    get_file("PHOTO-OK", jpeg.len() as u64, "photos/file_1.jpg")
        .mount(&server)
        .await;
    file("photos/file_1.jpg")
        .respond_with(ResponseTemplate::new(200).set_body_raw(jpeg.to_vec(), "image/jpeg"))
        .mount(&server)
        .await;
    // Over the limit: refused on getFile's file_size, never downloaded.
    get_file("PHOTO-BIG", MAX_PHOTO + 1, "photos/file_2.jpg")
        .mount(&server)
        .await;
    file("photos/file_2.jpg")
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![0u8; 5000], "image/jpeg"))
        .expect(0)
        .mount(&server)
        .await;
    // Telegram fails once (502), then serves the file.
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/getFile")))
        .and(body_partial_json(json!({"file_id": "PHOTO-FLAKY"})))
        .respond_with(ResponseTemplate::new(502).set_body_json(json!({
            "ok": false, "error_code": 502, "description": "Bad Gateway"
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    get_file("PHOTO-FLAKY", jpeg.len() as u64, "photos/file_1.jpg")
        .mount(&server)
        .await;
    server
}

fn photos_through_serve(database_url: Option<&str>) {
    let jpeg = fixture();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bot_api = rt.block_on(bot_api(&jpeg));
    let max = MAX_PHOTO.to_string();
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
            ("HEROLD_TELEGRAM__API_URL", &bot_api.uri()),
            ("HEROLD_TELEGRAM__TOKEN", TOKEN),
            ("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET),
            // public_url is plain http here: without this, auto would poll.
            ("HEROLD_TELEGRAM__MODE", "webhook"),
            ("HEROLD_CONVERSATIONS__MAX_PHOTO_BYTES", &max),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
        ],
    );
    let post = |update: &Value| -> Value {
        let (status, answer) = s.post_telegram(SECRET, update);
        assert_eq!(status, 200, "{answer}");
        answer
    };
    let texts_to = |chat: i64| -> Vec<String> {
        rt.block_on(bot_api.received_requests())
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path().ends_with("/sendMessage"))
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
            .filter(|b| b["chat_id"] == json!(chat))
            .map(|b| b["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let wait_for_text = |chat: i64, needle: &str| -> String {
        common::poll_until(Duration::from_secs(30), || {
            texts_to(chat)
                .into_iter()
                .find(|t| t.contains(needle))
                .ok_or_else(|| format!("no message with {needle:?} reached chat {chat}"))
        })
    };

    // A photo with a caption opens a conversation, answered like a text.
    let update = photo_update(CHAT, 1, "PHOTO-OK", Some(CAPTION));
    assert_eq!(post(&update)["stored"], 1);
    wait_for_text(CHAT, "Vorgang");
    let app = s.open_database(database_url);
    let open = app.inbox(false, 10).unwrap();
    assert_eq!(open.len(), 1, "one conversation");
    let conversation = open[0].conversation.id;
    let view = app.conversation(conversation).unwrap();
    assert_eq!(view.messages.len(), 1);
    assert_eq!(view.messages[0].text.as_deref(), Some(CAPTION));
    assert_eq!(view.photos.len(), 1);
    let photo = &view.photos[0];
    assert_eq!(photo.message_id, view.messages[0].id);
    assert_eq!(photo.format.mime_type(), "image/jpeg");

    // The same Update again: a duplicate, still one photo.
    assert_eq!(post(&update)["duplicates"], 1);

    // staff see it in the conversation and write it to a file.
    let shown = s.cli(&["inbox", "show", &conversation.to_string()]);
    assert!(shown.contains(CAPTION), "{shown}");
    let line = format!(
        "photo {}: image/jpeg, {} bytes",
        photo.id, photo.byte_length
    );
    assert!(shown.contains(&line), "{shown}");
    let out = s.dir.path().join("exported.jpg");
    let written = s.cli(&[
        "inbox",
        "photo",
        &photo.id.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(written.contains("written to"), "{written}");
    let exported = std::fs::read(&out).unwrap();
    assert_eq!(exported.len() as u64, photo.byte_length);
    for marker in MARKERS {
        assert!(
            !contains(&exported, marker.as_bytes()),
            "{marker} left in the photo"
        );
    }
    let original = pillow(&jpeg);
    assert!(
        original["gps_tags"].as_u64().unwrap() > 0,
        "the fixture has GPS"
    );
    let stripped = pillow(&exported);
    assert_eq!(stripped["exif_tags"], 0, "{stripped}");
    assert_eq!(stripped["gps_tags"], 0, "{stripped}");
    assert_eq!(stripped["pixels"], original["pixels"], "same pixels");
    assert_eq!(
        stripped["size"],
        json!([photo.width, photo.height]),
        "dimensions as stored"
    );
    for key in ["exif", "xmp", "XML:com.adobe.xmp", "comment"] {
        assert!(
            !stripped["info"].as_array().unwrap().contains(&json!(key)),
            "{key} in {stripped}"
        );
    }
    // The export is in the audit log; an existing file is not overwritten.
    let audit = app.db().list_audit(10).unwrap();
    assert!(
        audit.iter().any(|e| e.action == "conversation.export_photo"
            && e.subject == format!("photo:{}", photo.id)),
        "{audit:?}"
    );
    let again = Server::command(s.dir.path(), &s.env)
        .args(["inbox", "photo", &photo.id.to_string(), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());

    // Too large: a polite refusal reaches the chat; nothing is stored or downloaded.
    post(&photo_update(4712, 2, "PHOTO-BIG", Some("Zu groß")));
    let refusal = wait_for_text(4712, "zu groß");
    assert!(refusal.contains("4 KB"), "{refusal}");
    assert!(app
        .db()
        .find_subscriber_by_address(ChannelKind::Telegram, "4712")
        .unwrap()
        .is_none());
    assert_eq!(photo_rows(&app), 1);

    // Telegram fails once: the event is retried and the photo arrives.
    post(&photo_update(CHAT, 3, "PHOTO-FLAKY", None));
    common::poll_until(Duration::from_secs(30), || {
        match app.conversation(conversation).unwrap().photos.len() {
            2 => Ok(()),
            n => Err(format!("{n} photos in the conversation")),
        }
    });
    // No caption: the message has no text, only the photo.
    let view = app.conversation(conversation).unwrap();
    assert_eq!(view.messages.len(), 2);
    assert_eq!(view.messages[1].text, None);

    // Löschen: the resident's photos go with their conversations.
    let erase = json!({"update_id": 30_000, "message": {
        "message_id": 4, "date": 1_764_400_000,
        "chat": {"id": CHAT, "type": "private"}, "text": "Löschen"
    }});
    post(&erase);
    common::poll_until(Duration::from_secs(30), || match photo_rows(&app) {
        0 => Ok(()),
        n => Err(format!("{n} photo rows left after Löschen")),
    });
    assert!(app.inbox(false, 10).unwrap().is_empty());
    rt.block_on(bot_api.verify());
}

#[test]
fn photos_through_serve_on_sqlite() {
    photos_through_serve(None);
}

#[test]
fn photos_through_serve_on_postgres() {
    let pg = common::PgDatabase::create();
    photos_through_serve(Some(&pg.url));
}

/// A photo Update as the Telegram parser stores it.
fn photo_event(chat: &str, id: &str, caption: Option<&str>) -> InboundEvent {
    InboundEvent::Message {
        from: Address::new(chat),
        content: InboundContent::Photo {
            media_id: "file-id".into(),
            mime_type: None,
            caption: caption.map(Into::into),
        },
        provider_message_id: Some(id.into()),
        received_at: chrono::Utc::now(),
    }
}

fn fetched(bytes: Vec<u8>) -> Option<Result<FetchedMedia, FetchError>> {
    Some(Ok(FetchedMedia {
        bytes,
        mime_type: None,
    }))
}

both!(
    photos_are_stored_once_and_go_with_their_data,
    |t: &TestDb| {
        let app = &t.app;
        let tg = ChannelKind::Telegram;
        let process = |event: &InboundEvent, photo| app.process_inbound(tg, event, photo).unwrap();

        // Processed twice (a crash between storing and marking done): one
        // message, one photo, one automatic answer.
        let first = photo_event("100", "100:1", Some(CAPTION));
        assert_eq!(
            process(&first, fetched(fixture())),
            InboundOutcome::Conversation
        );
        assert_eq!(
            process(&first, fetched(fixture())),
            InboundOutcome::Conversation
        );
        let conversation = app.inbox(false, 10).unwrap()[0].conversation.id;
        let view = app.conversation(conversation).unwrap();
        assert_eq!((view.messages.len(), view.photos.len()), (1, 1));
        assert_eq!(app.db().outbox_pending(tg).unwrap(), 1);
        let file = app.export_photo(view.photos[0].id, "test").unwrap();
        assert!(!contains(&file.bytes, b"HEROLD-GPS-DATUM"));
        assert_eq!(file.photo.sha256.len(), 64);

        // Deleting the message deletes its photo.
        app.delete_message(view.messages[0].id, "test").unwrap();
        assert_eq!(photo_rows(app), 0);

        // A purged conversation takes its photos with it.
        process(&photo_event("100", "100:2", None), fetched(fixture()));
        assert_eq!(photo_rows(app), 1);
        app.close_conversation(conversation, "test").unwrap();
        let later = chrono::Utc::now() + chrono::Duration::days(365);
        assert_eq!(app.db().purge_closed_conversations(later).unwrap(), 1);
        assert_eq!(photo_rows(app), 0);

        // So does the resident's erasure.
        process(&photo_event("100", "100:3", None), fetched(fixture()));
        assert_eq!(photo_rows(app), 1);
        let subscriber = app
            .db()
            .find_subscriber_by_address(tg, "100")
            .unwrap()
            .unwrap();
        app.erase_after_reply(subscriber.id).unwrap();
        assert_eq!(photo_rows(app), 0);

        // No image, not received, or no adapter to fetch it: refused, and
        // nothing of it stored — not even the caption or a contact.
        let pending = app.db().outbox_pending(tg).unwrap();
        for (i, photo) in [
            fetched(b"%PDF-1.7 kein Foto".to_vec()),
            fetched(b"\xFF\xD8\xFF\xE0\x00 kaputt".to_vec()),
            Some(Err(FetchError::Provider(SendError::permanent("gone")))),
            Some(Err(FetchError::TooLarge {
                size: None,
                max: 10,
            })),
            None,
        ]
        .into_iter()
        .enumerate()
        {
            let event = photo_event("200", &format!("200:{i}"), Some("geheim"));
            assert_eq!(process(&event, photo), InboundOutcome::Refused);
        }
        assert_eq!(photo_rows(app), 0);
        assert!(app.inbox(false, 10).unwrap().is_empty());
        assert!(app
            .db()
            .find_subscriber_by_address(tg, "200")
            .unwrap()
            .is_none());
        assert_eq!(app.db().outbox_pending(tg).unwrap(), pending + 5);
    }
);
