//! The e-mail channel end to end: `herold serve` delivers announcements over
//! SMTP to a real server (aiosmtpd, writing a Maildir), on SQLite and
//! PostgreSQL; an SMTP server that is down loses nothing.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    server::{free_port, Server},
    smtp::Smtp,
};
use mail_parser::{MessageParser, MimeHeaders};
use std::time::Duration;

const FROM: &str = "Gemeinde Müllheim-Süd <info@muellheim-sued.example>";
const TITLE: &str = "Straßensperrung <Hauptstraße> & \"Umleitung\"";

fn serve(database_url: Option<&str>, smtp_port: u16) -> Server {
    serve_with(database_url, smtp_port, &[])
}

/// `herold serve` mailing to `smtp_port` at once, retrying fast.
fn serve_with(database_url: Option<&str>, smtp_port: u16, extra: &[(&str, &str)]) -> Server {
    let port = smtp_port.to_string();
    let mut env = vec![
        ("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#),
        ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
        ("HEROLD_DELIVERY__BACKOFF_BASE_MS", "200"),
        ("HEROLD_DELIVERY__BACKOFF_MAX_SECONDS", "1"),
        ("HEROLD_EMAIL__HOST", "127.0.0.1"),
        ("HEROLD_EMAIL__PORT", &port),
        ("HEROLD_EMAIL__SECURITY", "none"),
        ("HEROLD_EMAIL__FROM", FROM),
    ];
    env.extend_from_slice(extra);
    Server::start_with(database_url, &env)
}

fn subscribe(s: &Server, database_url: Option<&str>, n: usize) -> herold::service::Herold {
    let addresses: Vec<String> = (0..n).map(|i| format!("buerger{i}@example.org")).collect();
    s.email_subscribers(database_url, "verkehr", &addresses)
}

const IMAGE_ALT: &str = "Plan der Umleitung über die Bahnhofstraße";

fn publish(s: &Server) {
    let image =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/gps.jpg");
    s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        TITLE,
        "--body",
        "Die **Hauptstraße** ist ab Montag gesperrt. Grüße aus dem Rathaus.",
        "--image",
        &image.display().to_string(),
        "--image-alt",
        IMAGE_ALT,
    ]);
}

fn check_mail(raw: &[u8]) {
    let msg = MessageParser::default()
        .parse(raw)
        .expect("a parsable mail");
    assert_eq!(msg.subject(), Some(TITLE));
    let from = msg.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Gemeinde Müllheim-Süd"));
    assert!(msg.message_id().is_some_and(|id| id.contains('@')));
    assert!(msg.date().is_some());
    assert!(msg
        .to()
        .unwrap()
        .first()
        .unwrap()
        .address()
        .unwrap()
        .ends_with("@example.org"));
    let text = msg.body_text(0).unwrap();
    assert!(text.contains("Hauptstraße"), "{text}");
    let html = msg.body_html(0).unwrap();
    assert!(html.contains("<strong>Hauptstraße</strong>"), "{html}");
    // The image inline by its public URL, with its alt text in both parts.
    assert!(
        html.contains(&format!(r#"/media/1.jpg" alt="{IMAGE_ALT}""#)),
        "{html}"
    );
    assert!(text.contains(&format!("Bild: {IMAGE_ALT}")), "{text}");
    assert!(msg
        .content_type()
        .is_some_and(|c| c.subtype() == Some("alternative")));
}

fn delivers_over_smtp(database_url: Option<&str>) {
    let port = free_port();
    let smtp = Smtp::start(port);
    let s = serve(database_url, port);
    subscribe(&s, database_url, 12);
    publish(&s);
    let mails = smtp.wait_for(12, Duration::from_secs(30));
    assert_eq!(mails.len(), 12);
    for m in &mails {
        check_mail(m);
    }
    // Every subscriber once.
    let mut to: Vec<String> = mails
        .iter()
        .map(|m| {
            let msg = MessageParser::default().parse(m).unwrap();
            msg.to()
                .unwrap()
                .first()
                .unwrap()
                .address()
                .unwrap()
                .to_owned()
        })
        .collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 12);
}

#[test]
fn delivers_over_smtp_on_sqlite() {
    delivers_over_smtp(None);
}

#[test]
fn delivers_over_smtp_on_postgres() {
    let pg = common::PgDatabase::create();
    delivers_over_smtp(Some(&pg.url));
}

/// The SMTP server is down when the announcement goes out: deliveries wait
/// and retry (none fails), and arrive once the server is back, each once.
#[test]
fn smtp_server_down_loses_nothing() {
    let port = free_port();
    let s = serve(None, port);
    let app = subscribe(&s, None, 5);
    publish(&s);
    // Attempts fail while nothing listens; nothing is given up.
    std::thread::sleep(Duration::from_millis(1500));
    use herold::domain::DeliveryState as D;
    let counts = app.db().broadcast_counts(1).unwrap()[0].counts.clone();
    assert_eq!(counts.get(&D::Sent), None, "{counts:?}");
    assert_eq!(counts.get(&D::Failed), None, "{counts:?}");
    assert!(
        counts.get(&D::Queued).copied().unwrap_or(0)
            + counts.get(&D::Sending).copied().unwrap_or(0)
            == 5,
        "{counts:?}"
    );
    let smtp = Smtp::start(port);
    let mails = smtp.wait_for(5, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.mails().len(), 5, "each mail exactly once");
    for m in &mails {
        check_mail(m);
    }
    let counts = &app.db().broadcast_counts(1).unwrap()[0].counts;
    assert_eq!(counts.get(&D::Sent), Some(&5));
}

/// How long bounces may take to be counted (just after the deliveries are
/// recorded).
const BOUNCE_COUNTING: Duration = Duration::from_secs(10);

/// Waits until every delivery of announcement `id` is final.
fn wait_settled(app: &herold::service::Herold, id: i64, n: usize) -> Vec<herold::domain::Delivery> {
    use herold::domain::DeliveryState as D;
    common::poll_until(Duration::from_secs(30), || {
        let ds = app.db().deliveries_of(id).unwrap();
        if ds.len() == n
            && ds
                .iter()
                .all(|d| !matches!(d.state, D::Queued | D::Sending))
        {
            Ok(ds)
        } else {
            Err(format!("{ds:?}"))
        }
    })
}

/// Permanent refusals (bounces) stop mail to an address after
/// `email.max_bounces` in a row; a delivery that gets through starts the
/// count anew; policy refusals (5.7.x) and temporary ones do not count.
fn bounces_stop_an_address(database_url: Option<&str>) {
    use herold::domain::{DeliveryState as D, SubscriberStatus as S};
    let port = free_port();
    let smtp = Smtp::start_rejecting(port);
    let s = serve_with(database_url, port, &[("HEROLD_EMAIL__MAX_BOUNCES", "2")]);
    let people = [
        "full.anna@example.org",  // mailbox full, always
        "gone.bert@example.org",  // no such user
        "spam.cem@example.org",   // refused as spam: not a bounce
        "moody.dora@example.org", // full only for subjects "Voll…"
        "emil@example.org",       // fine
    ];
    let addresses: Vec<String> = people.iter().map(|p| p.to_string()).collect();
    let app = s.email_subscribers(database_url, "verkehr", &addresses);
    let id_of = |a: &str| {
        app.db()
            .find_subscriber_by_address(herold_channel_api::ChannelKind::Email, a)
            .unwrap()
            .unwrap()
    };
    let publish = |title: &str| {
        s.cli(&[
            "publish",
            "--category",
            "verkehr",
            "--title",
            title,
            "--body",
            "Text",
        ]);
    };

    publish("Voll eins");
    let ds = wait_settled(&app, 1, 5);
    let state_of = |ds: &[herold::domain::Delivery], a: &str| {
        let id = id_of(a).id;
        ds.iter()
            .find(|d| d.subscriber_id == Some(id))
            .map(|d| d.state)
    };
    assert_eq!(state_of(&ds, "full.anna@example.org"), Some(D::Failed));
    assert_eq!(state_of(&ds, "gone.bert@example.org"), Some(D::Failed));
    assert_eq!(state_of(&ds, "spam.cem@example.org"), Some(D::Failed));
    assert_eq!(state_of(&ds, "moody.dora@example.org"), Some(D::Failed));
    assert_eq!(state_of(&ds, "emil@example.org"), Some(D::Sent));
    let bounces = |a: &str| app.db().bounces_of(id_of(a).id).unwrap().0;
    let last_bounce = |a: &str| app.db().bounces_of(id_of(a).id).unwrap().1;
    common::wait_until("first bounces counted", BOUNCE_COUNTING, || {
        bounces("full.anna@example.org") == 1
            && bounces("gone.bert@example.org") == 1
            && bounces("moody.dora@example.org") == 1
    });
    assert_eq!(
        bounces("spam.cem@example.org"),
        0,
        "policy refusals are no bounces"
    );
    // One bounce is below the limit: everybody still subscribed.
    assert!(people.iter().all(|p| id_of(p).status == S::Active));

    publish("Normal");
    wait_settled(&app, 2, 5);
    // Anna and Bert bounced twice in a row: their subscriptions ended,
    // with the reason in the consent ledger.
    common::wait_until("second bounces counted", BOUNCE_COUNTING, || {
        id_of("full.anna@example.org").status == S::Unsubscribed
            && id_of("gone.bert@example.org").status == S::Unsubscribed
    });
    for (who, evidence) in [
        ("full.anna@example.org", "provider:bounced"),
        ("gone.bert@example.org", "provider:recipient-gone"),
    ] {
        let sub = id_of(who);
        assert_eq!(sub.status, S::Unsubscribed, "{who}");
        let last = app.db().consent_events_of(sub.id).unwrap().pop().unwrap();
        let got = last.evidence.unwrap_or_default();
        // The kind, then the provider's reason.
        assert!(got.starts_with(&format!("{evidence}: ")), "{who}: {got}");
    }

    // Dora got "Normal" in between: her next bounce counts from one again.
    let dora_first = last_bounce("moody.dora@example.org");
    assert!(dora_first.is_some());
    publish("Voll zwei");
    let ds = wait_settled(&app, 3, 3);
    common::wait_until("Dora's second bounce counted", BOUNCE_COUNTING, || {
        last_bounce("moody.dora@example.org") != dora_first
    });
    assert_eq!(bounces("moody.dora@example.org"), 1);
    assert_eq!(id_of("moody.dora@example.org").status, S::Active);
    assert_eq!(id_of("spam.cem@example.org").status, S::Active);
    // The stopped addresses are not sent to at all.
    for who in ["full.anna@example.org", "gone.bert@example.org"] {
        assert!(ds.iter().all(|d| d.subscriber_id != Some(id_of(who).id)));
    }
    // Emil three times, Dora once ("Normal").
    let mails = smtp.wait_for(4, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(smtp.mails().len(), 4, "{}", mails.len());
}

#[test]
fn bounces_stop_an_address_on_sqlite() {
    bounces_stop_an_address(None);
}

#[test]
fn bounces_stop_an_address_on_postgres() {
    let pg = common::PgDatabase::create();
    bounces_stop_an_address(Some(&pg.url));
}

/// A sign-up confirmation sent while a newsletter goes out uses the
/// engine's own e-mail adapter: one SMTP pool. With `pool_max_size = 1`
/// the server sees exactly one connection for both (a second adapter in
/// the web layer would open a second one).
fn confirmation_and_newsletter_share_one_pool(database_url: Option<&str>) {
    let smtp_port = free_port();
    let sink = common::smtp::Sink::start(smtp_port);
    // Sink::start connected once to see that the sink is up.
    let probes = || sink.stats()["connections"].as_u64().unwrap_or(0);
    common::wait_until(
        "the sink counts its probe connection",
        Duration::from_secs(10),
        || probes() > 0,
    );
    let probes = probes();
    let s = serve_with(
        database_url,
        smtp_port,
        &[
            ("HEROLD_EMAIL__POOL_MAX_SIZE", "1"),
            ("HEROLD_EMAIL__RATE_PER_SECOND", "200"),
            ("HEROLD_EMAIL__RATE_BURST", "20"),
        ],
    );
    subscribe(&s, database_url, 300);
    publish(&s);
    // At the same moment, a resident signs up on the web form.
    let http = reqwest::blocking::Client::new();
    let signup = http
        .post(s.url("/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=neu%40example.org&category=verkehr")
        .send()
        .unwrap();
    assert_eq!(signup.status().as_u16(), 200, "{:?}", signup.text());
    let stats = sink.wait_for(301, Duration::from_secs(60));
    assert_eq!(stats["mails"], 301, "{stats}");
    assert_eq!(
        stats["connections"].as_u64().unwrap() - probes,
        1,
        "newsletter and confirmation must share one pool: {stats}"
    );
}

#[test]
fn confirmation_and_newsletter_share_one_pool_on_sqlite() {
    confirmation_and_newsletter_share_one_pool(None);
}

#[test]
fn confirmation_and_newsletter_share_one_pool_on_postgres() {
    let db = common::PgDatabase::create();
    confirmation_and_newsletter_share_one_pool(Some(&db.url));
}
