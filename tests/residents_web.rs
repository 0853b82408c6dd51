//! Residents by messenger, end to end through `herold serve` on SQLite and
//! PostgreSQL: a signed webhook carries their messages (the fake
//! provider's), the inbound processor carries out their commands, the reply
//! loop answers through the channel, and announcements follow their choice.
//! The channel-specific adapters (Telegram, …) plug into the same path.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::server::Server;
use herold_channel_api::ChannelKind;
use herold_channel_fake::{FakeServer, FakeWebhook, Received};
use reqwest::blocking::Client;
use std::time::Duration;

const CHAT: &str = "4711";

fn to_chat(provider: &FakeServer) -> Vec<Received> {
    provider
        .received()
        .into_iter()
        .filter(|r| r.to == CHAT)
        .collect()
}

fn residents_by_messenger(database_url: Option<&str>) {
    let provider = FakeServer::start(None, true).unwrap();
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
            ("HEROLD_FAKE_PROVIDER", provider.url()),
            ("HEROLD_FAKE_PROVIDER_SECRET", "geheim"),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
        ],
    );
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    s.cli(&["category", "add", "kultur", "--name", "Kultur!Büro"]);
    let http = Client::new();
    let post = |message: serde_json::Value| {
        let body = serde_json::json!({ "messages": [message] }).to_string();
        let r = http
            .post(s.url("/webhooks/telegram"))
            .header("content-type", "application/json")
            .header(
                "X-Fake-Signature",
                FakeWebhook::sign(b"geheim", body.as_bytes()),
            )
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    };
    let say = |id: &str, text: &str| {
        post(serde_json::json!({
            "id": id, "from": CHAT, "text": text, "timestamp": "2026-11-29T08:00:00Z"
        }))
    };
    let replies = |n: usize| {
        common::poll_until(Duration::from_secs(30), || {
            let got = to_chat(&provider);
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("{} of {n} messages reached the chat", got.len()))
            }
        })
    };

    // Start: a welcome naming the categories, in the resident's language.
    say("m1", "/start");
    let got = replies(1);
    assert!(got[0].text.contains("Willkommen"), "{}", got[0].text);
    assert!(got[0].text.contains("2. Kultur!Büro ✓"), "{}", got[0].text);
    // The same update again: processed once, answered once.
    say("m1", "/start");
    // Categories, then a choice by number.
    say("m2", "Kategorien");
    say("m3", "1");
    let got = replies(3);
    assert!(got[1].text.contains("Themen"), "{}", got[1].text);
    assert!(
        got[2].text.contains("Ihre Themen: Abfall"),
        "{}",
        got[2].text
    );
    // An announcement in the chosen category reaches the chat, one in the
    // other does not.
    s.cli(&[
        "publish",
        "--category",
        "kultur",
        "--title",
        "Lesung",
        "--body",
        "Heute.",
    ]);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Samstag.",
    ]);
    let got = replies(4);
    assert!(got[3].text.contains("Biotonne"), "{}", got[3].text);
    // Stop: confirmed, and the next announcement does not come.
    say("m4", "STOP");
    let got = replies(5);
    assert!(got[4].text.contains("abgemeldet"), "{}", got[4].text);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Sperrmüll",
        "--body",
        "Montag.",
    ]);
    // Löschen: answered, then nothing of the chat is left.
    let app = s.open_database(database_url);
    let sid = app
        .db()
        .find_subscriber_by_address(ChannelKind::Telegram, CHAT)
        .unwrap()
        .unwrap()
        .id;
    say("m5", "Löschen");
    let got = replies(6);
    assert!(got[5].text.contains("gelöscht"), "{}", got[5].text);
    let app = s.open_database(database_url);
    common::wait_until("the chat erased", Duration::from_secs(30), || {
        app.db()
            .find_subscriber_by_address(ChannelKind::Telegram, CHAT)
            .unwrap()
            .is_none()
    });
    // The delivery history no longer points to them; its counts stay.
    let announcements = app.db().list_announcements(10).unwrap();
    let mut delivered = 0;
    for (a, _) in &announcements {
        for d in app.db().deliveries_of(a.id).unwrap() {
            assert_ne!(d.subscriber_id, Some(sid), "{d:?}");
            delivered += 1;
        }
    }
    assert!(delivered >= 1, "the Biotonne delivery is still counted");
    std::thread::sleep(Duration::from_millis(500));
    let all = to_chat(&provider);
    assert_eq!(
        all.len(),
        6,
        "no duplicate reply, no announcement after Stop: {all:?}"
    );
    assert!(!all.iter().any(|r| r.text.contains("Sperrmüll")));
}

#[test]
fn residents_by_messenger_on_sqlite() {
    residents_by_messenger(None);
}

#[test]
fn residents_by_messenger_on_postgres() {
    let pg = common::PgDatabase::create();
    residents_by_messenger(Some(&pg.url));
}
