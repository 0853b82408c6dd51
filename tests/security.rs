//! Hostile input through `herold serve`, with the faithful fake Bot API and
//! Cloud API (`tests/common/`):
//! - forged webhooks (wrong, missing or borrowed secrets and signatures)
//!   are refused and nothing is stored; replayed ones (the providers sign
//!   without a timestamp, so a captured request stays valid) are stored
//!   and answered once, by their event ids;
//! - oversized bodies are refused before they are read whole;
//! - slow clients are cut off by timeouts while others are served;
//! - script in an announcement's title and body is text on every page,
//!   feed and calendar and in the messages residents receive.
//!   (src/render/message.rs checks every channel's rendering directly.)

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{fake_telegram::FakeTelegram, fake_whatsapp::FakeWhatsApp, server::Server};
use reqwest::blocking::Client;
use serde_json::json;
use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

const TOKEN: &str = "4711:security-telegram-token";
const SECRET: &str = "security-hook-secret";
const PHONE_ID: &str = "100200300";
const WA_TOKEN: &str = "EAAsecurity-token";
const APP_SECRET: &str = "security-app-secret";
const CHAT: i64 = 5150;
const NUMBER: &str = "+4915100000001";

struct Setup {
    s: Server,
    telegram: FakeTelegram,
    wa: FakeWhatsApp,
}

fn setup() -> Setup {
    let telegram = FakeTelegram::start(TOKEN);
    telegram.accept_any_private_chat(true);
    let wa = FakeWhatsApp::start(PHONE_ID, WA_TOKEN, APP_SECRET);
    wa.add_template("gemeinde_info", "de", "{{1}}\n\n{{2}}\n\nMehr: {{3}}");
    let s = Server::start_with(
        None,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram","whatsapp"]"#),
            ("HEROLD_TELEGRAM__API_URL", telegram.url()),
            ("HEROLD_TELEGRAM__TOKEN", TOKEN),
            ("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET),
            ("HEROLD_TELEGRAM__MODE", "webhook"),
            ("HEROLD_WHATSAPP__API_URL", wa.url()),
            ("HEROLD_WHATSAPP__ACCESS_TOKEN", WA_TOKEN),
            ("HEROLD_WHATSAPP__PHONE_NUMBER_ID", PHONE_ID),
            ("HEROLD_WHATSAPP__APP_SECRET", APP_SECRET),
            ("HEROLD_WHATSAPP__VERIFY_TOKEN", "verify"),
            (
                "HEROLD_WHATSAPP__TEMPLATES__BROADCAST__NAME",
                "gemeinde_info",
            ),
            ("HEROLD_WHATSAPP__TEMPLATES__BROADCAST__LANGUAGE", "de"),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
        ],
    );
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    Setup { s, telegram, wa }
}

fn telegram_update(update_id: i64, text: &str) -> Vec<u8> {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_764_400_000,
            "chat": {"id": CHAT, "type": "private", "first_name": "Erika"},
            "from": {"id": CHAT, "is_bot": false, "first_name": "Erika"},
            "text": text
        }
    })
    .to_string()
    .into_bytes()
}

fn post(http: &Client, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> u16 {
    let mut r = http
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().unwrap().status().as_u16()
}

fn stored_events(s: &Server) -> usize {
    s.open_database(None).db().inbound_states().unwrap().len()
}

#[test]
fn forged_webhooks_are_refused_and_replays_answered_once() {
    let Setup { s, telegram, wa } = setup();
    let http = Client::new();
    let tg = s.url("/webhooks/telegram");
    let whatsapp = s.url("/webhooks/whatsapp");

    // Forged: nothing stored, nobody answered.
    let update = telegram_update(1, "Start");
    assert_ne!(post(&http, &tg, &[], update.clone()), 200, "no secret");
    assert_ne!(
        post(
            &http,
            &tg,
            &[("X-Telegram-Bot-Api-Secret-Token", "guessed")],
            update.clone()
        ),
        200,
        "wrong secret"
    );
    let message = wa.text_message(NUMBER, "Start").to_string().into_bytes();
    let signature = wa.sign(&message);
    assert_ne!(
        post(&http, &whatsapp, &[], message.clone()),
        200,
        "unsigned"
    );
    let other = wa.text_message(NUMBER, "Stop").to_string().into_bytes();
    assert_ne!(
        post(
            &http,
            &whatsapp,
            &[("X-Hub-Signature-256", &signature)],
            other.clone()
        ),
        200,
        "a signature borrowed from another body"
    );
    let mut tampered = message.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    assert_ne!(
        post(
            &http,
            &whatsapp,
            &[("X-Hub-Signature-256", &signature)],
            tampered
        ),
        200,
        "a changed body"
    );
    assert_ne!(
        post(
            &http,
            &whatsapp,
            &[("X-Hub-Signature-256", "sha256=00")],
            message.clone()
        ),
        200
    );
    assert_eq!(stored_events(&s), 0, "a forged request was stored");

    // Genuine, then replayed three times: stored and answered once.
    for _ in 0..4 {
        assert_eq!(
            post(
                &http,
                &tg,
                &[("X-Telegram-Bot-Api-Secret-Token", SECRET)],
                update.clone()
            ),
            200
        );
        assert_eq!(
            post(
                &http,
                &whatsapp,
                &[("X-Hub-Signature-256", &signature)],
                message.clone()
            ),
            200
        );
    }
    assert_eq!(stored_events(&s), 2);
    common::wait_until("both welcomes", Duration::from_secs(20), || {
        !telegram.sent_to(CHAT).is_empty() && !wa.sent_to(NUMBER).is_empty()
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(telegram.sent_to(CHAT).len(), 1, "a replay was answered");
    assert_eq!(wa.sent_to(NUMBER).len(), 1, "a replay was answered");
}

#[test]
fn oversized_bodies_are_refused() {
    let Setup { s, .. } = setup();
    let http = Client::new();
    let big = vec![b'x'; 300 * 1024];
    assert_eq!(
        post(
            &http,
            &s.url("/webhooks/telegram"),
            &[("X-Telegram-Bot-Api-Secret-Token", SECRET)],
            big
        ),
        413
    );
    let huge_form = format!("email=a%40example.org&category={}", "x".repeat(2 << 20));
    for path in ["/subscribe", "/websub", "/staff/login"] {
        let status = http
            .post(s.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(huge_form.clone())
            .send()
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 413, "{path}");
    }
    assert_eq!(stored_events(&s), 0);
}

/// Whether the server closed `stream` (a read ends or fails) within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while started.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            // An answer (408, 400) before closing is fine; keep reading.
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

#[test]
fn slow_clients_are_cut_off_while_others_are_served() {
    let Setup { s, .. } = setup();
    let addr = s
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    // A head that never ends.
    let mut slow_head = TcpStream::connect(&addr).unwrap();
    slow_head
        .write_all(b"POST /webhooks/telegram HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // A body that trickles: a byte a second of a promised kilobyte.
    let mut slow_body = TcpStream::connect(&addr).unwrap();
    slow_body
        .write_all(
            format!(
                "POST /webhooks/telegram HTTP/1.1\r\nHost: x\r\n\
                 X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n\
                 Content-Type: application/json\r\nContent-Length: 1024\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .unwrap();
    let trickle = {
        let mut stream = slow_body.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..30 {
                std::thread::sleep(Duration::from_secs(1));
                if stream.write_all(b" ").is_err() {
                    return;
                }
            }
        })
    };
    // Meanwhile others are served at once.
    let http = Client::new();
    let started = Instant::now();
    assert_eq!(http.get(s.url("/healthz")).send().unwrap().status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));

    let head = closed_within(&mut slow_head, Duration::from_secs(15));
    assert!(
        head.is_some(),
        "a request head open for 15 s was not cut off"
    );
    let body = closed_within(&mut slow_body, Duration::from_secs(20));
    assert!(body.is_some(), "a body trickling for 20 s was not cut off");
    trickle.join().unwrap();
    assert_eq!(stored_events(&s), 0);
}

#[test]
fn script_in_announcements_is_text_on_every_page_and_in_every_message() {
    let Setup { s, telegram, wa } = setup();
    let http = Client::new();
    // A resident on each messenger.
    post(
        &http,
        &s.url("/webhooks/telegram"),
        &[("X-Telegram-Bot-Api-Secret-Token", SECRET)],
        telegram_update(1, "Start abfall"),
    );
    let start = wa
        .text_message(NUMBER, "Start abfall")
        .to_string()
        .into_bytes();
    let signature = wa.sign(&start);
    post(
        &http,
        &s.url("/webhooks/whatsapp"),
        &[("X-Hub-Signature-256", &signature)],
        start,
    );
    common::wait_until("both welcomes", Duration::from_secs(20), || {
        !telegram.sent_to(CHAT).is_empty() && !wa.sent_to(NUMBER).is_empty()
    });
    let title = "<script>alert('t')</script>\"><svg onload=alert(1)>";
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        title,
        "--body",
        "<img src=x onerror=alert(2)> [klick](javascript:alert(3)) <iframe src=//evil.example></iframe>",
        "--event-start",
        "2026-12-24",
        "--location",
        "<b onmouseover=alert(5)>Rathaus</b>",
    ]);
    for path in [
        "/",
        "/announcements/1",
        "/feeds/all.atom",
        "/feeds/abfall.rss",
        "/feeds/all.ics",
        "/subscribe",
        "/privacy",
    ] {
        let mut body = http.get(s.url(path)).send().unwrap().text().unwrap();
        if path.ends_with(".ics") {
            // iCalendar text is no markup: the title is there literally;
            // only an HTML description would need escaping.
            assert!(body.contains("<script>alert('t')</script>"), "{body}");
            body = body
                .lines()
                .filter(|l| l.starts_with("X-ALT-DESC"))
                .collect::<Vec<_>>()
                .join("\n");
        }
        let lower = body.to_lowercase();
        for raw in [
            "<script",
            "<img src=x",
            "<svg",
            "<iframe",
            "javascript:",
            "<b onmouseover",
        ] {
            assert!(!lower.contains(raw), "{path}: {raw} in\n{body}");
        }
    }
    let page = http
        .get(s.url("/announcements/1"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(") || page.contains("&#60;script&#62;alert("),
        "the title is shown as text:\n{page}"
    );
    // What residents receive: Telegram's HTML escapes it, WhatsApp shows
    // it literally (WhatsApp interprets no HTML).
    common::wait_until("the announcement", Duration::from_secs(30), || {
        telegram.sent_to(CHAT).len() >= 2 && wa.sent_to(NUMBER).len() >= 2
    });
    let sent = telegram.sent_to(CHAT);
    let announcement = sent.last().unwrap().text.clone().unwrap_or_default();
    assert_eq!(sent.last().unwrap().parse_mode.as_deref(), Some("HTML"));
    assert!(!announcement.contains("<script"), "{announcement}");
    assert!(announcement.contains("&lt;script&gt;"), "{announcement}");
    let sent = wa.sent_to(NUMBER);
    let announcement = &sent.last().unwrap().text;
    assert!(
        announcement.contains("<script>alert('t')</script>"),
        "{announcement}"
    );
}
