//! Composing and publishing in the staff application, through `herold
//! serve` on both databases: a draft keeps what was typed when a field is
//! wrong, the preview shows every configured channel from the engine's
//! renderer (with its warnings and WhatsApp's template outside the
//! 24-hour window), one button publishes, the progress page and its event
//! stream reach 100 %, four-eyes approval needs a second editor, a
//! scheduled announcement can be changed or withdrawn, a manual channel
//! is marked posted, and each role is refused what is not its own.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::staff::{add_user, client, csrf, signed_in};

use common::{fake_whatsapp::FakeWhatsApp, server::Server};
use reqwest::blocking::{multipart, Client, Response};
use serde_json::{json, Value};
use std::{io::BufRead, time::Duration};
use wiremock::{
    matchers::{method, path_regex},
    Mock, MockServer, ResponseTemplate,
};

const TOKEN: &str = "123456:compose-test";
const SECRET: &str = "compose_hook-secret";
const CHAT: i64 = 8150;
const MANUAL: &str =
    r#"[{id = "kanal", name = "WhatsApp-Kanal der Gemeinde", format = "whatsapp"}]"#;

/// The value of hidden input `name` on `page`.
fn hidden(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page.find(&marker)?;
    Some(page[at + marker.len()..].split('"').next()?.to_owned())
}

fn location(r: &Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// Posts the compose form with `fields` (the CSRF token of `page`).
fn compose(
    s: &Server,
    http: &Client,
    page: &str,
    fields: &[(&str, &str)],
    image: Option<Vec<u8>>,
) -> Response {
    let mut form = multipart::Form::new().text("csrf", csrf(page));
    if let Some(d) = hidden(page, "draft") {
        form = form.text("draft", d);
    }
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    if let Some(bytes) = image {
        form = form.part(
            "image",
            multipart::Part::bytes(bytes)
                .file_name("foto.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    }
    http.post(s.url("/staff/compose"))
        .multipart(form)
        .send()
        .unwrap()
}

fn get(s: &Server, http: &Client, path: &str) -> String {
    let r = http.get(s.url(path)).send().unwrap();
    assert_eq!(r.status().as_u16(), 200, "GET {path}");
    r.text().unwrap()
}

fn start(
    database_url: Option<&str>,
) -> (Server, MockServer, FakeWhatsApp, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bot_api = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path_regex(format!("^/bot{TOKEN}/send(Message|Photo)$")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true,
                "result": {"message_id": 1, "date": 1_764_400_000, "chat": {"id": CHAT, "type": "private"}}
            })))
            .mount(&server)
            .await;
        server
    });
    let wa = FakeWhatsApp::start("1098", "wa-token", "wa-secret");
    wa.add_template("gemeinde_info", "de", "{{1}}\n\n{{2}}\n\nMehr: {{3}}");
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram", "whatsapp"]"#),
            ("HEROLD_TELEGRAM__API_URL", &bot_api.uri()),
            ("HEROLD_TELEGRAM__TOKEN", TOKEN),
            ("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET),
            ("HEROLD_TELEGRAM__MODE", "webhook"),
            ("HEROLD_WHATSAPP__API_URL", wa.url()),
            ("HEROLD_WHATSAPP__ACCESS_TOKEN", "wa-token"),
            ("HEROLD_WHATSAPP__PHONE_NUMBER_ID", "1098"),
            ("HEROLD_WHATSAPP__APP_SECRET", "wa-secret"),
            ("HEROLD_WHATSAPP__VERIFY_TOKEN", "wa-verify"),
            (
                "HEROLD_WHATSAPP__TEMPLATES__BROADCAST__NAME",
                "gemeinde_info",
            ),
            ("HEROLD_MANUAL", MANUAL),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
        ],
    );
    (s, bot_api, wa, rt)
}

/// A Telegram resident who sent /start (subscribed to every category).
fn telegram_resident(s: &Server, bot_api: &MockServer, rt: &tokio::runtime::Runtime) {
    let update = json!({
        "update_id": 20_001,
        "message": {
            "message_id": 1, "date": 1_764_400_000,
            "chat": {"id": CHAT, "type": "private", "first_name": "Erika"},
            "from": {"id": CHAT, "is_bot": false, "first_name": "Erika"},
            "text": "/start"
        }
    });
    let r = Client::new()
        .post(s.url("/webhooks/telegram"))
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body(update.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    common::poll_until(Duration::from_secs(30), || {
        match rt
            .block_on(bot_api.received_requests())
            .unwrap_or_default()
            .len()
        {
            0 => Err("no welcome yet".to_owned()),
            n => Ok(n),
        }
    });
}

/// Reads the progress stream until an event says every broadcast is
/// finished; returns the last event.
fn stream_until_finished(s: &Server, http: &Client, id: &str) -> Value {
    let r = http
        .get(s.url(&format!("/staff/announcements/{id}/events")))
        .timeout(Duration::from_secs(60))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut last = Value::Null;
    for line in std::io::BufReader::new(r).lines() {
        let line = line.unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            last = serde_json::from_str(data).unwrap();
            if last["finished"] == true {
                return last;
            }
        }
    }
    panic!("the stream ended before the broadcast finished: {last}");
}

fn compose_publish_and_watch(database_url: Option<&str>) {
    let (s, bot_api, _wa, rt) = start(database_url);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    s.cli(&["category", "add", "rat", "--name", "Gemeinderat"]);
    s.cli(&["category", "approval", "rat", "required"]);
    add_user(&s, "erik", "editor");
    add_user(&s, "emma", "editor");
    add_user(&s, "mo", "moderator");
    add_user(&s, "dora", "dpo");
    telegram_resident(&s, &bot_api, &rt);

    // Roles: the moderator and the DPO may not compose.
    for who in ["mo", "dora"] {
        let http = signed_in(&s, who);
        assert_eq!(
            http.get(s.url("/staff/compose"))
                .send()
                .unwrap()
                .status()
                .as_u16(),
            403,
            "{who}"
        );
        assert_eq!(
            http.get(s.url("/staff/announcements"))
                .send()
                .unwrap()
                .status()
                .as_u16(),
            403,
            "{who}"
        );
    }

    let erik = signed_in(&s, "erik");
    let form = get(&s, &erik, "/staff/compose");
    assert!(form.contains("Abfall") && form.contains("Gemeinderat"));

    // A missing title: the draft is kept, the error names the field.
    let body = "Die **Biotonne** wird am Samstag geleert. Details im [Abfallkalender](https://musterstadt.example/abfall).";
    let r = compose(
        &s,
        &erik,
        &form,
        &[
            ("category", "abfall"),
            ("title", ""),
            ("body", body),
            ("action", "publish"),
        ],
        None,
    );
    assert_eq!(r.status().as_u16(), 422);
    let page = r.text().unwrap();
    assert!(page.contains("href=\"#title\""), "{page}");
    assert!(page.contains("Bitte ausfüllen."), "{page}");
    assert!(
        page.contains("Die **Biotonne** wird am Samstag"),
        "the body is kept"
    );
    let draft = hidden(&page, "draft").expect("the draft was saved");

    // A forged CSRF token changes nothing.
    let forged = compose(
        &s,
        &erik,
        &page.replace(&csrf(&page), "forged"),
        &[
            ("category", "abfall"),
            ("title", "Gefälscht"),
            ("body", body),
            ("action", "publish"),
        ],
        None,
    );
    assert_eq!(forged.status().as_u16(), 403);

    // Save and preview, with a picture: every channel's preview.
    let photo = std::fs::read("tests/fixtures/media/gps.jpg").unwrap();
    let r = compose(
        &s,
        &erik,
        &page,
        &[
            ("category", "abfall"),
            ("title", "Biotonne am Samstag"),
            ("body", body),
            ("image_alt", "Eine braune Biotonne am Straßenrand"),
            ("action", "preview"),
        ],
        Some(photo),
    );
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        location(&r),
        format!("/staff/drafts/{draft}?notice=saved#preview")
    );
    let page = get(&s, &erik, &format!("/staff/drafts/{draft}"));
    for id in [
        "preview-page",
        "preview-telegram",
        "preview-whatsapp",
        "preview-manual-kanal",
    ] {
        assert!(
            page.contains(&format!("id=\"{id}\"")),
            "{id} missing: {page}"
        );
    }
    // Telegram: its own HTML, with the picture and the link.
    assert!(page.contains("<b>Biotonne</b>"), "{page}");
    assert!(page.contains("Eine braune Biotonne am Straßenrand"));
    // WhatsApp: links written out, and the template outside the window.
    assert!(page.contains("Links erscheinen hier als ausgeschriebene Adresse."));
    assert!(page.contains("Außerhalb des 24-Stunden-Fensters"));
    assert!(page.contains("WhatsApp-Kanal der Gemeinde"));
    // The picture is served to staff only, stripped of its GPS position.
    let picture = erik
        .get(s.url(&format!("/staff/drafts/{draft}/image")))
        .send()
        .unwrap();
    assert_eq!(picture.headers()["content-type"], "image/jpeg");
    let meta = common::server::pillow(&picture.bytes().unwrap());
    assert!(meta["gps"].is_null(), "{meta}");
    assert_eq!(
        client()
            .get(s.url(&format!("/staff/drafts/{draft}/image")))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        303
    );

    // One button publishes on every channel; the progress reaches 100 %.
    let r = compose(
        &s,
        &erik,
        &page,
        &[
            ("category", "abfall"),
            ("title", "Biotonne am Samstag"),
            ("body", body),
            ("image_alt", "Eine braune Biotonne am Straßenrand"),
            ("action", "publish"),
        ],
        None,
    );
    assert_eq!(r.status().as_u16(), 303);
    let to = location(&r);
    assert!(to.starts_with("/staff/announcements/"), "{to}");
    let id = to
        .trim_start_matches("/staff/announcements/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let last = stream_until_finished(&s, &erik, &id);
    let telegram = last["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "telegram")
        .unwrap();
    assert_eq!(telegram["percent"], 100, "{last}");
    assert_eq!(telegram["sent"], 1, "{last}");
    let page = get(&s, &erik, &format!("/staff/announcements/{id}"));
    assert!(page.contains("Der Versand ist abgeschlossen."), "{page}");
    // The resident got it, with the picture.
    let photos = rt
        .block_on(bot_api.received_requests())
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/sendPhoto"))
        .count();
    assert_eq!(photos, 1);
    // The manual channel: its copy, then "posted".
    assert!(page.contains("noch zu posten"), "{page}");
    let r = erik
        .post(s.url(&format!("/staff/announcements/{id}/manual/kanal")))
        .form(&[("csrf", csrf(&page).as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let page = get(&s, &erik, &format!("/staff/announcements/{id}"));
    assert!(page.contains("gepostet von erik"), "{page}");
    assert!(s
        .cli(&["reports", "audit", "--action", "draft.publish"])
        .contains("erik"));

    // Test sends: erik links his own Telegram subscription by its
    // pseudonym and the code Herold sends to it, then sends a draft.
    let pseudonym = s
        .cli(&["subscribers", "list", "--channel", "telegram"])
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let me = get(&s, &erik, "/staff/me");
    let r = erik
        .post(s.url("/staff/me"))
        .form(&[
            ("csrf", csrf(&me).as_str()),
            ("action", "link"),
            ("pseudonym", pseudonym.to_lowercase().as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(location(&r), "/staff/me?notice=sent");
    let code = common::poll_until(Duration::from_secs(30), || {
        rt.block_on(bot_api.received_requests())
            .unwrap()
            .into_iter()
            .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .filter_map(|b| b["text"].as_str().map(str::to_owned))
            .find_map(|t| {
                t.split("Code für Testsendungen: ")
                    .nth(1)
                    .map(|c| c[..6].to_owned())
            })
            .ok_or_else(|| "no code reached the chat".to_owned())
    });
    let me = get(&s, &erik, "/staff/me");
    assert!(me.contains("wartet auf den Code"), "{me}");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for (given, notice) in [(wrong, "wrong"), (code.as_str(), "confirmed")] {
        let r = erik
            .post(s.url("/staff/me"))
            .form(&[
                ("csrf", csrf(&me).as_str()),
                ("action", "confirm"),
                ("pseudonym", pseudonym.as_str()),
                ("code", given),
            ])
            .send()
            .unwrap();
        assert_eq!(location(&r), format!("/staff/me?notice={notice}"));
    }
    let form = get(&s, &erik, "/staff/compose");
    let r = compose(
        &s,
        &erik,
        &form,
        &[
            ("category", "abfall"),
            ("title", "Probelauf Sirenen"),
            ("body", "Am Samstag um 12 Uhr."),
            ("action", "preview"),
        ],
        None,
    );
    let draft_page = get(&s, &erik, &location(&r));
    let test_draft = hidden(&draft_page, "draft").unwrap();
    let r = erik
        .post(s.url(&format!("/staff/drafts/{test_draft}/test")))
        .form(&[("csrf", csrf(&draft_page).as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(
        location(&r).contains("notice=tested&n=1&failed=0"),
        "{}",
        location(&r)
    );
    let test = rt
        .block_on(bot_api.received_requests())
        .unwrap()
        .into_iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .find(|b| {
            b["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("[Test]") && t.contains("Probelauf Sirenen"))
        });
    assert!(
        test.is_some(),
        "the test message did not reach the editor's chat"
    );
    assert!(get(&s, &erik, &location(&r)).contains("Testsendung verschickt: 1 Nachricht"));
    // The draft is still a draft: nothing was published.
    assert!(!s.cli(&["announcements", "list"]).contains("Probelauf"));

    // Four eyes: a "rat" announcement waits for a second editor.
    let form = get(&s, &erik, "/staff/compose");
    let r = compose(
        &s,
        &erik,
        &form,
        &[
            ("category", "rat"),
            ("title", "Sitzung des Gemeinderats"),
            ("body", "Am Dienstag um 19 Uhr."),
            ("action", "publish"),
        ],
        None,
    );
    assert_eq!(r.status().as_u16(), 303);
    let to = location(&r);
    assert!(to.ends_with("?notice=submitted"), "{to}");
    let draft_page = get(&s, &erik, to.as_str());
    assert!(draft_page.contains("Wartet auf Freigabe"), "{draft_page}");
    let draft = hidden(&draft_page, "draft").unwrap();
    let version = hidden(&draft_page, "version").unwrap();
    // The author cannot release it.
    let r = erik
        .post(s.url(&format!("/staff/drafts/{draft}/approve")))
        .form(&[
            ("csrf", csrf(&draft_page).as_str()),
            ("version", version.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let emma = signed_in(&s, "emma");
    let emma_page = get(&s, &emma, &format!("/staff/drafts/{draft}"));
    assert!(emma_page.contains("Freigeben und veröffentlichen"));
    let r = emma
        .post(s.url(&format!("/staff/drafts/{draft}/approve")))
        .form(&[
            ("csrf", csrf(&emma_page).as_str()),
            ("version", version.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().unwrap_or_default());
    let audit = s.cli(&["reports", "audit", "--action", "draft.approve"]);
    assert!(audit.contains("emma") && audit.contains("erik"), "{audit}");

    // Scheduled: changed, then withdrawn.
    let form = get(&s, &erik, "/staff/compose");
    let r = compose(
        &s,
        &erik,
        &form,
        &[
            ("category", "abfall"),
            ("title", "Sperrmüll im Januar"),
            ("body", "Anmeldung bis Freitag."),
            ("schedule", "2099-01-05T08:00"),
            ("action", "publish"),
        ],
        None,
    );
    let to = location(&r);
    let scheduled_id = to
        .trim_start_matches("/staff/announcements/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let page = get(&s, &erik, &format!("/staff/announcements/{scheduled_id}"));
    assert!(page.contains("geplant"), "{page}");
    // Not public before its time.
    assert_eq!(
        client()
            .get(s.url(&format!("/announcements/{scheduled_id}")))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let r = erik
        .post(s.url(&format!("/staff/announcements/{scheduled_id}/edit")))
        .form(&[("csrf", csrf(&page).as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let change = get(&s, &erik, &location(&r));
    assert!(change.contains("Geplante Bekanntmachung ändern"));
    assert!(
        change.contains("value=\"2099-01-05T08:00\""),
        "the time is kept: {change}"
    );
    let r = compose(
        &s,
        &erik,
        &change,
        &[
            ("category", "abfall"),
            ("title", "Sperrmüll im Februar"),
            ("body", "Anmeldung bis Freitag."),
            ("schedule", "2099-02-02T08:00"),
            ("action", "publish"),
        ],
        None,
    );
    assert_eq!(r.status().as_u16(), 303);
    let list = get(&s, &erik, "/staff/announcements");
    assert!(list.contains("Sperrmüll im Februar"));
    assert!(
        list.contains("zurückgezogen"),
        "the old one is withdrawn: {list}"
    );
    let new_id = location(&r)
        .trim_start_matches("/staff/announcements/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let page = get(&s, &erik, &format!("/staff/announcements/{new_id}"));
    let r = erik
        .post(s.url(&format!("/staff/announcements/{new_id}/cancel")))
        .form(&[("csrf", csrf(&page).as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let out = s.cli(&["announcements", "show", &new_id]);
    assert!(out.contains("cancelled"), "{out}");
    // Publishing the stale change again is refused: it is gone.
    let list = get(&s, &erik, "/staff/announcements");
    assert!(!list.contains("Änderung einer geplanten"), "{list}");
}

#[test]
fn compose_publish_and_watch_on_sqlite() {
    compose_publish_and_watch(None);
}

#[test]
fn compose_publish_and_watch_on_postgres() {
    let db = common::PgDatabase::create();
    compose_publish_and_watch(Some(&db.url));
}
