//! Images of announcements: metadata stripped (checked with an independent
//! decoder, Pillow), published with the real CLI, served by the real
//! server, carried as feed enclosures (checked with feedparser), on SQLite
//! and on PostgreSQL.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    server::{pillow, Server},
    validate, TestDb,
};
use diesel::RunQueryDsl;
use herold::{config::MediaConfig, storage::Pool};
use reqwest::{blocking::Client, header, StatusCode};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Marker strings the fixtures carry in their metadata (see
/// tests/fixtures/media/make_fixtures.py).
const MARKERS: [&str; 5] = [
    "HeroldCam",
    "HEROLD-GPS-DATUM",
    "herold-xmp-secret",
    "herold-comment",
    "herold-trailer",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/media")
        .join(name)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What Herold stores for a fixture (the library's own preparation).
fn prepared(name: &str) -> Vec<u8> {
    let bytes = std::fs::read(fixture(name)).unwrap();
    herold::media::prepare(name, bytes, "Bild", &MediaConfig::default())
        .unwrap()
        .bytes
}

#[test]
fn stripping_keeps_the_pixels_and_drops_the_metadata() {
    for (name, format, pixel_data) in [
        ("gps.jpg", "JPEG", &b"\xFF\xDA"[..]),
        ("meta.png", "PNG", &b"IDAT"[..]),
        ("meta.webp", "WEBP", &b"VP8"[..]),
    ] {
        let input = std::fs::read(fixture(name)).unwrap();
        let before = pillow(&input);
        assert!(
            before["gps_tags"].as_u64().unwrap() > 0,
            "{name}: the fixture must carry a GPS block: {before}"
        );
        let output = prepared(name);
        let after = pillow(&output);

        // The same picture, not re-encoded: identical pixels (a lossy
        // re-encode would change them), and the image data is a byte-for-byte
        // copy of the input's.
        assert_eq!(after["format"], format, "{name}");
        assert_eq!(after["size"], before["size"], "{name}");
        assert_eq!(after["pixels"], before["pixels"], "{name}: pixels changed");
        let start = output
            .windows(pixel_data.len())
            .position(|w| w == pixel_data)
            .unwrap();
        let end = (start + 64).min(output.len());
        assert!(
            contains(&input, &output[start..end]),
            "{name}: image data differs"
        );

        // No metadata left, as Pillow sees it and as bytes.
        assert_eq!(after["exif_tags"], 0, "{name}: {after}");
        assert_eq!(after["gps_tags"], 0, "{name}: {after}");
        for key in ["exif", "xmp", "comment", "Comment", "XML:com.adobe.xmp"] {
            assert!(
                !after["info"].as_array().unwrap().iter().any(|k| k == key),
                "{name}: {key} survived: {after}"
            );
        }
        let mut found = 0;
        for m in MARKERS {
            if contains(&input, m.as_bytes()) {
                found += 1;
                assert!(
                    !contains(&output, m.as_bytes()),
                    "{name}: {m} survived stripping"
                );
            }
        }
        assert!(found >= 3, "{name}: the fixture lacks its markers");
        assert!(!contains(&output, b"Exif\0\0"), "{name}: EXIF header left");
    }
}

/// Extra `publish` arguments, extra environment, and what the error says.
type BadCase<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Vec<&'a str>);

/// Runs a failing `herold publish`; returns its one line of stderr.
fn publish_fails(s: &Server, extra_env: &[(&str, &str)], args: &[&str]) -> String {
    let mut env = s.env.clone();
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let out = Server::command(s.dir.path(), &env)
        .arg("publish")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one sentence, got:\n{err}");
    err
}

fn media_rows(app: &herold::service::Herold) -> i64 {
    use diesel::QueryDsl;
    use herold::storage::schema::media;
    match app.db().pool() {
        Pool::Sqlite(p) => media::table
            .count()
            .get_result(&mut *p.get().unwrap())
            .unwrap(),
        Pool::Postgres(p) => media::table
            .count()
            .get_result(&mut *p.get().unwrap())
            .unwrap(),
    }
}

fn entry<'a>(feed: &'a serde_json::Value, title: &str) -> &'a serde_json::Value {
    feed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["title"].as_str().unwrap_or("").ends_with(title))
        .unwrap_or_else(|| panic!("no entry {title:?} in {feed}"))
}

fn publish_serve_and_feed(database_url: Option<&str>) {
    let s = Server::start(database_url);
    let http = Client::new();
    s.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    let jpg = fixture("gps.jpg");
    let out = s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        "Baustelle",
        "--body",
        "Die Hauptstraße ist gesperrt.",
        "--image",
        jpg.to_str().unwrap(),
        "--image-alt",
        "Absperrung an der Hauptstraße",
        "--event-start",
        "2099-03-02",
    ]);
    assert!(
        out.contains(&format!("image 1: {}", s.url("/media/1.jpg"))),
        "{out}"
    );

    // The bytes as stored: the input minus its metadata, nothing else.
    let r = http.get(s.url("/media/1.jpg")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    let body = r.bytes().unwrap().to_vec();
    assert_eq!(body, prepared("gps.jpg"));
    for m in MARKERS {
        assert!(!contains(&body, m.as_bytes()), "{m} was served");
    }
    assert!(contains(&std::fs::read(&jpg).unwrap(), b"HEROLD-GPS-DATUM"));
    assert_eq!(h[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(h[header::CONTENT_LENGTH], body.len().to_string().as_str());
    let etag = format!("\"{}\"", sha256_hex(&body));
    assert_eq!(h[header::ETAG], etag.as_str());
    assert_eq!(
        h[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // HEAD: the same headers, no body.
    let head = http.head(s.url("/media/1.jpg")).send().unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[header::ETAG], etag.as_str());
    assert_eq!(head.headers()[header::CONTENT_TYPE], "image/jpeg");
    assert!(head.bytes().unwrap().is_empty());
    let bare = http.get(s.url("/media/1")).send().unwrap();
    assert_eq!(bare.status(), StatusCode::OK);
    assert_eq!(bare.bytes().unwrap().to_vec(), body);

    // Conditional GET.
    let r = http
        .get(s.url("/media/1.jpg"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()[header::ETAG], etag.as_str());
    assert!(r.bytes().unwrap().is_empty());
    let r = http
        .get(s.url("/media/1.jpg"))
        .header(header::IF_NONE_MATCH, "\"other\"")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Unknown ids and a wrong extension.
    for path in [
        "/media/99.jpg",
        "/media/99",
        "/media/1.png",
        "/media/eins.jpg",
    ] {
        let r = http.get(s.url(path)).send().unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // The page shows the picture with its alt text.
    let page = http
        .get(s.url("/announcements/1"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains(r#"<img src="/media/1.jpg" alt="Absperrung an der Hauptstraße">"#),
        "{page}"
    );

    // A scheduled announcement's image stays hidden until it is out.
    let png = fixture("meta.png");
    let out = s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        "Später",
        "--body",
        "Noch nicht.",
        "--at",
        "2099-01-01T00:00:00Z",
        "--image",
        png.to_str().unwrap(),
        "--image-alt",
        "Plan",
    ]);
    assert!(out.contains("image 2:"), "{out}");
    for path in ["/media/2.png", "/media/2"] {
        let r = http.get(s.url(path)).send().unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // Corrections: one with its own image, one with none (no inheritance).
    let webp = fixture("meta.webp");
    s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        "Baustelle bis Freitag",
        "--body",
        "Gesperrt bis Freitag.",
        "--corrects",
        "1",
        "--image",
        webp.to_str().unwrap(),
        "--image-alt",
        "Umleitungsplan",
    ]);
    s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        "Baustelle bis Samstag",
        "--body",
        "Gesperrt bis Samstag.",
        "--corrects",
        "1",
    ]);
    let webp_body = http
        .get(s.url("/media/3.webp"))
        .send()
        .unwrap()
        .bytes()
        .unwrap()
        .to_vec();
    assert_eq!(webp_body, prepared("meta.webp"));

    // Feeds carry the images as enclosures, with absolute URL, type and
    // length, and feedparser reads them.
    for (path, kind) in [("/feeds/all.atom", "atom"), ("/feeds/verkehr.rss", "rss")] {
        let raw = http.get(s.url(path)).send().unwrap().text().unwrap();
        let feed = validate::feed(&raw, kind);
        assert_eq!(feed["entries"].as_array().unwrap().len(), 3, "{feed}");
        let enclosures = |title: &str| entry(&feed, title)["enclosures"].clone();
        assert_eq!(
            enclosures("Baustelle"),
            serde_json::json!([{
                "href": s.url("/media/1.jpg"),
                "type": "image/jpeg",
                "length": body.len().to_string(),
            }]),
            "{kind}"
        );
        assert_eq!(
            enclosures("Baustelle bis Freitag"),
            serde_json::json!([{
                "href": s.url("/media/3.webp"),
                "type": "image/webp",
                "length": webp_body.len().to_string(),
            }]),
            "{kind}"
        );
        assert_eq!(
            enclosures("Baustelle bis Samstag"),
            serde_json::json!([]),
            "{kind}"
        );
        assert!(!raw.contains("/media/2."), "scheduled image in {kind} feed");
    }

    // The calendar links the event's image (ATTACH with its type), as
    // icalendar reads it. (The corrections announce no event.)
    let ics = http
        .get(s.url("/feeds/all.ics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let cal = validate::ical(&ics);
    let events = cal["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{cal}");
    assert_eq!(
        events[0]["attachments"],
        serde_json::json!([{"uri": s.url("/media/1.jpg"), "fmttype": "image/jpeg"}]),
        "{ics}"
    );

    // Bad input: one clear sentence, and nothing is stored.
    let app = s.open_database(database_url);
    let list_before = s.cli(&["announcements", "list"]);
    let media_before = media_rows(&app);
    let note = s.dir.path().join("notiz.jpg");
    std::fs::write(&note, "Dies ist kein Bild, nur eine Notiz.\n").unwrap();
    let truncated = s.dir.path().join("kaputt.jpg");
    std::fs::write(&truncated, &std::fs::read(&jpg).unwrap()[..300]).unwrap();
    let gif = s.dir.path().join("anim.gif");
    std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    let base = ["--category", "verkehr", "--title", "T", "--body", "B"];
    let jpg = jpg.to_str().unwrap();
    let cases: Vec<BadCase> = vec![
        (
            vec!["--image", note.to_str().unwrap(), "--image-alt", "Notiz"],
            vec![],
            vec![
                "notiz.jpg",
                "is not a JPEG, PNG or WebP image",
                "content is text",
            ],
        ),
        (
            vec!["--image", jpg, "--image-alt", "Foto"],
            vec![("HEROLD_MEDIA__MAX_IMAGE_BYTES", "1024")],
            vec![
                "gps.jpg",
                "1304 bytes",
                "at most 1024",
                "media.max_image_bytes",
            ],
        ),
        (
            vec!["--image", jpg],
            vec![],
            vec!["gps.jpg", "needs --image-alt"],
        ),
        (
            vec!["--image", jpg, "--image-alt", "   "],
            vec![],
            vec!["image alt text (--image-alt) must not be empty"],
        ),
        (vec!["--image-alt", "Foto"], vec![], vec!["--image FILE"]),
        (
            vec![
                "--image",
                truncated.to_str().unwrap(),
                "--image-alt",
                "Foto",
            ],
            vec![],
            vec!["kaputt.jpg", "damaged JPEG"],
        ),
        (
            vec!["--image", gif.to_str().unwrap(), "--image-alt", "Foto"],
            vec![],
            vec!["anim.gif", "GIF"],
        ),
        (
            vec!["--image", "fehlt.jpg", "--image-alt", "Foto"],
            vec![],
            vec!["cannot read --image fehlt.jpg"],
        ),
    ];
    for (args, env, needles) in cases {
        let all: Vec<&str> = base.iter().copied().chain(args.iter().copied()).collect();
        let err = publish_fails(&s, &env, &all);
        for n in needles {
            assert!(err.contains(n), "{n:?} not in {err:?}");
        }
        assert_eq!(s.cli(&["announcements", "list"]), list_before, "{args:?}");
        assert_eq!(media_rows(&app), media_before, "{args:?}");
    }
}

#[test]
fn publish_serve_and_feed_on_sqlite() {
    publish_serve_and_feed(None);
}

#[test]
fn publish_serve_and_feed_on_postgres() {
    let pg = common::PgDatabase::create();
    publish_serve_and_feed(Some(&pg.url));
}

/// Raw SQL on either backend; the error text if it fails.
fn sql(t: &TestDb, q: &str) -> Result<usize, String> {
    match t.app.db().pool() {
        Pool::Sqlite(p) => diesel::sql_query(q).execute(&mut *p.get().unwrap()),
        Pool::Postgres(p) => diesel::sql_query(q).execute(&mut *p.get().unwrap()),
    }
    .map_err(|e| e.to_string())
}

both!(images_are_immutable, |t: &TestDb| {
    t.app.add_category("abfall", "Abfall", "test").unwrap();
    let image = herold::media::prepare(
        "gps.jpg",
        std::fs::read(fixture("gps.jpg")).unwrap(),
        "Tonne",
        &MediaConfig::default(),
    )
    .unwrap();
    let sha = image.sha256.clone();
    let a = t
        .app
        .publish_with_image(
            &common::publish_request("abfall", "Biotonne", "Leerung."),
            Some(image),
        )
        .unwrap();
    let img = a.image.clone().expect("image stored");
    assert_eq!(img.sha256, sha);
    assert_eq!(img.alt, "Tonne");
    let (read, _) = t.app.db().get_announcement(a.id).unwrap();
    assert_eq!(read.image, Some(img.clone()));
    let file = t
        .app
        .public_image(img.id, None, chrono::Utc::now())
        .unwrap()
        .unwrap();
    assert_eq!(sha256_hex(&file.bytes), sha);
    assert_eq!(file.bytes.len() as u64, img.byte_length);

    for q in [
        "UPDATE media SET alt_text = 'anders'".to_owned(),
        "UPDATE media SET bytes = NULL".to_owned(),
        "DELETE FROM media".to_owned(),
        format!(
            "UPDATE announcements SET image_id = NULL WHERE id = {}",
            a.id
        ),
    ] {
        let err = sql(t, &q).expect_err(&q);
        assert!(
            err.contains("immutable") || err.contains("never deleted"),
            "{q}: {err}"
        );
    }
    assert_eq!(
        t.app.db().get_announcement(a.id).unwrap().0.image,
        Some(img)
    );
});
