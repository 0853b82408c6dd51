//! The adapter against a fake Bot API (wiremock) that checks the token in the
//! path and the request shape, and answers with Telegram's real error bodies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use herold_channel_api::{
    Address, Channel, ChannelKind, Destination, Disposition, FollowTarget, Formatting, Media,
    MediaKind, OutboundMessage, Reach, RenderedMessage, SendError,
};
use herold_channel_telegram::{TelegramChannel, TelegramConfig};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "123456789:AAtest-Token_xyz";
const CHAT: &str = "4242424242";

/// Telegram's HTML subset (`parse_mode=HTML`).
const ALLOWED_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
    "span",
    "tg-spoiler",
    "tg-emoji",
];

async fn server() -> MockServer {
    MockServer::start().await
}

fn channel(server: &MockServer, follow: Option<&str>) -> TelegramChannel {
    let config = TelegramConfig {
        api_url: server.uri(),
        channel: follow.map(Into::into),
        ..TelegramConfig::new(TOKEN)
    };
    TelegramChannel::new(config).unwrap()
}

fn ok_message(chat: i64, id: i64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "ok": true,
        "result": {"message_id": id, "date": 1_764_400_000, "chat": {"id": chat, "type": "private"}, "text": "x"}
    }))
}

async fn answer(server: &MockServer, api_method: &str, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/{api_method}")))
        .respond_with(response)
        .mount(server)
        .await;
}

fn message(text: &str) -> OutboundMessage {
    OutboundMessage {
        idempotency_key: "a1/telegram/1".into(),
        destination: Destination::Recipient(Address::new(CHAT)),
        message: RenderedMessage::new(text, "de"),
        unsubscribe: None,
        recipient_last_wrote: None,
    }
}

async fn bodies(server: &MockServer) -> Vec<(String, Value)> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let method = r.url.path().rsplit('/').next().unwrap().to_owned();
            (method, serde_json::from_slice(&r.body).unwrap())
        })
        .collect()
}

/// Every tag in `html` is one Telegram accepts, and `<`/`&` outside tags are escaped.
fn assert_telegram_html(html: &str) {
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = rest[start + 1..end].trim_start_matches('/');
        let name = tag.split_whitespace().next().unwrap_or_default();
        assert!(
            ALLOWED_TAGS.contains(&name),
            "tag <{name}> not allowed: {html}"
        );
        rest = &rest[end + 1..];
    }
}

const TEXT: &str = "<b>Straßensperrung Hauptstraße</b>\n\nAb Montag &amp; bis Freitag gesperrt.\n• Umleitung über die <i>Ringstraße</i>\n\n<a href=\"https://musterstadt.example/a/1\">Weiterlesen</a>";

#[tokio::test]
async fn sends_html_message_and_returns_chat_and_message_id() {
    let server = server().await;
    answer(&server, "sendMessage", ok_message(4_242_424_242, 77)).await;
    let ch = channel(&server, None);
    assert_eq!(ch.kind(), ChannelKind::Telegram);
    let caps = ch.capabilities();
    assert_eq!(caps.reach, Reach::Both);
    assert_eq!(caps.max_text_chars, Some(4096));
    assert_eq!(caps.formatting, Formatting::TelegramHtml);
    assert_eq!(caps.outbound_media, vec![MediaKind::Image]);
    assert_eq!(caps.inbound_media, vec![MediaKind::Image]);
    // At most 30 in any second: 29 per second from a bucket of one.
    assert_eq!(
        (caps.default_rate.per_second, caps.default_rate.burst),
        (29.0, 1)
    );
    assert_eq!(
        caps.per_recipient_rate.map(|r| (r.per_second, r.burst)),
        Some((1.0, 1))
    );
    assert!(caps.inbound && !caps.delivery_receipts && !caps.read_receipts);
    assert!(!caps.idempotent_sends && !caps.unsubscribe_links);

    let receipt = ch.send(&message(TEXT)).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("77"));
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 1);
    let (m, body) = &sent[0];
    assert_eq!(m, "sendMessage");
    assert_eq!(body["chat_id"], json!(4_242_424_242_i64));
    assert_eq!(body["text"], TEXT);
    assert_eq!(body["parse_mode"], "HTML");
    assert_eq!(body["link_preview_options"]["is_disabled"], true);
    assert_telegram_html(body["text"].as_str().unwrap());
    // Debug output of the adapter shows neither token nor chat.
    let dbg = format!("{ch:?}");
    assert!(!dbg.contains("AAtest") && !dbg.contains(CHAT), "{dbg}");
}

#[tokio::test]
async fn transactional_sends_go_the_same_way() {
    let server = server().await;
    answer(&server, "sendMessage", ok_message(4_242_424_242, 5)).await;
    let ch = channel(&server, None);
    let reply = RenderedMessage::new(
        "Willkommen! Sie erhalten jetzt &lt;alle&gt; Kategorien.",
        "de",
    );
    let receipt = ch
        .send_transactional(&Address::new(CHAT), &reply)
        .await
        .unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("5"));
    let sent = bodies(&server).await;
    assert_eq!(sent[0].1["text"], reply.text);
}

#[tokio::test]
async fn follow_mode_posts_to_the_configured_channel() {
    let server = server().await;
    answer(&server, "sendMessage", ok_message(-1_001_234_567_890, 9)).await;
    let ch = channel(&server, Some("@musterstadt_info"));
    let mut msg = message(TEXT);
    msg.destination = Destination::Follow(FollowTarget::new("anything"));
    let receipt = ch.send(&msg).await.unwrap();
    assert_eq!(
        receipt.provider_message_id.as_deref(),
        Some("-1001234567890:9")
    );
    assert_eq!(bodies(&server).await[0].1["chat_id"], "@musterstadt_info");

    // Without telegram.channel, follow mode is a configuration problem.
    let without = channel(&server, None);
    let err = without.send(&msg).await.unwrap_err();
    assert_eq!(err.disposition(), Disposition::Hold);
}

#[tokio::test]
async fn follow_channel_the_bot_cannot_post_to_holds_the_channel() {
    let server = server().await;
    answer(
        &server,
        "sendMessage",
        ResponseTemplate::new(400).set_body_json(
            json!({"ok":false,"error_code":400,"description":"Bad Request: chat not found"}),
        ),
    )
    .await;
    let ch = channel(&server, Some("@musterstadt_info"));
    let mut msg = message(TEXT);
    msg.destination = Destination::Follow(FollowTarget::new("x"));
    assert!(matches!(
        ch.send(&msg).await.unwrap_err(),
        SendError::Misconfigured { .. }
    ));
}

#[tokio::test]
async fn a_short_text_is_the_photos_caption_one_message() {
    let server = server().await;
    answer(&server, "sendPhoto", ok_message(4_242_424_242, 10)).await;
    let ch = channel(&server, None);
    let mut msg = message(TEXT);
    msg.message
        .media
        .push(image("https://musterstadt.example/media/abc.jpg"));
    let receipt = ch.send(&msg).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("10"));
    let sent = bodies(&server).await;
    // One message: a chat takes one a second.
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "sendPhoto");
    assert_eq!(
        sent[0].1["photo"],
        "https://musterstadt.example/media/abc.jpg"
    );
    assert_eq!(sent[0].1["caption"], TEXT);
    assert_eq!(sent[0].1["parse_mode"], "HTML");
    assert_eq!(sent[0].1["chat_id"], json!(4_242_424_242_i64));
}

#[tokio::test]
async fn a_long_text_shows_the_image_as_its_large_preview() {
    let server = server().await;
    answer(&server, "sendMessage", ok_message(4_242_424_242, 11)).await;
    let ch = channel(&server, None);
    let long = format!("<b>Titel</b>\n{}", "Wort &amp; ".repeat(150));
    assert!(long.encode_utf16().count() > 1024);
    let mut msg = message(&long);
    msg.message
        .media
        .push(image("https://musterstadt.example/media/abc.jpg"));
    ch.send(&msg).await.unwrap();
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "sendMessage");
    assert_eq!(sent[0].1["text"], long);
    assert_eq!(
        sent[0].1["link_preview_options"],
        json!({
            "is_disabled": false,
            "url": "https://musterstadt.example/media/abc.jpg",
            "prefer_large_media": true,
            "show_above_text": true
        })
    );
    // Without an image, no preview at all.
    let server = server_with_message().await;
    channel(&server, None).send(&message(TEXT)).await.unwrap();
    assert_eq!(
        bodies(&server).await[0].1["link_preview_options"],
        json!({"is_disabled": true})
    );
}

fn image(url: &str) -> Media {
    Media {
        kind: MediaKind::Image,
        url: url.into(),
        mime_type: "image/jpeg".into(),
        caption: None,
    }
}

async fn server_with_message() -> MockServer {
    let server = server().await;
    answer(&server, "sendMessage", ok_message(1, 2)).await;
    server
}

#[tokio::test]
async fn a_refused_photo_still_lets_the_text_out() {
    let server = server().await;
    answer(
        &server,
        "sendPhoto",
        ResponseTemplate::new(400).set_body_json(json!({"ok":false,"error_code":400,"description":"Bad Request: wrong file identifier/HTTP URL specified"})),
    )
    .await;
    answer(&server, "sendMessage", ok_message(4_242_424_242, 12)).await;
    let ch = channel(&server, None);
    let mut msg = message(TEXT);
    msg.message
        .media
        .push(image("https://musterstadt.example/media/gone.jpg"));
    let receipt = ch.send(&msg).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("12"));
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, "sendPhoto");
    assert_eq!(sent[1].0, "sendMessage");
    assert_eq!(sent[1].1["text"], TEXT);
}

/// Sends one message against a fake answering `status` with `body`.
async fn error_for(status: u16, body: Value) -> SendError {
    let server = server().await;
    answer(
        &server,
        "sendMessage",
        ResponseTemplate::new(status).set_body_json(body),
    )
    .await;
    let err = channel(&server, None)
        .send(&message(TEXT))
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(CHAT) && !shown.contains("AAtest") && !shown.contains("Straßen"),
        "{shown}"
    );
    err
}

#[tokio::test]
async fn rate_limit_backs_off_the_channel() {
    let err = error_for(
        429,
        json!({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}),
    )
    .await;
    assert_eq!(
        err,
        SendError::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        }
    );
    assert_eq!(
        err.disposition(),
        Disposition::BackOff {
            after: Some(Duration::from_secs(3))
        }
    );
}

#[tokio::test]
async fn blocked_deactivated_kicked_and_unknown_chats_are_gone() {
    for (status, description) in [
        (403, "Forbidden: bot was blocked by the user"),
        (403, "Forbidden: user is deactivated"),
        (403, "Forbidden: bot was kicked from the group chat"),
        (400, "Bad Request: chat not found"),
    ] {
        let err = error_for(
            status,
            json!({"ok":false,"error_code":status,"description":description}),
        )
        .await;
        assert!(
            matches!(&err, SendError::Permanent { recipient_gone: true, reason } if !reason.is_empty()),
            "{description}: {err:?}"
        );
        assert_eq!(
            err.disposition(),
            Disposition::GiveUp {
                recipient_gone: true
            }
        );
    }
}

#[tokio::test]
async fn migrated_group_names_the_new_chat_id() {
    let err = error_for(
        400,
        json!({"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1_009_876_543_210_i64}}),
    )
    .await;
    assert_eq!(
        err,
        SendError::Moved {
            new_address: "-1009876543210".into()
        }
    );
}

#[tokio::test]
async fn bad_token_holds_the_channel() {
    for (status, description) in [(401, "Unauthorized"), (404, "Not Found")] {
        let err = error_for(
            status,
            json!({"ok":false,"error_code":status,"description":description}),
        )
        .await;
        assert!(matches!(err, SendError::Misconfigured { .. }), "{err:?}");
        assert_eq!(err.disposition(), Disposition::Hold);
    }
}

#[tokio::test]
async fn server_errors_and_other_refusals() {
    let err = error_for(
        500,
        json!({"ok":false,"error_code":500,"description":"Internal Server Error"}),
    )
    .await;
    assert!(
        matches!(err.disposition(), Disposition::Retry { .. }),
        "{err:?}"
    );
    let err = error_for(502, json!("<html>Bad Gateway</html>")).await;
    assert!(
        matches!(err.disposition(), Disposition::Retry { .. }),
        "{err:?}"
    );
    let err = error_for(
        400,
        json!({"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Unsupported start tag \"p\" at byte offset 0"}),
    )
    .await;
    assert_eq!(
        err.disposition(),
        Disposition::GiveUp {
            recipient_gone: false
        }
    );
}

#[tokio::test]
async fn network_errors_are_transient_and_hide_the_token() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let ch = TelegramChannel::new(TelegramConfig {
        api_url: format!("http://127.0.0.1:{port}"),
        ..TelegramConfig::new(TOKEN)
    })
    .unwrap();
    let err = ch.send(&message(TEXT)).await.unwrap_err();
    assert!(
        matches!(err.disposition(), Disposition::Retry { .. }),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("AAtest"));
}

#[tokio::test]
async fn an_address_that_is_no_chat_id_is_refused_before_sending() {
    let server = server().await;
    let ch = channel(&server, None);
    let mut msg = message(TEXT);
    msg.destination = Destination::Recipient(Address::new("max@example.org"));
    let err = ch.send(&msg).await.unwrap_err();
    assert!(matches!(
        err,
        SendError::Permanent {
            recipient_gone: true,
            ..
        }
    ));
    assert!(bodies(&server).await.is_empty());
}
