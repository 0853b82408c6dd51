//! The WebSub hub: its storage on both backends, and end to end with the
//! real `herold serve`, a subscriber HTTP server inside the test, and
//! announcements published with the real CLI, on SQLite and PostgreSQL.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{Duration as TimeDelta, Utc};
use common::{server::Server, wait_until, TestDb};
use herold::{
    service::{Herold, PublishRequest},
    storage::{
        MarkChange, NewWebsubSubscription, Pool, WebsubCapReached, WebsubCaps, WebsubClaim,
        WebsubOutcome, WebsubSubscription,
    },
    websub::content_mark,
};
use reqwest::{blocking::Client, header, StatusCode};
use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        atomic::{AtomicU16, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

// ---------------------------------------------------------------------------
// Storage, on both backends.

fn subscribe(t: &TestDb, topic: &str, callback: &str, secret: Option<&[u8]>) -> WebsubSubscription {
    t.app
        .db()
        .upsert_websub_subscription(&NewWebsubSubscription {
            topic,
            callback,
            secret,
            expires_at: Utc::now() + TimeDelta::hours(1),
            content_mark: "0:-:-",
        })
        .unwrap()
}

fn change(t: &TestDb, s: &WebsubSubscription, seen: &str, current: &str) -> usize {
    t.app
        .db()
        .enqueue_websub_changes(
            &[MarkChange {
                subscription_id: s.id,
                seen,
                current,
            }],
            Utc::now(),
        )
        .unwrap()
}

fn claim(t: &TestDb) -> Vec<WebsubClaim> {
    let now = Utc::now();
    t.app
        .db()
        .claim_websub_deliveries(now, now + TimeDelta::seconds(60), 10)
        .unwrap()
}

fn publish(app: &Herold, category: &str, title: &str, at: Option<chrono::DateTime<Utc>>) -> i64 {
    app.publish(&PublishRequest {
        at,
        ..common::publish_request(category, title, "Text.")
    })
    .unwrap()
    .id
}

const TOPIC: &str = "http://127.0.0.1:8080/feeds/abfall.atom";

both!(
    subscriptions_are_created_renewed_and_deleted,
    |t: &TestDb| {
        let s = subscribe(
            t,
            TOPIC,
            "https://reader.example/cb?u=1",
            Some(b"s3cr3t-value"),
        );
        assert!(s.has_secret);
        assert_eq!(s.failures, 0);
        assert_eq!(s.content_mark, "0:-:-");

        // The secret is stored encrypted.
        let raw: Vec<Option<Vec<u8>>> = {
            use diesel::prelude::*;
            use herold::storage::schema::websub_subscriptions as ws;
            match t.app.db().pool() {
                Pool::Sqlite(p) => ws::table
                    .select(ws::secret_ciphertext)
                    .load(&mut *p.get().unwrap())
                    .unwrap(),
                Pool::Postgres(p) => ws::table
                    .select(ws::secret_ciphertext)
                    .load(&mut *p.get().unwrap())
                    .unwrap(),
            }
        };
        let stored = raw[0].clone().unwrap();
        assert!(!stored.windows(12).any(|w| w == b"s3cr3t-value"));

        // Renewal: same (topic, callback), new lease and secret; the mark stays.
        change(t, &s, "0:-:-", "1:5:9");
        let later = Utc::now() + TimeDelta::days(3);
        let renewed = t
            .app
            .db()
            .upsert_websub_subscription(&NewWebsubSubscription {
                topic: TOPIC,
                callback: "https://reader.example/cb?u=1",
                secret: None,
                expires_at: later,
                content_mark: "2:7:9",
            })
            .unwrap();
        assert_eq!(renewed.id, s.id);
        assert!(!renewed.has_secret);
        assert_eq!(renewed.content_mark, "1:5:9");
        assert!((renewed.expires_at - later).num_milliseconds().abs() < 1);
        assert_eq!(t.app.db().list_websub_subscriptions().unwrap().len(), 1);

        // Another callback is another subscription.
        subscribe(t, TOPIC, "https://reader.example/cb?u=2", None);
        assert_eq!(t.app.db().list_websub_subscriptions().unwrap().len(), 2);

        // Unsubscribe deletes the subscription and its pending distribution.
        assert!(t.app.db().websub_pending(s.id).unwrap().is_some());
        assert!(t
            .app
            .db()
            .delete_websub_subscription(TOPIC, "https://reader.example/cb?u=1")
            .unwrap());
        assert!(t.app.db().websub_pending(s.id).unwrap().is_none());
        assert!(t
            .app
            .db()
            .find_websub_subscription(TOPIC, "https://reader.example/cb?u=1")
            .unwrap()
            .is_none());
        assert!(!t
            .app
            .db()
            .delete_websub_subscription(TOPIC, "https://reader.example/cb?u=1")
            .unwrap());
    }
);

both!(
    changes_queue_one_distribution_per_subscription,
    |t: &TestDb| {
        let s = subscribe(t, TOPIC, "https://reader.example/a", Some(b"key"));
        assert_eq!(t.app.db().websub_marks(Utc::now()).unwrap().len(), 1);

        // A stale view of the mark queues nothing.
        assert_eq!(change(t, &s, "stale", "1:1:1"), 0);
        assert!(t.app.db().websub_pending(s.id).unwrap().is_none());

        assert_eq!(change(t, &s, "0:-:-", "1:1:1"), 1);
        // A second change while pending coalesces: still one, generation bumped.
        assert_eq!(change(t, &s, "1:1:1", "2:2:2"), 1);
        let pending = t.app.db().websub_pending(s.id).unwrap().unwrap();
        assert_eq!(pending.generation, 1);
        assert_eq!(pending.attempts, 0);
        assert_eq!(
            t.app
                .db()
                .find_websub_subscription(TOPIC, "https://reader.example/a")
                .unwrap()
                .unwrap()
                .content_mark,
            "2:2:2"
        );

        // Claimed once, with the decrypted secret; then left alone.
        let claims = claim(t);
        assert_eq!(claims.len(), 1);
        assert_eq!(
            claims[0].secret.as_deref().map(|s| s.as_slice()),
            Some(&b"key"[..])
        );
        assert_eq!(claims[0].callback, "https://reader.example/a");
        assert!(claim(t).is_empty());

        // A change while sending: delivered, but sent again at once.
        change(t, &s, "2:2:2", "3:3:3");
        t.app
            .db()
            .finish_websub_delivery(&claims[0], &WebsubOutcome::Delivered, Utc::now())
            .unwrap();
        let again = claim(t);
        assert_eq!(again.len(), 1);
        t.app
            .db()
            .finish_websub_delivery(&again[0], &WebsubOutcome::Delivered, Utc::now())
            .unwrap();
        assert!(t.app.db().websub_pending(s.id).unwrap().is_none());
    }
);

both!(failed_distributions_retry_then_end, |t: &TestDb| {
    let s = subscribe(t, TOPIC, "https://reader.example/a", None);
    change(t, &s, "0:-:-", "1:1:1");
    let claims = claim(t);
    let at = Utc::now() + TimeDelta::seconds(30);
    t.app
        .db()
        .finish_websub_delivery(
            &claims[0],
            &WebsubOutcome::Retry {
                at,
                error: "the callback answered HTTP 503".into(),
            },
            Utc::now(),
        )
        .unwrap();
    let pending = t.app.db().websub_pending(s.id).unwrap().unwrap();
    assert_eq!(pending.attempts, 1);
    assert!((pending.next_attempt_at - at).num_milliseconds().abs() < 1);
    assert_eq!(
        pending.last_error.as_deref(),
        Some("the callback answered HTTP 503")
    );
    assert!(claim(t).is_empty(), "not due before the retry time");
    let sub = t
        .app
        .db()
        .find_websub_subscription(TOPIC, "https://reader.example/a")
        .unwrap()
        .unwrap();
    assert_eq!(sub.failures, 1);

    // Due later; the claim carries the attempts so far.
    let later = at + TimeDelta::seconds(1);
    let claims = t
        .app
        .db()
        .claim_websub_deliveries(later, later + TimeDelta::seconds(60), 10)
        .unwrap();
    assert_eq!(claims[0].attempts, 1);
    t.app
        .db()
        .finish_websub_delivery(&claims[0], &WebsubOutcome::Ended, Utc::now())
        .unwrap();
    assert!(t.app.db().list_websub_subscriptions().unwrap().is_empty());
    assert!(t.app.db().websub_pending(s.id).unwrap().is_none());
});

both!(
    expired_subscriptions_get_nothing_and_are_purged,
    |t: &TestDb| {
        let s = subscribe(t, TOPIC, "https://reader.example/a", None);
        change(t, &s, "0:-:-", "1:1:1");
        let after = s.expires_at + TimeDelta::seconds(1);
        assert!(t.app.db().websub_marks(after).unwrap().is_empty());
        assert!(t
            .app
            .db()
            .claim_websub_deliveries(after, after + TimeDelta::seconds(60), 10)
            .unwrap()
            .is_empty());
        assert_eq!(t.app.db().purge_expired_websub(Utc::now()).unwrap(), 0);
        assert_eq!(t.app.db().purge_expired_websub(after).unwrap(), 1);
        assert!(t.app.db().list_websub_subscriptions().unwrap().is_empty());
        assert!(t.app.db().websub_pending(s.id).unwrap().is_none());
    }
);

both!(activity_follows_visible_announcements, |t: &TestDb| {
    use herold::service::FeedScope;
    let app = &t.app;
    app.add_category("abfall", "Abfall", "test").unwrap();
    app.add_category("verkehr", "Verkehr", "test").unwrap();
    let abfall = FeedScope::Category("abfall".into());
    let mark =
        |scope: &FeedScope, at| content_mark(scope, &app.db().category_activity(at).unwrap());

    let empty = mark(&abfall, Utc::now());
    let all_empty = mark(&FeedScope::All, Utc::now());
    publish(app, "abfall", "Biotonne", None);
    let one = mark(&abfall, Utc::now());
    assert_ne!(empty, one);
    assert_ne!(all_empty, mark(&FeedScope::All, Utc::now()));

    // Another category: the category's mark stays, the feed of all moves.
    let all_one = mark(&FeedScope::All, Utc::now());
    publish(app, "verkehr", "Umleitung", None);
    assert_eq!(one, mark(&abfall, Utc::now()));
    assert_ne!(all_one, mark(&FeedScope::All, Utc::now()));

    // A scheduled announcement changes the mark only when it comes due.
    let at = Utc::now() + TimeDelta::hours(1);
    let id = publish(app, "abfall", "Sperrmüll", Some(at));
    assert_eq!(one, mark(&abfall, Utc::now()));
    let due = mark(&abfall, at + TimeDelta::seconds(1));
    assert_ne!(one, due);

    // A cancelled one never shows.
    app.cancel_announcement(id, "test").unwrap();
    assert_eq!(one, mark(&abfall, at + TimeDelta::seconds(1)));
});

both!(
    caps_refuse_new_subscriptions_but_renew_existing_ones,
    |t: &TestDb| {
        let caps = WebsubCaps {
            per_host: 2,
            total: 3,
        };
        let new = |callback: &'static str| NewWebsubSubscription {
            topic: TOPIC,
            callback,
            secret: None,
            expires_at: Utc::now() + TimeDelta::hours(1),
            content_mark: "0:-:-",
        };
        let db = t.app.db();
        let store = |callback| {
            db.upsert_websub_subscription_capped(&new(callback), &caps)
                .unwrap()
        };
        let first = store("https://a.example/cb/1").unwrap();
        store("https://A.example:8443/cb/2?x=1").unwrap();
        // A third on the host: refused, nothing changes.
        let third = new("https://a.example/cb/3");
        assert_eq!(
            db.websub_cap_reached(&third, &caps).unwrap(),
            Some(WebsubCapReached::PerHost { max: 2 })
        );
        assert_eq!(
            store("https://a.example/cb/3"),
            Err(WebsubCapReached::PerHost { max: 2 })
        );
        // A host whose name contains the other's is another host.
        store("https://a.example.org/cb").unwrap();
        assert_eq!(db.list_websub_subscriptions().unwrap().len(), 3);
        // The total is reached.
        assert_eq!(
            store("https://b.example/cb"),
            Err(WebsubCapReached::Total { max: 3 })
        );
        // Renewals still work at both caps, and keep the subscription.
        let later = Utc::now() + TimeDelta::days(2);
        let renewed = db
            .upsert_websub_subscription_capped(
                &NewWebsubSubscription {
                    expires_at: later,
                    ..new("https://a.example/cb/1")
                },
                &caps,
            )
            .unwrap()
            .unwrap();
        assert_eq!(renewed.id, first.id);
        assert!((renewed.expires_at - later).num_milliseconds().abs() < 1);
        assert_eq!(
            db.websub_cap_reached(&new("https://a.example/cb/1"), &caps)
                .unwrap(),
            None
        );
        let callbacks: Vec<String> = db
            .list_websub_subscriptions()
            .unwrap()
            .into_iter()
            .map(|s| s.callback)
            .collect();
        assert_eq!(
            callbacks,
            [
                "https://a.example/cb/1",
                "https://A.example:8443/cb/2?x=1",
                "https://a.example.org/cb"
            ]
        );
    }
);

// ---------------------------------------------------------------------------
// End to end: `herold serve`, a subscriber, the CLI.

/// `herold serve` with its WebSub hub allowed to call subscribers on
/// loopback and polling often.
fn start_server(database_url: Option<&str>) -> Server {
    Server::start_with(
        database_url,
        &[
            ("HEROLD_WEBSUB__ALLOW_PRIVATE_CALLBACKS", "true"),
            ("HEROLD_WEBSUB__POLL_INTERVAL_MS", "200"),
        ],
    )
}

/// One request the subscriber received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A WebSub subscriber: answers verification GETs (echoing the challenge,
/// or 404 when told to refuse) and records content POSTs, answering them
/// with `post_status`.
struct Subscriber {
    callback: String,
    received: Arc<Mutex<Vec<Received>>>,
    post_status: Arc<AtomicU16>,
    verify_status: Arc<AtomicU16>,
}

impl Subscriber {
    fn start(path: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let callback = format!("http://{}{path}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let post_status = Arc::new(AtomicU16::new(200));
        let verify_status = Arc::new(AtomicU16::new(200));
        let (log, post, verify) = (received.clone(), post_status.clone(), verify_status.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, post, verify) = (log.clone(), post.clone(), verify.clone());
                std::thread::spawn(move || {
                    let _ = handle(stream, &log, &post, &verify);
                });
            }
        });
        Self {
            callback,
            received,
            post_status,
            verify_status,
        }
    }

    fn requests(&self, method: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method)
            .cloned()
            .collect()
    }

    /// Waits until `n` requests with `method` arrived; returns them.
    fn wait_for(&self, method: &str, n: usize, within: Duration) -> Vec<Received> {
        common::poll_until(within, || {
            let got = self.requests(method);
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!(
                    "expected {n} {method} request(s), got {}",
                    got.len()
                ))
            }
        })
    }
}

fn handle(
    stream: TcpStream,
    log: &Mutex<Vec<Received>>,
    post_status: &AtomicU16,
    verify_status: &AtomicU16,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let query: HashMap<String, String> = url::Url::parse(&format!("http://x{target}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let (status, reply) = if method == "GET" {
        match verify_status.load(Ordering::SeqCst) {
            200 => (200, query.get("hub.challenge").cloned().unwrap_or_default()),
            other => (other, String::new()),
        }
    } else {
        (post_status.load(Ordering::SeqCst), String::new())
    };
    log.lock().unwrap().push(Received {
        method,
        query,
        headers,
        body,
    });
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    stream.flush()
}

fn hub_request(s: &Server, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = Client::new()
        .post(s.url("/websub"))
        .form(form)
        .send()
        .unwrap();
    (r.status(), r.text().unwrap())
}

const SECRET: &str = "s3cr3t-of-the-reader";

fn hub_end_to_end(database_url: Option<&str>) {
    let s = start_server(database_url);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    s.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    let db = s.open_database(database_url);
    let http = Client::new();
    let hub = s.url("/websub");
    let topic = s.url("/feeds/abfall.atom");

    // Every feed advertises the hub, in the document and in a Link header.
    for (feed, kind) in [("/feeds/abfall.atom", "atom"), ("/feeds/all.rss", "rss")] {
        let r = http.get(s.url(feed)).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let link = r.headers()[header::LINK].to_str().unwrap().to_owned();
        assert_eq!(
            link,
            format!("<{hub}>; rel=\"hub\", <{}>; rel=\"self\"", s.url(feed)),
            "{kind}"
        );
        let body = r.text().unwrap();
        assert!(
            body.contains(&hub) && body.contains("\"hub\""),
            "{kind}: {body}"
        );
    }
    // iCalendar has no link element: the header alone advertises the hub,
    // also on a 304.
    let ics = http.get(s.url("/feeds/abfall.ics")).send().unwrap();
    assert_eq!(ics.status(), StatusCode::OK);
    let etag = ics.headers()[header::ETAG].clone();
    let expected = format!(
        "<{hub}>; rel=\"hub\", <{}>; rel=\"self\"",
        s.url("/feeds/abfall.ics")
    );
    assert_eq!(ics.headers()[header::LINK], expected.as_str());
    let cached = http
        .get(s.url("/feeds/abfall.ics"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(cached.headers()[header::LINK], expected.as_str());

    // Bad requests: 400, naming the field.
    for (form, field) in [
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", "http://elsewhere.example/feeds/abfall.atom"),
                ("hub.callback", "http://127.0.0.1:9/cb"),
            ],
            "hub.topic",
        ),
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", &*s.url("/feeds/unbekannt.atom")),
                ("hub.callback", "http://127.0.0.1:9/cb"),
            ],
            "hub.topic",
        ),
        (
            vec![("hub.mode", "subscribe"), ("hub.topic", &*topic)],
            "hub.callback",
        ),
        (
            vec![
                ("hub.mode", "subscrib"),
                ("hub.topic", &*topic),
                ("hub.callback", "http://127.0.0.1:9/cb"),
            ],
            "hub.mode",
        ),
    ] {
        let (status, text) = hub_request(&s, &form);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {text}");
        assert!(text.contains(field), "{form:?}: {text}");
    }

    // Subscribe with a secret: 202 at once, then the verification GET.
    let reader = Subscriber::start("/cb?reader=1");
    let (status, _) = hub_request(
        &s,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &reader.callback),
            ("hub.secret", SECRET),
            ("hub.lease_seconds", "7200"),
        ],
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    let verification = &reader.wait_for("GET", 1, Duration::from_secs(10))[0];
    assert_eq!(verification.query["hub.mode"], "subscribe");
    assert_eq!(verification.query["hub.topic"], topic);
    assert_eq!(verification.query["hub.lease_seconds"], "7200");
    assert_eq!(verification.query["reader"], "1");
    assert!(verification.query["hub.challenge"].len() >= 32);
    let mut sub = None;
    wait_until(
        "the subscription is stored",
        Duration::from_secs(10),
        || {
            sub = db
                .db()
                .find_websub_subscription(&topic, &reader.callback)
                .unwrap();
            sub.is_some()
        },
    );
    let sub = sub.unwrap();
    assert!(sub.has_secret);
    let lease = sub.expires_at - Utc::now();
    assert!(
        lease > TimeDelta::seconds(7100) && lease <= TimeDelta::seconds(7200),
        "{lease}"
    );

    // A subscriber that refuses verification is not stored.
    let refuser = Subscriber::start("/nein");
    refuser.verify_status.store(404, Ordering::SeqCst);
    let (status, _) = hub_request(
        &s,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &refuser.callback),
        ],
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    refuser.wait_for("GET", 1, Duration::from_secs(10));

    // Publishing pushes the feed within seconds, signed, with Link headers.
    let published = Instant::now();
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne am Samstag",
        "--body",
        "Die Leerung wird verschoben.",
    ]);
    let push = reader.wait_for("POST", 1, Duration::from_secs(10))[0].clone();
    assert!(
        published.elapsed() < Duration::from_secs(5),
        "{:?}",
        published.elapsed()
    );
    let body = String::from_utf8(push.body.clone()).unwrap();
    assert!(body.contains("Biotonne am Samstag"), "{body}");
    assert!(push.headers["content-type"].starts_with("application/atom+xml"));
    assert_eq!(
        push.headers["link"],
        format!("<{hub}>; rel=\"hub\", <{topic}>; rel=\"self\"")
    );
    let signature = &push.headers["x-hub-signature"];
    assert!(signature.starts_with("sha256="), "{signature}");
    assert!(herold_websub::verify_signature(
        SECRET.as_bytes(),
        &push.body,
        signature
    ));
    assert!(!herold_websub::verify_signature(
        b"another secret",
        &push.body,
        signature
    ));
    assert!(refuser.requests("POST").is_empty());
    assert!(db
        .db()
        .find_websub_subscription(&topic, &refuser.callback)
        .unwrap()
        .is_none());

    // A subscriber that is gone (410) is deleted at its first push.
    let gone = Subscriber::start("/weg");
    gone.post_status.store(410, Ordering::SeqCst);
    let all = s.url("/feeds/all.atom");
    let (status, _) = hub_request(
        &s,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", &all),
            ("hub.callback", &gone.callback),
        ],
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    wait_until(
        "the 410 subscriber is stored",
        Duration::from_secs(10),
        || {
            db.db()
                .find_websub_subscription(&all, &gone.callback)
                .unwrap()
                .is_some()
        },
    );

    // Another category: pushed to `all`, not to the abfall reader.
    s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        "Umleitung Hauptstraße",
        "--body",
        "Ab Montag.",
    ]);
    let to_gone = gone.wait_for("POST", 1, Duration::from_secs(10));
    assert!(String::from_utf8_lossy(&to_gone[0].body).contains("Umleitung Hauptstraße"));
    assert!(!to_gone[0].headers.contains_key("x-hub-signature"));
    wait_until(
        "the 410 subscriber is deleted",
        Duration::from_secs(10),
        || {
            db.db()
                .find_websub_subscription(&all, &gone.callback)
                .unwrap()
                .is_none()
        },
    );
    assert_eq!(reader.requests("POST").len(), 1);

    // Unsubscribe: verified, then deleted; no more pushes.
    let (status, _) = hub_request(
        &s,
        &[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &reader.callback),
        ],
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    let gets = reader.wait_for("GET", 2, Duration::from_secs(10));
    assert_eq!(gets[1].query["hub.mode"], "unsubscribe");
    assert!(!gets[1].query.contains_key("hub.lease_seconds"));
    wait_until(
        "the subscription is deleted",
        Duration::from_secs(10),
        || {
            db.db()
                .find_websub_subscription(&topic, &reader.callback)
                .unwrap()
                .is_none()
        },
    );
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Gelber Sack",
        "--body",
        "Neue Termine.",
    ]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(reader.requests("POST").len(), 1);
    assert!(db.db().list_websub_subscriptions().unwrap().is_empty());
}

#[test]
fn hub_end_to_end_on_sqlite() {
    hub_end_to_end(None);
}

#[test]
fn hub_end_to_end_on_postgres() {
    let pg = common::PgDatabase::create();
    hub_end_to_end(Some(&pg.url));
}

/// A scheduled announcement is pushed when its time comes.
#[test]
fn scheduled_announcement_is_pushed_when_due() {
    let s = start_server(None);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    let topic = s.url("/feeds/abfall.atom");
    let reader = Subscriber::start("/cb");
    let (status, _) = hub_request(
        &s,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &reader.callback),
        ],
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    let db = s.open_database(None);
    wait_until(
        "the subscription is stored",
        Duration::from_secs(10),
        || {
            db.db()
                .find_websub_subscription(&topic, &reader.callback)
                .unwrap()
                .is_some()
        },
    );
    let at = Utc::now() + TimeDelta::seconds(4);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Sperrmüll",
        "--body",
        "Bald.",
        "--at",
        &at.to_rfc3339(),
    ]);
    while Utc::now() < at - TimeDelta::milliseconds(500) {
        assert!(
            reader.requests("POST").is_empty(),
            "pushed before it was due"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let push = reader.wait_for("POST", 1, Duration::from_secs(10));
    assert!(String::from_utf8_lossy(&push[0].body).contains("Sperrmüll"));
    assert!(!push[0].headers.contains_key("x-hub-signature"));
}

/// A URL on loopback where nothing listens.
fn closed_port_url(path: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}{path}")
}

/// Subscribes `callback` to `topic` through the hub and waits until it is
/// stored.
fn subscribe_via_hub(s: &Server, db: &Herold, topic: &str, callback: &str) {
    let (status, text) = hub_request(
        s,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", topic),
            ("hub.callback", callback),
        ],
    );
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    wait_until(
        "the subscription is stored",
        Duration::from_secs(10),
        || {
            db.db()
                .find_websub_subscription(topic, callback)
                .unwrap()
                .is_some()
        },
    );
}

/// New subscriptions beyond a cap get 403 naming the cap; what is stored
/// stays, and renewals still work.
#[test]
fn hub_caps_subscriptions_per_host_and_in_total() {
    let s = Server::start_with(
        None,
        &[
            ("HEROLD_WEBSUB__ALLOW_PRIVATE_CALLBACKS", "true"),
            ("HEROLD_WEBSUB__MAX_SUBSCRIPTIONS_PER_HOST", "2"),
            ("HEROLD_WEBSUB__MAX_SUBSCRIPTIONS", "3"),
        ],
    );
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    let db = s.open_database(None);
    let topic = s.url("/feeds/abfall.atom");
    let reader = Subscriber::start("/cb");
    let port = reader
        .callback
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let on_ip = |n: u32| format!("http://127.0.0.1:{port}/cb{n}");
    let on_name = |n: u32| format!("http://localhost:{port}/cb{n}");
    let subscribe = |callback: &str| {
        hub_request(
            &s,
            &[
                ("hub.mode", "subscribe"),
                ("hub.topic", &topic),
                ("hub.callback", callback),
            ],
        )
    };
    subscribe_via_hub(&s, &db, &topic, &on_ip(1));
    subscribe_via_hub(&s, &db, &topic, &on_ip(2));
    let (status, text) = subscribe(&on_ip(3));
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("websub.max_subscriptions_per_host"), "{text}");
    // Another host is still welcome, up to the total.
    subscribe_via_hub(&s, &db, &topic, &on_name(1));
    let (status, text) = subscribe(&on_name(2));
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("(websub.max_subscriptions)"), "{text}");
    // A renewal at the cap: accepted, verified, the lease extended.
    let before = db
        .db()
        .find_websub_subscription(&topic, &on_ip(1))
        .unwrap()
        .unwrap();
    let gets = reader.requests("GET").len();
    let (status, text) = hub_request(
        &s,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &on_ip(1)),
            ("hub.lease_seconds", "86400"),
        ],
    );
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    reader.wait_for("GET", gets + 1, Duration::from_secs(10));
    // (The first lease was the default 10 days; the renewal asked for 1.)
    wait_until("the lease is renewed", Duration::from_secs(10), || {
        db.db()
            .find_websub_subscription(&topic, &on_ip(1))
            .unwrap()
            .is_some_and(|s| {
                let day = Utc::now() + TimeDelta::days(1);
                s.id == before.id && (s.expires_at - day).num_seconds().abs() < 60
            })
    });
    let mut stored: Vec<String> = db
        .db()
        .list_websub_subscriptions()
        .unwrap()
        .into_iter()
        .map(|s| s.callback)
        .collect();
    stored.sort();
    assert_eq!(stored, [on_ip(1), on_ip(2), on_name(1)]);
    // The refused callbacks were never asked to verify.
    let asked: Vec<String> = reader
        .requests("GET")
        .iter()
        .map(|r| r.query["hub.mode"].clone())
        .collect();
    assert_eq!(asked.len(), 4, "{asked:?}");
}

/// One client's requests to the hub are limited per minute: 429 with
/// Retry-After beyond.
#[test]
fn hub_limits_requests_per_client() {
    let s = Server::start_with(
        None,
        &[("HEROLD_WEBSUB__MAX_REQUESTS_PER_CLIENT_PER_MINUTE", "3")],
    );
    let bad = [("hub.mode", "subscribe")];
    for _ in 0..3 {
        assert_eq!(hub_request(&s, &bad).0, StatusCode::BAD_REQUEST);
    }
    let r = Client::new()
        .post(s.url("/websub"))
        .form(&bad)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
}

/// Callbacks stored while loopback was allowed are checked again before
/// each delivery: with the switch off, nothing is sent to them and their
/// subscriptions end.
#[test]
fn stored_callbacks_are_checked_again_before_delivery() {
    let mut s = start_server(None);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    let db = s.open_database(None);
    let topic = s.url("/feeds/abfall.atom");
    let reader = Subscriber::start("/cb");
    let by_name = reader.callback.replace("127.0.0.1", "localhost");
    subscribe_via_hub(&s, &db, &topic, &reader.callback);
    subscribe_via_hub(&s, &db, &topic, &by_name);

    s.crash_and_restart(&[("HEROLD_WEBSUB__ALLOW_PRIVATE_CALLBACKS", "false")]);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Text.",
    ]);
    wait_until(
        "both subscriptions are ended",
        Duration::from_secs(15),
        || db.db().list_websub_subscriptions().unwrap().is_empty(),
    );
    assert!(reader.requests("POST").is_empty());
    let log = s.log();
    assert!(
        log.contains("the callback's address is not public"),
        "{log}"
    );
}

/// Failed deliveries and verifications are recorded and logged without the
/// callback's address (host, port, path or query).
#[test]
fn delivery_errors_do_not_name_the_callback() {
    let s = start_server(None);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    let db = s.open_database(None);
    let topic = s.url("/feeds/abfall.atom");
    // Nothing listens there by the time it is used.
    let unreachable = closed_port_url("/private-path-4711?token=t0p-s3cret");
    let busy = Subscriber::start("/busy-path-0815?key=k3y-s3cret");
    busy.post_status.store(503, Ordering::SeqCst);
    for callback in [&unreachable, &busy.callback] {
        db.db()
            .upsert_websub_subscription(&NewWebsubSubscription {
                topic: &topic,
                callback,
                secret: None,
                expires_at: Utc::now() + TimeDelta::hours(1),
                content_mark: "0:-:-",
            })
            .unwrap();
    }
    // A verification that cannot connect either.
    let (status, _) = hub_request(
        &s,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            (
                "hub.callback",
                &closed_port_url("/verify-path-1234?v=v3r-s3cret"),
            ),
        ],
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Text.",
    ]);
    let mut errors = Vec::new();
    wait_until(
        "both distributions failed once",
        Duration::from_secs(15),
        || {
            errors = db
                .db()
                .list_websub_subscriptions()
                .unwrap()
                .iter()
                .filter_map(|sub| db.db().websub_pending(sub.id).unwrap())
                .filter_map(|p| p.last_error)
                .collect();
            errors.len() == 2
        },
    );
    wait_until(
        "the failed verification is logged",
        Duration::from_secs(15),
        || s.log().contains("websub request not verified"),
    );
    errors.sort();
    assert_eq!(
        errors,
        ["connection failed", "the callback answered HTTP 503"]
    );
    let log = s.log();
    assert!(
        log.contains("websub distribution failed; will retry"),
        "{log}"
    );
    let busy_port = busy
        .callback
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    for secret in [
        "private-path-4711",
        "t0p-s3cret",
        "busy-path-0815",
        "k3y-s3cret",
        "verify-path-1234",
        "v3r-s3cret",
        &format!(":{busy_port}"),
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        assert!(
            !errors.iter().any(|e| e.contains(secret)),
            "{secret} in {errors:?}"
        );
    }
}

/// `X-Forwarded-Proto` counts only from a trusted proxy
/// (`signup.trusted_proxies`): a browser's `https` origin is Herold's own
/// address only if a trusted proxy says the request came over HTTPS.
#[test]
fn forwarded_scheme_counts_only_from_trusted_proxies() {
    for (trusted, refused) in [(r#"["10.9.9.9"]"#, true), (r#"["127.0.0.1"]"#, false)] {
        let s = Server::start_with(None, &[("HEROLD_SIGNUP__TRUSTED_PROXIES", trusted)]);
        let origin = s.url("").replace("http://", "https://");
        let r = Client::new()
            .post(s.url("/subscribe"))
            .header(header::ORIGIN, origin)
            .header("X-Forwarded-Proto", "https")
            .form(&[("email", "anna@example.org")])
            .send()
            .unwrap();
        assert_eq!(
            r.status() == StatusCode::FORBIDDEN,
            refused,
            "trusted {trusted}: {}",
            r.status()
        );
    }
}
