//! Daily digests on both backends: bundled at their local time, and a
//! schedule missed during downtime fires exactly once.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{Duration, Utc};
use chrono_tz::Europe::Berlin;
use common::TestDb;
use herold::{
    domain::parse_local_time,
    service::{Herold, PublishRequest},
    storage::StorageError,
};
use herold_channel_api::ChannelKind;

fn app(backend: common::Backend) -> TestDb {
    TestDb::with_config(backend, |c| c.delivery.channels = vec![ChannelKind::Email])
}

fn publish(app: &Herold, title: &str, urgent: bool) -> i64 {
    app.publish(&PublishRequest {
        urgent,
        ..common::publish_request("veranstaltungen", title, "Im **Bürgerhaus**, 19 Uhr.")
    })
    .unwrap()
    .id
}

both!(digest_repository, |_t: &TestDb| {
    let t = app(_t.backend);
    let db = t.app.db();
    let cat = t
        .app
        .add_category("veranstaltungen", "Veranstaltungen", "test")
        .unwrap();
    let d = db
        .add_digest(
            cat.id,
            parse_local_time("07:00").unwrap(),
            Berlin,
            "Veranstaltungstipps",
            &common::test_audit,
        )
        .unwrap();
    assert!(d.next_run_at > Utc::now() && d.next_run_at < Utc::now() + Duration::hours(25));
    assert_eq!(
        d.next_run_at
            .with_timezone(&Berlin)
            .format("%H:%M")
            .to_string(),
        "07:00"
    );
    assert_eq!(db.digest_of(cat.id).unwrap(), Some(d.clone()));
    assert_eq!(db.list_digests().unwrap(), vec![d.clone()]);
    assert!(matches!(
        db.add_digest(
            cat.id,
            parse_local_time("08:00").unwrap(),
            Berlin,
            "X",
            &common::test_audit
        ),
        Err(StorageError::Conflict { .. })
    ));
    assert!(db
        .add_digest(
            cat.id,
            parse_local_time("08:00").unwrap(),
            Berlin,
            " ",
            &common::test_audit
        )
        .is_err());
    db.remove_digest(cat.id, &common::test_audit).unwrap();
    assert_eq!(db.digest_of(cat.id).unwrap(), None);
    assert!(matches!(
        db.remove_digest(cat.id, &common::test_audit),
        Err(StorageError::NotFound { .. })
    ));
});

both!(missed_schedule_fires_exactly_once, |_t: &TestDb| {
    let t = app(_t.backend);
    let app = &t.app;
    app.add_category("veranstaltungen", "Veranstaltungen", "test")
        .unwrap();
    let digest = app
        .add_digest(
            "veranstaltungen",
            "07:00",
            Some("Europe/Berlin"),
            "Veranstaltungstipps",
            "test",
        )
        .unwrap();
    let items = [
        publish(app, "Konzert", false),
        publish(app, "Flohmarkt", false),
    ];
    // Waiting for the digest: no broadcast of their own.
    for id in items {
        assert!(app.db().broadcast_counts(id).unwrap().is_empty());
    }
    // Urgent news in the category does not wait.
    let urgent = publish(app, "Absage wegen Sturm", true);
    assert_eq!(app.db().broadcast_counts(urgent).unwrap().len(), 1);

    // Herold was down for three days: three slots were missed.
    let later = Utc::now() + Duration::days(3);
    let fired = app.fire_due_digests(later).unwrap();
    assert_eq!(
        fired.len(),
        1,
        "a missed schedule fires once, not once per missed slot"
    );
    let a = &fired[0];
    assert_eq!(a.digest_id, Some(digest.id));
    assert!(a.title.starts_with("Veranstaltungstipps – "), "{}", a.title);
    assert!(
        a.body.contains("Konzert")
            && a.body.contains("Flohmarkt")
            && a.body.contains("Absage wegen Sturm"),
        "{}",
        a.body
    );
    assert_eq!(
        app.db().broadcast_counts(a.id).unwrap().len(),
        1,
        "the digest itself is broadcast"
    );
    // Nothing more until the next slot, which is after `later`, at 07:00 local time.
    assert!(app.fire_due_digests(later).unwrap().is_empty());
    let d = app.db().list_digests().unwrap().remove(0);
    assert!(d.next_run_at > later && d.next_run_at <= later + Duration::days(1));
    assert_eq!(
        d.next_run_at
            .with_timezone(&Berlin)
            .format("%H:%M")
            .to_string(),
        "07:00"
    );
    // The next slot with nothing new moves on without a message.
    let next_day = d.next_run_at + Duration::minutes(1);
    assert!(app.fire_due_digests(next_day).unwrap().is_empty());
    assert!(app.db().list_digests().unwrap()[0].next_run_at > next_day);
    // Digests are not bundled into later digests. (Simulated time runs ahead
    // of the clock, so this item is scheduled into the simulated day.)
    app.publish(&PublishRequest {
        at: Some(next_day + Duration::hours(1)),
        ..common::publish_request("veranstaltungen", "Lesung", "Stadtbücherei")
    })
    .unwrap();
    let after = app.db().list_digests().unwrap()[0].next_run_at + Duration::minutes(1);
    let second = app.fire_due_digests(after).unwrap();
    assert_eq!(second.len(), 1);
    assert!(
        second[0].body.contains("Lesung") && !second[0].body.contains("Konzert"),
        "{}",
        second[0].body
    );
});
