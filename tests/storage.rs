//! Every repository function, on SQLite and on PostgreSQL.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{Duration, Utc};
use common::TestDb;
use diesel::RunQueryDsl;
use herold::{
    domain::{
        ConsentKind, ConversationStatus, DeliveryState, Direction, ErasureRecord, Limits,
        NewAnnouncement, NewConsentEvent, NewDelivery, NewMessage, NewStaffUser, Role, Slug,
        SubscriberStatus,
    },
    service::CONSENT_WORDING_VERSION as WORDING,
    storage::{Database, FeedQuery, NewSubscriber, Pool, StorageError, TransitionDetails},
};
use herold_channel_api::ChannelKind;

fn cat(db: &Database, slug: &str) -> herold::domain::Category {
    db.add_category(
        &Slug::parse(slug).unwrap(),
        &format!("Name {slug}"),
        &common::test_audit,
    )
    .unwrap()
}

fn announce(
    db: &Database,
    category_id: i64,
    title: &str,
    at: Option<chrono::DateTime<Utc>>,
) -> herold::domain::Announcement {
    let new = NewAnnouncement::new(
        category_id,
        title,
        "Text **fett**",
        false,
        at,
        None,
        "test",
        &Limits::default(),
        Utc::now(),
    )
    .unwrap();
    db.insert_announcement(&new, &[], &common::test_audit)
        .unwrap()
}

fn subscriber(
    db: &Database,
    channel: ChannelKind,
    address: &str,
    cats: Vec<i64>,
    status: SubscriberStatus,
) -> herold::domain::Subscriber {
    db.insert_subscriber(&NewSubscriber {
        channel,
        address: address.into(),
        locale: "de".into(),
        status,
        category_ids: cats,
        wording_version: WORDING.into(),
        evidence: Some("test:1".into()),
    })
    .unwrap()
}

/// Runs raw SQL on whichever backend (to prove database-level rules).
fn raw(db: &Database, sql: &str) -> Result<usize, diesel::result::Error> {
    match db.pool() {
        Pool::Sqlite(p) => diesel::sql_query(sql).execute(&mut *p.get().unwrap()),
        Pool::Postgres(p) => diesel::sql_query(sql).execute(&mut *p.get().unwrap()),
    }
}

both!(categories_add_list_find_get, |t: &TestDb| {
    let db = t.app.db();
    let b = cat(db, "bau");
    let a = cat(db, "abfall");
    assert_eq!(
        db.list_categories()
            .unwrap()
            .iter()
            .map(|c| c.slug.as_str())
            .collect::<Vec<_>>(),
        ["abfall", "bau"]
    );
    assert_eq!(db.find_category("bau").unwrap(), Some(b.clone()));
    assert_eq!(db.find_category("nope").unwrap(), None);
    assert_eq!(db.get_category(a.id).unwrap(), a);
    assert!(matches!(
        db.get_category(9999),
        Err(StorageError::NotFound { .. })
    ));
    let dup = db.add_category(&Slug::parse("bau").unwrap(), "Again", &common::test_audit);
    assert!(
        matches!(dup, Err(StorageError::Conflict { ref what }) if what.contains("bau")),
        "{dup:?}"
    );
    assert!(db
        .add_category(&Slug::parse("leer").unwrap(), "  ", &common::test_audit)
        .is_err());
});

both!(categories_remove, |t: &TestDb| {
    let db = t.app.db();
    let used = cat(db, "used");
    announce(db, used.id, "T", None);
    assert!(matches!(
        db.remove_category("used", WORDING, &common::test_audit),
        Err(StorageError::Refused(_))
    ));
    let gone = cat(db, "gone");
    let s = subscriber(
        db,
        ChannelKind::Email,
        "a@example.org",
        vec![gone.id, used.id],
        SubscriberStatus::Active,
    );
    let removed = db
        .remove_category("gone", WORDING, &common::test_audit)
        .unwrap();
    assert_eq!(removed.subscriptions_ended, 1);
    assert_eq!(db.find_category("gone").unwrap(), None);
    assert_eq!(db.subscriptions_of(s.id).unwrap().len(), 1);
    let events = db.consent_events_of(s.id).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.kind, ConsentKind::Withdrawn);
    assert_eq!(last.categories, ["gone"]);
    assert!(matches!(
        db.remove_category("gone", WORDING, &common::test_audit),
        Err(StorageError::NotFound { .. })
    ));
});

both!(announcements_insert_get_list, |t: &TestDb| {
    let db = t.app.db();
    let c = cat(db, "abfall");
    let a1 = announce(db, c.id, "Erste", None);
    let a2 = announce(db, c.id, "Zweite", None);
    let (got, got_cat) = db.get_announcement(a1.id).unwrap();
    assert_eq!(got, a1);
    assert_eq!(got_cat, c);
    let list = db.list_announcements(10).unwrap();
    assert_eq!(
        list.iter().map(|(a, _)| a.id).collect::<Vec<_>>(),
        [a2.id, a1.id]
    );
    assert_eq!(db.list_announcements(1).unwrap().len(), 1);
    assert!(matches!(
        db.get_announcement(999),
        Err(StorageError::NotFound { .. })
    ));
    // A correction must reference an existing announcement and category.
    let mut fix = NewAnnouncement::new(
        c.id,
        "Korrektur",
        "Text",
        false,
        None,
        Some(a1.id),
        "t",
        &Limits::default(),
        Utc::now(),
    )
    .unwrap();
    assert_eq!(
        db.insert_announcement(&fix, &[], &common::test_audit)
            .unwrap()
            .corrects_id,
        Some(a1.id)
    );
    let corr = db.corrections_of(a1.id, Utc::now()).unwrap();
    assert_eq!(corr.len(), 1);
    assert_eq!(corr[0].title, "Korrektur");
    assert!(db
        .corrections_of(a1.id, Utc::now() - Duration::hours(1))
        .unwrap()
        .is_empty());
    assert!(db.corrections_of(a2.id, Utc::now()).unwrap().is_empty());
    fix.corrects_id = Some(999);
    assert!(matches!(
        db.insert_announcement(&fix, &[], &common::test_audit),
        Err(StorageError::NotFound { .. })
    ));
    fix.corrects_id = None;
    fix.category_id = 999;
    assert!(matches!(
        db.insert_announcement(&fix, &[], &common::test_audit),
        Err(StorageError::NotFound { .. })
    ));
});

both!(announcements_feed_query_and_cancel, |t: &TestDb| {
    let db = t.app.db();
    let a = cat(db, "abfall");
    let b = cat(db, "bau");
    let now_a = announce(db, a.id, "A jetzt", None);
    let now_b = announce(db, b.id, "B jetzt", None);
    let later = announce(db, a.id, "A später", Some(Utc::now() + Duration::hours(2)));
    let later2 = announce(
        db,
        a.id,
        "A noch später",
        Some(Utc::now() + Duration::hours(3)),
    );
    let q = |cat: Option<i64>, now| FeedQuery {
        category_id: cat,
        now,
        limit: 50,
    };
    let ids = |v: Vec<(herold::domain::Announcement, _)>| {
        v.into_iter().map(|(a, _)| a.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(db.feed_announcements(&q(None, Utc::now())).unwrap()),
        [now_b.id, now_a.id]
    );
    assert_eq!(
        ids(db.feed_announcements(&q(Some(a.id), Utc::now())).unwrap()),
        [now_a.id]
    );
    // Cancelled scheduled announcements never appear; published ones cannot be cancelled.
    let cancelled = db
        .cancel_announcement(later.id, &common::test_audit)
        .unwrap();
    assert!(cancelled.cancelled_at.is_some());
    assert!(matches!(
        db.cancel_announcement(later.id, &common::test_audit),
        Err(StorageError::Refused(_))
    ));
    assert!(matches!(
        db.cancel_announcement(now_a.id, &common::test_audit),
        Err(StorageError::Refused(_))
    ));
    let future = Utc::now() + Duration::hours(4);
    assert_eq!(
        ids(db.feed_announcements(&q(Some(a.id), future)).unwrap()),
        [later2.id, now_a.id]
    );
});

both!(announcements_are_immutable_in_the_database, |t: &TestDb| {
    let db = t.app.db();
    let c = cat(db, "abfall");
    let a = announce(db, c.id, "Original", None);
    let err = raw(
        db,
        &format!(
            "UPDATE announcements SET title = 'changed' WHERE id = {}",
            a.id
        ),
    )
    .unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");
    let err = raw(
        db,
        &format!("DELETE FROM announcements WHERE id = {}", a.id),
    )
    .unwrap_err();
    assert!(err.to_string().contains("never deleted"), "{err}");
    assert_eq!(db.get_announcement(a.id).unwrap().0.title, "Original");
});

both!(subscribers_insert_find_address, |t: &TestDb| {
    let db = t.app.db();
    let c = cat(db, "abfall");
    let s = subscriber(
        db,
        ChannelKind::Email,
        "Anna@Example.org",
        vec![c.id],
        SubscriberStatus::Pending,
    );
    assert_eq!(s.status, SubscriberStatus::Pending);
    assert_eq!(s.pseudonym.as_str().len(), 8);
    assert_eq!(db.get_subscriber(s.id).unwrap(), s);
    // Found by keyed hash, whatever the spelling.
    assert_eq!(
        db.find_subscriber_by_address(ChannelKind::Email, " anna@example.ORG")
            .unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        db.find_subscriber_by_address(ChannelKind::Email, "bob@example.org")
            .unwrap(),
        None
    );
    assert_eq!(
        db.subscriber_address(s.id).unwrap().as_deref(),
        Some("anna@example.org")
    );
    // Same address, same channel: conflict; other channel: separate subscriber.
    assert!(matches!(
        db.insert_subscriber(&NewSubscriber {
            channel: ChannelKind::Email,
            address: "anna@example.org".into(),
            locale: "de".into(),
            status: SubscriberStatus::Pending,
            category_ids: vec![],
            wording_version: WORDING.into(),
            evidence: None,
        }),
        Err(StorageError::Conflict { .. })
    ));
    let w = subscriber(
        db,
        ChannelKind::WhatsApp,
        "+49 151 2345678",
        vec![],
        SubscriberStatus::Active,
    );
    assert!(w.confirmed_at.is_some());
    assert_eq!(db.list_subscribers(None).unwrap().len(), 2);
    assert_eq!(
        db.list_subscribers(Some(ChannelKind::WhatsApp)).unwrap(),
        vec![w.clone()]
    );
    // Active sign-ups record given and confirmed consent.
    let kinds: Vec<_> = db
        .consent_events_of(w.id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [ConsentKind::Given, ConsentKind::Confirmed]);
    let given = &db.consent_events_of(s.id).unwrap()[0];
    assert_eq!(given.categories, ["abfall"]);
    assert_eq!(given.pseudonym.as_deref(), Some(s.pseudonym.as_str()));
    assert_eq!(given.evidence.as_deref(), Some("test:1"));
});

both!(subscribers_confirm_unsubscribe, |t: &TestDb| {
    let db = t.app.db();
    let c = cat(db, "abfall");
    let s = subscriber(
        db,
        ChannelKind::Telegram,
        "12345",
        vec![c.id],
        SubscriberStatus::Pending,
    );
    let s = db
        .confirm_subscriber(s.id, WORDING, Some("link:abc"))
        .unwrap();
    assert_eq!(s.status, SubscriberStatus::Active);
    assert!(s.confirmed_at.is_some());
    assert!(matches!(
        db.confirm_subscriber(s.id, WORDING, None),
        Err(StorageError::Refused(_))
    ));
    let s = db.unsubscribe(s.id, WORDING, Some("inbound:7")).unwrap();
    assert_eq!(s.status, SubscriberStatus::Unsubscribed);
    assert!(s.ended_at.is_some());
    assert!(db.subscriptions_of(s.id).unwrap().is_empty());
    let events = db.consent_events_of(s.id).unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ConsentKind::Given,
            ConsentKind::Confirmed,
            ConsentKind::Withdrawn
        ]
    );
    assert_eq!(events[2].categories, ["abfall"]);
    assert!(matches!(
        db.unsubscribe(999, WORDING, None),
        Err(StorageError::NotFound { .. })
    ));
});

both!(subscribers_erase, |t: &TestDb| {
    let db = t.app.db();
    let c = cat(db, "abfall");
    let s = subscriber(
        db,
        ChannelKind::Matrix,
        "!anna-dm:example.org",
        vec![c.id],
        SubscriberStatus::Active,
    );
    let conv = db.open_conversation(s.id).unwrap();
    db.add_message(
        conv.id,
        &NewMessage {
            direction: Direction::Inbound,
            text: Some("Schlagloch".into()),
            media_ref: None,
            provider_message_id: None,
            staff_user_id: None,
        },
    )
    .unwrap();
    db.erase_subscriber(s.id, WORDING, ErasureRecord::Anonymous, None)
        .unwrap();
    let gone = db.get_subscriber(s.id).unwrap();
    assert_eq!(gone.status, SubscriberStatus::Erased);
    assert_eq!(db.subscriber_address(s.id).unwrap(), None);
    assert_eq!(
        db.find_subscriber_by_address(ChannelKind::Matrix, "!anna-dm:example.org")
            .unwrap(),
        None
    );
    assert!(db.subscriptions_of(s.id).unwrap().is_empty());
    assert!(db.messages_of(conv.id).unwrap().is_empty());
    assert!(db.consent_events_of(s.id).unwrap().is_empty());
    // The ledger keeps anonymous events, ending with the erasure.
    let ledger = db.consent_ledger(0, 100).unwrap();
    assert_eq!(ledger.len(), 3);
    assert!(ledger
        .iter()
        .all(|e| e.subscriber_id.is_none() && e.pseudonym.is_none() && e.evidence.is_none()));
    assert_eq!(ledger[2].kind, ConsentKind::Erased);
    assert_eq!(ledger[2].channel, ChannelKind::Matrix);
    // Erasing twice is harmless; the address can sign up again.
    db.erase_subscriber(s.id, WORDING, ErasureRecord::Anonymous, None)
        .unwrap();
    subscriber(
        db,
        ChannelKind::Matrix,
        "!anna-dm:example.org",
        vec![],
        SubscriberStatus::Active,
    );
});

// A delivery row names only rows that exist: foreign keys on SQLite,
// statement-level checks on PostgreSQL (migration
// `000028_delivery_reference_checks`), with the same effect.
both!(deliveries_name_existing_rows, |t: &TestDb| {
    let db = t.app.db();
    let c = cat(db, "abfall");
    let a = announce(db, c.id, "T", None);
    let at = "'2026-01-01 00:00:00'";
    raw(
        db,
        &format!(
            "INSERT INTO broadcasts (id, announcement_id, category_id, channel, priority, state, \
             not_before, created_at, updated_at) \
             VALUES (4711, {}, {}, 'email', 0, 'active', {at}, {at}, {at})",
            a.id, c.id
        ),
    )
    .unwrap();
    // Without consent records or subscriptions, so raw SQL may delete it.
    raw(
        db,
        &format!(
            "INSERT INTO subscribers (id, channel, locale, status, created_at, bounces) \
             VALUES (815, 'email', 'de', 'pending', {at}, 0)"
        ),
    )
    .unwrap();
    let insert = |announcement: i64, broadcast: i64, subscriber: i64| {
        raw(
            db,
            &format!(
                "INSERT INTO deliveries (announcement_id, channel, subscriber_id, state, \
                 attempts, created_at, updated_at, broadcast_id, priority, next_attempt_at) \
                 VALUES ({announcement}, 'email', {subscriber}, 'sent', 1, {at}, {at}, \
                 {broadcast}, 0, {at})"
            ),
        )
    };
    // The same kind of error on both: SQLite's foreign key, PostgreSQL's
    // trigger (SQLSTATE 23503).
    let refused = |r: Result<usize, diesel::result::Error>| match r {
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _,
        )) => {}
        other => panic!("not refused as a foreign-key violation: {other:?}"),
    };
    refused(insert(a.id + 100, 4711, 815));
    refused(insert(a.id, 4712, 815));
    refused(insert(a.id, 4711, 816));
    // Several rows in one statement, one of them wrong: none is written.
    refused(raw(
        db,
        &format!(
            "INSERT INTO deliveries (announcement_id, channel, subscriber_id, state, attempts, \
             created_at, updated_at, broadcast_id, priority, next_attempt_at) \
             SELECT {}, 'email', s, 'sent', 1, {at}, {at}, 4711, 0, {at} \
             FROM (SELECT 815 AS s UNION ALL SELECT 999) AS x",
            a.id
        ),
    ));
    assert!(db.deliveries_of(a.id).unwrap().is_empty());
    assert_eq!(insert(a.id, 4711, 815).unwrap(), 1);
    refused(raw(db, "UPDATE deliveries SET subscriber_id = 816"));
    refused(raw(db, "UPDATE deliveries SET broadcast_id = 4712"));
    // A broadcast that deliveries name stays.
    refused(raw(db, "DELETE FROM broadcasts WHERE id = 4711"));
    // Deleting the subscriber clears the reference, keeping the record.
    assert_eq!(
        raw(db, "DELETE FROM subscribers WHERE id = 815").unwrap(),
        1
    );
    let left = db.deliveries_of(a.id).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].subscriber_id, None);
    assert_eq!(left[0].state, DeliveryState::Sent);
});

both!(subscriptions_add_remove_list, |t: &TestDb| {
    let db = t.app.db();
    let a = cat(db, "abfall");
    let b = cat(db, "bau");
    let s = subscriber(
        db,
        ChannelKind::Email,
        "x@example.org",
        vec![a.id],
        SubscriberStatus::Active,
    );
    db.subscribe(s.id, b.id).unwrap();
    db.subscribe(s.id, b.id).unwrap();
    let cats: Vec<_> = db
        .subscriptions_of(s.id)
        .unwrap()
        .into_iter()
        .map(|x| x.category_id)
        .collect();
    assert_eq!(cats, [a.id, b.id]);
    assert!(db.unsubscribe_category(s.id, a.id).unwrap());
    assert!(!db.unsubscribe_category(s.id, a.id).unwrap());
    assert_eq!(db.subscriptions_of(s.id).unwrap().len(), 1);
});

both!(consent_append_and_ledger, |t: &TestDb| {
    let db = t.app.db();
    let s = subscriber(
        db,
        ChannelKind::Email,
        "c@example.org",
        vec![],
        SubscriberStatus::Pending,
    );
    let at = Utc::now() - Duration::minutes(5);
    let e = db
        .append_consent(&NewConsentEvent {
            subscriber_id: s.id,
            channel: ChannelKind::Email,
            kind: ConsentKind::Confirmed,
            categories: vec!["abfall".into(), "bau".into()],
            wording_version: "v9".into(),
            occurred_at: at,
            evidence: Some("link:xyz".into()),
        })
        .unwrap();
    assert_eq!(e.categories, ["abfall", "bau"]);
    assert_eq!(e.pseudonym.as_deref(), Some(s.pseudonym.as_str()));
    assert_eq!(e.occurred_at, herold_round(at));
    assert_eq!(db.consent_events_of(s.id).unwrap().len(), 2);
    let first = db.consent_ledger(0, 1).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(db.consent_ledger(first[0].id, 10).unwrap(), vec![e.clone()]);
    // Append-only in the database itself.
    assert!(raw(
        db,
        &format!(
            "UPDATE consent_events SET kind = 'given' WHERE id = {}",
            e.id
        )
    )
    .is_err());
    assert!(raw(
        db,
        &format!("DELETE FROM consent_events WHERE id = {}", e.id)
    )
    .is_err());
});

fn herold_round(t: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

both!(deliveries_state_machine, |t: &TestDb| {
    let db = t.app.db();
    let c = cat(db, "abfall");
    let a = announce(db, c.id, "T", None);
    let s = subscriber(
        db,
        ChannelKind::WhatsApp,
        "+4915112345678",
        vec![c.id],
        SubscriberStatus::Active,
    );
    let ds = db
        .enqueue_deliveries(&[
            NewDelivery {
                announcement_id: a.id,
                channel: ChannelKind::WhatsApp,
                subscriber_id: Some(s.id),
                target: None,
            },
            NewDelivery {
                announcement_id: a.id,
                channel: ChannelKind::Feed,
                subscriber_id: None,
                target: Some("all".into()),
            },
        ])
        .unwrap();
    assert_eq!(ds.len(), 2);
    assert!(ds
        .iter()
        .all(|d| d.state == DeliveryState::Queued && d.attempts == 0));
    let d = ds[0].clone();
    assert_eq!(db.get_delivery(d.id).unwrap(), d);
    let none = TransitionDetails::default();
    assert!(matches!(
        db.transition_delivery(d.id, DeliveryState::Sent, &none),
        Err(StorageError::Refused(_))
    ));
    let d1 = db
        .transition_delivery(d.id, DeliveryState::Sending, &none)
        .unwrap();
    assert_eq!(d1.attempts, 1);
    let d2 = db
        .transition_delivery(
            d.id,
            DeliveryState::Queued,
            &TransitionDetails {
                error: Some("timeout".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(d2.last_error.as_deref(), Some("timeout"));
    db.transition_delivery(d.id, DeliveryState::Sending, &none)
        .unwrap();
    let sent = db
        .transition_delivery(
            d.id,
            DeliveryState::Sent,
            &TransitionDetails {
                provider_message_id: Some("wamid.1".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(sent.attempts, 2);
    assert_eq!(
        db.delivery_by_provider_id(ChannelKind::WhatsApp, "wamid.1")
            .unwrap()
            .map(|x| x.id),
        Some(d.id)
    );
    assert_eq!(
        db.delivery_by_provider_id(ChannelKind::Telegram, "wamid.1")
            .unwrap(),
        None
    );
    db.transition_delivery(d.id, DeliveryState::Read, &none)
        .unwrap();
    assert!(db
        .transition_delivery(d.id, DeliveryState::Delivered, &none)
        .is_err());
    let all = db.deliveries_of(a.id).unwrap();
    assert_eq!(
        all.iter().map(|x| x.state).collect::<Vec<_>>(),
        [DeliveryState::Read, DeliveryState::Queued]
    );
    assert_eq!(all[0].provider_message_id.as_deref(), Some("wamid.1"));
    assert!(matches!(
        db.get_delivery(999),
        Err(StorageError::NotFound { .. })
    ));
});

both!(conversations_and_messages, |t: &TestDb| {
    let db = t.app.db();
    let s = subscriber(
        db,
        ChannelKind::Telegram,
        "777",
        vec![],
        SubscriberStatus::Active,
    );
    assert_eq!(db.open_conversation_of(s.id).unwrap(), None);
    let conv = db.open_conversation(s.id).unwrap();
    assert_eq!(
        db.open_conversation_of(s.id).unwrap().map(|c| c.id),
        Some(conv.id)
    );
    let staff = db
        .create_staff_user(&NewStaffUser {
            username: "mia".into(),
            display_name: "Mia".into(),
            role: Role::Editor,
            password_hash: "$argon2id$x".into(),
        })
        .unwrap();
    let m1 = db
        .add_message(
            conv.id,
            &NewMessage {
                direction: Direction::Inbound,
                text: Some("Laterne defekt, Hauptstraße 3".into()),
                media_ref: Some("media/1.jpg".into()),
                provider_message_id: Some("tg:5".into()),
                staff_user_id: None,
            },
        )
        .unwrap();
    let m2 = db
        .add_message(
            conv.id,
            &NewMessage {
                direction: Direction::Outbound,
                text: Some("Danke, ist gemeldet.".into()),
                media_ref: None,
                provider_message_id: None,
                staff_user_id: Some(staff.id),
            },
        )
        .unwrap();
    assert_eq!(db.messages_of(conv.id).unwrap(), vec![m1.clone(), m2]);
    assert_eq!(m1.text.as_deref(), Some("Laterne defekt, Hauptstraße 3"));
    assert_eq!(
        db.list_conversations(ConversationStatus::Open, 10)
            .unwrap()
            .len(),
        1
    );
    let closed = db
        .set_conversation_status(conv.id, ConversationStatus::Closed)
        .unwrap();
    assert_eq!(closed.status, ConversationStatus::Closed);
    assert!(db
        .list_conversations(ConversationStatus::Open, 10)
        .unwrap()
        .is_empty());
    assert_eq!(db.open_conversation_of(s.id).unwrap(), None);
    assert!(matches!(
        db.set_conversation_status(999, ConversationStatus::Open),
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        db.add_message(
            999,
            &NewMessage {
                direction: Direction::Inbound,
                text: None,
                media_ref: None,
                provider_message_id: None,
                staff_user_id: None
            }
        ),
        Err(StorageError::NotFound { .. })
    ));
});

both!(staff_users, |t: &TestDb| {
    let db = t.app.db();
    let new = NewStaffUser {
        username: "dsb".into(),
        display_name: "Datenschutz".into(),
        role: Role::Dpo,
        password_hash: "$argon2id$y".into(),
    };
    let u = db.create_staff_user(&new).unwrap();
    assert!(!u.disabled);
    assert!(matches!(
        db.create_staff_user(&new),
        Err(StorageError::Conflict { .. })
    ));
    assert_eq!(db.find_staff_user("dsb").unwrap(), Some(u.clone()));
    assert_eq!(db.find_staff_user("nobody").unwrap(), None);
    assert!(db.set_staff_disabled(u.id, true).unwrap().disabled);
    assert_eq!(db.list_staff_users().unwrap().len(), 1);
    assert!(matches!(
        db.set_staff_disabled(999, true),
        Err(StorageError::NotFound { .. })
    ));
});

both!(audit_log, |t: &TestDb| {
    let db = t.app.db();
    let e = db
        .record_audit(&herold::domain::NewAuditEvent {
            actor: "cli".into(),
            action: "category.add".into(),
            subject: "category:x".into(),
            details: "{}".into(),
        })
        .unwrap();
    db.record_audit(&herold::domain::NewAuditEvent {
        actor: "mia".into(),
        action: "announcement.publish".into(),
        subject: "announcement:1".into(),
        details: "{}".into(),
    })
    .unwrap();
    let list = db.list_audit(10).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1], e);
    assert!(raw(db, &format!("DELETE FROM audit_events WHERE id = {}", e.id)).is_err());
    assert!(raw(
        db,
        &format!("UPDATE audit_events SET actor = 'x' WHERE id = {}", e.id)
    )
    .is_err());
});

both!(migrate_is_idempotent_and_ping, |t: &TestDb| {
    assert_eq!(t.app.db().migrate().unwrap(), 0);
    t.app.db().ping().unwrap();
    assert_eq!(
        t.app.db().backend(),
        match t.backend {
            common::Backend::Sqlite => "sqlite",
            common::Backend::Postgres => "postgres",
        }
    );
});

both!(key_is_checked_on_reopen, |t: &TestDb| {
    let mut config = t.app.config().clone();
    // The right key opens the database again.
    if config.secret_key.is_none() {
        assert!(
            t.dir.path().join("herold.key").exists(),
            "a key file is generated next to a new SQLite database"
        );
    }
    assert!(herold::service::Herold::open(config.clone()).is_ok());
    // A different key is refused before anything is read.
    config.secret_key = Some(herold::config::Secret::new(
        herold::crypto::Keyring::generate_encoded().to_string(),
    ));
    config.secret_key_file = None;
    assert!(matches!(
        herold::service::Herold::open(config.clone()).map(|_| ()),
        Err(StorageError::WrongKey { .. })
    ));
    // No key at all, for a database that has one, is refused too.
    config.secret_key = None;
    config.secret_key_file = None;
    let _ = std::fs::remove_file(t.dir.path().join("herold.key"));
    if t.backend == common::Backend::Postgres && std::path::Path::new("herold.key").exists() {
        return; // a developer's own key file in the working directory would be found
    }
    let err = herold::service::Herold::open(config)
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, StorageError::MissingKey { .. }), "{err}");
});

both!(unique_violations_name_the_column, |t: &TestDb| {
    let db = t.app.db();
    let s = subscriber(
        db,
        ChannelKind::Email,
        "p@example.org",
        vec![],
        SubscriberStatus::Active,
    );
    // A pseudonym collision must be recognisable (insert_subscriber retries on it).
    let err = raw(
        db,
        &format!(
            "INSERT INTO subscribers (channel, pseudonym, locale, status, created_at) VALUES ('email', '{}', 'de', 'active', '2026-01-01 00:00:00')",
            s.pseudonym
        ),
    )
    .unwrap_err();
    match StorageError::from(err) {
        StorageError::Conflict { what } => assert!(what.contains("pseudonym"), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
});

both!(
    follow_posts_are_claimed_first_and_name_no_subscriber,
    |t: &TestDb| {
        use herold::domain::ChannelPlan;
        use herold_channel_api::{FollowRoute, FollowTarget};
        let db = &t.app.db();
        let c = cat(db, "abfall");
        let s = subscriber(
            db,
            ChannelKind::Telegram,
            "4711",
            vec![c.id],
            SubscriberStatus::Active,
        );
        let plan = ChannelPlan {
            channel: ChannelKind::Telegram,
            follow: vec![
                FollowRoute {
                    target: FollowTarget::new("@stadt"),
                    categories: vec![],
                },
                // Two routes to one place post once.
                FollowRoute {
                    target: FollowTarget::new("@stadt"),
                    categories: vec!["abfall".into()],
                },
                FollowRoute {
                    target: FollowTarget::new("@kultur"),
                    categories: vec!["kultur".into()],
                },
            ],
        };
        let new = NewAnnouncement::new(
            c.id,
            "Biotonne",
            "Text",
            false,
            None,
            None,
            "test",
            &Limits::default(),
            Utc::now(),
        )
        .unwrap();
        db.insert_announcement(&new, &[plan], &common::test_audit)
            .unwrap();
        let now = Utc::now() + Duration::seconds(1);
        let claim = db
            .claim_deliveries(
                ChannelKind::Telegram,
                "w1",
                10,
                now + Duration::seconds(30),
                now,
            )
            .unwrap();
        let targets: Vec<(Option<&str>, Option<i64>)> = claim
            .items
            .iter()
            .map(|i| (i.target.as_deref(), i.subscriber_id))
            .collect();
        assert_eq!(targets, vec![(Some("@stadt"), None), (None, Some(s.id))]);
        // Leased: another worker finds nothing.
        let other = db
            .claim_deliveries(
                ChannelKind::Telegram,
                "w2",
                10,
                now + Duration::seconds(30),
                now,
            )
            .unwrap();
        assert!(other.items.is_empty(), "{other:?}");
    }
);
