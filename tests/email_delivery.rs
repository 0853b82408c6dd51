//! The e-mail channel end to end: `herold serve` delivers announcements over
//! SMTP to a real server (aiosmtpd, writing a Maildir), on SQLite and
//! PostgreSQL; an SMTP server that is down loses nothing.

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
    let port = smtp_port.to_string();
    Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_DELIVERY__BACKOFF_BASE_MS", "200"),
            ("HEROLD_DELIVERY__BACKOFF_MAX_SECONDS", "1"),
            ("HEROLD_EMAIL__HOST", "127.0.0.1"),
            ("HEROLD_EMAIL__PORT", &port),
            ("HEROLD_EMAIL__SECURITY", "none"),
            ("HEROLD_EMAIL__FROM", FROM),
        ],
    )
}

fn subscribe(s: &Server, database_url: Option<&str>, n: usize) -> herold::service::Herold {
    s.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    let app = s.open_database(database_url);
    let cat = app.db.find_category("verkehr").unwrap().unwrap();
    let addresses: Vec<String> = (0..n).map(|i| format!("buerger{i}@example.org")).collect();
    app.db
        .import_subscribers(
            herold_channel_api::ChannelKind::Email,
            &addresses,
            cat.id,
            herold::service::CONSENT_WORDING_VERSION,
            "test",
        )
        .unwrap();
    app
}

fn publish(s: &Server) {
    s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        TITLE,
        "--body",
        "Die **Hauptstraße** ist ab Montag gesperrt. Grüße aus dem Rathaus.",
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
    let counts = app.db.broadcast_counts(1).unwrap()[0].counts.clone();
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
    let counts = &app.db.broadcast_counts(1).unwrap()[0].counts;
    assert_eq!(counts.get(&D::Sent), Some(&5));
}
