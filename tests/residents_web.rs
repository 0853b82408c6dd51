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

    // A report: a conversation for staff, with the automatic first answer.
    say("m6", "Die Laterne in der Hauptstraße ist kaputt.");
    let got = replies(5);
    assert!(got[4].text.contains("Vorgang"), "{}", got[4].text);
    assert!(got[4].text.contains("110"), "{}", got[4].text);
    assert!(got[4].text.contains("112"), "{}", got[4].text);
    // A voice message: a polite refusal naming what is taken.
    post(serde_json::json!({
        "id": "m7", "from": CHAT, "kind": "voice", "timestamp": "2026-11-29T08:00:00Z"
    }));
    let got = replies(6);
    assert!(
        got[5].text.contains("nur Text und Fotos"),
        "{}",
        got[5].text
    );
    // Staff read it by pseudonym and answer from the command line.
    let inbox = s.cli(&["inbox", "list"]);
    assert!(!inbox.contains(CHAT), "{inbox}");
    let case = inbox.split_whitespace().next().unwrap().to_owned();
    let shown = s.cli(&["inbox", "show", &case]);
    assert!(shown.contains("Laterne"), "{shown}");
    s.cli(&[
        "inbox",
        "reply",
        &case,
        "--text",
        "Danke, wir <kümmern> uns.",
    ]);
    let got = replies(7);
    // Exactly as staff wrote it (the fake provider's channel is plain
    // text; escaping for Telegram's HTML is checked in tests/residents.rs).
    assert!(
        got[6].text.contains("Danke, wir <kümmern> uns."),
        "{}",
        got[6].text
    );
    // An abusive message can be deleted; the rest of the case stays.
    let number = shown
        .lines()
        .find(|l| l.starts_with('#'))
        .and_then(|l| l.split_whitespace().next())
        .map(|n| n.trim_start_matches('#').to_owned())
        .unwrap();
    s.cli(&["inbox", "delete-message", &number]);
    let shown = s.cli(&["inbox", "show", &case]);
    assert!(!shown.contains("Laterne"), "{shown}");
    assert!(shown.contains("kümmern"), "{shown}");
    s.cli(&["inbox", "close", &case]);
    assert!(s.cli(&["inbox", "list"]).contains("no open conversations"));

    // Stop: confirmed, and the next announcement does not come.
    say("m4", "STOP");
    let got = replies(8);
    assert!(got[7].text.contains("abgemeldet"), "{}", got[7].text);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Sperrmüll",
        "--body",
        "Montag.",
    ]);
    let app = s.open_database(database_url);
    let sid = app
        .db()
        .find_subscriber_by_address(ChannelKind::Telegram, CHAT)
        .unwrap()
        .unwrap()
        .id;
    // Once the goodbye is out, their address is forgotten; the keyed hash
    // stays, so they are still recognised.
    common::wait_until("the address forgotten", Duration::from_secs(30), || {
        app.db().subscriber_address(sid).unwrap().is_none()
    });
    assert!(app
        .db()
        .list_audit(100)
        .unwrap()
        .iter()
        .any(|e| e.action == "retention.left_addresses"));
    // Daten: a single-use link to everything stored about them, answered
    // although the stored address is gone.
    say("m8", "Daten");
    let got = replies(9);
    assert!(got[8].text.contains("einmal"), "{}", got[8].text);
    let link = got[8]
        .text
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .unwrap()
        .to_owned();
    // A GET (a link preview) only shows the button.
    let page = http.get(&link).send().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().unwrap().contains("Daten herunterladen"));
    let download = http.post(&link).send().unwrap();
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(
        download.headers()["cache-control"].to_str().unwrap(),
        "no-store"
    );
    let export: serde_json::Value = download.json().unwrap();
    assert_eq!(export["subscription"]["channel"], "telegram");
    assert_eq!(export["subscription"]["status"], "unsubscribed");
    assert!(export["subscription"]["address"].is_null(), "{export}");
    assert!(export["consent"].as_array().unwrap().len() >= 2, "{export}");
    assert!(export.to_string().contains("kümmern"), "{export}");
    // Once only.
    assert_eq!(http.post(&link).send().unwrap().status().as_u16(), 404);
    // Löschen: answered, then nothing of the chat is left.
    say("m5", "Löschen");
    let got = replies(10);
    assert!(got[9].text.contains("gelöscht"), "{}", got[9].text);
    common::wait_until("the chat erased", Duration::from_secs(30), || {
        app.db()
            .find_subscriber_by_address(ChannelKind::Telegram, CHAT)
            .unwrap()
            .is_none()
    });
    // The delivery history no longer points to them; its counts stay.
    let mut delivered = 0;
    for (a, _) in &app.db().list_announcements(10).unwrap() {
        for d in app.db().deliveries_of(a.id).unwrap() {
            assert_ne!(d.subscriber_id, Some(sid), "{d:?}");
            delivered += 1;
        }
    }
    assert!(delivered >= 1, "the Biotonne delivery is still counted");
    // Their closed conversation went with them.
    assert!(s
        .cli(&["inbox", "list", "--closed"])
        .contains("no closed conversations"));
    // Staff actions are in the audit log.
    let audit = app.db().list_audit(100).unwrap();
    for action in [
        "conversation.reply",
        "conversation.delete_message",
        "conversation.close",
    ] {
        assert!(audit.iter().any(|e| e.action == action), "{action}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let all = to_chat(&provider);
    assert_eq!(
        all.len(),
        10,
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
