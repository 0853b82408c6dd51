//! The inbox of the staff application through `herold serve` on both
//! databases: a resident's report (text and photo, by Telegram) outside
//! the office schedule gets the automatic reply naming the next opening;
//! an administrator keeps reply templates; a moderator sees the case by
//! pseudonym, answers it from a template (the resident gets the answer on
//! Telegram), finds it under "answered", views the photo (stripped of its
//! metadata, audited), deletes an abusive message after confirming, and
//! closes the case. Roles and CSRF tokens are enforced.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::staff::{add_user, csrf, signed_in};

use chrono::{Datelike, Duration as Days, Utc};
use common::server::Server;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

const TOKEN: &str = "123456789:AAinbox-token";
const SECRET: &str = "inbox_hook-secret";
const CHAT: i64 = 5150;

/// The first number after `marker` on `page`.
fn number_after(page: &str, marker: &str) -> String {
    let at = page
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not on {page}"));
    page[at + marker.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

fn get(s: &Server, http: &Client, path: &str) -> (u16, String) {
    let r = http.get(s.url(path)).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn post(s: &Server, http: &Client, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = http.post(s.url(path)).form(form).send().unwrap();
    let status = r.status().as_u16();
    let to = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, to.unwrap_or_else(|| r.text().unwrap()))
}

async fn bot_api(jpeg: &[u8]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/sendMessage")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "result": {"message_id": 1, "date": 1_764_400_000, "chat": {"id": CHAT, "type": "private"}}
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/getFile")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "result": {"file_id": "PHOTO", "file_unique_id": "u", "file_size": jpeg.len(), "file_path": "photos/file_1.jpg"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/file/bot{TOKEN}/photos/file_1.jpg")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(jpeg.to_vec(), "image/jpeg"))
        .mount(&server)
        .await;
    server
}

fn update(id: i64, body: Value) -> Value {
    let mut message = json!({
        "message_id": id, "date": 1_764_400_000,
        "chat": {"id": CHAT, "type": "private", "first_name": "Erika"},
        "from": {"id": CHAT, "is_bot": false, "first_name": "Erika"},
    });
    for (k, v) in body.as_object().unwrap() {
        message[k] = v.clone();
    }
    json!({"update_id": 30_000 + id, "message": message})
}

fn inbox(database_url: Option<&str>) {
    let jpeg = std::fs::read("tests/fixtures/media/gps.jpg").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bot = rt.block_on(bot_api(&jpeg));
    // Office hours only on the day after tomorrow: closed now.
    let day = ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"][(Utc::now() + Days::days(2))
        .with_timezone(&chrono_tz::Europe::Berlin)
        .weekday()
        .num_days_from_monday() as usize];
    let schedule = format!("{day} 08:00-12:00");
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
            ("HEROLD_TELEGRAM__API_URL", &bot.uri()),
            ("HEROLD_TELEGRAM__TOKEN", TOKEN),
            ("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET),
            ("HEROLD_TELEGRAM__MODE", "webhook"),
            ("HEROLD_CONVERSATIONS__OFFICE_SCHEDULE", &schedule),
            ("HEROLD_TIMEZONE", "Europe/Berlin"),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
        ],
    );
    let sent = || -> Vec<String> {
        rt.block_on(bot.received_requests())
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path().ends_with("/sendMessage"))
            .map(|r| {
                serde_json::from_slice::<Value>(&r.body).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    add_user(&s, "ada", "admin");
    add_user(&s, "mo", "moderator");
    add_user(&s, "erik", "editor");

    // The report, outside office hours: the automatic reply says when.
    let (status, _) = s.post_telegram(
        SECRET,
        &update(
            1,
            json!({"text": "Die Laterne vor Nr. 3 ist seit Tagen dunkel. Ihr seid alle unfähig!"}),
        ),
    );
    assert_eq!(status, 200);
    let first = common::poll_until(Duration::from_secs(30), || {
        sent()
            .into_iter()
            .next()
            .ok_or_else(|| "no automatic reply".to_owned())
    });
    assert!(first.contains("außerhalb unserer Sprechzeiten"), "{first}");
    assert!(first.contains("08:00"), "{first}");
    let (status, _) = s.post_telegram(SECRET, &update(2, json!({
        "caption": "Hier das Foto",
        "photo": [{"file_id": "PHOTO", "file_unique_id": "u", "width": 64, "height": 48, "file_size": jpeg.len()}]
    })));
    assert_eq!(status, 200);

    // Roles.
    let erik = signed_in(&s, "erik");
    assert_eq!(get(&s, &erik, "/staff/inbox").0, 403);
    let mo = signed_in(&s, "mo");
    assert_eq!(get(&s, &mo, "/staff/templates").0, 403);

    // The administrator keeps the templates.
    let ada = signed_in(&s, "ada");
    let (_, page) = get(&s, &ada, "/staff/templates");
    let token = csrf(&page);
    assert_eq!(
        post(
            &s,
            &ada,
            "/staff/templates",
            &[("csrf", "forged"), ("name", "Bauhof"), ("body", "x")]
        )
        .0,
        403
    );
    let (status, page) = post(
        &s,
        &ada,
        "/staff/templates",
        &[("csrf", &token), ("name", ""), ("body", "x")],
    );
    assert_eq!(status, 422, "{page}");
    let body = "Danke! Ihre Meldung (Vorgang {case}) ist an den Bauhof weitergeleitet. Sie hören innerhalb einer Woche von uns.";
    let (status, to) = post(
        &s,
        &ada,
        "/staff/templates",
        &[("csrf", &token), ("name", "Bauhof"), ("body", body)],
    );
    assert_eq!(
        (status, to.as_str()),
        (303, "/staff/templates?notice=saved")
    );
    let (_, page) = get(&s, &ada, "/staff/templates");
    let template = number_after(&page, "name=\"id\" value=\"");

    // The moderator: the case by pseudonym, with text and photo.
    let case = common::poll_until(Duration::from_secs(30), || {
        let (_, page) = get(&s, &mo, "/staff/inbox");
        if page.contains("Vorgang ") && page.contains("Telegram") {
            Ok(number_after(&page, "/staff/inbox/"))
        } else {
            Err(page)
        }
    });
    let page = common::poll_until(Duration::from_secs(30), || {
        let (_, page) = get(&s, &mo, &format!("/staff/inbox/{case}"));
        if page.contains("/staff/inbox/photos/") {
            Ok(page)
        } else {
            Err(page)
        }
    });
    assert!(page.contains("Laterne vor Nr. 3"));
    assert!(page.contains("Hier das Foto"));
    assert!(
        !page.contains(&CHAT.to_string()),
        "staff see a pseudonym, not the chat id"
    );
    // The photo, stripped of its position; viewing it is audited.
    let photo = number_after(&page, "/staff/inbox/photos/");
    let r = mo
        .get(s.url(&format!("/staff/inbox/photos/{photo}")))
        .send()
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let meta = common::server::pillow(&r.bytes().unwrap());
    assert!(meta["gps"].is_null(), "{meta}");
    assert!(s
        .cli(&["reports", "audit", "--action", "conversation.export_photo"])
        .contains("mo"));

    // Answer from the template: the case number filled in.
    let (_, page) = get(&s, &mo, &format!("/staff/inbox/{case}?template={template}"));
    let answer = body.replace("{case}", &case);
    assert!(page.contains(&answer), "{page}");
    assert_eq!(
        post(
            &s,
            &mo,
            &format!("/staff/inbox/{case}/reply"),
            &[("csrf", "forged"), ("text", &answer)]
        )
        .0,
        403
    );
    let (status, page_or_to) = post(
        &s,
        &mo,
        &format!("/staff/inbox/{case}/reply"),
        &[("csrf", &csrf(&page)), ("text", "   ")],
    );
    assert_eq!(status, 422, "{page_or_to}");
    let (status, to) = post(
        &s,
        &mo,
        &format!("/staff/inbox/{case}/reply"),
        &[("csrf", &csrf(&page)), ("text", &answer)],
    );
    assert_eq!(
        (status, to.clone()),
        (303, format!("/staff/inbox/{case}?notice=sent"))
    );
    common::poll_until(Duration::from_secs(30), || {
        sent()
            .into_iter()
            .find(|t| t.contains("an den Bauhof weitergeleitet"))
            .ok_or_else(|| "the answer did not reach the resident".to_owned())
    });
    assert!(get(&s, &mo, "/staff/inbox?show=answered")
        .1
        .contains(&format!("/staff/inbox/{case}\"")));
    assert!(!get(&s, &mo, "/staff/inbox?show=open")
        .1
        .contains(&format!("/staff/inbox/{case}\"")));

    // Deleting the abusive message asks first.
    let (_, page) = get(&s, &mo, &format!("/staff/inbox/{case}"));
    let message = number_after(&page, "id=\"m");
    let (_, confirm) = get(&s, &mo, &format!("/staff/inbox/{case}?delete={message}"));
    assert!(confirm.contains("endgültig löschen"));
    let (status, _) = post(
        &s,
        &mo,
        &format!("/staff/inbox/messages/{message}/delete"),
        &[("csrf", &csrf(&confirm))],
    );
    assert_eq!(status, 303);
    let (_, page) = get(&s, &mo, &format!("/staff/inbox/{case}"));
    assert!(!page.contains("unfähig"), "{page}");

    // Closing the case.
    let (status, _) = post(
        &s,
        &mo,
        &format!("/staff/inbox/{case}/close"),
        &[("csrf", &csrf(&page))],
    );
    assert_eq!(status, 303);
    assert!(get(&s, &mo, "/staff/inbox?show=closed")
        .1
        .contains(&format!("/staff/inbox/{case}\"")));
    let audit = s.cli(&["reports", "audit", "--action", "conversation"]);
    for action in [
        "conversation.reply",
        "conversation.delete_message",
        "conversation.close",
    ] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
}

#[test]
fn inbox_on_sqlite() {
    inbox(None);
}

#[test]
fn inbox_on_postgres() {
    let db = common::PgDatabase::create();
    inbox(Some(&db.url));
}
