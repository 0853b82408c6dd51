//! The Telegram channel end to end through `herold serve` on SQLite, against
//! a fake Bot API: a webhook Update with the secret carries `/start`, the
//! welcome goes out with `sendMessage` to that chat, an announcement follows;
//! a forged secret is refused and nothing of it is stored.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::server::Server;
use herold_channel_api::ChannelKind;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "123456789:AAe2e-token";
const SECRET: &str = "e2e_hook-secret";
const CHAT: i64 = 4711;

fn telegram_webhook_welcome_and_announcement(database_url: Option<&str>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bot_api = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path_regex(format!("^/bot{TOKEN}/sendMessage$")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true,
                "result": {"message_id": 1, "date": 1_764_400_000, "chat": {"id": CHAT, "type": "private"}}
            })))
            .mount(&server)
            .await;
        server
    });
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
            ("HEROLD_TELEGRAM__API_URL", &bot_api.uri()),
            ("HEROLD_TELEGRAM__TOKEN", TOKEN),
            ("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET),
            ("HEROLD_TELEGRAM__CHANNEL", "@musterstadt_info"),
            ("HEROLD_TELEGRAM__CHANNEL_CATEGORIES", r#"["abfall"]"#),
            // public_url is plain http here: without this, auto would poll.
            ("HEROLD_TELEGRAM__MODE", "webhook"),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
        ],
    );
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    s.cli(&["category", "add", "kultur", "--name", "Kultur"]);
    let http = Client::new();
    let post = |secret: &str, chat: i64, id: i64, text: &str| {
        let update = json!({
            "update_id": 10_000 + id,
            "message": {
                "message_id": id, "date": 1_764_400_000,
                "chat": {"id": chat, "type": "private", "first_name": "Erika"},
                "from": {"id": chat, "is_bot": false, "first_name": "Erika"},
                "text": text
            }
        });
        http.post(s.url("/webhooks/telegram"))
            .header("content-type", "application/json")
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .body(update.to_string())
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let sent_to = |chat: Value| -> Vec<Value> {
        rt.block_on(bot_api.received_requests())
            .unwrap_or_default()
            .into_iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
            .filter(|b| b["chat_id"] == chat)
            .collect()
    };
    let sent = |chat: i64| sent_to(json!(chat));
    let wait_for = |n: usize| {
        common::poll_until(Duration::from_secs(30), || {
            let got = sent(CHAT);
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("{} of {n} messages reached the chat", got.len()))
            }
        })
    };

    assert_eq!(post(SECRET, CHAT, 1, "/start"), 200);
    let got = wait_for(1);
    assert!(
        got[0]["text"].as_str().unwrap().contains("Willkommen"),
        "{}",
        got[0]
    );
    assert_eq!(got[0]["parse_mode"], "HTML");

    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Samstag.",
    ]);
    let got = wait_for(2);
    assert!(
        got[1]["text"].as_str().unwrap().contains("Biotonne"),
        "{}",
        got[1]
    );
    // Follow mode: the public channel got the announcement once, formatted
    // like the resident's copy.
    let channel = common::poll_until(Duration::from_secs(30), || {
        let got = sent_to(json!("@musterstadt_info"));
        if got.is_empty() {
            Err("nothing reached the public channel".to_owned())
        } else {
            Ok(got)
        }
    });
    assert_eq!(channel.len(), 1, "{channel:?}");
    assert_eq!(channel[0]["text"], got[1]["text"]);
    assert_eq!(channel[0]["parse_mode"], "HTML");
    // A category the channel does not carry reaches only its subscribers
    // (none here), not the channel.
    s.cli(&[
        "publish",
        "--category",
        "kultur",
        "--title",
        "Stadtfest",
        "--body",
        "Sonntag.",
    ]);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Gelber Sack",
        "--body",
        "Montag.",
    ]);
    let channel = common::poll_until(Duration::from_secs(30), || {
        let got = sent_to(json!("@musterstadt_info"));
        if got.len() < 2 {
            Err(format!("{} of 2 posts reached the channel", got.len()))
        } else {
            Ok(got)
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let channel_now = sent_to(json!("@musterstadt_info"));
    assert_eq!(channel_now.len(), 2, "{channel_now:?}");
    assert!(channel[1]["text"].as_str().unwrap().contains("Gelber Sack"));
    assert!(!channel_now
        .iter()
        .any(|m| m["text"].as_str().unwrap().contains("Stadtfest")));

    // A forged secret: 401, nothing stored, nobody answered.
    assert_eq!(post("forged", 4712, 2, "/start"), 401);
    std::thread::sleep(Duration::from_millis(500));
    let app = s.open_database(database_url);
    assert!(app
        .db()
        .find_subscriber_by_address(ChannelKind::Telegram, "4712")
        .unwrap()
        .is_none());
    assert!(sent(4712).is_empty());
}

#[test]
fn telegram_webhook_welcome_and_announcement_on_sqlite() {
    telegram_webhook_welcome_and_announcement(None);
}

#[test]
fn telegram_webhook_welcome_and_announcement_on_postgres() {
    let pg = common::PgDatabase::create();
    telegram_webhook_welcome_and_announcement(Some(&pg.url));
}

/// `herold channels setup telegram` registers the webhook with the secret
/// token; Telegram takes only https addresses.
#[test]
fn channels_setup_registers_the_webhook() {
    use wiremock::matchers::body_partial_json;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bot_api = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path_regex(format!("^/bot{TOKEN}/setWebhook$")))
            .and(body_partial_json(json!({
                "url": "https://info.musterstadt.example/webhooks/telegram",
                "secret_token": SECRET,
                "allowed_updates": ["message"],
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true, "result": true, "description": "Webhook was set"
            })))
            .expect(1)
            .mount(&server)
            .await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    let run = |public_url: &str| {
        common::herold(dir.path())
            .env("HEROLD_PUBLIC_URL", public_url)
            .env("HEROLD_TELEGRAM__API_URL", bot_api.uri())
            .env("HEROLD_TELEGRAM__TOKEN", TOKEN)
            .env("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET)
            .args(["channels", "setup", "telegram"])
            .output()
            .unwrap()
    };
    let ok = run("https://info.musterstadt.example/");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("webhooks/telegram"));
    // Without https, auto mode polls and needs no setup; a webhook asked
    // for explicitly still needs https.
    let polling = run("http://info.musterstadt.example/");
    assert!(polling.status.success());
    assert!(
        String::from_utf8_lossy(&polling.stdout).contains("no setup needed"),
        "{}",
        String::from_utf8_lossy(&polling.stdout)
    );
    let plain = common::herold(dir.path())
        .env("HEROLD_PUBLIC_URL", "http://info.musterstadt.example/")
        .env("HEROLD_TELEGRAM__API_URL", bot_api.uri())
        .env("HEROLD_TELEGRAM__TOKEN", TOKEN)
        .env("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET)
        .env("HEROLD_TELEGRAM__MODE", "webhook")
        .args(["channels", "setup", "telegram"])
        .output()
        .unwrap();
    assert!(!plain.status.success());
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("https"),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    // Exactly one setWebhook reached the Bot API.
    rt.block_on(bot_api.verify());
}

/// Bad input on the Telegram webhook: a missing or forged secret is 401, a
/// body that is not an Update 400, an update kind Herold does not read 200
/// (so Telegram does not retry it forever), a body over the limit 413 —
/// and none of it is stored.
fn telegram_webhook_refuses_bad_input(database_url: Option<&str>) {
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
            ("HEROLD_TELEGRAM__API_URL", "http://127.0.0.1:9"),
            ("HEROLD_TELEGRAM__TOKEN", TOKEN),
            ("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET),
            ("HEROLD_TELEGRAM__MODE", "webhook"),
        ],
    );
    let http = Client::new();
    let post = |secret: Option<&str>, body: Vec<u8>| {
        let mut req = http
            .post(s.url("/webhooks/telegram"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(secret) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let r = req.send().unwrap();
        (r.status().as_u16(), r.text().unwrap_or_default())
    };
    let start = json!({
        "update_id": 1,
        "message": {"message_id": 1, "date": 1_764_400_000,
                    "chat": {"id": CHAT, "type": "private"}, "text": "/start"}
    })
    .to_string()
    .into_bytes();
    assert_eq!(post(None, start.clone()).0, 401);
    assert_eq!(post(Some("forged"), start).0, 401);
    let (code, body) = post(Some(SECRET), b"{\"update_id\": 2, \"message\": ".to_vec());
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("JSON"), "{body}");
    assert_eq!(post(Some(SECRET), b"[1, 2]".to_vec()).0, 400);
    assert_eq!(
        post(
            Some(SECRET),
            br#"{"update_id": 3, "message": {"text": "x"}}"#.to_vec()
        )
        .0,
        400
    );
    for unknown in [
        json!({"update_id": 4, "edited_message": {"message_id": 1, "date": 1, "chat": {"id": CHAT}, "text": "x"}}),
        json!({"update_id": 5, "my_chat_member": {"chat": {"id": CHAT}}}),
        json!({"update_id": 6, "callback_query": {"id": "1"}}),
    ] {
        let (code, body) = post(Some(SECRET), unknown.to_string().into_bytes());
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("ignored"), "{body}");
    }
    let mut huge = br#"{"update_id": 7, "message": {"message_id": 7, "date": 1, "chat": {"id": 4711}, "text": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 300 * 1024));
    huge.extend(br#""}}"#);
    assert_eq!(post(Some(SECRET), huge).0, 413);
    let app = s.open_database(database_url);
    assert!(app.db().inbound_states().unwrap().is_empty());
}

#[test]
fn telegram_webhook_refuses_bad_input_on_sqlite() {
    telegram_webhook_refuses_bad_input(None);
}

#[test]
fn telegram_webhook_refuses_bad_input_on_postgres() {
    let pg = common::PgDatabase::create();
    telegram_webhook_refuses_bad_input(Some(&pg.url));
}
