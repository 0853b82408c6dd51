//! Data rights (issue "Data rights and the data-protection officer"):
//! retention by kind with the clock advanced, erasure that leaves no trace
//! in the SQLite file or a PostgreSQL dump, the append-only consent ledger,
//! staff erasure and the record of processing activities from the command
//! line. The residents' own download is tested end to end in
//! tests/residents_web.rs.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{Duration, Utc};
use common::TestDb;
use diesel::prelude::*;
use herold::{
    domain::{
        ConsentKind, DeliveryState, ErasureRecord, Limits, NewAnnouncement, NewAuditEvent,
        NewDelivery, Slug, SubscriberStatus,
    },
    service::RetentionCounts,
    storage::{
        schema::{conversation_photos, inbound_events, messages, subscriber_tokens, subscribers},
        Database, InboundFinish, MailPolicy, NewSubscriber, Pool, TransitionDetails,
    },
};
use herold_channel_api::{Address, ChannelKind, InboundContent, InboundEvent};

/// Runs a diesel query on whichever backend.
macro_rules! on_db {
    ($db:expr, |$c:ident| $body:expr) => {
        match $db.pool() {
            Pool::Sqlite(p) => {
                let $c = &mut *p.get().unwrap();
                $body
            }
            Pool::Postgres(p) => {
                let $c = &mut *p.get().unwrap();
                $body
            }
        }
    };
}

/// Runs raw SQL on whichever backend (to prove database-level rules).
fn raw(db: &Database, sql: &str) -> Result<usize, diesel::result::Error> {
    on_db!(db, |c| diesel::sql_query(sql).execute(c))
}

fn category(db: &Database, slug: &str) -> i64 {
    db.add_category(
        &Slug::parse(slug).unwrap(),
        &format!("Thema {slug}"),
        &common::test_audit,
    )
    .unwrap()
    .id
}

fn subscriber(
    db: &Database,
    channel: ChannelKind,
    address: &str,
    status: SubscriberStatus,
    cats: Vec<i64>,
) -> herold::domain::Subscriber {
    db.insert_subscriber(&NewSubscriber {
        channel,
        address: address.into(),
        locale: "de".into(),
        status,
        category_ids: cats,
        wording_version: "v1".into(),
        evidence: Some(format!("message:{address}-start")),
    })
    .unwrap()
}

/// A delivery of a new announcement to `subscriber`, moved to `end`.
fn delivery(
    db: &Database,
    cat: i64,
    subscriber: i64,
    end: DeliveryState,
    details: TransitionDetails,
) {
    let new = NewAnnouncement::new(
        cat,
        "Biotonne",
        "Samstag.",
        false,
        None,
        None,
        "test",
        &Limits::default(),
        Utc::now(),
    )
    .unwrap();
    let a = db
        .insert_announcement(&new, &[], &common::test_audit)
        .unwrap();
    let d = db
        .enqueue_deliveries(&[NewDelivery {
            announcement_id: a.id,
            channel: ChannelKind::Telegram,
            subscriber_id: Some(subscriber),
            target: None,
        }])
        .unwrap()
        .remove(0);
    let none = TransitionDetails::default();
    db.transition_delivery(d.id, DeliveryState::Sending, &none)
        .unwrap();
    db.transition_delivery(d.id, end, &details).unwrap();
}

/// A resident's message as the webhook stores it, processed.
fn inbound(db: &Database, from: &str, text: &str, id: &str) {
    db.store_inbound(
        ChannelKind::Telegram,
        &[InboundEvent::Message {
            from: Address::new(from.to_owned()),
            content: InboundContent::Text(text.into()),
            provider_message_id: Some(id.into()),
            received_at: Utc::now(),
        }],
        Utc::now(),
    )
    .unwrap();
    for e in db
        .claim_inbound("test", 10, Utc::now() + Duration::minutes(1), Utc::now())
        .unwrap()
    {
        db.finish_inbound(e.id, InboundFinish::Done { outcome: "test" }, Utc::now())
            .unwrap();
    }
}

fn counts(f: impl FnOnce(&mut RetentionCounts)) -> RetentionCounts {
    let mut c = RetentionCounts::default();
    f(&mut c);
    c
}

both!(
    retention_deletes_each_kind_on_its_day_and_not_before,
    |t: &TestDb| {
        let app = &t.app;
        let db = app.db();
        let t0 = Utc::now();
        let cat = category(db, "abfall");
        // An e-mail sign-up never confirmed: its link expires after 48 hours.
        let pending = subscriber(
            db,
            ChannelKind::Email,
            "neu@example.org",
            SubscriberStatus::Pending,
            vec![cat],
        );
        db.issue_confirm_token(
            pending.id,
            MailPolicy {
                now: t0,
                confirm_ttl: Duration::hours(48),
                resend_after: Duration::minutes(10),
                max_per_week: 3,
            },
        )
        .unwrap()
        .unwrap();
        // A resident with a delivery, a processed inbound event and a report
        // that staff closed.
        let anna = subscriber(
            db,
            ChannelKind::Telegram,
            "1001",
            SubscriberStatus::Active,
            vec![cat],
        );
        delivery(
            db,
            cat,
            anna.id,
            DeliveryState::Sent,
            TransitionDetails::default(),
        );
        inbound(db, "1001", "Laterne kaputt", "1001:1");
        let wrote = db
            .resident_wrote(anna.id, Some("Laterne kaputt"), None, "1001:1")
            .unwrap();
        db.close_conversation(wrote.conversation.id, &common::test_audit)
            .unwrap();
        db.record_audit(&NewAuditEvent::new(
            "test",
            "test.action",
            "",
            &serde_json::json!({}),
        ))
        .unwrap();
        // A resident who left with a report still open keeps the address until
        // it is closed; one without leaves it at once (left_address_days = 0).
        let bernd = subscriber(
            db,
            ChannelKind::Telegram,
            "1002",
            SubscriberStatus::Active,
            vec![cat],
        );
        let open = db
            .resident_wrote(bernd.id, Some("Noch offen"), None, "1002:1")
            .unwrap();
        let clara = subscriber(
            db,
            ChannelKind::Telegram,
            "1003",
            SubscriberStatus::Active,
            vec![cat],
        );
        for s in [&bernd, &clara] {
            db.unsubscribe(s.id, "v1", Some("message:stop")).unwrap();
        }
        assert_eq!(app.forget_left_addresses_now(Utc::now()).unwrap(), 1);
        assert_eq!(db.subscriber_address(clara.id).unwrap(), None);
        assert_eq!(
            db.subscriber_address(bernd.id).unwrap().as_deref(),
            Some("1002")
        );
        // The keyed hash stays: a Start again is recognised.
        assert!(db
            .find_subscriber_by_address(ChannelKind::Telegram, "1003")
            .unwrap()
            .is_some());
        db.close_conversation(open.conversation.id, &common::test_audit)
            .unwrap();
        assert_eq!(app.forget_left_addresses_now(Utc::now()).unwrap(), 1);
        assert_eq!(db.subscriber_address(bernd.id).unwrap(), None);

        let hour = Duration::hours(1);
        let day = Duration::days(1);
        let run = |at| app.run_retention(at).unwrap();
        assert_eq!(run(t0 + hour), RetentionCounts::default());
        // Unconfirmed: 7 days after the link expired.
        assert_eq!(run(t0 + day * 9 - hour), RetentionCounts::default());
        assert_eq!(
            run(t0 + day * 9 + hour),
            counts(|c| c.unconfirmed_signups = 1)
        );
        assert!(db.get_subscriber(pending.id).is_err());
        assert!(db
            .consent_ledger(0, 100)
            .unwrap()
            .iter()
            .any(|e| e.kind == ConsentKind::Given
                && e.subscriber_id.is_none()
                && e.evidence.is_none()));
        // Inbound events: 14 days.
        assert_eq!(run(t0 + day * 14 - hour), RetentionCounts::default());
        assert_eq!(run(t0 + day * 14 + hour), counts(|c| c.inbound_events = 1));
        // Closed conversations: 30 days (the second one was closed later).
        assert_eq!(run(t0 + day * 30 - hour), RetentionCounts::default());
        assert_eq!(
            run(t0 + day * 30 + hour),
            counts(|c| c.closed_conversations = 2)
        );
        // Deliveries: 180 days.
        assert_eq!(run(t0 + day * 180 - hour), RetentionCounts::default());
        assert_eq!(run(t0 + day * 180 + hour), counts(|c| c.deliveries = 1));
        // The audit log: 730 days; every run so far is in it with its counts.
        let runs = db.search_audit(&herold::storage::AuditFilter {
            action: Some("retention.run".into()),
            actor: None,
            from: None,
            to: None,
            limit: 100,
        });
        let runs = runs.unwrap();
        assert_eq!(runs.len(), 9);
        assert!(
            runs[0].details.contains("\"deliveries\":1"),
            "{}",
            runs[0].details
        );
        // The audit log: 730 days. The database refuses to delete entries
        // younger than 30 days whatever the clock says, so this one is dated.
        for (action, age) in [("test.old", day * 731), ("test.kept", day * 729)] {
            let at = (Utc::now() - age).format("%Y-%m-%d %H:%M:%S");
            raw(
                db,
                &format!(
                    "INSERT INTO audit_events (actor, action, subject, details, occurred_at) \
                 VALUES ('test', '{action}', '', '{{}}', '{at}')"
                ),
            )
            .unwrap();
        }
        assert_eq!(run(Utc::now()), counts(|c| c.audit_events = 1));
        let left = db.list_audit(1000).unwrap();
        assert!(left.iter().any(|e| e.action == "test.kept"));
        assert!(!left.iter().any(|e| e.action == "test.old"));
        // Recent entries cannot be deleted, not even by hand.
        assert!(raw(db, "DELETE FROM audit_events WHERE action = 'test.action'").is_err());
        // Active subscribers are never touched.
        assert_eq!(
            db.subscriber_address(anna.id).unwrap().as_deref(),
            Some("1001")
        );
    }
);

both!(left_addresses_kept_for_the_configured_days, |t: &TestDb| {
    let t = TestDb::with_config(t.backend, |c| c.retention.left_address_days = 3);
    let app = &t.app;
    let db = app.db();
    let t0 = Utc::now();
    let s = subscriber(
        db,
        ChannelKind::WhatsApp,
        "+4915112340001",
        SubscriberStatus::Active,
        vec![],
    );
    db.unsubscribe(s.id, "v1", None).unwrap();
    assert_eq!(app.forget_left_addresses_now(t0).unwrap(), 0);
    assert_eq!(
        app.run_retention(t0 + Duration::days(3) - Duration::hours(1))
            .unwrap()
            .left_addresses,
        0
    );
    assert!(db.subscriber_address(s.id).unwrap().is_some());
    assert_eq!(
        app.run_retention(t0 + Duration::days(3) + Duration::hours(1))
            .unwrap()
            .left_addresses,
        1
    );
    assert!(db.subscriber_address(s.id).unwrap().is_none());
});

both!(the_daily_run_is_claimed_once, |t: &TestDb| {
    let app = &t.app;
    let now = Utc::now();
    // The first call schedules, the run is due at the next 03:30.
    assert!(!app.claim_retention_run(now).unwrap());
    assert!(!app.claim_retention_run(now).unwrap());
    let later = now + Duration::hours(25);
    assert!(app.claim_retention_run(later).unwrap());
    assert!(!app.claim_retention_run(later).unwrap());
    assert!(app.claim_retention_run(later + Duration::days(1)).unwrap());
});

/// Every blob in `rows` as raw bytes and as PostgreSQL's hex text.
fn needles(blobs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    blobs
        .iter()
        .filter(|b| !b.is_empty())
        .flat_map(|b| [b.clone(), hex::encode(b).into_bytes()])
        .collect()
}

fn erasure_leaves_no_trace(t: &TestDb) {
    let app = &t.app;
    let db = app.db();
    let cat = category(db, "abfall");
    let address = "4711999";
    let s = subscriber(
        db,
        ChannelKind::Telegram,
        address,
        SubscriberStatus::Active,
        vec![cat],
    );
    let jpeg = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/gps.jpg"),
    )
    .unwrap();
    let photo = herold::media::prepare_photo(jpeg, 1 << 20).unwrap();
    db.resident_wrote(
        s.id,
        Some("Schlagloch am Hang 9"),
        Some(&photo),
        "4711999:5",
    )
    .unwrap();
    inbound(db, address, "Schlagloch am Hang 9", "4711999:5");
    delivery(
        db,
        cat,
        s.id,
        DeliveryState::Sent,
        TransitionDetails {
            provider_message_id: Some("tg-4711999-77".into()),
            error: None,
        },
    );
    delivery(
        db,
        cat,
        s.id,
        DeliveryState::Failed,
        TransitionDetails {
            provider_message_id: None,
            error: Some("chat 4711999 blocked the bot".into()),
        },
    );
    db.manage_token(s.id).unwrap();
    db.issue_export_token(s.id, Utc::now(), Utc::now() + Duration::hours(1))
        .unwrap();
    // What is stored about them, byte for byte.
    let mut blobs: Vec<Vec<u8>> = Vec::new();
    on_db!(db, |c| {
        let (cipher, hmac): (Option<Vec<u8>>, Option<Vec<u8>>) = subscribers::table
            .find(s.id)
            .select((subscribers::address_ciphertext, subscribers::address_hmac))
            .first(c)
            .unwrap();
        blobs.extend(cipher);
        blobs.extend(hmac);
        let texts: Vec<Option<Vec<u8>>> = messages::table
            .select(messages::text_ciphertext)
            .load(c)
            .unwrap();
        blobs.extend(texts.into_iter().flatten());
        let photos: Vec<Vec<u8>> = conversation_photos::table
            .select(conversation_photos::ciphertext)
            .load(c)
            .unwrap();
        // Stretches of the photo's ciphertext (it spans several pages).
        for p in photos {
            for chunk in p.chunks(256).step_by(3) {
                blobs.push(chunk.to_vec());
            }
        }
        let events: Vec<(Vec<u8>, Option<Vec<u8>>)> = inbound_events::table
            .select((inbound_events::payload, inbound_events::sender))
            .load(c)
            .unwrap();
        for (payload, sender) in events {
            blobs.push(payload);
            blobs.extend(sender);
        }
        let tokens: Vec<(Vec<u8>, Option<Vec<u8>>)> = subscriber_tokens::table
            .select((
                subscriber_tokens::token_hash,
                subscriber_tokens::token_ciphertext,
            ))
            .load(c)
            .unwrap();
        assert_eq!(tokens.len(), 2);
        for (hash, cipher) in tokens {
            blobs.push(hash);
            blobs.extend(cipher);
        }
    });
    assert!(blobs.len() >= 9, "{} blobs", blobs.len());
    let mut secrets = needles(&blobs);
    for text in [
        address,
        "4711999:5",
        "tg-4711999-77",
        "blocked the bot",
        "message:4711999-start",
        s.pseudonym.as_str(),
    ] {
        secrets.push(text.as_bytes().to_vec());
    }

    app.erase(s.id).unwrap();

    let bytes = common::database_bytes(t.dir.path(), t.pg.as_ref().map(|p| p.url.as_str()));
    assert!(
        bytes.windows(12).any(|w| w == b"Thema abfall"),
        "the search does not work: a category name stored in clear is not found"
    );
    for (i, secret) in secrets.iter().enumerate() {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_slice()),
            "secret #{i} ({} bytes, {:?}…) is still in the database",
            secret.len(),
            String::from_utf8_lossy(&secret[..secret.len().min(24)])
        );
    }
    // The counts stay: both delivery rows, without the person.
    let ledger = db.consent_ledger(0, 100).unwrap();
    assert!(ledger.iter().any(|e| e.kind == ConsentKind::Erased));
    assert!(ledger
        .iter()
        .all(|e| e.pseudonym.is_none() && e.evidence.is_none()));
}

#[test]
fn erasure_leaves_no_trace_in_the_sqlite_file() {
    erasure_leaves_no_trace(&TestDb::sqlite());
}

#[test]
fn erasure_leaves_no_trace_in_a_postgres_dump() {
    erasure_leaves_no_trace(&TestDb::postgres());
}

both!(
    a_pseudonymous_erasure_record_keeps_the_pseudonym_only,
    |t: &TestDb| {
        let t = TestDb::with_config(t.backend, |c| {
            c.privacy.erasure_record = ErasureRecord::Pseudonymous
        });
        let db = t.app.db();
        let s = subscriber(
            db,
            ChannelKind::Matrix,
            "!dm:example.org",
            SubscriberStatus::Active,
            vec![],
        );
        db.unsubscribe(s.id, "v1", Some("message:$stop")).unwrap();
        t.app.erase(s.id).unwrap();
        let ledger = db.consent_ledger(0, 100).unwrap();
        assert!(ledger.len() >= 3, "{ledger:?}");
        for e in &ledger {
            assert_eq!(e.pseudonym.as_deref(), Some(s.pseudonym.as_str()), "{e:?}");
            assert!(e.subscriber_id.is_none() && e.evidence.is_none(), "{e:?}");
        }
        assert_eq!(ledger.last().unwrap().kind, ConsentKind::Erased);
        assert_eq!(db.subscriber_address(s.id).unwrap(), None);
    }
);

both!(
    the_ledger_refuses_every_change_but_the_anonymisation,
    |t: &TestDb| {
        let db = t.app.db();
        let s = subscriber(
            db,
            ChannelKind::Email,
            "l@example.org",
            SubscriberStatus::Active,
            vec![],
        );
        let other = subscriber(
            db,
            ChannelKind::Email,
            "m@example.org",
            SubscriberStatus::Active,
            vec![],
        );
        let e = db.consent_events_of(s.id).unwrap().remove(0);
        for forged in [
            format!(
                "UPDATE consent_events SET evidence = 'message:forged' WHERE id = {}",
                e.id
            ),
            format!(
                "UPDATE consent_events SET pseudonym = 'AAAA-AA' WHERE id = {}",
                e.id
            ),
            format!(
                "UPDATE consent_events SET subscriber_id = {} WHERE id = {}",
                other.id, e.id
            ),
            format!(
                "UPDATE consent_events SET kind = 'withdrawn' WHERE id = {}",
                e.id
            ),
            format!("DELETE FROM consent_events WHERE id = {}", e.id),
        ] {
            assert!(raw(db, &forged).is_err(), "the ledger accepted: {forged}");
        }
        // The anonymisation is allowed, in any order of its parts.
        raw(
            db,
            &format!(
                "UPDATE consent_events SET evidence = NULL WHERE id = {}",
                e.id
            ),
        )
        .unwrap();
        raw(
            db,
            &format!(
                "UPDATE consent_events SET subscriber_id = NULL, pseudonym = NULL WHERE id = {}",
                e.id
            ),
        )
        .unwrap();
        // …and once anonymous, a row cannot be tied to anyone again.
        assert!(raw(
            db,
            &format!(
                "UPDATE consent_events SET subscriber_id = {} WHERE id = {}",
                s.id, e.id
            )
        )
        .is_err());
    }
);

#[test]
fn staff_erase_and_retention_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = herold::config::Config {
        database_url: d.join("herold.db").display().to_string(),
        ..Default::default()
    };
    let pseudonym = {
        let app = herold::service::Herold::open(config).unwrap();
        let s = subscriber(
            app.db(),
            ChannelKind::Email,
            "brief@example.org",
            SubscriberStatus::Active,
            vec![],
        );
        s.pseudonym.to_string()
    };
    let run = |args: &[&str]| {
        let out = common::herold(d).args(args).output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = run(&[
        "subscribers",
        "erase",
        "--pseudonym",
        &pseudonym,
        "--reason",
        " ",
    ]);
    assert!(!ok && out.contains("--reason"), "{out}");
    let (ok, out) = run(&[
        "subscribers",
        "erase",
        "--pseudonym",
        "ZZZZ-ZZ",
        "--reason",
        "Brief",
    ]);
    assert!(
        !ok && out.contains("no subscriber has the pseudonym"),
        "{out}"
    );
    let (ok, out) = run(&[
        "subscribers",
        "erase",
        "--pseudonym",
        &pseudonym,
        "--reason",
        "Brief vom 1. Dezember",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("erased"), "{out}");
    let (ok, out) = run(&["reports", "audit", "--action", "subscriber", "--json"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("subscriber.erase") && out.contains("Brief vom 1. Dezember"),
        "{out}"
    );
    assert!(!out.contains("brief@example.org"), "{out}");
    let (ok, out) = run(&["retention", "run"]);
    assert!(ok, "{out}");
    assert!(out.contains("0 unconfirmed sign-ups"), "{out}");
    assert!(!out.contains("key file is readable"), "{out}");
    // A key file others can read is pointed out at every start.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = d.join("herold.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (ok, out) = run(&["retention", "run"]);
        assert!(ok, "{out}");
        assert!(
            out.contains("key file is readable by its group or by others") && out.contains("644"),
            "{out}"
        );
    }
}

#[test]
fn the_record_of_processing_activities_follows_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let with_env = |cmd: &mut std::process::Command| {
        cmd.env("HEROLD_DELIVERY__CHANNELS", r#"["email", "telegram"]"#)
            .env("HEROLD_EMAIL__HOST", "smtp.example.org")
            .env("HEROLD_EMAIL__SECURITY", "starttls")
            .env("HEROLD_EMAIL__FROM", "Gemeinde <info@example.org>")
            .env("HEROLD_TELEGRAM__TOKEN", "123456789:AAbot-geheim")
            .env(
                "HEROLD_PRIVACY__CONTROLLER",
                "Gemeinde Musterstadt, Rathausplatz 1",
            )
            .env(
                "HEROLD_PRIVACY__DPO_CONTACT",
                "datenschutz@musterstadt.example",
            )
            .env(
                "HEROLD_PRIVACY__EMAIL_PROVIDER",
                "Beispiel Mail GmbH, Berlin",
            )
            .env("HEROLD_RETENTION__DELIVERY_DAYS", "90");
    };
    let mut cmd = common::herold(d);
    with_env(&mut cmd);
    let out = cmd
        .args(["reports", "processing", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["controller"], "Gemeinde Musterstadt, Rathausplatz 1");
    let ids: Vec<&str> = record["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "channel.email",
            "channel.telegram",
            "reports",
            "public",
            "staff"
        ]
    );
    let text = record.to_string();
    for expected in [
        "Beispiel Mail GmbH, Berlin",
        "Auftragsverarbeiter",
        "Telegram Messenger Inc.",
        "Vereinigte Arabische Emirate",
        "Zustellungen: 90 Tage",
        "secure_delete",
        "Double-Opt-in",
    ] {
        assert!(text.contains(expected), "{expected} missing: {text}");
    }
    assert!(
        !text.contains("Meta Platforms"),
        "WhatsApp is not configured: {text}"
    );
    assert!(!text.contains("AAbot-geheim"), "{text}");
    // Plain http is pointed out; the DPO contact is there.
    let warnings = record["warnings"].to_string();
    assert!(warnings.contains("public_url"), "{warnings}");
    assert!(!warnings.contains("dpo_contact"), "{warnings}");
    // The printable page, in English.
    let mut cmd = common::herold(d);
    with_env(&mut cmd);
    let out = cmd
        .args(["reports", "processing", "--locale", "en"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.contains("Record of processing activities"), "{html}");
    assert!(
        html.contains("Announcements by e-mail newsletter"),
        "{html}"
    );
    assert!(html.contains("datenschutz@musterstadt.example"), "{html}");
}
