//! `herold demo`: a seeded demo municipality on its own database whose
//! channels are sandboxes — what each resident received appears on the
//! /demo pages (chats, a mailbox, WhatsApp's template outside the 24-hour
//! window), every page carries the "Demo" banner, the staff application
//! is populated and its accounts sign in, a restart does not seed twice,
//! and a database with real residents is refused.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::server::free_port;
use herold::{
    config::Config,
    domain::SubscriberStatus,
    service::{Herold, CONSENT_WORDING_VERSION},
    storage::NewSubscriber,
};
use herold_channel_api::ChannelKind;
use reqwest::blocking::Client;
use std::{
    path::Path,
    process::{Child, Stdio},
    time::Duration,
};

struct Demo {
    child: Child,
    base: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Demo {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = common::herold(dir)
        .arg("demo")
        .env("HEROLD_LISTEN", format!("127.0.0.1:{port}"))
        .env("HEROLD_PUBLIC_URL", format!("{base}/"))
        .env("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = Client::new();
    common::wait_until("herold demo to serve", Duration::from_secs(30), || {
        http.get(format!("{base}/healthz"))
            .send()
            .is_ok_and(|r| r.status().is_success())
    });
    Demo { child, base }
}

fn text(http: &Client, url: &str) -> String {
    let r = http.get(url).send().unwrap();
    assert_eq!(r.status().as_u16(), 200, "{url}");
    r.text().unwrap()
}

#[test]
fn a_demo_municipality_with_sandbox_channels() {
    let dir = tempfile::tempdir().unwrap();
    let demo = start(dir.path());
    let http = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |p: &str| format!("{}{p}", demo.base);

    // Every announcement reached the sandbox: the Telegram resident with
    // three topics got the warning, two others and the reply to the photo.
    let chat = common::poll_until(Duration::from_secs(60), || {
        let page = text(&http, &url("/demo/telegram?to=710000001"));
        if page.contains("Unwetterwarnung")
            && page.contains("Berichtigung")
            && page.contains("Vorgang")
        {
            Ok(page)
        } else {
            Err(page)
        }
    });
    assert!(
        chat.contains("<b>Hauptstraße ab Montag gesperrt</b>"),
        "{chat}"
    );
    // WhatsApp: the resident who wrote gets text, the other the template.
    let wrote = text(&http, &url("/demo/whatsapp?to=%2B4915100000001"));
    assert!(
        wrote.contains("*Biotonne*") || wrote.contains("Biotonne"),
        "{wrote}"
    );
    assert!(!wrote.contains("WhatsApp-Vorlage"), "{wrote}");
    let silent = common::poll_until(Duration::from_secs(30), || {
        let page = text(&http, &url("/demo/whatsapp?to=%2B4915100000002"));
        if page.contains("Hauptstraße") {
            Ok(page)
        } else {
            Err(page)
        }
    });
    assert!(silent.contains("WhatsApp-Vorlage"), "{silent}");
    // E-mail: a mailbox whose mails open in a frame.
    let mailbox = common::poll_until(Duration::from_secs(30), || {
        let page = text(&http, &url("/demo/email?to=erika.mustermann%40example.org"));
        if page.contains("/demo/mail/") {
            Ok(page)
        } else {
            Err(page)
        }
    });
    let at = mailbox.find("/demo/mail/").unwrap();
    let id: String = mailbox[at + 11..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let mail = text(&http, &url(&format!("/demo/mail/{id}")));
    assert!(
        mail.contains("Gemeinde") || mail.contains("Herold"),
        "{mail}"
    );
    // The overview lists residents on every channel.
    let overview = text(&http, &url("/demo"));
    for channel in ["E-Mail", "Telegram", "WhatsApp", "Matrix"] {
        assert!(
            overview.contains(&format!("<td>{channel}</td>")),
            "{channel}: {overview}"
        );
    }

    // The banner on every page, not on feeds.
    for page in [
        "/",
        "/subscribe",
        "/staff/login",
        "/demo",
        "/announcements/1",
    ] {
        assert!(
            text(&http, &url(page)).contains("Demo – keine echten Empfänger"),
            "{page}"
        );
    }
    assert!(!text(&http, &url("/feeds/all.atom")).contains("Demo – keine"));

    // The staff application is populated and its accounts sign in.
    let form = text(&http, &url("/staff/login"));
    let at = form.find("name=\"csrf\" value=\"").unwrap();
    let csrf = form[at + 19..].split('"').next().unwrap().to_owned();
    let r = http
        .post(url("/staff/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "admin"),
            ("password", herold::demo::PASSWORD),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let inbox = text(&http, &url("/staff/inbox"));
    assert_eq!(
        inbox.matches("<td><a href=\"/staff/inbox/").count(),
        3,
        "{inbox}"
    );
    let list = text(&http, &url("/staff/announcements"));
    assert!(list.contains("Weihnachtsmarkt"));
    let stats = text(&http, &url("/staff/statistics"));
    assert!(stats.contains("<svg"));

    // A restart keeps the demo as it is (no second seeding).
    drop(demo);
    let demo = start(dir.path());
    let out = common::herold(dir.path())
        .env("HEROLD_DATABASE_URL", dir.path().join("herold-demo.db"))
        .env("HEROLD_SECRET_KEY_FILE", dir.path().join("herold-demo.key"))
        .args(["announcements", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listed.matches("Weihnachtsmarkt").count(), 1, "{listed}");
    drop(demo);
}

#[test]
fn a_database_with_real_residents_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("real.db");
    let key = dir.path().join("real.key");
    herold::storage::write_key_file(&key, &herold::crypto::Keyring::generate_encoded()).unwrap();
    let app = Herold::open(Config {
        database_url: db.display().to_string(),
        secret_key_file: Some(key),
        ..Config::default()
    })
    .unwrap();
    app.db()
        .insert_subscriber(&NewSubscriber {
            channel: ChannelKind::Email,
            address: "echt@example.org".into(),
            locale: "de".into(),
            status: SubscriberStatus::Active,
            category_ids: vec![],
            wording_version: CONSENT_WORDING_VERSION.into(),
            evidence: None,
        })
        .unwrap();
    drop(app);
    let out = common::herold(dir.path())
        .args(["demo", "--database"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no demo database"), "{err}");
}
