//! Inbound events: stored once per provider id, encrypted, claimed under a
//! lease and processed once — on SQLite and PostgreSQL, in storage and end
//! to end through `herold serve` with the fake provider's signed webhook.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{Duration, Utc};
use common::{server::Server, TestDb};
use herold::storage::InboundFinish;
use herold_channel_api::{Address, ChannelKind, DeliveryStatus, InboundEvent};
use reqwest::{blocking::Client, header};

fn status(id: &str, s: DeliveryStatus) -> InboundEvent {
    InboundEvent::Status {
        provider_message_id: id.into(),
        status: s,
        at: "2026-11-29T08:00:00Z".parse().unwrap(),
        error: None,
        failure: None,
    }
}

fn message(id: &str, text: &str) -> InboundEvent {
    InboundEvent::from_text(
        Address::new("+4915199990000"),
        text,
        Some(id.into()),
        "2026-11-29T08:00:00Z".parse().unwrap(),
    )
}

both!(duplicates_are_stored_once, |t: &TestDb| {
    let db = t.app.db();
    let now = Utc::now();
    let events = [
        status("m1", DeliveryStatus::Delivered),
        status("m1", DeliveryStatus::Read),
        // The same report twice in one request.
        status("m1", DeliveryStatus::Read),
        message("in-1", "Hallo Rathaus"),
    ];
    let first = db.store_inbound(ChannelKind::Email, &events, now).unwrap();
    assert_eq!((first.new, first.duplicates), (3, 1));
    let again = db.store_inbound(ChannelKind::Email, &events, now).unwrap();
    assert_eq!((again.new, again.duplicates), (0, 4));
    // Keys are per channel.
    let other = db
        .store_inbound(ChannelKind::Telegram, &events[..1], now)
        .unwrap();
    assert_eq!((other.new, other.duplicates), (1, 0));
    let states = db.inbound_states().unwrap();
    let keys: Vec<&str> = states.iter().map(|s| s.dedupe_key.as_str()).collect();
    // Stored as keyed hashes, never the provider's ids in clear.
    let key = |c, e: &InboundEvent| db.inbound_key(c, e);
    assert_eq!(
        keys,
        [
            key(ChannelKind::Email, &events[0]),
            key(ChannelKind::Email, &events[1]),
            key(ChannelKind::Email, &events[3]),
            key(ChannelKind::Telegram, &events[0]),
        ]
    );
    assert!(!keys.iter().any(|k| k.contains("m1") || k.contains("in-1")));
    assert!(states
        .iter()
        .all(|s| s.state == "pending" && s.attempts == 0));
});

both!(claim_lease_finish, |t: &TestDb| {
    let db = t.app.db();
    let now = Utc::now();
    let events: Vec<InboundEvent> = (0..5)
        .map(|i| status(&format!("m{i}"), DeliveryStatus::Delivered))
        .collect();
    db.store_inbound(ChannelKind::Email, &events, now).unwrap();
    let lease = now + Duration::seconds(60);
    let a = db.claim_inbound("a", 3, lease, now).unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(a[0].event, events[0], "decrypted, oldest first");
    assert_eq!(a[0].channel, ChannelKind::Email);
    assert!(a.iter().all(|c| c.attempts == 1));
    // Leased rows are not claimed again; the rest are.
    let b = db.claim_inbound("b", 10, lease, now).unwrap();
    assert_eq!(b.len(), 2);
    assert!(db.claim_inbound("c", 10, lease, now).unwrap().is_empty());

    db.finish_inbound(a[0].id, InboundFinish::Done { outcome: "applied" }, now)
        .unwrap();
    db.finish_inbound(
        a[1].id,
        InboundFinish::Retry {
            error: "database busy",
            at: now + Duration::seconds(5),
        },
        now,
    )
    .unwrap();
    db.finish_inbound(a[2].id, InboundFinish::Failed { error: "gave up" }, now)
        .unwrap();
    let states = db.inbound_states().unwrap();
    assert_eq!(states[0].state, "done");
    assert_eq!(states[0].outcome.as_deref(), Some("applied"));
    assert_eq!(states[1].state, "pending");
    assert_eq!(states[1].error.as_deref(), Some("database busy"));
    assert_eq!(states[2].state, "failed");

    // A retry waits for its time; then it is claimed with one more attempt.
    assert!(db.claim_inbound("c", 10, lease, now).unwrap().is_empty());
    let later = now + Duration::seconds(6);
    let retry = db
        .claim_inbound("c", 10, later + Duration::seconds(60), later)
        .unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!((retry[0].id, retry[0].attempts), (a[1].id, 2));

    // Done and failed rows are never claimed again, however late.
    let much_later = now + Duration::hours(1);
    let expired = db
        .claim_inbound("d", 10, much_later + Duration::seconds(60), much_later)
        .unwrap();
    // Only the expired leases: b's two rows and c's retry.
    let mut ids: Vec<i64> = expired.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    let mut want: Vec<i64> = b.iter().map(|c| c.id).chain([a[1].id]).collect();
    want.sort_unstable();
    assert_eq!(ids, want);
});

both!(expired_lease_is_claimed_again, |t: &TestDb| {
    let db = t.app.db();
    let now = Utc::now();
    db.store_inbound(ChannelKind::Email, &[message("in-9", "STOP")], now)
        .unwrap();
    // A processor claims and dies without finishing.
    let dead = db
        .claim_inbound("dead", 10, now + Duration::seconds(30), now)
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(db
        .claim_inbound(
            "alive",
            10,
            now + Duration::seconds(90),
            now + Duration::seconds(29)
        )
        .unwrap()
        .is_empty());
    let after = now + Duration::seconds(31);
    let again = db
        .claim_inbound("alive", 10, after + Duration::seconds(60), after)
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].event, dead[0].event);
    assert_eq!(again[0].attempts, 2);
});

both!(unreadable_payload_is_failed_not_blocking, |t: &TestDb| {
    use diesel::RunQueryDsl;
    let db = t.app.db();
    let now = Utc::now();
    db.store_inbound(
        ChannelKind::Email,
        &[
            status("m1", DeliveryStatus::Read),
            status("m2", DeliveryStatus::Read),
        ],
        now,
    )
    .unwrap();
    let first = db.inbound_states().unwrap()[0].id;
    let sql = format!("UPDATE inbound_events SET payload = payload || payload WHERE id = {first}");
    match db.pool() {
        herold::storage::Pool::Sqlite(p) => {
            diesel::sql_query(sql)
                .execute(&mut *p.get().unwrap())
                .unwrap();
        }
        herold::storage::Pool::Postgres(p) => {
            diesel::sql_query(sql)
                .execute(&mut *p.get().unwrap())
                .unwrap();
        }
    }
    let claimed = db
        .claim_inbound("a", 10, now + Duration::seconds(60), now)
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let states = db.inbound_states().unwrap();
    assert_eq!(states[0].state, "failed");
    assert!(states[0].error.as_deref().unwrap().contains("decrypt"));
});

/// Addresses and message text never reach the SQLite file in clear.
#[test]
fn payload_is_encrypted_at_rest() {
    let t = TestDb::sqlite();
    let secret_text = "Schlagloch vor Hausnummer 17";
    let events = [InboundEvent::from_text(
        Address::new("+4915123456789"),
        secret_text,
        None,
        Utc::now(),
    )];
    t.app
        .db()
        .store_inbound(ChannelKind::Email, &events, Utc::now())
        .unwrap();
    let claimed = t
        .app
        .db()
        .claim_inbound("a", 1, Utc::now() + Duration::seconds(60), Utc::now())
        .unwrap();
    assert_eq!(claimed[0].event, events[0]);
    let key = t.app.db().inbound_key(ChannelKind::Email, &events[0]);
    drop(t.app);
    let mut bytes = std::fs::read(t.dir.path().join("herold.db")).unwrap();
    if let Ok(wal) = std::fs::read(t.dir.path().join("herold.db-wal")) {
        bytes.extend(wal);
    }
    let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has(&key), "the dedupe key is in the file");
    assert!(!has("Schlagloch"));
    assert!(!has("4915123456789"));
}

/// The webhook stores and answers; the processor in `herold serve` applies
/// each receipt once, however often it is posted; receipts stored while no
/// processor runs are applied after a restart.
fn webhook_then_processor(database_url: Option<&str>) {
    let provider = herold_channel_fake::FakeServer::start(None, true).unwrap();
    let env = || {
        vec![
            ("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#),
            ("HEROLD_FAKE_PROVIDER", provider.url()),
            ("HEROLD_FAKE_PROVIDER_SECRET", "geheim"),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
        ]
    };
    let s = Server::start_with(database_url, &env());
    let addresses: Vec<String> = (0..4).map(|i| format!("r{i}@example.org")).collect();
    let app = s.email_subscribers(database_url, "abfall", &addresses);
    let announcement = app
        .publish(&common::publish_request("abfall", "Biotonne", "Samstag."))
        .unwrap()
        .id;
    common::poll_until(std::time::Duration::from_secs(30), || {
        match provider.received().len() {
            n if n >= 4 => Ok(()),
            n => Err(format!("the fake provider got {n} of 4")),
        }
    });
    let ids: Vec<String> = provider.received().into_iter().map(|r| r.id).collect();
    let http = Client::new();
    let post = |s: &Server, body: &str| {
        http.post(s.url("/webhooks/email"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                "X-Fake-Signature",
                herold_channel_fake::FakeWebhook::sign(b"geheim", body.as_bytes()),
            )
            .body(body.to_owned())
            .send()
            .unwrap()
    };
    let body = |id: &str, st: &str| {
        format!(
            r#"{{"statuses":[{{"id":"{id}","status":"{st}","timestamp":"2026-11-29T08:00:00Z"}}]}}"#
        )
    };
    let state = |app: &herold::service::Herold, id: &str| {
        app.db()
            .delivery_by_provider_id(ChannelKind::Email, id)
            .unwrap()
            .unwrap()
            .state
    };
    use herold::domain::DeliveryState as D;

    // The same signed webhook twice: stored once, applied once.
    let read = body(&ids[0], "read");
    let r: serde_json::Value = post(&s, &read).json().unwrap();
    assert_eq!(
        (r["stored"].as_u64(), r["duplicates"].as_u64()),
        (Some(1), Some(0)),
        "{r}"
    );
    let r: serde_json::Value = post(&s, &read).json().unwrap();
    assert_eq!(
        (r["stored"].as_u64(), r["duplicates"].as_u64()),
        (Some(0), Some(1)),
        "{r}"
    );
    common::wait_until(
        "the read receipt applied",
        std::time::Duration::from_secs(30),
        || state(&app, &ids[0]) == D::Read,
    );
    // Delivered after read (out of order) changes nothing; it is processed.
    post(&s, &body(&ids[0], "delivered"));
    common::wait_until(
        "both receipts processed",
        std::time::Duration::from_secs(30),
        || {
            let st = app.db().inbound_states().unwrap();
            st.len() == 2 && st.iter().all(|e| e.state == "done")
        },
    );
    let st = app.db().inbound_states().unwrap();
    assert_eq!(st[0].outcome.as_deref(), Some("applied"));
    assert_eq!(st[1].outcome.as_deref(), Some("ignored"));
    assert_eq!(st.iter().map(|e| e.attempts).max(), Some(1));
    assert_eq!(state(&app, &ids[0]), D::Read);

    // No processor runs: the webhook still stores and answers at once.
    let mut s = s;
    s.crash_and_restart(&[("HEROLD_INBOUND__PROCESS_IN_SERVE", "false")]);
    let r: serde_json::Value = post(&s, &body(&ids[1], "delivered")).json().unwrap();
    assert_eq!(r["stored"], 1, "{r}");
    let r: serde_json::Value = post(&s, &body(&ids[2], "failed")).json().unwrap();
    assert_eq!(r["stored"], 1, "{r}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(state(&app, &ids[1]), D::Sent);
    // The process dies before anything processed them ("a crash between
    // receipt and processing"); the next one applies them.
    s.crash_and_restart(&[("HEROLD_INBOUND__PROCESS_IN_SERVE", "true")]);
    common::wait_until(
        "the stored receipts applied after the restart",
        std::time::Duration::from_secs(30),
        || state(&app, &ids[1]) == D::Delivered && state(&app, &ids[2]) == D::Failed,
    );
    assert_eq!(state(&app, &ids[3]), D::Sent);
    let counts = app.db().broadcast_counts(announcement).unwrap()[0]
        .counts
        .clone();
    assert_eq!(counts.get(&D::Read), Some(&1), "{counts:?}");
}

#[test]
fn webhook_then_processor_on_sqlite() {
    webhook_then_processor(None);
}

#[test]
fn webhook_then_processor_on_postgres() {
    let pg = common::PgDatabase::create();
    webhook_then_processor(Some(&pg.url));
}

both!(a_residents_events_are_claimed_in_order, |t: &TestDb| {
    let db = t.app.db();
    let now = Utc::now();
    let from = |chat: &str, id: &str, text: &str| {
        InboundEvent::from_text(Address::new(chat), text, Some(id.into()), now)
    };
    db.store_inbound(
        ChannelKind::Telegram,
        &[
            from("4711", "1", "Start"),
            from("4711", "2", "Stop"),
            from("4712", "3", "Start"),
        ],
        now,
    )
    .unwrap();
    let lease = now + Duration::seconds(60);
    // One processor takes only the first event.
    let a = db.claim_inbound("a", 1, lease, now).unwrap();
    assert_eq!(a.len(), 1);
    // Another one skips the same resident's later Stop while that lease
    // holds, and takes the other resident's event.
    let b = db.claim_inbound("b", 10, lease, now).unwrap();
    assert_eq!(b.iter().map(|e| e.id).collect::<Vec<_>>(), [a[0].id + 2]);
    // Start failed and waits for a retry: Stop still waits.
    db.finish_inbound(
        a[0].id,
        InboundFinish::Retry {
            error: "x",
            at: now + Duration::seconds(5),
        },
        now,
    )
    .unwrap();
    assert!(db.claim_inbound("b", 10, lease, now).unwrap().is_empty());
    // When it is due, both come in one batch, in order.
    let later = now + Duration::seconds(6);
    let c = db
        .claim_inbound("c", 10, later + Duration::seconds(60), later)
        .unwrap();
    assert_eq!(
        c.iter().map(|e| e.id).collect::<Vec<_>>(),
        [a[0].id, a[0].id + 1]
    );
});
