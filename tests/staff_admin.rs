//! The administrators' page through `herold serve` on both databases:
//! accounts added (a short password refused) and disabled (their session
//! ends at once), a category added and given four-eyes approval, a held
//! channel shown with its reason and resumed — each audited; other roles
//! and forged forms refused.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    server::Server,
    staff::{add_user, client, csrf, signed_in, PASSWORD},
};
use herold_channel_api::ChannelKind;
use reqwest::blocking::Client;

fn post(s: &Server, http: &Client, form: &[(&str, &str)]) -> (u16, String) {
    let r = http.post(s.url("/staff/admin")).form(form).send().unwrap();
    let status = r.status().as_u16();
    match r.headers().get("location") {
        Some(l) => (status, l.to_str().unwrap().to_owned()),
        None => (status, r.text().unwrap()),
    }
}

fn admin_page(database_url: Option<&str>) {
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
            ("HEROLD_TELEGRAM__TOKEN", "123456:admin-test"),
            ("HEROLD_TELEGRAM__API_URL", "http://127.0.0.1:9"),
            ("HEROLD_TELEGRAM__WEBHOOK_SECRET", "admin-secret"),
            ("HEROLD_TELEGRAM__MODE", "webhook"),
        ],
    );
    add_user(&s, "ada", "admin");
    add_user(&s, "erik", "editor");
    let erik = signed_in(&s, "erik");
    assert_eq!(
        erik.get(s.url("/staff/admin"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    let ada = signed_in(&s, "ada");
    let page = ada
        .get(s.url("/staff/admin"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("Konten") && page.contains("erik"));
    let token = csrf(&page);

    // A forged form changes nothing.
    let (status, _) = post(
        &s,
        &ada,
        &[
            ("csrf", "forged"),
            ("action", "add_category"),
            ("slug", "x"),
            ("name", "X"),
        ],
    );
    assert_eq!(status, 403);
    // Accounts.
    let (status, body) = post(
        &s,
        &ada,
        &[
            ("csrf", &token),
            ("action", "add_user"),
            ("username", "mo"),
            ("role", "moderator"),
            ("password", "kurz"),
        ],
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("12"), "{body}");
    let long = format!("{PASSWORD}!");
    let (status, to) = post(
        &s,
        &ada,
        &[
            ("csrf", &token),
            ("action", "add_user"),
            ("username", "mo"),
            ("display_name", "Moritz"),
            ("role", "moderator"),
            ("password", &long),
        ],
    );
    assert_eq!(
        (status, to.as_str()),
        (303, "/staff/admin?notice=user_added")
    );
    let mo = client();
    let form = mo
        .get(s.url("/staff/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let r = mo
        .post(s.url("/staff/login"))
        .form(&[
            ("csrf", csrf(&form).as_str()),
            ("username", "mo"),
            ("password", long.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        mo.get(s.url("/staff/inbox"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // Disabling ends the session at once; nobody disables themselves.
    let (status, _) = post(
        &s,
        &ada,
        &[
            ("csrf", &token),
            ("action", "disable_user"),
            ("username", "ada"),
        ],
    );
    assert_eq!(status, 409);
    let (status, to) = post(
        &s,
        &ada,
        &[
            ("csrf", &token),
            ("action", "disable_user"),
            ("username", "mo"),
        ],
    );
    assert_eq!(
        (status, to.as_str()),
        (303, "/staff/admin?notice=user_disabled")
    );
    assert_eq!(
        mo.get(s.url("/staff/inbox"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        303
    );

    // Categories and four eyes.
    let (status, to) = post(
        &s,
        &ada,
        &[
            ("csrf", &token),
            ("action", "add_category"),
            ("slug", "rat"),
            ("name", "Gemeinderat"),
        ],
    );
    assert_eq!(
        (status, to.as_str()),
        (303, "/staff/admin?notice=category_added")
    );
    let (status, _) = post(
        &s,
        &ada,
        &[
            ("csrf", &token),
            ("action", "add_category"),
            ("slug", "Rat!"),
            ("name", "x"),
        ],
    );
    assert_eq!(status, 422);
    let (status, _) = post(
        &s,
        &ada,
        &[
            ("csrf", &token),
            ("action", "approval"),
            ("slug", "rat"),
            ("required", "1"),
        ],
    );
    assert_eq!(status, 303);
    let page = ada
        .get(s.url("/staff/admin"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("id=\"approval-rat\" name=\"required\" value=\"1\" checked"),
        "{page}"
    );

    // A held channel: its reason, and resuming it.
    let app = s.open_database(database_url);
    app.db()
        .pause_channel(
            ChannelKind::Telegram,
            chrono::Utc::now() + chrono::Duration::days(365),
            Some("Telegram refused the bot token (401)"),
        )
        .unwrap();
    let page = ada
        .get(s.url("/staff/admin"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("angehalten: Telegram refused the bot token (401)"),
        "{page}"
    );
    let (status, to) = post(
        &s,
        &ada,
        &[
            ("csrf", &token),
            ("action", "resume"),
            ("channel", "telegram"),
        ],
    );
    assert_eq!((status, to.as_str()), (303, "/staff/admin?notice=resumed"));
    let page = ada
        .get(s.url("/staff/admin"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!page.contains("angehalten:"), "{page}");

    let audit = s.cli(&["reports", "audit"]);
    for action in [
        "user.add",
        "user.disable",
        "category.add",
        "category.approval",
        "channel.resume",
    ] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
}

#[test]
fn admin_page_on_sqlite() {
    admin_page(None);
}

#[test]
fn admin_page_on_postgres() {
    let db = common::PgDatabase::create();
    admin_page(Some(&db.url));
}
