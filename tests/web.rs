//! `herold serve` end to end: the real binary on a real port, announcements
//! published with the real CLI, feeds read over HTTP and checked by an
//! independent parser (feedparser), on SQLite and on PostgreSQL.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{server::Server, validate};
use reqwest::{blocking::Client, header, StatusCode};
use std::time::Duration;

const TRICKY: &str = "Straße <gesperrt> & \"Umleitung\" ab 7 Uhr";

fn publish_to_feed(database_url: Option<&str>) {
    let s = Server::start(database_url);
    let http = Client::new();
    assert_eq!(
        http.get(s.url("/readyz")).send().unwrap().status(),
        StatusCode::OK
    );

    s.cli(&[
        "category",
        "add",
        "verkehr",
        "--name",
        "Verkehr & Baustellen",
    ]);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    // An empty feed is valid too.
    let empty = http.get(s.url("/feeds/verkehr.atom")).send().unwrap();
    assert_eq!(empty.status(), StatusCode::OK);
    validate::feed(&empty.text().unwrap(), "atom");

    s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        TRICKY,
        "--body",
        "Die **Hauptstraße** ist gesperrt. <script>alert(1)</script>",
        "--urgent",
    ]);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Leerung am Samstag.",
    ]);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Noch nicht",
        "--body",
        "Später.",
        "--at",
        "2099-01-01T00:00:00Z",
    ]);

    // The all-categories Atom feed: newest first, escaped text intact.
    let r = http.get(s.url("/feeds/all.atom")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/atom+xml"));
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
    let last_modified = r.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    let body = r.text().unwrap();
    assert!(
        !body.contains("<script>"),
        "raw HTML must be escaped:\n{body}"
    );
    let atom = validate::feed(&body, "atom");
    assert_eq!(atom["title"], "Gemeinde Musterstadt: alle Bekanntmachungen");
    let titles: Vec<_> = atom["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        titles,
        ["Biotonne", TRICKY],
        "scheduled announcements stay out of feeds"
    );
    assert!(atom["entries"][1]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "urgent"));
    assert_eq!(atom["entries"][0]["link"], s.url("/announcements/2"));

    // Per-category feeds in both formats.
    let rss = http.get(s.url("/feeds/verkehr.rss")).send().unwrap();
    assert_eq!(rss.status(), StatusCode::OK);
    assert!(rss.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/rss+xml"));
    let rss = validate::feed(&rss.text().unwrap(), "rss");
    assert_eq!(rss["entries"].as_array().unwrap().len(), 1);
    assert_eq!(rss["entries"][0]["title"], TRICKY);
    let abfall = validate::feed(
        &http
            .get(s.url("/feeds/abfall.atom"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "atom",
    );
    assert_eq!(abfall["title"], "Gemeinde Musterstadt: Abfall");
    assert_eq!(abfall["entries"].as_array().unwrap().len(), 1);
    assert_eq!(
        http.get(s.url("/feeds/nope.atom")).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.get(s.url("/feeds/abfall.json"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // HEAD: the same validators, no body.
    let r = http.head(s.url("/feeds/all.atom")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(r.text().unwrap().is_empty());
    assert_eq!(
        http.head(s.url("/")).send().unwrap().status(),
        StatusCode::OK
    );

    // Conditional GET: both validators give 304 with no body.
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(r.text().unwrap().is_empty());
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_MODIFIED_SINCE, &last_modified)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_NONE_MATCH, "\"other\"")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_MODIFIED_SINCE, "Thu, 01 Jan 2015 00:00:00 GMT")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A new announcement changes the validator.
    std::thread::sleep(Duration::from_millis(1100));
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Korrektur: Sonntag",
        "--body",
        "Leerung am Sonntag.",
        "--corrects",
        "2",
    ]);
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    let atom = validate::feed(&r.text().unwrap(), "atom");
    assert!(atom["entries"][0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "correction"));
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_MODIFIED_SINCE, &last_modified)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    assert_eq!(
        http.get(s.url("/nowhere")).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn publish_then_read_feeds_on_sqlite() {
    publish_to_feed(None);
}

#[test]
fn publish_then_read_feeds_on_postgres() {
    let pg = common::PgDatabase::create();
    publish_to_feed(Some(&pg.url));
}

/// Category `abfall` with `n` e-mail subscribers.
fn abfall_subscribers(s: &Server, database_url: Option<&str>, n: usize) -> herold::service::Herold {
    let addresses: Vec<String> = (0..n).map(|i| format!("r{i}@example.org")).collect();
    s.email_subscribers(database_url, "abfall", &addresses)
}

/// `herold serve` runs the delivery engine in-process and `/metrics` shows
/// its work: deliveries by channel and outcome, send latency, queue depth.
fn metrics_follow_a_broadcast(database_url: Option<&str>) {
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#),
            ("HEROLD_FAKE_PROVIDER", "memory"),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
        ],
    );
    let http = Client::new();
    abfall_subscribers(&s, database_url, 250);
    let before = http.get(s.url("/metrics")).send().unwrap();
    assert_eq!(before.status(), StatusCode::OK);
    assert!(before
        .headers()
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(!before.text().unwrap().contains("outcome=\"sent\""));

    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Samstag.",
    ]);
    let sent = r#"herold_deliveries_total{channel="email",outcome="sent"} 250"#;
    let text = common::poll_until(Duration::from_secs(30), || {
        let text = http.get(s.url("/metrics")).send().unwrap().text().unwrap();
        if text.contains(sent) {
            Ok(text)
        } else {
            Err(format!("never saw {sent} in\n{text}"))
        }
    });
    assert!(
        text.contains(r#"herold_send_seconds_count{channel="email"} 250"#),
        "{text}"
    );
    assert!(text.contains("# TYPE herold_queue_depth gauge"), "{text}");
    assert!(text.contains("herold_rate_limit_wait_seconds"), "{text}");
    // Nothing is left waiting once every delivery is out.
    common::poll_until(Duration::from_secs(10), || {
        let text = http.get(s.url("/metrics")).send().unwrap().text().unwrap();
        let waiting = text
            .lines()
            .filter(|l| l.starts_with("herold_queue_depth{"))
            .any(|l| !l.ends_with(" 0"));
        if waiting {
            Err(format!("queue never drained:\n{text}"))
        } else {
            Ok(())
        }
    });
}

#[test]
fn metrics_follow_a_broadcast_on_sqlite() {
    metrics_follow_a_broadcast(None);
}

#[test]
fn metrics_follow_a_broadcast_on_postgres() {
    let pg = common::PgDatabase::create();
    metrics_follow_a_broadcast(Some(&pg.url));
}

/// Delivery receipts: the provider (here the test, with the fake provider's
/// message ids) posts signed status webhooks, which are stored and then
/// processed; deliveries move forward only, and forged or malformed
/// requests change nothing.
fn receipts_update_deliveries(database_url: Option<&str>) {
    let provider = herold_channel_fake::FakeServer::start(None, true).unwrap();
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#),
            ("HEROLD_FAKE_PROVIDER", provider.url()),
            ("HEROLD_FAKE_PROVIDER_SECRET", "geheim"),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
        ],
    );
    let app = abfall_subscribers(&s, database_url, 10);
    let announcement = app
        .publish(&common::publish_request("abfall", "Biotonne", "Samstag."))
        .unwrap()
        .id;
    common::poll_until(Duration::from_secs(30), || {
        match provider.received().len() {
            n if n >= 10 => Ok(()),
            n => Err(format!("the fake provider got {n} of 10")),
        }
    });
    let ids: Vec<String> = provider.received().into_iter().map(|r| r.id).collect();
    let http = Client::new();
    let post = |body: &str, signature: Option<String>| {
        let mut r = http
            .post(s.url("/webhooks/email"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        if let Some(sig) = signature {
            r = r.header("X-Fake-Signature", sig);
        }
        r.send().unwrap()
    };
    let signed = |body: &str| herold_channel_fake::FakeWebhook::sign(b"geheim", body.as_bytes());
    let status = |id: &str, st: &str| {
        format!(r#"{{"id":"{id}","status":"{st}","timestamp":"2026-11-23T08:00:00Z"}}"#)
    };
    // Read arrives before delivered for ids 0..3 (out of order), delivered
    // for 3..6, failed for 6, and one id Herold never sent.
    let mut statuses: Vec<String> = (0..3).map(|i| status(&ids[i], "read")).collect();
    statuses.extend((0..6).map(|i| status(&ids[i], "delivered")));
    statuses.push(
        r#"{"id":"fake-x","status":"read","timestamp":"2026-11-23T08:00:00Z","error":null}"#.into(),
    );
    statuses.push(format!(
        r#"{{"id":"{}","status":"failed","timestamp":"2026-11-23T08:00:00Z","error":"undeliverable"}}"#,
        ids[6]
    ));
    let body = format!(r#"{{"statuses":[{}]}}"#, statuses.join(","));

    // Forged and unsigned requests are refused and change nothing.
    let forged = herold_channel_fake::FakeWebhook::sign(b"falsch", body.as_bytes());
    assert_eq!(post(&body, Some(forged)).status(), StatusCode::UNAUTHORIZED);
    assert_eq!(post(&body, None).status(), StatusCode::UNAUTHORIZED);
    // A body over the limit is refused before anything reads it.
    let huge = format!(r#"{{"statuses":[],"pad":"{}"}}"#, "x".repeat(300 * 1024));
    assert_eq!(
        post(&huge, Some(signed(&huge))).status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // The provider's verification handshake (GET), through the adapter.
    let get = |query: &str| {
        http.get(s.url(&format!("/webhooks/email?{query}")))
            .send()
            .unwrap()
    };
    let ok = get("hub.mode=subscribe&hub.verify_token=geheim&hub.challenge=1158201444");
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.text().unwrap(), "1158201444");
    assert_eq!(
        get("hub.mode=subscribe&hub.verify_token=falsch&hub.challenge=1").status(),
        StatusCode::FORBIDDEN
    );
    // Channels without a configured webhook, and unknown channels, have none.
    assert_eq!(
        http.post(s.url("/webhooks/telegram"))
            .body("{}")
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.get(s.url("/webhooks/nonsense"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let garbage = r#"{"statuses":"no"}"#;
    let r = post(garbage, Some(signed(garbage)));
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().unwrap().contains("statuses"));
    let counts = |app: &herold::service::Herold| {
        app.db().broadcast_counts(announcement).unwrap()[0]
            .counts
            .clone()
    };
    assert_eq!(
        counts(&app).get(&herold::domain::DeliveryState::Sent),
        Some(&10)
    );

    // The webhook stores the 11 reports (read and delivered of one message
    // are different events) and answers at once; the inbound processor
    // applies them.
    let r = post(&body, Some(signed(&body)));
    assert_eq!(r.status(), StatusCode::OK);
    let stored: serde_json::Value = r.json().unwrap();
    assert_eq!(stored["stored"], 11, "{stored}");
    assert_eq!(stored["duplicates"], 0, "{stored}");
    use herold::domain::DeliveryState as D;
    // The status for an unknown id is looked at six times, with a backoff
    // of 0.5–1 s doubling each time (15.5–31 s in all) before it counts as
    // unknown; the wait leaves room for a loaded machine.
    common::wait_until("the receipts processed", Duration::from_secs(90), || {
        app.db()
            .inbound_states()
            .unwrap()
            .iter()
            .all(|e| e.state == "done")
    });
    // read×3, delivered×3 (3..6), failed×1 applied; delivered after read
    // ×3 ignored; the unknown id recorded as such.
    let outcomes = |app: &herold::service::Herold| {
        let mut by: std::collections::BTreeMap<String, usize> = Default::default();
        for e in app.db().inbound_states().unwrap() {
            *by.entry(e.outcome.unwrap_or_default()).or_default() += 1;
        }
        by
    };
    let o = outcomes(&app);
    assert_eq!(o.get("applied"), Some(&7), "{o:?}");
    assert_eq!(o.get("ignored"), Some(&3), "{o:?}");
    assert_eq!(o.get("unknown"), Some(&1), "{o:?}");
    let c = counts(&app);
    assert_eq!(c.get(&D::Read), Some(&3), "{c:?}");
    assert_eq!(c.get(&D::Delivered), Some(&3), "{c:?}");
    assert_eq!(c.get(&D::Failed), Some(&1), "{c:?}");
    assert_eq!(c.get(&D::Sent), Some(&3), "{c:?}");
    // The same report again is stored as duplicates and changes nothing.
    let again: serde_json::Value = post(&body, Some(signed(&body))).json().unwrap();
    assert_eq!(again["stored"], 0, "{again}");
    assert_eq!(again["duplicates"], 11, "{again}");
    assert_eq!(app.db().inbound_states().unwrap().len(), 11);
    assert_eq!(counts(&app), c);
    // A channel without a webhook.
    assert_eq!(
        http.post(s.url("/webhooks/telegram"))
            .body("{}")
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn receipts_update_deliveries_on_sqlite() {
    receipts_update_deliveries(None);
}

#[test]
fn receipts_update_deliveries_on_postgres() {
    let pg = common::PgDatabase::create();
    receipts_update_deliveries(Some(&pg.url));
}

/// Announcements about an event appear in the category's and the overall
/// calendar (`.ics`); a correction updates the event (same UID, higher
/// SEQUENCE) instead of adding one; bad event input changes nothing.
fn calendar_feed(database_url: Option<&str>) {
    let s = Server::start(database_url);
    let http = Client::new();
    s.cli(&[
        "category",
        "add",
        "kultur",
        "--name",
        "Kultur & Veranstaltungen",
    ]);
    let empty = http.get(s.url("/feeds/kultur.ics")).send().unwrap();
    assert_eq!(empty.status(), StatusCode::OK);
    assert_eq!(
        validate::ical(&empty.text().unwrap())["events"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let out = s.cli(&[
        "publish",
        "--category",
        "kultur",
        "--title",
        TRICKY,
        "--body",
        "Lesung im **Bürgerhaus**; Eintritt frei, Spenden erbeten.",
        "--event-start",
        "2026-12-05T18:00:00+01:00",
        "--event-end",
        "2026-12-05T20:30:00+01:00",
        "--location",
        "Bürgerhaus, Hauptstraße 5",
    ]);
    let first: i64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    s.cli(&[
        "publish",
        "--category",
        "kultur",
        "--title",
        "Weihnachtsmarkt",
        "--body",
        "Drei Tage auf dem Marktplatz.",
        "--event-start",
        "2026-12-11",
        "--event-end",
        "2026-12-13",
    ]);
    s.cli(&[
        "publish",
        "--category",
        "kultur",
        "--title",
        "Ohne Termin",
        "--body",
        "Nur Text.",
    ]);

    let res = http.get(s.url("/feeds/kultur.ics")).send().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .headers()
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let etag = res.headers().get(header::ETAG).unwrap().clone();
    let cal = validate::ical(&res.text().unwrap());
    let events = cal["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{cal}");
    let lesung = events.iter().find(|e| e["summary"] == TRICKY).unwrap();
    assert_eq!(lesung["start"]["date_time"], "2026-12-05T17:00:00Z");
    assert_eq!(lesung["end"]["date_time"], "2026-12-05T19:30:00Z");
    assert_eq!(lesung["location"], "Bürgerhaus, Hauptstraße 5");
    assert!(lesung["description"]
        .as_str()
        .unwrap()
        .contains("Lesung im Bürgerhaus; Eintritt frei"));
    assert_eq!(lesung["url"], s.url(&format!("/announcements/{first}")));
    assert_eq!(lesung["categories"][0], "Kultur & Veranstaltungen");
    // The announcement page shows when and where, in local time.
    let page = http
        .get(s.url(&format!("/announcements/{first}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("05.12.2026, 18:00 Uhr – 05.12.2026, 20:30 Uhr"),
        "{page}"
    );
    assert!(page.contains("Bürgerhaus, Hauptstraße 5"), "{page}");
    let markt = events
        .iter()
        .find(|e| e["summary"] == "Weihnachtsmarkt")
        .unwrap();
    assert_eq!(markt["start"]["date"], "2026-12-11");
    assert_eq!(
        markt["end"]["date"], "2026-12-14",
        "all-day ends are exclusive"
    );
    // Conditional GET.
    let again = http
        .get(s.url("/feeds/kultur.ics"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // A correction moves the event: one event, same UID, SEQUENCE 1.
    s.cli(&[
        "publish",
        "--category",
        "kultur",
        "--title",
        "Lesung verlegt",
        "--body",
        "Neuer Termin.",
        "--corrects",
        &first.to_string(),
        "--event-start",
        "2026-12-06T18:00:00+01:00",
        "--location",
        "Rathaus",
    ]);
    let cal = validate::ical(
        &http
            .get(s.url("/feeds/all.ics"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
    );
    let events = cal["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{cal}");
    let moved = events
        .iter()
        .find(|e| e["summary"] == "Lesung verlegt")
        .unwrap();
    assert_eq!(moved["uid"], lesung["uid"]);
    assert_eq!(moved["sequence"], 1);
    assert_eq!(moved["start"]["date_time"], "2026-12-06T17:00:00Z");
    assert_eq!(moved["location"], "Rathaus");

    // Bad event input: one sentence naming the flag, nothing stored.
    let before = s.cli(&["announcements", "list"]);
    for (args, needle) in [
        (
            vec![
                "--event-start",
                "2026-12-05T18:00:00+01:00",
                "--event-end",
                "2026-12-05T17:00:00+01:00",
            ],
            "event end",
        ),
        (vec!["--event-start", "morgen"], "--event-start"),
        (
            vec![
                "--event-start",
                "2026-12-05",
                "--event-end",
                "2026-12-05T20:00:00Z",
            ],
            "--event-end",
        ),
        (vec!["--location", "Rathaus"], "--event-start"),
    ] {
        let mut cmd = Server::command(s.dir.path(), &s.env);
        cmd.args([
            "publish",
            "--category",
            "kultur",
            "--title",
            "X",
            "--body",
            "Y",
        ])
        .args(&args);
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(s.cli(&["announcements", "list"]), before);
}

#[test]
fn calendar_feed_on_sqlite() {
    calendar_feed(None);
}

#[test]
fn calendar_feed_on_postgres() {
    let pg = common::PgDatabase::create();
    calendar_feed(Some(&pg.url));
}
