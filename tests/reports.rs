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
    app.erase(e.id).unwrap();
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

/// The audit log from the command line, filtered by staff member, action
/// (or its group) and period, as a table or JSON lines.
fn audit_log(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    herold::storage::write_key_file(
        &d.join("pg.key"),
        &herold::crypto::Keyring::generate_encoded(),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut c = common::herold(d);
        c.env(
            "HEROLD_MANUAL",
            r#"[{id = "aushang", name = "Schaukasten"}]"#,
        )
        .args(args);
        if let Some(url) = database_url {
            c.env("HEROLD_DATABASE_URL", url)
                .env("HEROLD_SECRET_KEY_FILE", d.join("pg.key"));
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["category", "add", "abfall", "--name", "Abfall"]);
    run(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Samstag.",
    ]);
    run(&[
        "manual",
        "posted",
        "1",
        "--channel",
        "aushang",
        "--by",
        "Petra Schmidt",
    ]);
    let all = run(&["reports", "audit"]);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 3, "{all}");
    assert!(
        lines[0].contains("\tPetra Schmidt\tmanual.posted\tannouncement:1\t"),
        "{all}"
    );
    assert!(lines[2].contains("\tcli\tcategory.add\t"), "{all}");
    let petra = run(&["reports", "audit", "--actor", "Petra Schmidt"]);
    assert_eq!(petra.lines().count(), 1, "{petra}");
    let group = run(&["reports", "audit", "--action", "announcement"]);
    assert_eq!(group.lines().count(), 1, "{group}");
    assert!(group.contains("announcement.publish"), "{group}");
    let json = run(&["reports", "audit", "--action", "manual.posted", "--json"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["actor"], "Petra Schmidt");
    assert_eq!(v["details"]["channel"], "aushang");
    let old = run(&["reports", "audit", "--to", "2020-01-01"]);
    assert_eq!(old.trim(), "no audit events match");
    let today = run(&["reports", "audit", "--from", "2020-01-01", "--limit", "2"]);
    assert_eq!(today.lines().count(), 2, "{today}");
}

#[test]
fn audit_log_on_sqlite() {
    audit_log(None);
}

#[test]
fn audit_log_on_postgres() {
    let pg = common::PgDatabase::create();
    audit_log(Some(&pg.url));
}

/// Two announcements through the real engine (in-memory providers for
/// e-mail and Telegram) and a manual channel: the first went everywhere
/// and was posted by hand; the second was published while only e-mail was
/// configured and is not posted yet — both channels are flagged for it.
fn parity(backend: Backend) {
    use herold::{
        app::App,
        config::{ManualChannelConfig, ManualFormat},
        registry::Registry,
        service::Herold,
    };
    use herold_channel_api::{Channel, RateLimit};
    use herold_channel_fake::MemoryProvider;
    use std::sync::Arc;

    let t = TestDb::with_config(backend, |c| {
        c.delivery.channels = vec![ChannelKind::Email, ChannelKind::Telegram];
        c.delivery.poll_interval_ms = 20;
        c.manual = vec![ManualChannelConfig {
            id: "whatsapp-channel".into(),
            name: "WhatsApp-Kanal".into(),
            format: ManualFormat::WhatsApp,
            categories: Vec::new(),
        }];
    });
    let app = &t.app;
    let abfall = app.add_category("abfall", "Abfall", "test").unwrap();
    for (channel, address) in [
        (ChannelKind::Email, "a@example.org"),
        (ChannelKind::Email, "b@example.org"),
        (ChannelKind::Email, "c@example.org"),
        (ChannelKind::Telegram, "200001"),
        (ChannelKind::Telegram, "200002"),
    ] {
        app.db()
            .insert_subscriber(&NewSubscriber {
                channel,
                address: address.into(),
                locale: "de".into(),
                status: SubscriberStatus::Active,
                category_ids: vec![abfall.id],
                wording_version: CONSENT_WORDING_VERSION.into(),
                evidence: Some("test".into()),
            })
            .unwrap();
    }
    let first = app
        .publish(&common::publish_request("abfall", "Biotonne", "Samstag."))
        .unwrap()
        .id;
    // The same database as configured before Telegram was added.
    let mut email_only = app.config().clone();
    email_only.delivery.channels = vec![ChannelKind::Email];
    let second = Herold::open(email_only)
        .unwrap()
        .publish(&common::publish_request("abfall", "Sperrmüll", "Montag."))
        .unwrap()
        .id;
    let email = Arc::new(MemoryProvider::new(
        ChannelKind::Email,
        RateLimit::new(1000.0, 1000),
    ));
    let telegram = Arc::new(MemoryProvider::new(
        ChannelKind::Telegram,
        RateLimit::new(1000.0, 1000),
    ));
    let engine = App::assemble(
        app.clone(),
        Registry::from_channels([
            email.clone() as Arc<dyn Channel>,
            telegram.clone() as Arc<dyn Channel>,
        ]),
    )
    .unwrap()
    .engine();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handle = tokio::spawn(engine.run(stopped));
        let start = std::time::Instant::now();
        while email.sent() < 6 || telegram.sent() < 2 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "not delivered"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // The last batch's rows are written once it is through.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stop.send(true).unwrap();
        handle.await.unwrap().unwrap();
    });
    app.confirm_manual_post(first, "whatsapp-channel", "Petra Schmidt")
        .unwrap();

    let now = Utc::now();
    let r = app
        .parity_report(now - Duration::hours(1), now + Duration::hours(1), 10)
        .unwrap();
    assert_eq!(r.announcements.len(), 2);
    let row = |id: i64, channel: &str| {
        r.announcements
            .iter()
            .find(|a| a.id == id)
            .unwrap()
            .channels
            .iter()
            .find(|c| c.channel == channel)
            .unwrap_or_else(|| panic!("{channel} missing for {id}: {r:#?}"))
            .clone()
    };
    let a = &r.announcements.iter().find(|a| a.id == first).unwrap();
    assert!(!a.flagged(), "{a:#?}");
    assert_eq!(row(first, "email").handed_over, 3);
    assert_eq!(row(first, "telegram").handed_over, 2);
    assert!(row(first, "email").first.is_some());
    assert_eq!(row(first, "whatsapp-channel").handed_over, 1);
    let b = r.announcements.iter().find(|a| a.id == second).unwrap();
    assert!(b.flagged());
    assert_eq!(row(second, "email").handed_over, 3);
    assert_eq!(row(second, "email").gap, None);
    assert_eq!(
        row(second, "telegram").gap.as_deref(),
        Some("did not carry it")
    );
    assert_eq!(
        row(second, "whatsapp-channel").gap.as_deref(),
        Some("not yet posted")
    );

    // The command line says the same in each format.
    let config = app.config().clone();
    let run = |format: &str| {
        let mut c = common::herold(t.dir.path());
        c.env("HEROLD_DATABASE_URL", &config.database_url)
            .env("HEROLD_DELIVERY__CHANNELS", r#"["email", "telegram"]"#)
            .env(
                "HEROLD_MANUAL",
                r#"[{id = "whatsapp-channel", name = "WhatsApp-Kanal", format = "whatsapp"}]"#,
            )
            .args([
                "reports",
                "parity",
                "--from",
                "2000-01-01",
                "--to",
                "2099-12-31",
                "--format",
                format,
            ]);
        if let Some(key) = &config.secret_key {
            c.env("HEROLD_SECRET_KEY", key.expose());
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = run("csv");
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("{second},Sperrmüll,"))
                && l.contains(",telegram,push,0,0,0,,,did not carry it")),
        "{csv}"
    );
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(
        json["announcements"][1]["channels"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let html = run("html");
    assert!(
        html.contains("did not carry it") && html.contains("not yet posted"),
        "{html}"
    );
    assert!(html.contains("Paritätsbericht"), "{html}");
}

#[test]
fn parity_on_sqlite() {
    parity(Backend::Sqlite);
}

#[test]
fn parity_on_postgres() {
    parity(Backend::Postgres);
}
