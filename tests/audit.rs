//! Every staff action leaves exactly one audit event, written in the same
//! transaction as the change: the CLI's state-changing commands on both
//! backends, failed and read-only commands leaving none, and storage
//! rolling the change back when its audit event cannot be written.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use assert_cmd::prelude::*;
use chrono::{Duration, Utc};
use common::{Backend, TestDb};
use herold::{
    domain::{AuditEvent, BroadcastState, NewAnnouncement, NewAuditEvent, Slug},
    service::PublishRequest,
    storage::{Control, Database, Pool},
};
use herold_channel_api::ChannelKind;
use serde_json::{json, Value};
use std::path::PathBuf;

/// `herold` on the test's database, with no `HEROLD_*` variables from the
/// outside and no push channels configured.
fn herold(t: &TestDb) -> std::process::Command {
    let mut cmd = common::herold(t.dir.path());
    let config = t.app.config();
    cmd.env("HEROLD_DATABASE_URL", &config.database_url);
    if let Some(key) = &config.secret_key {
        cmd.env("HEROLD_SECRET_KEY", key.expose());
    }
    cmd
}

/// The audit log, newest first.
fn events(t: &TestDb) -> Vec<AuditEvent> {
    t.app.db().list_audit(10_000).unwrap()
}

/// Runs a command that must succeed and add exactly one audit event by
/// `cli` with `action`; returns its stdout, the event and its details.
fn audited(t: &TestDb, args: &[&str], action: &str) -> (String, AuditEvent, Value) {
    let before = events(t).len();
    let out = herold(t).args(args).assert().success().get_output().clone();
    let after = events(t);
    assert_eq!(
        after.len(),
        before + 1,
        "`herold {}` must add exactly one audit event",
        args.join(" ")
    );
    let e = after[0].clone();
    assert_eq!(e.actor, "cli", "{e:?}");
    assert_eq!(e.action, action, "{e:?}");
    let details = serde_json::from_str(&e.details).unwrap();
    (String::from_utf8(out.stdout).unwrap(), e, details)
}

/// Runs a command that must succeed (or fail) and add no audit event.
fn unaudited(t: &TestDb, args: &[&str], succeeds: bool) {
    let before = events(t);
    let assert = herold(t).args(args).assert();
    if succeeds {
        assert.success();
    } else {
        assert.failure();
    }
    assert_eq!(
        events(t),
        before,
        "`herold {}` must add no audit event",
        args.join(" ")
    );
}

/// The id in "announcement 7 published: …".
fn announcement_id(stdout: &str) -> i64 {
    stdout
        .split_whitespace()
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no announcement id in {stdout:?}"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/media")
        .join(name)
}

fn cli_commands_are_audited(backend: Backend) {
    // The app publishes with an e-mail broadcast (for the broadcast
    // commands); the CLI itself runs without push channels.
    let t = TestDb::with_config(backend, |c| c.delivery.channels = vec![ChannelKind::Email]);
    unaudited(&t, &["category", "list"], true);

    // Categories.
    let (_, e, d) = audited(
        &t,
        &["category", "add", "abfall", "--name", "Abfall"],
        "category.add",
    );
    assert_eq!(e.subject, "category:abfall");
    assert_eq!(d["name"], "Abfall");
    unaudited(&t, &["category", "add", "abfall", "--name", "Again"], false);
    unaudited(&t, &["category", "add", "Not A Slug", "--name", "X"], false);
    audited(
        &t,
        &["category", "add", "weg", "--name", "Weg"],
        "category.add",
    );
    let (_, e, d) = audited(&t, &["category", "remove", "weg"], "category.remove");
    assert_eq!(e.subject, "category:weg");
    assert_eq!(d["subscriptions_ended"], 0);
    unaudited(&t, &["category", "remove", "weg"], false);
    unaudited(&t, &["category", "list"], true);

    // Publishing, with corrections and images.
    let publish = ["publish", "--category", "abfall", "--title", "Biotonne"];
    let (out, e, d) = audited(
        &t,
        &[&publish[..], &["--body", "Am Samstag."]].concat(),
        "announcement.publish",
    );
    let first = announcement_id(&out);
    assert_eq!(e.subject, format!("announcement:{first}"));
    assert_eq!(d["category"], "abfall");
    assert_eq!(d["corrects"], Value::Null);
    assert_eq!(d["image"], Value::Null);
    let first_s = first.to_string();
    let (out, e, d) = audited(
        &t,
        &[
            &publish[..],
            &["--body", "Am Sonntag.", "--corrects", &first_s],
        ]
        .concat(),
        "announcement.publish",
    );
    assert_eq!(e.subject, format!("announcement:{}", announcement_id(&out)));
    assert_eq!(d["corrects"], first);
    let image = fixture("gps.jpg").display().to_string();
    let (out, e, d) = audited(
        &t,
        &[
            &publish[..],
            &[
                "--body",
                "B",
                "--image",
                &image,
                "--image-alt",
                "Eine Tonne",
            ],
        ]
        .concat(),
        "announcement.publish",
    );
    assert_eq!(e.subject, format!("announcement:{}", announcement_id(&out)));
    assert_eq!(d["image"]["mime_type"], "image/jpeg");
    unaudited(
        &t,
        &[
            "publish",
            "--category",
            "nope",
            "--title",
            "T",
            "--body",
            "B",
        ],
        false,
    );
    unaudited(
        &t,
        &[&publish[..], &["--body", "B", "--corrects", "999999"]].concat(),
        false,
    );

    // Cancelling a scheduled announcement.
    let (out, _, _) = audited(
        &t,
        &[
            &publish[..],
            &["--body", "B", "--at", "2099-01-01T08:00:00+01:00"],
        ]
        .concat(),
        "announcement.publish",
    );
    let later = announcement_id(&out).to_string();
    let (_, e, d) = audited(
        &t,
        &["announcements", "cancel", &later],
        "announcement.cancel",
    );
    assert_eq!(e.subject, format!("announcement:{later}"));
    assert!(d["publish_at"].as_str().unwrap().starts_with("2099-01-01"));
    unaudited(&t, &["announcements", "cancel", &later], false);
    unaudited(&t, &["announcements", "cancel", &first_s], false);
    unaudited(&t, &["announcements", "list"], true);
    unaudited(&t, &["announcements", "show", &first_s], true);

    // Broadcasts of an announcement published with an e-mail broadcast.
    let before = events(&t).len();
    let a = t
        .app
        .publish(&PublishRequest {
            category: "abfall".into(),
            title: "Mit Versand".into(),
            body: "B".into(),
            urgent: false,
            at: Some(Utc::now() + Duration::hours(1)),
            corrects: None,
            author: "staff".into(),
            event: None,
        })
        .unwrap();
    let after = events(&t);
    assert_eq!(after.len(), before + 1);
    assert_eq!(
        (after[0].actor.as_str(), after[0].action.as_str()),
        ("staff", "announcement.publish")
    );
    let id = a.id.to_string();
    let subject = format!("announcement:{id}");
    unaudited(&t, &["broadcasts", "show", &id], true);
    let (_, e, d) = audited(&t, &["broadcasts", "pause", &id], "broadcast.pause");
    assert_eq!(e.subject, subject);
    assert_eq!(
        d,
        json!({ "control": "pause", "channel": null, "broadcasts_changed": 1 })
    );
    // An attempt that changes nothing is recorded as such.
    let (_, _, d) = audited(&t, &["broadcasts", "pause", &id], "broadcast.pause");
    assert_eq!(d["broadcasts_changed"], 0);
    let (_, e, d) = audited(
        &t,
        &["broadcasts", "resume", &id, "--channel", "email"],
        "broadcast.resume",
    );
    assert_eq!(e.subject, subject);
    assert_eq!(
        d,
        json!({ "control": "resume", "channel": "email", "broadcasts_changed": 1 })
    );
    let (_, e, d) = audited(&t, &["broadcasts", "cancel", &id], "broadcast.cancel");
    assert_eq!(e.subject, subject);
    assert_eq!(d["broadcasts_changed"], 1);
    unaudited(&t, &["broadcasts", "pause", "999999"], false);
    unaudited(
        &t,
        &["broadcasts", "pause", &id, "--channel", "nope"],
        false,
    );
    unaudited(&t, &["broadcasts", "show", &id], true);

    // Channels.
    let (out, e, d) = audited(&t, &["channels", "resume", "email"], "channel.resume");
    assert!(out.contains("was not paused"), "{out}");
    assert_eq!(e.subject, "channel:email");
    assert_eq!(d, json!({ "was_paused": false, "held_reason": null }));
    t.app
        .db()
        .pause_channel(
            ChannelKind::Email,
            Utc::now() + Duration::days(365),
            Some("SMTP login refused"),
        )
        .unwrap();
    let (out, _, d) = audited(&t, &["channels", "resume", "email"], "channel.resume");
    assert!(out.contains("channel email resumed"), "{out}");
    assert_eq!(
        d,
        json!({ "was_paused": true, "held_reason": "SMTP login refused" })
    );
    assert_eq!(t.app.db().channel_hold(ChannelKind::Email).unwrap(), None);
    unaudited(&t, &["channels", "resume", "pigeon"], false);

    // Digests.
    let (_, e, d) = audited(
        &t,
        &[
            "digest",
            "add",
            "abfall",
            "--at",
            "07:00",
            "--title",
            "Tipps",
            "--timezone",
            "Europe/Berlin",
        ],
        "digest.add",
    );
    assert_eq!(e.subject, "category:abfall");
    assert_eq!(
        d,
        json!({ "at": "07:00", "timezone": "Europe/Berlin", "title": "Tipps" })
    );
    unaudited(
        &t,
        &["digest", "add", "abfall", "--at", "08:00", "--title", "X"],
        false,
    );
    unaudited(
        &t,
        &["digest", "add", "nope", "--at", "08:00", "--title", "X"],
        false,
    );
    unaudited(&t, &["digest", "list"], true);
    let (_, e, d) = audited(&t, &["digest", "remove", "abfall"], "digest.remove");
    assert_eq!(e.subject, "category:abfall");
    assert_eq!(d["at"], "07:00");
    unaudited(&t, &["digest", "remove", "abfall"], false);
    unaudited(&t, &["subscribers", "list"], true);
}

#[test]
fn cli_commands_are_audited_on_sqlite() {
    cli_commands_are_audited(Backend::Sqlite);
}

#[test]
fn cli_commands_are_audited_on_postgres() {
    cli_commands_are_audited(Backend::Postgres);
}

fn raw(db: &Database, sql: &str) {
    match db.pool() {
        Pool::Sqlite(p) => {
            diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut *p.get().unwrap())
        }
        Pool::Postgres(p) => {
            diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut *p.get().unwrap())
        }
    }
    .unwrap();
}

/// Makes the database refuse audit events with the action `test.refused`.
fn refuse_audit(db: &Database) {
    match db.backend() {
        "sqlite" => raw(
            db,
            "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_events \
             WHEN NEW.action = 'test.refused' BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
        ),
        _ => {
            raw(
                db,
                "CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.action = 'test.refused' THEN RAISE EXCEPTION 'audit refused'; \
                 END IF; RETURN NEW; END $$",
            );
            raw(
                db,
                "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()",
            );
        }
    }
}

/// An audit event the database refuses (see [`refuse_audit`]).
fn refused<T>(_: &T) -> NewAuditEvent {
    NewAuditEvent::new("test", "test.refused", "test", &json!({}))
}

both!(a_refused_audit_event_rolls_the_action_back, |t: &TestDb| {
    let db = t.app.db();
    refuse_audit(db);

    assert!(db
        .add_category(&Slug::parse("abfall").unwrap(), "Abfall", &refused)
        .is_err());
    assert_eq!(db.find_category("abfall").unwrap(), None);
    let cat = db
        .add_category(
            &Slug::parse("abfall").unwrap(),
            "Abfall",
            &common::test_audit,
        )
        .unwrap();

    let new = NewAnnouncement::new(
        cat.id,
        "T",
        "B",
        false,
        Some(Utc::now() + Duration::hours(1)),
        None,
        "test",
        &Default::default(),
        Utc::now(),
    )
    .unwrap();
    assert!(db
        .insert_announcement(
            &new,
            &[herold::domain::ChannelPlan::push_only(ChannelKind::Email)],
            &refused
        )
        .is_err());
    assert!(db.list_announcements(10).unwrap().is_empty());
    let a = db
        .insert_announcement(
            &new,
            &[herold::domain::ChannelPlan::push_only(ChannelKind::Email)],
            &common::test_audit,
        )
        .unwrap();

    let state = || db.broadcast_counts(a.id).unwrap()[0].broadcast.state;
    assert!(db
        .control_broadcasts(a.id, None, Control::Pause, &refused)
        .is_err());
    assert_eq!(state(), BroadcastState::Active);

    assert!(db.cancel_announcement(a.id, &refused).is_err());
    assert_eq!(db.get_announcement(a.id).unwrap().0.cancelled_at, None);
    assert_eq!(state(), BroadcastState::Active);

    db.pause_channel(
        ChannelKind::Email,
        Utc::now() + Duration::hours(1),
        Some("held"),
    )
    .unwrap();
    assert!(db.resume_channel(ChannelKind::Email, &refused).is_err());
    assert_eq!(
        db.channel_hold(ChannelKind::Email).unwrap().as_deref(),
        Some("held")
    );

    let at = herold::domain::parse_local_time("07:00").unwrap();
    let tz = chrono_tz::Europe::Berlin;
    assert!(db.add_digest(cat.id, at, tz, "Tipps", &refused).is_err());
    assert_eq!(db.digest_of(cat.id).unwrap(), None);
    db.add_digest(cat.id, at, tz, "Tipps", &common::test_audit)
        .unwrap();
    assert!(db.remove_digest(cat.id, &refused).is_err());
    assert!(db.digest_of(cat.id).unwrap().is_some());

    let spare = db
        .add_category(&Slug::parse("spare").unwrap(), "Spare", &common::test_audit)
        .unwrap();
    assert!(db.remove_category("spare", "v1", &refused).is_err());
    assert_eq!(db.find_category("spare").unwrap(), Some(spare));

    // Only the successful actions were recorded.
    let actions: Vec<String> = db
        .list_audit(100)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["test.storage"; 4]);
});

both!(a_failed_action_records_nothing, |t: &TestDb| {
    let db = t.app.db();
    db.add_category(
        &Slug::parse("abfall").unwrap(),
        "Abfall",
        &common::test_audit,
    )
    .unwrap();
    assert!(db
        .add_category(
            &Slug::parse("abfall").unwrap(),
            "Again",
            &common::test_audit
        )
        .is_err());
    assert!(db.cancel_announcement(999, &common::test_audit).is_err());
    assert!(db
        .control_broadcasts(999, None, Control::Cancel, &common::test_audit)
        .is_err());
    assert!(db
        .remove_category("nope", "v1", &common::test_audit)
        .is_err());
    assert_eq!(db.list_audit(100).unwrap().len(), 1);
});
