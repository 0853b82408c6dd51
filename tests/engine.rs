//! The delivery engine against in-test providers, on SQLite and PostgreSQL.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use async_trait::async_trait;
use common::{Backend, TestDb};
use herold::{
    app::App,
    config::{Config, RateConfig},
    domain::{BroadcastState, DeliveryState, SubscriberStatus},
    engine::Engine,
    registry::Registry,
    service::{Herold, PublishRequest, CONSENT_WORDING_VERSION},
    storage::{Control, NewSubscriber},
};
use herold_channel_api::{
    Capabilities, Channel, ChannelKind, Destination, FollowRoute, FollowTarget, Formatting,
    OutboundMessage, RateLimit, Reach, Receipt, SendError,
};
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// What a test provider answers for the n-th call (0-based) at time t.
type Behaviour =
    dyn Fn(usize, Duration, &OutboundMessage) -> Result<Receipt, SendError> + Send + Sync;

/// A provider that records every call.
struct Recorder {
    caps: Capabilities,
    start: Instant,
    calls: Mutex<Vec<Call>>,
    behaviour: Box<Behaviour>,
    follow: Vec<FollowRoute>,
}

#[derive(Clone, Debug)]
struct Call {
    to: String,
    text: String,
    at: Duration,
    accepted: bool,
    key: String,
}

impl Recorder {
    fn new(
        behaviour: impl Fn(usize, Duration, &OutboundMessage) -> Result<Receipt, SendError>
            + Send
            + Sync
            + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            caps: Capabilities {
                reach: Reach::Push,
                max_text_chars: None,
                max_subject_chars: None,
                formatting: Formatting::Plain,
                outbound_media: vec![],
                inbound_media: vec![],
                default_rate: RateLimit::new(100_000.0, 100_000),
                per_recipient_rate: None,
                inbound: false,
                delivery_receipts: false,
                read_receipts: false,
                idempotent_sends: true,
                unsubscribe_links: false,
            },
            start: Instant::now(),
            calls: Mutex::new(Vec::new()),
            behaviour: Box::new(behaviour),
            follow: Vec::new(),
        })
    }

    /// A recorder whose channel allows one message per `gap` per recipient.
    fn spaced(gap: Duration) -> Arc<Self> {
        let mut r = Arc::into_inner(Self::ok()).unwrap();
        r.caps.per_recipient_rate = Some(RateLimit::new(1.0 / gap.as_secs_f64(), 1));
        Arc::new(r)
    }

    /// A recorder that also posts to public `routes` (follow mode).
    fn following(
        routes: Vec<FollowRoute>,
        behaviour: impl Fn(usize, Duration, &OutboundMessage) -> Result<Receipt, SendError>
            + Send
            + Sync
            + 'static,
    ) -> Arc<Self> {
        let mut r = Arc::into_inner(Self::new(behaviour)).unwrap();
        r.caps.reach = Reach::Both;
        r.follow = routes;
        Arc::new(r)
    }

    fn ok() -> Arc<Self> {
        Self::new(|n, _, _| Ok(Receipt::now(Some(format!("msg-{n}")))))
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn accepted(&self) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.accepted).collect()
    }
}

#[async_trait]
impl Channel for Recorder {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    fn follow_routes(&self) -> Vec<FollowRoute> {
        self.follow.clone()
    }
    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        let to = match &msg.destination {
            Destination::Recipient(to) => to.as_str().to_owned(),
            Destination::Follow(place) => format!("follow:{}", place.as_str()),
        };
        let at = self.start.elapsed();
        let n = self.calls.lock().unwrap().len();
        let result = (self.behaviour)(n, at, msg);
        self.calls.lock().unwrap().push(Call {
            to,
            text: msg.message.text.clone(),
            at,
            accepted: result.is_ok(),
            key: msg.idempotency_key.clone(),
        });
        result
    }
}

/// An engine from the composition root, sending through `channels`.
fn engine(app: Herold, channels: Vec<Arc<dyn Channel>>) -> Engine {
    App::assemble(app, Registry::from_channels(channels))
        .unwrap()
        .engine()
}

fn tuned(c: &mut Config) {
    c.delivery.channels = vec![ChannelKind::Email];
    c.delivery.poll_interval_ms = 20;
    c.delivery.backoff_base_ms = 100;
    c.delivery.backoff_max_seconds = 1;
    c.delivery.batch_size = 100;
}

fn db(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestDb {
    TestDb::with_config(backend, |c| {
        tuned(c);
        adjust(c);
    })
}

/// Adds `n` subscribers on `channel` to a category; returns their addresses.
fn subscribers(
    app: &Herold,
    category: &str,
    channel: ChannelKind,
    prefix: &str,
    n: usize,
    status: SubscriberStatus,
) -> Vec<String> {
    let cat = match app.db().find_category(category).unwrap() {
        Some(c) => c,
        None => app.add_category(category, category, "test").unwrap(),
    };
    (0..n)
        .map(|i| {
            let address = match channel {
                ChannelKind::Telegram => format!("{}{i}", prefix.len() * 1000 + 7),
                _ => format!("{prefix}{i}@example.org"),
            };
            app.db()
                .insert_subscriber(&NewSubscriber {
                    channel,
                    address: address.clone(),
                    locale: "de".into(),
                    status,
                    category_ids: vec![cat.id],
                    wording_version: "v1".into(),
                    evidence: None,
                })
                .unwrap();
            address
        })
        .collect()
}

fn publish(app: &Herold, category: &str, title: &str, urgent: bool) -> i64 {
    app.publish(&PublishRequest {
        urgent,
        ..common::publish_request(category, title, "Text")
    })
    .unwrap()
    .id
}

/// Runs engines until `done` says so (checked every 20 ms), then stops them.
fn drive(engines: Vec<Engine>, timeout: Duration, mut done: impl FnMut() -> bool) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handles: Vec<_> = engines
            .into_iter()
            .map(|e| tokio::spawn(e.run(stopped.clone())))
            .collect();
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < timeout, "timed out after {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        for h in handles {
            h.await.unwrap().unwrap();
        }
    });
}

fn broadcast_done(app: &Herold, announcement: i64) -> bool {
    app.db()
        .broadcast_counts(announcement)
        .unwrap()
        .iter()
        .all(|b| b.broadcast.state == BroadcastState::Done)
}

fn count(app: &Herold, announcement: i64, state: DeliveryState) -> i64 {
    app.db()
        .broadcast_counts(announcement)
        .unwrap()
        .iter()
        .map(|b| b.counts.get(&state).copied().unwrap_or(0))
        .sum()
}

fn assert_each_once(calls: &[Call], expected: &[String]) {
    let mut seen = HashMap::<&str, usize>::new();
    for c in calls {
        *seen.entry(c.to.as_str()).or_default() += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "served twice: {dupes:?}");
    let got: HashSet<&str> = seen.keys().copied().collect();
    let want: HashSet<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(got, want);
}

both!(follow_posts_go_once_ahead_of_subscribers, |_t: &TestDb| {
    let t = db(_t.backend, |_| {});
    // The first send fails for a moment: it is the follow post, retried
    // with the same idempotency key.
    let rec = Recorder::following(
        vec![FollowRoute {
            target: FollowTarget::new("@musterstadt"),
            categories: vec!["abfall".into()],
        }],
        {
            let failed_once = std::sync::atomic::AtomicBool::new(false);
            move |n, _, msg| {
                let follow = matches!(msg.destination, Destination::Follow(_));
                if follow && !failed_once.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    Err(SendError::Transient {
                        reason: "503".into(),
                        retry_after: None,
                    })
                } else {
                    Ok(Receipt::now(Some(format!("msg-{n}"))))
                }
            }
        },
    );
    // Published through the composition root, which knows the routes.
    let built = App::assemble(
        t.app.clone(),
        Registry::from_channels(vec![rec.clone() as Arc<dyn Channel>]),
    )
    .unwrap();
    let app = built.herold();
    let residents = subscribers(
        app,
        "abfall",
        ChannelKind::Email,
        "a",
        12,
        SubscriberStatus::Active,
    );
    subscribers(
        app,
        "bau",
        ChannelKind::Email,
        "b",
        2,
        SubscriberStatus::Active,
    );
    let abfall = publish(app, "abfall", "Biotonne", false);
    let bau = publish(app, "bau", "Baustelle", false);
    drive(vec![built.engine()], Duration::from_secs(60), || {
        broadcast_done(app, abfall) && broadcast_done(app, bau)
    });
    let calls = rec.calls();
    let posts: Vec<&Call> = calls
        .iter()
        .filter(|c| c.to.starts_with("follow:"))
        .collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0].to, "follow:@musterstadt");
    assert!(!posts[0].accepted && posts[1].accepted);
    assert_eq!(posts[0].key, posts[1].key);
    assert!(posts[1].text.starts_with("Biotonne"), "{}", posts[1].text);
    // The category the channel does not carry was not posted.
    let accepted: Vec<Call> = rec
        .accepted()
        .into_iter()
        .filter(|c| !c.to.starts_with("follow:"))
        .collect();
    assert_eq!(accepted.len(), 14);
    assert!(residents
        .iter()
        .all(|r| accepted.iter().any(|c| &c.to == r)));
    assert_eq!(count(app, abfall, DeliveryState::Sent), 13);
});

both!(a_moved_chat_is_readdressed_and_sent_again, |_t: &TestDb| {
    let t = db(_t.backend, |_| {});
    let app = &t.app;
    let people = subscribers(
        app,
        "abfall",
        ChannelKind::Email,
        "old",
        1,
        SubscriberStatus::Active,
    );
    let rec = Recorder::new(|n, _, msg| match &msg.destination {
        Destination::Recipient(to) if to.as_str().starts_with("old") => Err(SendError::Moved {
            new_address: "new0@example.org".into(),
        }),
        _ => Ok(Receipt::now(Some(format!("msg-{n}")))),
    });
    let id = publish(app, "abfall", "Biotonne", false);
    drive(
        vec![engine(app.clone(), vec![rec.clone()])],
        Duration::from_secs(60),
        || broadcast_done(app, id),
    );
    let calls = rec.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        (calls[0].to.as_str(), calls[0].accepted),
        (people[0].as_str(), false)
    );
    assert_eq!(
        (calls[1].to.as_str(), calls[1].accepted),
        ("new0@example.org", true)
    );
    let moved = app
        .db()
        .find_subscriber_by_address(ChannelKind::Email, "new0@example.org")
        .unwrap()
        .unwrap();
    assert_eq!(moved.status, SubscriberStatus::Active);
    assert!(app
        .db()
        .find_subscriber_by_address(ChannelKind::Email, &people[0])
        .unwrap()
        .is_none());
});

both!(every_active_subscriber_gets_it_once, |_t: &TestDb| {
    let t = db(_t.backend, |_| {});
    let app = &t.app;
    let expected = subscribers(
        app,
        "abfall",
        ChannelKind::Email,
        "a",
        330,
        SubscriberStatus::Active,
    );
    subscribers(
        app,
        "abfall",
        ChannelKind::Email,
        "pending",
        5,
        SubscriberStatus::Pending,
    );
    subscribers(
        app,
        "bau",
        ChannelKind::Email,
        "other",
        5,
        SubscriberStatus::Active,
    );
    subscribers(
        app,
        "abfall",
        ChannelKind::Telegram,
        "tg",
        3,
        SubscriberStatus::Active,
    );
    let id = publish(app, "abfall", "Biotonne", false);
    let rec = Recorder::ok();
    let engine = engine(app.clone(), vec![rec.clone()]);
    drive(vec![engine], Duration::from_secs(60), || {
        broadcast_done(app, id)
    });
    assert_each_once(&rec.accepted(), &expected);
    assert_eq!(count(app, id, DeliveryState::Sent), 330);
    assert!(
        rec.calls()[0]
            .text
            .starts_with("Biotonne\n\nText\n\nhttp://127.0.0.1:8080/announcements/"),
        "{:?}",
        rec.calls()[0].text
    );
    // The provider's ids are kept for receipts.
    let d = app
        .db()
        .delivery_by_provider_id(ChannelKind::Email, "msg-0")
        .unwrap()
        .unwrap();
    assert_eq!(d.state, DeliveryState::Sent);
});

both!(urgent_overtakes_queued_normal_work, |_t: &TestDb| {
    let t = db(_t.backend, |c| {
        c.delivery.rates.insert(
            ChannelKind::Email,
            RateConfig {
                per_second: 400.0,
                burst: 20,
            },
        );
        c.delivery.batch_size = 20;
    });
    let app = &t.app;
    subscribers(
        app,
        "abfall",
        ChannelKind::Email,
        "a",
        400,
        SubscriberStatus::Active,
    );
    let normal = publish(app, "abfall", "Normal", false);
    let rec = Recorder::ok();
    let engine = engine(app.clone(), vec![rec.clone()]);
    let mut urgent = None;
    drive(vec![engine], Duration::from_secs(60), || {
        let sent = rec.accepted().len();
        if urgent.is_none() && sent >= 60 {
            urgent = Some(publish(app, "abfall", "DRINGEND", true));
        }
        urgent.is_some_and(|u| broadcast_done(app, u))
    });
    let calls = rec.accepted();
    let first_urgent = calls
        .iter()
        .position(|c| {
            c.text
                .lines()
                .next()
                .is_some_and(|l| l.ends_with("DRINGEND"))
        })
        .unwrap();
    let last_urgent = calls
        .iter()
        .rposition(|c| {
            c.text
                .lines()
                .next()
                .is_some_and(|l| l.ends_with("DRINGEND"))
        })
        .unwrap();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c
                .text
                .lines()
                .next()
                .is_some_and(|l| l.ends_with("DRINGEND")))
            .count(),
        400
    );
    // Once the first urgent message went out, urgent work had the channel to
    // itself; only batches already in flight (two of 20) could interleave.
    let interleaved = calls[first_urgent..last_urgent]
        .iter()
        .filter(|c| c.text.starts_with("Normal"))
        .count();
    assert!(
        interleaved <= 40,
        "{interleaved} normal messages went out between the urgent ones"
    );
    // And the urgent ones went first: most normal work was still queued.
    let normal_before = calls[..last_urgent]
        .iter()
        .filter(|c| c.text.starts_with("Normal"))
        .count();
    assert!(
        normal_before < 200,
        "{normal_before} normal messages before the last urgent one"
    );
    assert!(!broadcast_done(app, normal));
});

both!(
    transient_failures_back_off_then_everything_arrives,
    |_t: &TestDb| {
        let t = db(_t.backend, |_| {});
        let app = &t.app;
        let expected = subscribers(
            app,
            "abfall",
            ChannelKind::Email,
            "a",
            100,
            SubscriberStatus::Active,
        );
        let id = publish(app, "abfall", "Titel", false);
        // 500s and timeouts for the first 1.5 s, then healthy.
        let rec = Recorder::new(|n, at, _| {
            if at < Duration::from_millis(1500) {
                Err(SendError::Transient {
                    reason: if n % 2 == 0 {
                        "provider answered 500".into()
                    } else {
                        "timeout".into()
                    },
                    retry_after: None,
                })
            } else {
                Ok(Receipt::now(None))
            }
        });
        let engine = engine(app.clone(), vec![rec.clone()]);
        drive(vec![engine], Duration::from_secs(60), || {
            broadcast_done(app, id)
        });
        assert_each_once(&rec.accepted(), &expected);
        let calls = rec.calls();
        let failed = calls.iter().filter(|c| !c.accepted).count();
        assert!(
            failed >= 100,
            "every recipient saw at least one failure ({failed})"
        );
        assert!(
            calls.len() <= 100 * 8,
            "no busy loop: {} calls for 100 recipients",
            calls.len()
        );
        // Retries of one recipient are spaced by the backoff (base 100 ms, half as jitter floor).
        let first: Vec<_> = calls
            .iter()
            .filter(|c| c.to == expected[0])
            .map(|c| c.at)
            .collect();
        for pair in first.windows(2) {
            assert!(
                pair[1] - pair[0] >= Duration::from_millis(45),
                "retries too close: {first:?}"
            );
        }
        assert_eq!(count(app, id, DeliveryState::Failed), 0);
    }
);

both!(throttling_honours_retry_after, |_t: &TestDb| {
    let t = db(_t.backend, |c| c.delivery.max_attempts = 1);
    let app = &t.app;
    let expected = subscribers(
        app,
        "abfall",
        ChannelKind::Email,
        "a",
        200,
        SubscriberStatus::Active,
    );
    let id = publish(app, "abfall", "Titel", false);
    let rec = Recorder::new(|n, _, _| {
        if n == 50 {
            Err(SendError::RateLimited {
                retry_after: Some(Duration::from_secs(1)),
            })
        } else {
            Ok(Receipt::now(None))
        }
    });
    let engine = engine(app.clone(), vec![rec.clone()]);
    drive(vec![engine], Duration::from_secs(60), || {
        broadcast_done(app, id)
    });
    // Throttling does not use up attempts (max_attempts = 1): nothing failed.
    assert_each_once(&rec.accepted(), &expected);
    let calls = rec.calls();
    let throttled_at = calls.iter().find(|c| !c.accepted).unwrap().at;
    // Sends already in flight at the 429 may land, but nothing new starts during the pause.
    let during: Vec<_> = calls
        .iter()
        .filter(|c| {
            c.at > throttled_at + Duration::from_millis(100)
                && c.at < throttled_at + Duration::from_millis(950)
        })
        .collect();
    assert!(
        during.is_empty(),
        "{} sends during the retry-after pause",
        during.len()
    );
});

both!(stop_during_a_broadcast_is_honoured, |_t: &TestDb| {
    let t = db(_t.backend, |c| {
        c.delivery.rates.insert(
            ChannelKind::Email,
            RateConfig {
                per_second: 200.0,
                burst: 10,
            },
        );
        c.delivery.batch_size = 10;
    });
    let app = &t.app;
    let all = subscribers(
        app,
        "abfall",
        ChannelKind::Email,
        "a",
        200,
        SubscriberStatus::Active,
    );
    let id = publish(app, "abfall", "Titel", false);
    let rec = Recorder::ok();
    let engine = engine(app.clone(), vec![rec.clone()]);
    let mut stopped: Vec<String> = Vec::new();
    drive(vec![engine], Duration::from_secs(60), || {
        if stopped.is_empty() && rec.accepted().len() >= 40 {
            // The last ten (by id, so still queued) say STOP.
            for address in &all[190..] {
                let s = app
                    .db()
                    .find_subscriber_by_address(ChannelKind::Email, address)
                    .unwrap()
                    .unwrap();
                app.db()
                    .unsubscribe(s.id, CONSENT_WORDING_VERSION, Some("inbound:stop"))
                    .unwrap();
                stopped.push(address.clone());
            }
        }
        !stopped.is_empty() && broadcast_done(app, id)
    });
    let got: HashSet<String> = rec.accepted().into_iter().map(|c| c.to).collect();
    for s in &stopped {
        assert!(!got.contains(s), "{s} got a message after Stop");
    }
    assert_eq!(got.len(), 190);
    // The ten either never got a delivery row (fan-out reached them after
    // the Stop) or have one that was skipped; none was sent.
    let b = &app.db().broadcast_counts(id).unwrap()[0];
    let rows: i64 = b.counts.values().sum();
    assert_eq!(count(app, id, DeliveryState::Sent), 190);
    assert_eq!(rows - count(app, id, DeliveryState::Skipped), 190);
});

/// What may still go out after a pause: the batches already in flight
/// (batch size 10, two batches per channel by default).
const IN_FLIGHT: usize = 10 * 2;

both!(pause_resume_cancel_and_hold, |_t: &TestDb| {
    let t = db(_t.backend, |c| {
        c.delivery.rates.insert(
            ChannelKind::Email,
            RateConfig {
                per_second: 200.0,
                burst: 10,
            },
        );
        c.delivery.batch_size = 10;
    });
    let app = &t.app;
    subscribers(
        app,
        "abfall",
        ChannelKind::Email,
        "a",
        300,
        SubscriberStatus::Active,
    );
    let id = publish(app, "abfall", "Titel", false);
    // The provider reports a configuration error once, at call 20.
    let rec = Recorder::new(|n, _, _| {
        if n == 20 {
            Err(SendError::Misconfigured {
                reason: "token revoked".into(),
            })
        } else {
            Ok(Receipt::now(None))
        }
    });
    let engine = engine(app.clone(), vec![rec.clone()]);
    let mut phase = 0;
    let mut mark = (0usize, Instant::now());
    drive(vec![engine], Duration::from_secs(60), || {
        let sent = rec.accepted().len();
        match phase {
            // Held after the configuration error: nothing more is sent until resumed.
            0 if app.db().channel_hold(ChannelKind::Email).unwrap().is_some() => {
                phase = 1;
                mark = (rec.calls().len(), Instant::now());
            }
            1 if mark.1.elapsed() > Duration::from_millis(400) => {
                assert!(
                    rec.calls().len() <= mark.0 + IN_FLIGHT,
                    "sending went on while held"
                );
                assert_eq!(
                    count(app, id, DeliveryState::Failed),
                    0,
                    "held deliveries are not failed"
                );
                assert!(
                    app.resume_channel(ChannelKind::Email, "test")
                        .unwrap()
                        .was_paused
                );
                phase = 2;
            }
            2 if sent >= 100 => {
                assert_eq!(
                    app.control_broadcasts(id, None, Control::Pause, "test")
                        .unwrap(),
                    1
                );
                phase = 3;
                mark = (sent, Instant::now());
            }
            3 if mark.1.elapsed() > Duration::from_millis(400) => {
                assert!(
                    sent <= mark.0 + IN_FLIGHT,
                    "paused broadcast kept sending: {} -> {sent}",
                    mark.0
                );
                assert_eq!(
                    app.control_broadcasts(id, None, Control::Resume, "test")
                        .unwrap(),
                    1
                );
                phase = 4;
            }
            4 if sent >= 200 => {
                assert_eq!(
                    app.control_broadcasts(id, Some(ChannelKind::Email), Control::Cancel, "test")
                        .unwrap(),
                    1
                );
                phase = 5;
                mark = (sent, Instant::now());
            }
            5 if mark.1.elapsed() > Duration::from_millis(400) => return true,
            _ => {}
        }
        false
    });
    let sent = rec.accepted().len() as i64;
    assert!(sent < 300, "cancel stopped the broadcast ({sent} sent)");
    let b = &app.db().broadcast_counts(id).unwrap()[0];
    assert_eq!(b.broadcast.state, BroadcastState::Cancelled);
    for open in [DeliveryState::Queued, DeliveryState::Sending] {
        assert_eq!(b.counts.get(&open).copied().unwrap_or(0), 0, "{open:?}");
    }
    // Fan-out stopped with the cancel: not every subscriber got a row.
    let rows: i64 = b.counts.values().sum();
    assert!(rows < 300, "{rows} deliveries materialised after cancel");
    assert!(!b.broadcast.fanout_done || rows < 300);
});

#[test]
fn two_workers_on_postgres_never_serve_a_recipient_twice() {
    let t = db(Backend::Postgres, |c| {
        c.delivery.batch_size = 50;
    });
    let app = &t.app;
    let expected = subscribers(
        app,
        "abfall",
        ChannelKind::Email,
        "a",
        2000,
        SubscriberStatus::Active,
    );
    let id = publish(app, "abfall", "Titel", false);
    // Two engines with their own connection pools, as two processes would have.
    let second = Herold::open(app.config().clone()).unwrap();
    let (r1, r2) = (Recorder::ok(), Recorder::ok());
    let engines = vec![
        engine(app.clone(), vec![r1.clone()]),
        engine(second, vec![r2.clone()]),
    ];
    drive(engines, Duration::from_secs(120), || {
        broadcast_done(app, id)
    });
    let mut all = r1.accepted();
    all.extend(r2.accepted());
    assert_each_once(&all, &expected);
    assert!(
        !r1.accepted().is_empty() && !r2.accepted().is_empty(),
        "both workers took part ({} / {})",
        r1.accepted().len(),
        r2.accepted().len()
    );
}

both!(
    per_recipient_limit_spaces_messages_to_one_chat,
    |_t: &TestDb| {
        let t = db(_t.backend, |_| {});
        let app = &t.app;
        let expected = subscribers(
            app,
            "abfall",
            ChannelKind::Email,
            "a",
            20,
            SubscriberStatus::Active,
        );
        // Two announcements for the same recipients at once: the provider
        // allows one message per second per recipient (like Telegram's chats).
        let normal = publish(app, "abfall", "Normal", false);
        let urgent = publish(app, "abfall", "Dringend", true);
        let rec = Recorder::spaced(Duration::from_secs(1));
        let engine = engine(app.clone(), vec![rec.clone()]);
        drive(vec![engine], Duration::from_secs(60), || {
            broadcast_done(app, normal) && broadcast_done(app, urgent)
        });
        let calls = rec.accepted();
        assert_eq!(calls.len(), 40, "both announcements reached everyone");
        for to in &expected {
            let at: Vec<Duration> = calls.iter().filter(|c| &c.to == to).map(|c| c.at).collect();
            assert_eq!(at.len(), 2, "{to}: {at:?}");
            let gap = at[1].saturating_sub(at[0]);
            assert!(
                gap >= Duration::from_millis(950),
                "{to}: only {gap:?} apart"
            );
        }
        // The urgent one went first to everyone.
        for to in &expected {
            let first = calls.iter().find(|c| &c.to == to).unwrap();
            assert_eq!(
                first.text.lines().next(),
                Some("Dringend: Dringend"),
                "{to}"
            );
        }
    }
);
