//! The data-protection officer's consent report, on SQLite and PostgreSQL:
//! a seeded history with known numbers of opt-ins, confirmations,
//! withdrawals and erasures per channel; the report's figures match
//! exactly, the subscriber without proof is named by pseudonym, and the
//! CLI's CSV and JSON say the same as the HTML.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{Duration, Utc};
use common::{Backend, TestDb};
use herold::{
    domain::{ConsentCounts, SubscriberStatus},
    service::CONSENT_WORDING_VERSION,
    storage::NewSubscriber,
};
use herold_channel_api::ChannelKind;

fn counts(given: u64, confirmed: u64, withdrawn: u64, erased: u64) -> ConsentCounts {
    ConsentCounts {
        given,
        confirmed,
        withdrawn,
        erased,
    }
}

/// The history: on e-mail three sign-ups, two confirmed (one of them
/// later withdrawn), one pending; on Telegram four Starts (one erased,
/// one recorded without evidence); on WhatsApp one Start.
fn seeded(backend: Backend) -> (TestDb, String) {
    let t = TestDb::new(backend);
    let app = &t.app;
    let abfall = app.add_category("abfall", "Abfall", "test").unwrap();
    let kultur = app.add_category("kultur", "Kultur", "test").unwrap();
    let add = |channel, address: &str, status, cats: Vec<i64>, evidence: Option<&str>| {
        app.db()
            .insert_subscriber(&NewSubscriber {
                channel,
                address: address.into(),
                locale: "de".into(),
                status,
                category_ids: cats,
                wording_version: CONSENT_WORDING_VERSION.into(),
                evidence: evidence.map(str::to_owned),
            })
            .unwrap()
    };
    use ChannelKind::*;
    use SubscriberStatus::*;
    let a = add(
        Email,
        "anna@example.org",
        Pending,
        vec![abfall.id],
        Some("form:1"),
    );
    let b = add(
        Email,
        "bernd@example.org",
        Pending,
        vec![abfall.id, kultur.id],
        Some("form:2"),
    );
    let _c = add(
        Email,
        "carla@example.org",
        Pending,
        vec![kultur.id],
        Some("form:3"),
    );
    app.db()
        .confirm_subscriber(a.id, CONSENT_WORDING_VERSION, Some("token:1"))
        .unwrap();
    app.db()
        .confirm_subscriber(b.id, CONSENT_WORDING_VERSION, Some("token:2"))
        .unwrap();
    app.db()
        .unsubscribe(b.id, CONSENT_WORDING_VERSION, Some("one-click"))
        .unwrap();
    let _d = add(
        Telegram,
        "100001",
        Active,
        vec![abfall.id],
        Some("inbound:1"),
    );
    let e = add(
        Telegram,
        "100002",
        Active,
        vec![kultur.id],
        Some("inbound:2"),
    );
    let f = add(Telegram, "100003", Active, vec![abfall.id], None);
    let _g = add(
        Telegram,
        "100004",
        Active,
        vec![abfall.id, kultur.id],
        Some("inbound:4"),
    );
    app.db()
        .erase_subscriber(e.id, CONSENT_WORDING_VERSION)
        .unwrap();
    let _h = add(
        WhatsApp,
        "+4915112345678",
        Active,
        vec![kultur.id],
        Some("inbound:5"),
    );
    let unproven = app.db().get_subscriber(f.id).unwrap().pseudonym.to_string();
    (t, unproven)
}

fn consent_figures(backend: Backend) {
    let (t, unproven) = seeded(backend);
    let now = Utc::now();
    let r = t
        .app
        .consent_report(now - Duration::hours(1), now + Duration::hours(1))
        .unwrap();
    let channel = |kind| r.channels.iter().find(|c| c.channel == kind).unwrap();
    let email = channel(ChannelKind::Email);
    assert_eq!(email.events, counts(3, 2, 1, 0));
    assert_eq!((email.active_at_start, email.active_at_end), (0, 1));
    assert_eq!(
        email.by_category,
        vec![
            ("abfall".to_owned(), counts(2, 2, 1, 0)),
            ("kultur".to_owned(), counts(2, 1, 1, 0)),
        ]
    );
    let telegram = channel(ChannelKind::Telegram);
    // A Start is given and confirmed at once (the resident wrote).
    assert_eq!(telegram.events, counts(4, 4, 0, 1));
    assert_eq!(telegram.active_at_end, 3);
    let whatsapp = channel(ChannelKind::WhatsApp);
    assert_eq!(whatsapp.events, counts(1, 1, 0, 0));
    assert_eq!(whatsapp.active_at_end, 1);
    assert_eq!(
        r.wording_versions,
        vec![(CONSENT_WORDING_VERSION.to_owned(), 17)]
    );
    // Five in force; one without evidence of how consent was given.
    assert_eq!((r.evidence_complete, r.evidence_total), (4, 5));
    assert_eq!(r.incomplete.len(), 1);
    assert_eq!(r.incomplete[0].pseudonym, unproven);
    assert_eq!(
        r.incomplete[0].missing,
        "no evidence of how consent was given"
    );
    // The period before: nothing happened, nobody was subscribed.
    let before = t
        .app
        .consent_report(now - Duration::days(2), now - Duration::days(1))
        .unwrap();
    assert!(before.channels.is_empty());
    assert_eq!(before.evidence_total, 0);
}

#[test]
fn consent_figures_on_sqlite() {
    consent_figures(Backend::Sqlite);
}

#[test]
fn consent_figures_on_postgres() {
    consent_figures(Backend::Postgres);
}

/// The three formats from the command line agree.
#[test]
fn csv_and_json_agree_with_html() {
    let (t, unproven) = seeded(Backend::Sqlite);
    let config = t.app.config().clone();
    let run = |format: &str| {
        let out = common::herold(t.dir.path())
            .env("HEROLD_DATABASE_URL", &config.database_url)
            .args([
                "reports",
                "consent",
                "--from",
                "2000-01-01",
                "--to",
                "2099-12-31",
                "--format",
                format,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let csv = run("csv");
    let html = run("html");
    assert_eq!(json["evidence_total"], 5);
    assert_eq!(json["incomplete"][0]["pseudonym"], unproven.as_str());
    let email = json["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "email")
        .unwrap();
    assert_eq!(email["events"]["given"], 3);
    // CSV: the same row for e-mail, and the same pseudonym.
    assert!(csv.contains("channel,email,,3,2,1,0,0,1,"), "{csv}");
    assert!(csv.contains("category,email,kultur,2,1,1,0,,,"), "{csv}");
    assert!(
        csv.contains(&format!(
            "incomplete,telegram,,,,,,,,{unproven}: no evidence"
        )),
        "{csv}"
    );
    assert!(csv.contains("evidence,,,,,,,,,4 of 5"), "{csv}");
    // HTML: German headings, the same figures and pseudonym.
    assert!(html.contains("Einwilligungsbericht je Kanal"), "{html}");
    assert!(html.contains("4 von 5 aktiven Abonnements"), "{html}");
    assert!(html.contains(&unproven), "{html}");
    // Bad input names the flag.
    let out = common::herold(t.dir.path())
        .env("HEROLD_DATABASE_URL", &config.database_url)
        .args([
            "reports",
            "consent",
            "--from",
            "gestern",
            "--to",
            "2099-12-31",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from \"gestern\" is not a date"));
}
