//! The public subscribe page through `herold serve`: every configured
//! channel with its deep links and a QR code drawn on the server
//! (WhatsApp with "Start" prefilled, the Telegram bot and public channel),
//! the e-mail form, feeds and calendars, the privacy notice generated from
//! the record of processing activities, the imprint link, and the English
//! version — down to the confirmation mail and the resident's language.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    server::{free_port, Server},
    smtp::Smtp,
};
use herold_channel_api::ChannelKind;
use mail_parser::MessageParser;
use reqwest::blocking::Client;
use std::time::Duration;

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn env(smtp_port: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "HEROLD_DELIVERY__CHANNELS",
            r#"["email", "telegram", "whatsapp"]"#.into(),
        ),
        ("HEROLD_EMAIL__HOST", "127.0.0.1".into()),
        ("HEROLD_EMAIL__PORT", smtp_port.into()),
        ("HEROLD_EMAIL__SECURITY", "none".into()),
        (
            "HEROLD_EMAIL__FROM",
            "Gemeinde Musterstadt <info@musterstadt.example>".into(),
        ),
        ("HEROLD_TELEGRAM__TOKEN", "123456:subscribe-page".into()),
        ("HEROLD_TELEGRAM__API_URL", "http://127.0.0.1:9".into()),
        ("HEROLD_TELEGRAM__MODE", "webhook".into()),
        ("HEROLD_TELEGRAM__WEBHOOK_SECRET", "page-secret".into()),
        ("HEROLD_TELEGRAM__BOT_USERNAME", "musterstadt_bot".into()),
        ("HEROLD_TELEGRAM__CHANNEL", "@musterstadt_info".into()),
        (
            "HEROLD_TELEGRAM__CHANNEL_CATEGORIES",
            r#"["abfall"]"#.into(),
        ),
        ("HEROLD_WHATSAPP__API_URL", "http://127.0.0.1:9".into()),
        ("HEROLD_WHATSAPP__ACCESS_TOKEN", "wa-token".into()),
        ("HEROLD_WHATSAPP__PHONE_NUMBER_ID", "1098".into()),
        ("HEROLD_WHATSAPP__APP_SECRET", "wa-secret".into()),
        ("HEROLD_WHATSAPP__VERIFY_TOKEN", "wa-verify".into()),
        (
            "HEROLD_WHATSAPP__TEMPLATES__BROADCAST__NAME",
            "gemeinde_info".into(),
        ),
        ("HEROLD_WHATSAPP__DISPLAY_NUMBER", "+49 171 2345678".into()),
        (
            "HEROLD_PRIVACY__CONTROLLER",
            "Gemeinde Musterstadt, Rathausplatz 1, 12345 Musterstadt".into(),
        ),
        (
            "HEROLD_PRIVACY__DPO_CONTACT",
            "datenschutz@musterstadt.example".into(),
        ),
        (
            "HEROLD_PRIVACY__IMPRINT_URL",
            "https://www.musterstadt.example/impressum".into(),
        ),
    ]
}

#[test]
fn every_channel_on_one_page_in_german_and_english() {
    let smtp_port = free_port();
    let smtp = Smtp::start(smtp_port);
    let port = smtp_port.to_string();
    let vars = env(&port);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::start_with(None, &vars);
    s.cli(&[
        "category",
        "add",
        "abfall",
        "--name",
        "Abfall und Wertstoffe",
    ]);
    s.cli(&["category", "add", "kultur", "--name", "Kultur"]);
    let http = client();

    let page = http
        .get(s.url("/subscribe"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("<html lang=\"de\">"), "{page}");
    assert!(page.contains("Bekanntmachungen erhalten"));
    // WhatsApp with "Start" prefilled, the Telegram bot and its channel.
    for link in [
        "https://wa.me/491712345678?text=Start",
        "https://t.me/musterstadt_bot",
        "https://t.me/musterstadt_info",
    ] {
        assert!(page.contains(&format!("href=\"{link}\"")), "{link}: {page}");
    }
    assert!(page.contains("Er bringt Bekanntmachungen zu: Abfall und Wertstoffe."));
    // A QR code per link, inline SVG hidden from screen readers, labelled.
    assert_eq!(
        page.matches("<svg aria-hidden=\"true\"").count(),
        3,
        "{page}"
    );
    assert!(page.contains("role=\"img\" aria-label=\"QR-Code für @musterstadt_bot\""));
    // The e-mail form, feeds, calendars, privacy notice and imprint.
    assert!(page.contains("name=\"email\""));
    assert!(page.contains("href=\"/feeds/abfall.ics\""));
    assert!(page.contains("href=\"/privacy?lang=de\""));
    assert!(page.contains("href=\"https://www.musterstadt.example/impressum\""));
    assert!(page.contains("href=\"/subscribe?lang=en\""));

    // English.
    let page = http
        .get(s.url("/subscribe?lang=en"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    assert!(page.contains("Receive announcements"));
    assert!(page.contains("QR code for @musterstadt_bot"));
    assert!(page.contains("href=\"/subscribe?lang=de\""));
    // An unknown language falls back to German.
    let page = http
        .get(s.url("/subscribe?lang=xx"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("<html lang=\"de\">"));

    // Signing up from the English page: English answer, English mail,
    // and the resident's language is English.
    let r = http
        .post(s.url("/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("lang=en&email=reader%40example.org&category=kultur")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().unwrap().contains("Please confirm"));
    let mail = smtp.wait_for(1, Duration::from_secs(30));
    let parsed = MessageParser::default().parse(&mail[0]).unwrap();
    let text = parsed.body_text(0).unwrap().into_owned();
    assert!(text.contains("confirm"), "{text}");
    let app = s.open_database(None);
    let resident = app
        .db()
        .find_subscriber_by_address(ChannelKind::Email, "reader@example.org")
        .unwrap()
        .unwrap();
    assert_eq!(resident.locale, "en");

    // The privacy notice, from the record of processing activities.
    let page = http.get(s.url("/privacy")).send().unwrap().text().unwrap();
    assert!(page.contains("Datenschutzhinweise"));
    assert!(page.contains("Gemeinde Musterstadt, Rathausplatz 1"));
    assert!(page.contains("datenschutz@musterstadt.example"));
    assert!(page.contains("Telegram") && page.contains("WhatsApp"));
    assert!(page.contains("Ihre Rechte"));
    let page = http
        .get(s.url("/privacy?lang=en"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("Privacy notice") && page.contains("Your rights"));
}

#[test]
fn bad_join_settings_name_their_key() {
    for (key, value, named) in [
        (
            "HEROLD_TELEGRAM__BOT_USERNAME",
            "@musterstadt",
            "bot_username",
        ),
        (
            "HEROLD_WHATSAPP__DISPLAY_NUMBER",
            "0171 2345678",
            "display_number",
        ),
        (
            "HEROLD_PRIVACY__IMPRINT_URL",
            "impressum.html",
            "privacy.imprint_url",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let vars = env("25");
        let out = common::herold(dir.path())
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .env(key, value)
            .args(["config", "check"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{key}={value} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{key}: {err}");
    }
}
