//! The cache of public documents (src/web/public_cache.rs) through
//! `herold serve` with its default refresh: a publication, a correction or
//! a scheduled announcement falling due, made by another process, is
//! served within one second by every server; gzip and 304 answers carry
//! the right validators. On SQLite and on PostgreSQL (two servers sharing
//! one database).

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::server::Server;
use reqwest::{blocking::Client, header, StatusCode};
use std::{
    io::Read,
    time::{Duration, Instant},
};

/// The production default, which the other tests' servers turn off.
const DEFAULT_REFRESH: (&str, &str) = ("HEROLD_PUBLIC_REFRESH_MS", "250");

/// Public documents a resident, a feed reader and a calendar ask for.
const DOCUMENTS: [&str; 5] = [
    "/",
    "/feeds/all.atom",
    "/feeds/abfall.rss",
    "/feeds/all.ics",
    "/feeds/abfall.ics",
];

fn get(http: &Client, url: &str) -> (StatusCode, String) {
    let r = http.get(url).send().unwrap();
    (r.status(), r.text().unwrap())
}

/// Asks every server for `path` until `holds` is true of all answers;
/// returns how long that took after `since`, failing after 3 s.
fn served_within(
    servers: &[&Server],
    path: &str,
    since: Instant,
    holds: impl Fn(StatusCode, &str) -> bool,
) -> Duration {
    let http = Client::new();
    common::poll_until(Duration::from_secs(3), || {
        for s in servers {
            let (status, body) = get(&http, &s.url(path));
            if !holds(status, &body) {
                return Err(format!("{path} on {} still answers {status}", s.url("")));
            }
        }
        Ok(())
    });
    since.elapsed()
}

fn changes_are_served_within_a_second(database_url: Option<&str>) {
    let a = Server::start_with(database_url, &[DEFAULT_REFRESH]);
    // On PostgreSQL a second server shares the database, as scaled-out
    // deployments do.
    let b = database_url.map(|url| {
        let key = a.dir.path().join("pg.key").display().to_string();
        Server::start_with(
            Some(url),
            &[DEFAULT_REFRESH, ("HEROLD_SECRET_KEY_FILE", key.as_str())],
        )
    });
    let servers: Vec<&Server> = std::iter::once(&a).chain(b.as_ref()).collect();
    a.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    a.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Leerung am Samstag.",
    ]);
    let http = Client::new();
    // Every document is rendered and kept, and asked again (from memory).
    for s in &servers {
        for path in DOCUMENTS.iter().chain(&["/announcements/1"]) {
            for _ in 0..3 {
                let (status, body) = get(&http, &s.url(path));
                assert_eq!(status, StatusCode::OK, "{path}");
                assert!(!body.contains("Hochwasser"), "{path}");
            }
        }
    }

    // A publication by another process (the CLI).
    a.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Hochwasser am Mühlbach",
        "--body",
        "Bitte meiden Sie das Ufer.",
        "--event-start",
        "2026-12-24",
        "--location",
        "Mühlbach",
    ]);
    let published = Instant::now();
    for path in DOCUMENTS {
        let took = served_within(&servers, path, published, |status, body| {
            status == StatusCode::OK && body.contains("Hochwasser am M")
        });
        assert!(
            took < Duration::from_secs(1),
            "{path}: the publication was served only after {took:?}"
        );
    }
    let took = served_within(&servers, "/announcements/2", published, |status, _| {
        status == StatusCode::OK
    });
    assert!(took < Duration::from_secs(1), "page after {took:?}");

    // A correction: on the corrected page and in every feed within a
    // second.
    a.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Hochwasser: Ufer wieder frei",
        "--body",
        "Entwarnung.",
        "--corrects",
        "2",
    ]);
    let corrected = Instant::now();
    for path in DOCUMENTS.iter().take(3).chain(&["/announcements/2"]) {
        let took = served_within(&servers, path, corrected, |status, body| {
            status == StatusCode::OK && body.contains("Ufer wieder frei")
        });
        assert!(took < Duration::from_secs(1), "{path} after {took:?}");
    }

    // A scheduled announcement falls due without any write: served within
    // a second of its time, not before.
    let due = chrono::Utc::now() + chrono::Duration::seconds(2);
    a.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Streudienst ab sofort",
        "--body",
        "Glätte.",
        "--at",
        &due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    ]);
    let (_, early) = get(&http, &a.url("/feeds/all.atom"));
    assert!(!early.contains("Streudienst"), "served before its time");
    for path in ["/", "/feeds/all.atom"] {
        served_within(&servers, path, Instant::now(), |_, body| {
            body.contains("Streudienst")
        });
        let late = chrono::Utc::now() - due;
        assert!(
            late < chrono::Duration::seconds(1),
            "{path}: served {late} after its time"
        );
    }
}

#[test]
fn changes_are_served_within_a_second_on_sqlite() {
    changes_are_served_within_a_second(None);
}

#[test]
fn changes_are_served_within_a_second_by_every_server_on_postgres() {
    let pg = common::PgDatabase::create();
    changes_are_served_within_a_second(Some(&pg.url));
}

#[test]
fn gzip_and_not_modified_answers_carry_their_own_validators() {
    let s = Server::start_with(None, &[DEFAULT_REFRESH]);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    for i in 0..5 {
        s.cli(&[
            "publish",
            "--category",
            "abfall",
            "--title",
            &format!("Mitteilung {i}"),
            "--body",
            &"Die Abholung verschiebt sich um einen Tag. ".repeat(10),
            "--event-start",
            &format!("2026-12-{:02}", 10 + i),
        ]);
    }
    // Without reqwest's own gzip handling, which would ask for gzip on
    // every request and unpack it unseen.
    let http = Client::builder().no_gzip().build().unwrap();
    for path in ["/feeds/all.atom", "/feeds/all.ics", "/", "/announcements/1"] {
        let plain = http.get(s.url(path)).send().unwrap();
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        let plain_tag = plain.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_eq!(plain.headers()[header::VARY], "accept-encoding", "{path}");
        assert!(
            plain
                .headers()
                .get(header::CONTENT_ENCODING)
                .is_none_or(|e| e == "identity"),
            "{path}"
        );
        let plain_body = plain.bytes().unwrap();

        let gz = http
            .get(s.url(path))
            .header(header::ACCEPT_ENCODING, "br;q=1.0, gzip;q=0.8")
            .send()
            .unwrap();
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip", "{path}");
        let gz_tag = gz.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_ne!(gz_tag, plain_tag, "{path}: two representations, one tag");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&gz.bytes().unwrap()[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, plain_body, "{path}");

        // gzip refused with q=0: the plain body.
        let refused = http
            .get(s.url(path))
            .header(header::ACCEPT_ENCODING, "gzip;q=0")
            .send()
            .unwrap();
        assert_eq!(refused.headers()[header::ETAG].to_str().unwrap(), plain_tag);

        // Each tag validates its own representation only.
        for (encoding, tag, expected) in [
            ("identity", &plain_tag, StatusCode::NOT_MODIFIED),
            ("gzip", &gz_tag, StatusCode::NOT_MODIFIED),
            ("gzip", &plain_tag, StatusCode::OK),
            ("identity", &gz_tag, StatusCode::OK),
        ] {
            let r = http
                .get(s.url(path))
                .header(header::ACCEPT_ENCODING, encoding)
                .header(header::IF_NONE_MATCH, format!("\"x\", W/{tag}"))
                .send()
                .unwrap();
            assert_eq!(r.status(), expected, "{path} {encoding} {tag}");
            if expected == StatusCode::NOT_MODIFIED {
                assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), tag.as_str());
                assert!(r.bytes().unwrap().is_empty());
            }
        }
    }
    // Missing documents are not kept, and say so.
    for path in ["/announcements/999", "/announcements/x", "/feeds/nope.atom"] {
        assert_eq!(
            http.get(s.url(path)).send().unwrap().status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}
