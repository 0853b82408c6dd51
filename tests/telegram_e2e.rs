//! Residents on Telegram, end to end: `herold serve` with its webhook (the
//! secret token), the real Telegram adapter and engine, and the fake Bot API
//! of `tests/common/fake_telegram.rs` with Telegram's real limits and error
//! answers — on SQLite and PostgreSQL.
//!
//! One town, one afternoon: Erika starts the bot, lists the topics, picks
//! one; an announcement reaches her formatted, and the public channel; a
//! resident who blocked the bot is withdrawn with the reason; a group that
//! became a supergroup gets it at its new id; a voice message is refused; a
//! photo and a report open a case that staff answer from the command line;
//! the same update posted twice counts once; after Stop nothing more
//! arrives; after Löschen her chat id is nowhere in the database. Telegram
//! never had to answer 429.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    fake_telegram::{ChatKind, ChatState, FakeTelegram, Sent},
    server::Server,
};
use herold::domain::SubscriberStatus;
use herold_channel_api::ChannelKind;
use serde_json::{json, Value};
use std::{path::Path, time::Duration};

const TOKEN: &str = "123456789:AAe2e-residents";
const SECRET: &str = "e2e_residents-secret";
/// Erika: starts, chooses, writes, stops, erases. Distinctive digits, so a
/// search of the database files cannot hit them by chance.
const ERIKA: i64 = 918_273_645;
/// Bert: blocks the bot.
const BERT: i64 = 827_364_519;
/// A group that becomes a supergroup.
const GROUP: i64 = -4_006_001;
const SUPERGROUP: i64 = -1_004_006_001;
/// The public channel `@musterstadt_info`.
const CHANNEL: i64 = -1_009_000_000;
const WAIT: Duration = Duration::from_secs(30);

fn fixture() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/gps.jpg"))
        .unwrap()
}

/// A Telegram `Update` with one message from `chat`.
fn update(update_id: i64, chat: i64, message: Value) -> Value {
    let chat_type = if chat < 0 { "group" } else { "private" };
    let mut message = message;
    message["message_id"] = json!(update_id);
    message["date"] = json!(1_764_400_000);
    message["chat"] = json!({"id": chat, "type": chat_type, "title": "Nachbarschaft"});
    message["from"] = json!({"id": 5_550_001, "is_bot": false, "first_name": "Erika"});
    json!({"update_id": update_id, "message": message})
}

fn texts(sent: &[Sent]) -> Vec<String> {
    sent.iter()
        .map(|m| {
            m.text
                .clone()
                .or_else(|| m.caption.clone())
                .unwrap_or_default()
        })
        .collect()
}

fn residents_on_telegram(database_url: Option<&str>) {
    let bot = FakeTelegram::start(TOKEN);
    bot.add_private_chats([ERIKA, BERT]);
    bot.add_chat(GROUP, ChatKind::Group, None);
    bot.add_chat(SUPERGROUP, ChatKind::Supergroup, None);
    bot.add_chat(CHANNEL, ChatKind::Channel, Some("musterstadt_info"));
    bot.add_file("photo-1", "photos/file_1.jpg", fixture());
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
            ("HEROLD_TELEGRAM__API_URL", bot.url()),
            ("HEROLD_TELEGRAM__TOKEN", TOKEN),
            ("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET),
            ("HEROLD_TELEGRAM__MODE", "webhook"),
            ("HEROLD_TELEGRAM__CHANNEL", "@musterstadt_info"),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
        ],
    );
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    s.cli(&["category", "add", "kultur", "--name", "Kultur"]);
    let post = |update: &Value| -> Value {
        let (status, answer) = s.post_telegram(SECRET, update);
        assert_eq!(status, 200, "{answer}");
        answer
    };
    let next_id = std::cell::Cell::new(100);
    let fresh = || {
        next_id.set(next_id.get() + 1);
        next_id.get()
    };
    let say = |chat: i64, text: &str| -> Value {
        let u = update(fresh(), chat, json!({ "text": text }));
        post(&u);
        u
    };
    let wait_for = |chat: i64, n: usize| -> Vec<String> {
        common::poll_until(WAIT, || {
            let got = texts(&bot.sent_to(chat));
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!(
                    "{} of {n} messages reached chat {chat}: {got:?}",
                    got.len()
                ))
            }
        })
    };

    // Start, the topics, a choice by number: each answered at once, in
    // Telegram's HTML.
    say(ERIKA, "/start");
    let got = wait_for(ERIKA, 1);
    assert!(got[0].contains("Willkommen"), "{}", got[0]);
    say(ERIKA, "Kategorien");
    say(ERIKA, "1");
    let got = wait_for(ERIKA, 3);
    assert!(got[1].contains("Kultur"), "{}", got[1]);
    assert!(got[2].contains("Ihre Themen: Abfall"), "{}", got[2]);
    assert!(bot
        .sent_to(ERIKA)
        .iter()
        .all(|m| m.parse_mode.as_deref() == Some("HTML")));
    // Bert and a neighbourhood group subscribe to waste collection too.
    say(BERT, "Start Abfall");
    say(GROUP, "/start@herold_test_bot Abfall");
    wait_for(BERT, 1);
    wait_for(GROUP, 1);

    // Bert blocks the bot; the group becomes a supergroup.
    bot.set_state(BERT, ChatState::Blocked);
    bot.set_state(GROUP, ChatState::Migrated(SUPERGROUP));
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne & Gelber Sack",
        "--body",
        "Abholung am **Samstag** statt Freitag. <Bitte> bis 7 Uhr bereitstellen.",
    ]);
    let got = wait_for(ERIKA, 4);
    assert!(
        got[3].starts_with("<b>Biotonne &amp; Gelber Sack</b>"),
        "{}",
        got[3]
    );
    assert!(got[3].contains("<b>Samstag</b>"), "{}", got[3]);
    assert!(got[3].contains("&lt;Bitte&gt;"), "{}", got[3]);
    // The public channel got the same message; the group at its new id.
    let posted = wait_for(CHANNEL, 1);
    assert_eq!(posted[0], got[3]);
    let moved = wait_for(SUPERGROUP, 1);
    assert_eq!(moved[0], got[3]);
    let app = s.open_database(database_url);
    let group = app
        .db()
        .find_subscriber_by_address(ChannelKind::Telegram, &SUPERGROUP.to_string())
        .unwrap()
        .expect("the group's subscription moved to the supergroup");
    assert_eq!(group.status, SubscriberStatus::Active);
    // Bert's subscription ended, with Telegram's reason in the ledger.
    let bert = common::poll_until(WAIT, || {
        let b = app
            .db()
            .find_subscriber_by_address(ChannelKind::Telegram, &BERT.to_string())
            .unwrap()
            .unwrap();
        if b.status == SubscriberStatus::Unsubscribed {
            Ok(b)
        } else {
            Err(format!("Bert is still {:?}", b.status))
        }
    });
    let withdrawn = app.db().consent_events_of(bert.id).unwrap().pop().unwrap();
    let evidence = withdrawn.evidence.unwrap_or_default();
    assert!(
        evidence.starts_with("provider:recipient-gone") && evidence.contains("blocked"),
        "{evidence}"
    );

    // A voice message: refused politely, naming what is taken.
    post(&update(
        fresh(),
        ERIKA,
        json!({"voice": {"file_id": "v1", "file_unique_id": "v", "duration": 3}}),
    ));
    let got = wait_for(ERIKA, 5);
    assert!(got[4].contains("nur Text und Fotos"), "{}", got[4]);

    // A photo with a caption opens a case; the same update posted again
    // is stored once and answered once.
    let photo = update(
        fresh(),
        ERIKA,
        json!({
            "caption": "Schlagloch vor Hausnummer 17",
            "photo": [
                {"file_id": "photo-1-small", "file_unique_id": "s", "width": 90, "height": 60, "file_size": 800},
                {"file_id": "photo-1", "file_unique_id": "l", "width": 1280, "height": 853, "file_size": 1304}
            ]
        }),
    );
    assert_eq!(post(&photo)["stored"], 1);
    assert_eq!(post(&photo)["duplicates"], 1);
    let got = wait_for(ERIKA, 6);
    assert!(
        got[5].contains("Vorgang"),
        "{} {:?}",
        got[5],
        app.db().inbound_states().unwrap()
    );
    assert!(
        got[5].contains("110") && got[5].contains("112"),
        "{}",
        got[5]
    );
    say(ERIKA, "Es ist schon das dritte Mal.");
    let inbox = common::poll_until(WAIT, || {
        let list = s.cli(&["inbox", "list"]);
        if list.contains("no open conversations") {
            Err(list)
        } else {
            Ok(list)
        }
    });
    assert!(!inbox.contains(&ERIKA.to_string()), "{inbox}");
    let case = inbox.split_whitespace().next().unwrap().to_owned();
    let shown = common::poll_until(WAIT, || {
        let shown = s.cli(&["inbox", "show", &case]);
        if shown.contains("dritte Mal") {
            Ok(shown)
        } else {
            Err(shown)
        }
    });
    assert!(shown.contains("Schlagloch"), "{shown}");
    assert!(shown.contains("image/jpeg"), "{shown}");
    // Staff answer from the command line; it reaches the chat, escaped.
    s.cli(&[
        "inbox",
        "reply",
        &case,
        "--text",
        "Danke, der Bauhof <kommt> morgen.",
    ]);
    let got = wait_for(ERIKA, 7);
    assert!(
        got[6].contains("Danke, der Bauhof &lt;kommt&gt; morgen."),
        "{}",
        got[6]
    );
    // Only one automatic answer for the case: six replies and the
    // announcement so far, nothing twice.
    assert_eq!(
        got.iter().filter(|t| t.contains("Vorgang")).count(),
        1,
        "{got:?}"
    );

    // Stop: confirmed; the next announcement does not reach her.
    say(ERIKA, "Stop");
    let got = wait_for(ERIKA, 8);
    assert!(got[7].contains("abgemeldet"), "{}", got[7]);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Sperrmüll",
        "--body",
        "Anmeldung bis Montag.",
    ]);
    wait_for(CHANNEL, 2);
    wait_for(SUPERGROUP, 2);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(bot.sent_to(ERIKA).len(), 8);

    // Löschen: answered, then every trace of her goes.
    say(ERIKA, "Löschen");
    let got = wait_for(ERIKA, 9);
    assert!(got[8].contains("gelöscht"), "{}", got[8]);
    common::poll_until(WAIT, || {
        match app
            .db()
            .find_subscriber_by_address(ChannelKind::Telegram, &ERIKA.to_string())
            .unwrap()
        {
            None => Ok(()),
            Some(s) => Err(format!("still there: {:?}", s.status)),
        }
    });
    drop(app);
    // Bert's chat id, not erased, is there only encrypted too, but the
    // category names are in clear.
    common::assert_nowhere_in_database(s.dir.path(), database_url, &[&ERIKA.to_string()], "Abfall");
    // Within every limit: Telegram never had to say 429.
    assert_eq!(bot.throttled(), 0);
    // Neither chat id nor anything written is in the log, at debug level.
    s.assert_log_private(&[
        &ERIKA.to_string(),
        &BERT.to_string(),
        "Schlagloch vor Hausnummer",
        "dritte Mal",
        "Bauhof",
        "Abholung am",
        TOKEN,
        SECRET,
    ]);
}

#[test]
fn residents_on_telegram_on_sqlite() {
    residents_on_telegram(None);
}

#[test]
fn residents_on_telegram_on_postgres() {
    let pg = common::PgDatabase::create();
    residents_on_telegram(Some(&pg.url));
}
