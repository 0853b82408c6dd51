//! Telegram by long polling, on SQLite and PostgreSQL, against the fake Bot
//! API (`tests/common/fake_telegram.rs`):
//!
//! * storage: the cursor lease (one holder, expiry, release) and events
//!   stored with their cursor only by the holder, once per message;
//! * the polling loop with the real adapter: `deleteWebhook` first, the
//!   offset stored and confirmed, one poller among several processes, a
//!   refused token held without storing anything;
//! * end to end through `herold serve`: a queued `/start` reaches the
//!   welcome, the webhook is closed, setup needs nothing, restarts (clean
//!   and crashed) process nothing twice, a second `serve` stands by.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{Duration as TimeDelta, Utc};
use common::{fake_telegram::FakeTelegram, server::Server, Backend, TestDb};
use herold::{app::App, config::Config};
use herold_channel_api::{Address, ChannelKind, InboundEvent};
use herold_channel_telegram::TelegramConfig;
use std::time::Duration;

const TOKEN: &str = "123456789:AApoll-token";
const TG: ChannelKind = ChannelKind::Telegram;

fn event(chat: i64, message: i64, text: &str) -> InboundEvent {
    InboundEvent::from_text(
        Address::new(chat.to_string()),
        text,
        Some(format!("{chat}:{message}")),
        Utc::now(),
    )
}

fn cursor_lease_and_polled_events(t: &TestDb) {
    let db = t.app.db();
    let now = Utc::now();
    let later = now + TimeDelta::seconds(30);
    assert_eq!(
        db.take_cursor_lease(TG, "a", later, now).unwrap(),
        Some(None)
    );
    // Held: b stands by, a renews.
    assert_eq!(db.take_cursor_lease(TG, "b", later, now).unwrap(), None);
    assert_eq!(
        db.take_cursor_lease(TG, "a", later, now).unwrap(),
        Some(None)
    );
    // Only the holder stores, and the cursor moves with the events.
    let events = vec![event(42, 1, "/start"), event(42, 2, "Hallo")];
    let stored = db
        .store_polled(TG, &events, "a", Some("101"), now)
        .unwrap()
        .unwrap();
    assert_eq!((stored.new, stored.duplicates), (2, 0));
    assert_eq!(
        db.store_polled(TG, &events, "b", Some("999"), now).unwrap(),
        None
    );
    let cursor = db.inbound_cursor(TG).unwrap().unwrap();
    assert_eq!(cursor.cursor.as_deref(), Some("101"));
    assert_eq!(cursor.lease_owner.as_deref(), Some("a"));
    // The same messages polled again (a crash before the offset reached
    // Telegram) are duplicates; no cursor keeps the stored one.
    let again = db
        .store_polled(TG, &events, "a", None, now)
        .unwrap()
        .unwrap();
    assert_eq!((again.new, again.duplicates), (0, 2));
    assert_eq!(db.inbound_states().unwrap().len(), 2);
    assert_eq!(
        db.inbound_cursor(TG).unwrap().unwrap().cursor.as_deref(),
        Some("101")
    );
    // An expired lease passes to b, who gets the cursor; a is refused.
    let expired = later + TimeDelta::seconds(1);
    assert_eq!(
        db.take_cursor_lease(TG, "b", expired + TimeDelta::seconds(30), expired)
            .unwrap(),
        Some(Some("101".into()))
    );
    assert_eq!(
        db.take_cursor_lease(TG, "a", expired, expired).unwrap(),
        None
    );
    assert_eq!(
        db.store_polled(TG, &[event(42, 3, "x")], "a", Some("102"), now)
            .unwrap(),
        None
    );
    // Released on shutdown: a takes over at once.
    db.release_cursor_lease(TG, "b").unwrap();
    assert_eq!(
        db.take_cursor_lease(TG, "a", expired + TimeDelta::seconds(30), expired)
            .unwrap(),
        Some(Some("101".into()))
    );
    // Channels are independent.
    assert_eq!(
        db.take_cursor_lease(ChannelKind::Matrix, "b", later, now)
            .unwrap(),
        Some(None)
    );
}

both!(cursor_lease, cursor_lease_and_polled_events);

fn polling_config(c: &mut Config, api_url: &str, token: &str) {
    c.delivery.channels = vec![TG];
    c.telegram = Some(TelegramConfig {
        api_url: api_url.to_owned(),
        poll_timeout_seconds: 1,
        ..TelegramConfig::new(token)
    });
}

/// Runs the polling loops of `apps` until `done` holds (or 30 s pass).
fn run_pollers(apps: &[App], mut done: impl FnMut() -> bool) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let _inside = rt.enter();
    let tasks: Vec<_> = apps
        .iter()
        .flat_map(|a| herold::inbound::poll::spawn(a.pollers(), &stopped))
        .collect();
    common::wait_until("the pollers", Duration::from_secs(30), &mut done);
    stop.send(true).unwrap();
    for t in tasks {
        rt.block_on(t).unwrap();
    }
}

fn polling_loop_stores_confirms_and_polls_alone(backend: Backend) {
    let fake = FakeTelegram::start(TOKEN);
    fake.set_webhook("https://old.example/webhooks/telegram");
    let t = TestDb::with_config(backend, |c| polling_config(c, fake.url(), TOKEN));
    // Two processes on one database: one polls, the other stands by.
    let apps = [
        App::build(t.app.config().clone()).unwrap(),
        App::build(t.app.config().clone()).unwrap(),
    ];
    assert!(apps[0].registry().webhook(TG).is_none());
    let first = fake.push_text(4711, "/start");
    fake.push_update(
        serde_json::json!({"edited_message": {"message_id": 1, "date": 0, "chat": {"id": 4711}}}),
    );
    let last = fake.push_text(4712, "Hallo Rathaus");
    let db = t.app.db();
    run_pollers(&apps, || {
        db.inbound_states().unwrap().len() == 2 && fake.pending_updates() == 0
    });
    assert_eq!(fake.webhook(), None, "deleteWebhook first");
    assert_eq!(fake.calls("deleteWebhook"), 1, "only the holder prepares");
    assert_eq!(fake.max_concurrent_polls(), 1);
    assert_eq!(fake.poll_conflicts(), 0);
    let keys: Vec<String> = db
        .inbound_states()
        .unwrap()
        .into_iter()
        .map(|s| s.dedupe_key)
        .collect();
    // Stored as keyed hashes of the provider ids `chat:message`.
    let key = |id: &str| {
        let event = herold_channel_api::InboundEvent::from_text(
            herold_channel_api::Address::new("0"),
            "",
            Some(id.into()),
            chrono::Utc::now(),
        );
        db.inbound_key(TG, &event)
    };
    assert_eq!(keys, vec![key("4711:1"), key("4712:2")]);
    let cursor = db.inbound_cursor(TG).unwrap().unwrap();
    assert_eq!(cursor.cursor, Some((last + 1).to_string()));
    assert!(last > first);
    assert_eq!(cursor.lease_owner, None, "released on shutdown");
}

#[test]
fn polling_loop_on_sqlite() {
    polling_loop_stores_confirms_and_polls_alone(Backend::Sqlite);
}

#[test]
fn polling_loop_on_postgres() {
    polling_loop_stores_confirms_and_polls_alone(Backend::Postgres);
}

/// A refused token: logged and held; nothing stored, nothing lost.
#[test]
fn a_refused_token_is_held() {
    let fake = FakeTelegram::start(TOKEN);
    let t = TestDb::with_config(Backend::Sqlite, |c| {
        polling_config(c, fake.url(), "123456789:AArevoked")
    });
    let app = App::build(t.app.config().clone()).unwrap();
    fake.push_text(4711, "/start");
    let calls = || fake.calls("deleteWebhook") + fake.calls("getUpdates");
    run_pollers(std::slice::from_ref(&app), || calls() >= 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(calls(), 1, "held after the 401, not hammering the API");
    assert!(t.app.db().inbound_states().unwrap().is_empty());
    assert_eq!(fake.pending_updates(), 1);
}

fn serve_polls_telegram(database_url: Option<&str>) {
    let fake = FakeTelegram::start(TOKEN);
    // Left over from an earlier webhook setup: polling removes it.
    fake.set_webhook("https://old.example/webhooks/telegram");
    let env = [
        ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
        ("HEROLD_TELEGRAM__API_URL", fake.url()),
        ("HEROLD_TELEGRAM__TOKEN", TOKEN),
        ("HEROLD_TELEGRAM__POLL_TIMEOUT_SECONDS", "1"),
        ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
        ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
    ];
    let mut s = Server::start_with(database_url, &env);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    let answered = |chat: i64, n: usize| {
        common::poll_until(Duration::from_secs(30), || {
            let got = fake.sent_to(chat);
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("{} of {n} answers reached chat {chat}", got.len()))
            }
        })
    };

    let start = fake.push_text(4711, "/start");
    let got = answered(4711, 1);
    let welcome = got[0].text.as_deref().unwrap();
    assert!(welcome.contains("Willkommen"), "{welcome}");
    assert_eq!(got[0].parse_mode.as_deref(), Some("HTML"));
    assert_eq!(fake.webhook(), None);

    // The webhook accepts nothing while Herold polls.
    let resp = reqwest::blocking::Client::new()
        .post(s.url("/webhooks/telegram"))
        .header("content-type", "application/json")
        .body(r#"{"update_id":1,"message":{"message_id":9,"date":0,"chat":{"id":4713},"text":"/start"}}"#)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    assert!(resp.text().unwrap().contains("long polling"));
    let setup = s.cli(&["channels", "setup", "telegram"]);
    assert!(setup.contains("no setup needed"), "{setup}");

    // The offset after /start is stored, and the next poll confirmed it.
    common::wait_until("the update confirmed", Duration::from_secs(10), || {
        fake.pending_updates() == 0
    });
    let app = s.open_database(database_url);
    let cursor = app.db().inbound_cursor(TG).unwrap().unwrap();
    assert_eq!(cursor.cursor, Some((start + 1).to_string()));

    // A clean restart hands the lease over at once; nothing runs twice.
    s.restart_gracefully();
    fake.push_text(4711, "Hilfe");
    answered(4711, 2);
    // A crash keeps the lease until it expires (2 × 1 s + 5 s); then the
    // new process polls on from the stored offset.
    s.crash_and_restart(&[]);
    let categories = fake.push_text(4711, "Kategorien");
    answered(4711, 3);

    // A second process on the same database stands by.
    let key = match database_url {
        Some(_) => s.dir.path().join("pg.key"),
        None => s.dir.path().join("herold.key"),
    };
    let db_url = database_url.map_or_else(
        || s.dir.path().join("herold.db").display().to_string(),
        str::to_owned,
    );
    let key = key.display().to_string();
    let mut env2 = env.to_vec();
    env2.push(("HEROLD_DATABASE_URL", &db_url));
    env2.push(("HEROLD_SECRET_KEY_FILE", &key));
    let standby = Server::start_with(None, &env2);
    std::thread::sleep(Duration::from_secs(2));
    fake.reset_poll_stats();
    for chat in [5001, 5002, 5003] {
        fake.push_text(chat, "Start");
    }
    for chat in [5001, 5002, 5003] {
        answered(chat, 1);
    }
    std::thread::sleep(Duration::from_secs(3));
    drop(standby);

    // Everything exactly once.
    assert_eq!(fake.sent_to(4711).len(), 3);
    for chat in [5001, 5002, 5003] {
        assert_eq!(fake.sent_to(chat).len(), 1, "chat {chat}");
    }
    let states = app.db().inbound_states().unwrap();
    assert_eq!(states.len(), 6, "{states:?}");
    assert!(states.iter().all(|s| s.state == "done"), "{states:?}");
    assert_eq!(fake.poll_conflicts(), 0, "no 409 while two processes ran");
    assert_eq!(fake.max_concurrent_polls(), 1, "one poller at a time");
    common::wait_until("the last update confirmed", Duration::from_secs(10), || {
        fake.pending_updates() == 0
    });
    let cursor = app.db().inbound_cursor(TG).unwrap().unwrap();
    assert!(
        cursor.cursor.unwrap().parse::<i64>().unwrap() > categories,
        "the offset moved on"
    );
}

#[test]
fn serve_polls_telegram_on_sqlite() {
    serve_polls_telegram(None);
}

#[test]
fn serve_polls_telegram_on_postgres() {
    let pg = common::PgDatabase::create();
    serve_polls_telegram(Some(&pg.url));
}
