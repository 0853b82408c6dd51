//! The statistics page through `herold serve` on both databases:
//! subscribers per channel and category over time, and the reach of the
//! latest announcement per channel — each an SVG chart with a table of
//! the same numbers; for editors, administrators and the data-protection
//! officer, not for moderators.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::staff::{add_user, signed_in};

use common::server::Server;
use herold::service::CONSENT_WORDING_VERSION;
use herold_channel_api::ChannelKind;
use serde_json::json;
use std::time::Duration;
use wiremock::{
    matchers::{method, path_regex},
    Mock, MockServer, ResponseTemplate,
};

const TOKEN: &str = "123456:statistics";

/// The table row headed `label` in the section `id` of `page`: its cells.
fn row(page: &str, id: &str, label: &str) -> Vec<String> {
    let section = &page[page.find(&format!("<section id=\"{id}\"")).unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    let at = section
        .find(&format!("<th scope=\"row\">{label}</th>"))
        .unwrap_or_else(|| panic!("no row {label} in {section}"));
    let rest = &section[at..];
    let rest = &rest[..rest.find("</tr>").unwrap()];
    rest.split("<td>")
        .skip(1)
        .map(|c| c.split("</td>").next().unwrap().to_owned())
        .collect()
}

fn statistics(database_url: Option<&str>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bot = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path_regex(format!("^/bot{TOKEN}/sendMessage$")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true,
                "result": {"message_id": 1, "date": 1_764_400_000, "chat": {"id": 1, "type": "private"}}
            })))
            .mount(&server)
            .await;
        server
    });
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
            ("HEROLD_TELEGRAM__API_URL", &bot.uri()),
            ("HEROLD_TELEGRAM__TOKEN", TOKEN),
            ("HEROLD_TELEGRAM__WEBHOOK_SECRET", "stats-secret"),
            ("HEROLD_TELEGRAM__MODE", "webhook"),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
        ],
    );
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    s.cli(&["category", "add", "kultur", "--name", "Kultur"]);
    let app = s.open_database(database_url);
    let abfall = app.db().find_category("abfall").unwrap().unwrap();
    let kultur = app.db().find_category("kultur").unwrap().unwrap();
    let chats: Vec<String> = (1..=3).map(|n| (1000 + n).to_string()).collect();
    app.db()
        .import_subscribers(
            ChannelKind::Telegram,
            &chats,
            abfall.id,
            CONSENT_WORDING_VERSION,
            "test",
        )
        .unwrap();
    let mails = vec!["a@example.org".to_owned(), "b@example.org".to_owned()];
    app.db()
        .import_subscribers(
            ChannelKind::Email,
            &mails,
            kultur.id,
            CONSENT_WORDING_VERSION,
            "test",
        )
        .unwrap();
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Samstag.",
    ]);
    common::poll_until(Duration::from_secs(30), || {
        let n = rt
            .block_on(bot.received_requests())
            .unwrap_or_default()
            .len();
        if n >= 3 {
            Ok(())
        } else {
            Err(format!("{n} of 3 sent"))
        }
    });

    add_user(&s, "mo", "moderator");
    let moderator = signed_in(&s, "mo");
    assert_eq!(
        moderator
            .get(s.url("/staff/statistics"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    add_user(&s, "dora", "dpo");
    let dpo = signed_in(&s, "dora");
    let page = common::poll_until(Duration::from_secs(30), || {
        let page = dpo
            .get(s.url("/staff/statistics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        // The finish of the last send is recorded a moment after it.
        if row(&page, "reach", "Biotonne") == ["3"] {
            Ok(page)
        } else {
            Err(page)
        }
    });
    assert_eq!(page.matches("<svg").count(), 3, "{page}");
    assert_eq!(
        page.matches("<polyline").count(),
        2 + 2,
        "two channels, two categories"
    );
    // Now: three on Telegram, two by e-mail; by category the same split.
    assert_eq!(row(&page, "channels", "jetzt"), ["2", "3"]);
    assert_eq!(row(&page, "categories", "jetzt"), ["3", "2"]);
    // Twelve weeks ago there was nobody yet.
    let first = page[page.find("<section id=\"channels\"").unwrap()..]
        .split("<th scope=\"row\">")
        .nth(1)
        .unwrap()
        .split("</th>")
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(row(&page, "channels", &first), ["0", "0"]);
    let months = dpo
        .get(s.url("/staff/statistics?span=months"))
        .send()
        .unwrap();
    assert_eq!(months.status().as_u16(), 200);
    let months = months.text().unwrap();
    assert_eq!(row(&months, "channels", "jetzt"), ["2", "3"]);
}

#[test]
fn statistics_on_sqlite() {
    statistics(None);
}

#[test]
fn statistics_on_postgres() {
    let db = common::PgDatabase::create();
    statistics(Some(&db.url));
}
