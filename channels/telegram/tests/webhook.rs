//! The webhook: secret-token verification and `Update` parsing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herold_channel_api::{
    Command, InboundContent, InboundError, InboundEvent, InboundParser, InboundRequest,
    InboundVerifier,
};
use herold_channel_telegram::{TelegramWebhook, SECRET_HEADER};
use serde_json::json;

const SECRET: &str = "hook_Secret-123";

fn request(secret: Option<&str>, body: serde_json::Value) -> InboundRequest {
    let mut headers = http::HeaderMap::new();
    if let Some(s) = secret {
        headers.insert(SECRET_HEADER, http::HeaderValue::from_str(s).unwrap());
    }
    InboundRequest::new(headers, None, serde_json::to_vec(&body).unwrap())
}

fn update(message: serde_json::Value) -> serde_json::Value {
    json!({"update_id": 900_001, "message": message})
}

fn base_message() -> serde_json::Value {
    json!({
        "message_id": 31,
        "date": 1_764_400_000,
        "chat": {"id": 4_242_424_242_i64, "type": "private", "first_name": "Erika"},
        "from": {"id": 4_242_424_242_i64, "is_bot": false, "first_name": "Erika"}
    })
}

fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
    let mut m = base_message();
    m[key] = value;
    update(m)
}

#[test]
fn verifier_accepts_only_the_secret() {
    let hook = TelegramWebhook::new(SECRET);
    let body = with("text", json!("Hallo"));
    assert_eq!(hook.verify(&request(Some(SECRET), body.clone())), Ok(()));
    assert_eq!(
        hook.verify(&request(Some("hook_Secret-124"), body.clone())),
        Err(InboundError::BadSignature)
    );
    assert_eq!(
        hook.verify(&request(Some("short"), body.clone())),
        Err(InboundError::BadSignature)
    );
    assert_eq!(
        hook.verify(&request(None, body.clone())),
        Err(InboundError::MissingSignature)
    );
    assert_eq!(hook.handshake(&request(None, body)), Ok(None));
    assert!(!format!("{hook:?}").contains(SECRET));
}

#[test]
fn text_becomes_a_message_with_chat_and_message_id() {
    let events = TelegramWebhook::new(SECRET)
        .parse(&request(
            Some(SECRET),
            with("text", json!("Die Laterne ist kaputt")),
        ))
        .unwrap();
    match &events[..] {
        [InboundEvent::Message {
            from,
            content: InboundContent::Text(text),
            provider_message_id,
            received_at,
        }] => {
            assert_eq!(from.as_str(), "4242424242");
            assert_eq!(text, "Die Laterne ist kaputt");
            assert_eq!(provider_message_id.as_deref(), Some("4242424242:31"));
            assert_eq!(received_at.timestamp(), 1_764_400_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(events[0].dedupe_key(), "4242424242:31");
}

#[test]
fn commands_are_recognised() {
    let hook = TelegramWebhook::new(SECRET);
    for (text, want_start) in [
        ("/start", true),
        ("/stop@HeroldBot", false),
        ("Start Kultur", true),
    ] {
        let events = hook
            .parse(&request(Some(SECRET), with("text", json!(text))))
            .unwrap();
        match &events[..] {
            [InboundEvent::Command { command, from, .. }] => {
                assert_eq!(from.as_str(), "4242424242");
                assert_eq!(matches!(command, Command::Start(_)), want_start, "{text}");
                assert_eq!(matches!(command, Command::Stop(_)), !want_start, "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn photo_takes_the_largest_size_and_the_caption() {
    let photo = json!([
        {"file_id": "small", "file_unique_id": "u1", "width": 90, "height": 60, "file_size": 1000},
        {"file_id": "large", "file_unique_id": "u3", "width": 1280, "height": 853, "file_size": 90000},
        {"file_id": "medium", "file_unique_id": "u2", "width": 320, "height": 213, "file_size": 9000}
    ]);
    let mut m = base_message();
    m["photo"] = photo;
    m["caption"] = json!("Schlagloch vor Haus 3");
    let events = TelegramWebhook::new(SECRET)
        .parse(&request(Some(SECRET), update(m)))
        .unwrap();
    match &events[..] {
        [InboundEvent::Message {
            content:
                InboundContent::Photo {
                    media_id,
                    mime_type,
                    caption,
                },
            provider_message_id,
            ..
        }] => {
            assert_eq!(media_id, "large");
            assert_eq!(mime_type, &None);
            assert_eq!(caption.as_deref(), Some("Schlagloch vor Haus 3"));
            assert_eq!(provider_message_id.as_deref(), Some("4242424242:31"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_media_are_unsupported_content() {
    let hook = TelegramWebhook::new(SECRET);
    for kind in [
        "voice",
        "audio",
        "video",
        "video_note",
        "document",
        "sticker",
        "location",
        "venue",
        "contact",
        "poll",
        "dice",
    ] {
        let events = hook
            .parse(&request(Some(SECRET), with(kind, json!({"file_id": "f"}))))
            .unwrap();
        match &events[..] {
            [InboundEvent::Message {
                content: InboundContent::Unsupported { kind: got },
                ..
            }] => assert_eq!(got, kind),
            other => panic!("{kind}: {other:?}"),
        }
    }
}

#[test]
fn other_updates_are_ignored_and_garbage_is_malformed() {
    let hook = TelegramWebhook::new(SECRET);
    for kind in [
        "edited_message",
        "channel_post",
        "my_chat_member",
        "callback_query",
    ] {
        let body = json!({"update_id": 5, kind: base_message()});
        match hook.parse(&request(Some(SECRET), body)) {
            Err(InboundError::Unsupported(what)) => assert!(what.contains(kind), "{what}"),
            other => panic!("{kind}: {other:?}"),
        }
    }
    // A service message (someone joined a group) carries nothing to answer.
    assert!(matches!(
        hook.parse(&request(Some(SECRET), with("new_chat_members", json!([])))),
        Err(InboundError::Unsupported(_))
    ));
    let raw = InboundRequest::new(http::HeaderMap::new(), None, b"{not json".to_vec());
    assert!(matches!(hook.parse(&raw), Err(InboundError::Malformed(_))));
    assert!(matches!(
        hook.parse(&request(Some(SECRET), json!({"message": base_message()}))),
        Err(InboundError::Malformed(_))
    ));
    assert!(matches!(
        hook.parse(&request(
            Some(SECRET),
            json!({"update_id": 1, "message": {"text": "x"}})
        )),
        Err(InboundError::Malformed(_))
    ));
}
