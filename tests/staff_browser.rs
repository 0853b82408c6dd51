//! The staff application and the public pages in a real browser (headless
//! Chromium through chromedriver): signing in, composing, the preview of
//! each channel, publishing, the progress reaching 100 % (live with
//! JavaScript, by reloading without), subscribing by e-mail from the
//! public page through to the confirmation — with JavaScript and without
//! — and axe-core on every page: no serious or critical violations.
//!
//! With HEROLD_SCREENSHOTS=1 the run also refreshes docs/screenshots/.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{browser::Browser, server::Server, smtp::Smtp};
use mail_parser::MessageParser;
use serde_json::json;
use std::time::Duration;
use wiremock::{
    matchers::{method, path_regex},
    Mock, MockServer, ResponseTemplate,
};

const PASSWORD: &str = "lange-geheime-Phrase-2026";
const TOKEN: &str = "123456:browser-test";
const SECRET: &str = "browser_hook-secret";
const MANUAL: &str =
    r#"[{id = "kanal", name = "WhatsApp-Kanal der Gemeinde", format = "whatsapp"}]"#;

struct Setup {
    s: Server,
    smtp: Smtp,
    _bot_api: MockServer,
}

async fn setup() -> Setup {
    let bot_api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(format!("^/bot{TOKEN}/send(Message|Photo)$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "result": {"message_id": 1, "date": 1_764_400_000, "chat": {"id": 1, "type": "private"}}
        })))
        .mount(&bot_api)
        .await;
    let smtp_port = common::server::free_port();
    let smtp = Smtp::start(smtp_port);
    let port = smtp_port.to_string();
    let uri = bot_api.uri();
    let s = tokio::task::spawn_blocking(move || {
        let s = Server::start_with(
            None,
            &[
                ("HEROLD_DELIVERY__CHANNELS", r#"["email", "telegram"]"#),
                ("HEROLD_EMAIL__HOST", "127.0.0.1"),
                ("HEROLD_EMAIL__PORT", &port),
                ("HEROLD_EMAIL__SECURITY", "none"),
                (
                    "HEROLD_EMAIL__FROM",
                    "Gemeinde Musterstadt <info@musterstadt.example>",
                ),
                ("HEROLD_TELEGRAM__API_URL", &uri),
                ("HEROLD_TELEGRAM__TOKEN", TOKEN),
                ("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET),
                ("HEROLD_TELEGRAM__MODE", "webhook"),
                ("HEROLD_TELEGRAM__BOT_USERNAME", "musterstadt_bot"),
                ("HEROLD_TELEGRAM__CHANNEL", "@musterstadt_info"),
                ("HEROLD_MANUAL", MANUAL),
                ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ],
        );
        prepare(&s);
        s
    })
    .await
    .unwrap();
    Setup {
        s,
        smtp,
        _bot_api: bot_api,
    }
}

/// The administrator adds a reply template, then answers the report with
/// it.
async fn answer_with_template(b: &Browser, setup: &Setup, shots: bool) {
    let s = &setup.s;
    b.click("form[action='/staff/logout'] button").await;
    b.wait_for_text("Anmelden", Duration::from_secs(10)).await;
    b.fill("#username", "ada").await;
    b.fill("#password", PASSWORD).await;
    b.click("form[action='/staff/login'] button[type=submit]")
        .await;
    b.wait_for_text("Willkommen", Duration::from_secs(10)).await;
    b.goto(&s.url("/staff/templates")).await;
    b.fill("#name", "Spielplatz").await;
    b.fill(
        "#body",
        "Danke für Ihre Meldung (Vorgang {case}). Der Bauhof sieht sich die Schaukel diese Woche an.",
    )
    .await;
    b.click("form[action='/staff/templates'] button[value=save]:last-of-type")
        .await;
    b.wait_for_text("Vorlage gespeichert.", Duration::from_secs(10))
        .await;
    b.assert_accessible().await;
    b.click("a[href='/staff/inbox']").await;
    b.wait_for_text("Vorgang", Duration::from_secs(10)).await;
    b.assert_accessible().await;
    if shots {
        b.screenshot("staff-inbox").await;
    }
    b.click("table a[href^='/staff/inbox/']").await;
    b.wait_for_text("kaputte Schaukel", Duration::from_secs(10))
        .await;
    b.find("#template")
        .await
        .select_by_label("Spielplatz")
        .await
        .unwrap();
    b.click("form[method=get] button[type=submit]").await;
    b.wait_for_text("Der Bauhof sieht sich", Duration::from_secs(10))
        .await;
    let text = b
        .find("#text")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(text.contains("(Vorgang "), "{text}");
    assert!(!text.contains("{case}"), "{text}");
    b.assert_accessible().await;
    if shots {
        b.screenshot("staff-conversation").await;
    }
    b.click("form[action$='/reply'] button[type=submit]").await;
    b.wait_for_text("Antwort gesendet.", Duration::from_secs(10))
        .await;
    b.assert_accessible().await;
}

/// Categories, two staff accounts and a resident's report (blocking).
fn prepare(s: &Server) {
    s.cli(&[
        "category",
        "add",
        "abfall",
        "--name",
        "Abfall und Wertstoffe",
    ]);
    s.cli(&[
        "category",
        "add",
        "verkehr",
        "--name",
        "Verkehr und Baustellen",
    ]);
    let file = s.dir.path().join("erik.pw");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    s.cli(&[
        "user",
        "add",
        "erik",
        "--role",
        "editor",
        "--display-name",
        "Erik Beispiel",
        "--password-file",
        file.to_str().unwrap(),
    ]);
    let file = s.dir.path().join("ada.pw");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    s.cli(&[
        "user",
        "add",
        "ada",
        "--role",
        "admin",
        "--password-file",
        file.to_str().unwrap(),
    ]);
    // A resident's report on Telegram.
    let update = json!({
        "update_id": 40_001,
        "message": {
            "message_id": 1, "date": 1_764_400_000,
            "chat": {"id": 77, "type": "private", "first_name": "Erika"},
            "from": {"id": 77, "is_bot": false, "first_name": "Erika"},
            "text": "Der Spielplatz am Lindenweg hat eine kaputte Schaukel."
        }
    });
    let (status, _) = s.post_telegram(SECRET, &update);
    assert_eq!(status, 200);
}

/// A resident subscribes on the public page and confirms from the mail.
async fn subscribe_by_email(b: &Browser, setup: &Setup, address: &str, shots: bool) {
    let s = &setup.s;
    b.goto(&s.url("/")).await;
    b.assert_accessible().await;
    if shots {
        b.screenshot("public-start").await;
    }
    // The English page and the privacy notice pass the checks too.
    b.goto(&s.url("/subscribe?lang=en")).await;
    b.find("svg").await;
    b.assert_accessible().await;
    b.goto(&s.url("/privacy")).await;
    b.assert_accessible().await;
    b.goto(&s.url("/subscribe")).await;
    b.assert_accessible().await;
    if shots {
        b.screenshot("public-subscribe").await;
    }
    b.fill("#email", address).await;
    b.click("#c-abfall").await;
    b.click("form[action='/subscribe'] button[type=submit]")
        .await;
    b.wait_for_text(
        "Bitte bestätigen Sie Ihre Anmeldung",
        Duration::from_secs(10),
    )
    .await;
    b.assert_accessible().await;
    let mail = common::poll_until(Duration::from_secs(30), || {
        setup
            .smtp
            .mails()
            .into_iter()
            .find(|m| String::from_utf8_lossy(m).contains(address))
            .ok_or_else(|| format!("no confirmation mail to {address}"))
    });
    let text = MessageParser::default()
        .parse(&mail)
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/subscribe/confirm/"))
        .unwrap()
        .trim_end_matches(['.', ',', ')', '>'])
        .to_owned();
    b.goto(&link).await;
    b.assert_accessible().await;
    b.click("form button[type=submit]").await;
    b.wait_for_text("Ihre Anmeldung ist bestätigt", Duration::from_secs(10))
        .await;
    b.assert_accessible().await;
}

/// An editor signs in, composes, previews and publishes; the progress
/// page reaches 100 %.
async fn compose_and_publish(b: &Browser, setup: &Setup, title: &str, shots: bool) {
    let s = &setup.s;
    b.goto(&s.url("/staff")).await;
    assert_eq!(b.path().await, "/staff/login");
    b.assert_accessible().await;
    if shots {
        b.screenshot("staff-login").await;
    }
    b.fill("#username", "erik").await;
    b.fill("#password", PASSWORD).await;
    b.click("form[action='/staff/login'] button[type=submit]")
        .await;
    b.wait_for_text("Willkommen", Duration::from_secs(10)).await;
    b.assert_accessible().await;

    b.click("a[href='/staff/compose']").await;
    b.wait_for_text("Kategorie", Duration::from_secs(10)).await;
    b.assert_accessible().await;
    b.find("#category")
        .await
        .select_by_value("abfall")
        .await
        .unwrap();
    b.fill("#title", title).await;
    b.fill(
        "#body",
        "Die **Biotonne** wird wegen des Feiertags erst am Samstag geleert.\n\nDetails im [Abfallkalender](https://musterstadt.example/abfall).",
    )
    .await;
    if b.javascript() {
        // The live preview: saved and shown while typing, no button.
        b.wait_for_text("Vorschau je Kanal", Duration::from_secs(15))
            .await;
        b.wait_for_text("Abfallkalender", Duration::from_secs(15))
            .await;
    } else {
        b.click("button[value=preview]").await;
        b.wait_for_text("Vorschau je Kanal", Duration::from_secs(10))
            .await;
    }
    for id in [
        "preview-page",
        "preview-email",
        "preview-telegram",
        "preview-manual-kanal",
    ] {
        b.find(&format!("#{id}")).await;
    }
    let telegram = b
        .find("#preview-telegram .bubble")
        .await
        .text()
        .await
        .unwrap();
    assert!(telegram.contains(title), "{telegram}");
    b.assert_accessible().await;
    if shots {
        b.screenshot("staff-compose-preview").await;
    }
    b.click("button[value=publish]").await;
    b.wait_for_text("Der Versand ist abgeschlossen.", Duration::from_secs(60))
        .await;
    assert!(b.path().await.starts_with("/staff/announcements/"));
    let e_mail_row = b
        .find("tr[data-channel=email] [data-k=percent]")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(e_mail_row, "100");
    let state = b
        .find("tr[data-channel=email] [data-k=state]")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(state, "fertig");
    b.assert_accessible().await;
    if shots {
        b.screenshot("staff-progress").await;
    }
    b.click("a[href='/staff/announcements']").await;
    b.wait_for_text(title, Duration::from_secs(10)).await;
    // Saving while typing left no second draft behind.
    assert!(
        b.text().await.contains("Keine Entwürfe."),
        "{}",
        b.text().await
    );
    b.assert_accessible().await;
    b.click("nav a[href='/staff/statistics']").await;
    b.wait_for_text("Empfänger je Kanal", Duration::from_secs(10))
        .await;
    b.find("#channels svg").await;
    b.assert_accessible().await;
    if shots {
        b.screenshot("staff-statistics").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_residents_in_a_browser_with_javascript() {
    let setup = setup().await;
    let b = Browser::start(true).await;
    // The checker finds what it should: a picture without alt text.
    b.goto("data:text/html,<!DOCTYPE html><html lang=de><title>t</title><main><img src=x></main></html>")
        .await;
    let found = b.axe().await;
    assert!(
        found.iter().any(|v| v["id"] == "image-alt"),
        "axe-core did not report the missing alt text: {found:?}"
    );
    subscribe_by_email(&b, &setup, "erika@example.org", true).await;
    compose_and_publish(&b, &setup, "Biotonne erst am Samstag", true).await;
    answer_with_template(&b, &setup, true).await;
    // The subscriber got the announcement by e-mail.
    common::poll_until(Duration::from_secs(30), || {
        setup
            .smtp
            .mails()
            .into_iter()
            .find(|m| String::from_utf8_lossy(m).contains("Biotonne erst am Samstag"))
            .ok_or_else(|| "the announcement mail has not arrived".to_owned())
    });
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_residents_in_a_browser_without_javascript() {
    let setup = setup().await;
    let b = Browser::start(false).await;
    // JavaScript is really off: <noscript> content is part of the page.
    b.goto("data:text/html,<!DOCTYPE html><noscript><p id=off>off</p></noscript>")
        .await;
    b.find("#off").await;
    subscribe_by_email(&b, &setup, "ohne-skript@example.org", false).await;
    compose_and_publish(&b, &setup, "Straßensperrung ohne Skript", false).await;
    answer_with_template(&b, &setup, false).await;
    b.close().await;
}

/// `herold demo`'s pages in the browser: the overview and a resident's
/// chat and mailbox pass axe-core too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::server::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = common::herold(dir.path())
        .arg("demo")
        .env("HEROLD_LISTEN", format!("127.0.0.1:{port}"))
        .env("HEROLD_PUBLIC_URL", format!("{base}/"))
        .env("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let b = Browser::start(true).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if b.client
            .goto(&format!("{base}/demo/telegram?to=710000001"))
            .await
            .is_ok()
            && b.text().await.contains("Unwetterwarnung")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo delivered nothing"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    b.assert_accessible().await;
    b.screenshot("demo-chat").await;
    b.goto(&format!("{base}/demo")).await;
    b.assert_accessible().await;
    b.screenshot("demo-overview").await;
    b.goto(&format!(
        "{base}/demo/email?to=erika.mustermann%40example.org"
    ))
    .await;
    b.find("iframe").await;
    b.assert_accessible().await;
    b.close().await;
    let _ = child.kill();
    let _ = child.wait();
}
