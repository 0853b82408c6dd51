//! Stop is final: once a resident is told that leaving worked, nothing more
//! reaches them, not even from a broadcast already under way. On SQLite and
//! PostgreSQL: the engine with an in-process provider (a Stop while a batch
//! is leased), `herold serve` mailing to aiosmtpd while residents
//! unsubscribe with one-click POSTs, and `herold serve` sending on Telegram
//! through the fake Bot API while residents write Stop to the bot.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use async_trait::async_trait;
use common::{
    server::{free_port, Server},
    smtp::Smtp,
    Backend, TestDb,
};
use herold::{
    app::App,
    config::RateConfig,
    domain::{BroadcastState, SubscriberStatus},
    registry::Registry,
    service::{Herold, CONSENT_WORDING_VERSION},
    storage::NewSubscriber,
};
use herold_channel_api::{
    Capabilities, Channel, ChannelKind, Destination, OutboundMessage, Receipt, SendError,
};
use mail_parser::MessageParser;
use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

/// One send to the in-process provider: when it started and, once the
/// provider accepted it, when it finished.
#[derive(Clone, Debug)]
struct Send {
    to: String,
    started: Instant,
    finished: Option<Instant>,
}

/// A provider that takes `SEND_TIME` per message and records every send.
struct Slow {
    caps: Capabilities,
    sends: Mutex<Vec<Send>>,
}

const SEND_TIME: Duration = Duration::from_millis(150);

impl Slow {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            caps: common::in_process_caps(),
            sends: Mutex::new(Vec::new()),
        })
    }

    fn sends(&self) -> Vec<Send> {
        self.sends.lock().unwrap().clone()
    }
}

#[async_trait]
impl Channel for Slow {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        let Destination::Recipient(to) = &msg.destination else {
            panic!("push only")
        };
        let n = {
            let mut sends = self.sends.lock().unwrap();
            sends.push(Send {
                to: to.as_str().to_owned(),
                started: Instant::now(),
                finished: None,
            });
            sends.len() - 1
        };
        tokio::time::sleep(SEND_TIME).await;
        self.sends.lock().unwrap()[n].finished = Some(Instant::now());
        Ok(Receipt::now(None))
    }
}

/// When a Stop was committed and when the resident would have been told.
struct Stopped {
    address: String,
    committed: Instant,
    told: Instant,
}

fn all_done(app: &Herold, announcement: i64) -> bool {
    let b = app.db().broadcast_counts(announcement).unwrap();
    !b.is_empty() && b.iter().all(|b| b.broadcast.state == BroadcastState::Done)
}

/// The engine, 20 messages/s one at a time, 150 ms per send, batches of 5,
/// two in flight. While the first send is out, its recipient and every
/// recipient of the first two batches not yet started say Stop (committed
/// while their batch is leased); each is "told" after
/// `Herold::wait_until_settled`. Nobody stopped gets a send that started
/// after their Stop, and the send in flight finished before they were told.
fn stop_while_a_batch_is_leased(backend: Backend) {
    let t = TestDb::with_config(backend, |c| {
        c.delivery.channels = vec![ChannelKind::Email];
        c.delivery.poll_interval_ms = 20;
        c.delivery.batch_size = 100;
        c.delivery.rates.insert(
            ChannelKind::Email,
            RateConfig {
                per_second: 20.0,
                burst: 1,
            },
        );
    });
    let app = t.app.clone();
    let cat = app.add_category("abfall", "Abfall", "test").unwrap();
    let mut ids = HashMap::new();
    let addresses: Vec<String> = (0..30).map(|i| format!("a{i}@example.org")).collect();
    for address in &addresses {
        let s = app
            .db()
            .insert_subscriber(&NewSubscriber {
                channel: ChannelKind::Email,
                address: address.clone(),
                locale: "de".into(),
                status: SubscriberStatus::Active,
                category_ids: vec![cat.id],
                wording_version: "v1".into(),
                evidence: None,
            })
            .unwrap();
        ids.insert(address.clone(), s.id);
    }
    let id = app
        .publish(&common::publish_request("abfall", "Titel", "Text"))
        .unwrap()
        .id;
    let slow = Slow::new();
    let engine = App::assemble(
        app.clone(),
        Registry::from_channels(vec![slow.clone() as Arc<dyn Channel>]),
    )
    .unwrap()
    .engine();

    // Says Stop for the first recipient while their send is out, and for
    // the not yet started rest of the first two batches (5 each).
    let controller = {
        let (app, slow) = (app.clone(), slow.clone());
        let (addresses, ids) = (addresses.clone(), ids.clone());
        std::thread::spawn(move || {
            let first = common::poll_until(Duration::from_secs(30), || {
                slow.sends()
                    .into_iter()
                    .find(|s| s.finished.is_none())
                    .map(|s| s.to)
                    .ok_or_else(|| "waiting for a send in flight".to_owned())
            });
            let started: HashSet<String> = slow.sends().into_iter().map(|s| s.to).collect();
            let mut stop = vec![first.clone()];
            stop.extend(
                addresses[..10]
                    .iter()
                    .filter(|a| **a != first && !started.contains(*a))
                    .cloned(),
            );
            let committed: Vec<(String, Instant)> = stop
                .into_iter()
                .map(|a| {
                    app.db()
                        .unsubscribe(ids[&a], CONSENT_WORDING_VERSION, Some("inbound:stop"))
                        .unwrap();
                    (a, Instant::now())
                })
                .collect();
            committed
                .into_iter()
                .map(|(address, committed)| {
                    assert!(
                        app.wait_until_settled(ids[&address], Duration::from_secs(10))
                            .unwrap(),
                        "{address}: deliveries did not settle"
                    );
                    Stopped {
                        address,
                        committed,
                        told: Instant::now(),
                    }
                })
                .collect::<Vec<_>>()
        })
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handle = tokio::spawn(engine.run(stopped));
        let start = Instant::now();
        while !(controller.is_finished() && all_done(&app, id)) {
            assert!(start.elapsed() < Duration::from_secs(60), "timed out");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        handle.await.unwrap().unwrap();
    });
    let stopped = controller.join().unwrap();

    let sends = slow.sends();
    let first = &stopped[0];
    assert!(
        sends.iter().any(|s| s.to == first.address),
        "the first Stop came while its send was out"
    );
    assert!(stopped.len() > 3, "only {} Stops", stopped.len());
    for s in &stopped {
        for send in sends.iter().filter(|x| x.to == s.address) {
            assert!(
                send.started < s.committed,
                "{} got a send that started {:?} after the Stop",
                s.address,
                send.started - s.committed
            );
            let finished = send.finished.expect("every send finished");
            assert!(
                finished <= s.told,
                "{} was told {:?} before the send to them finished",
                s.address,
                finished - s.told
            );
        }
    }
    // Everyone else got it once.
    let stopped_set: HashSet<&str> = stopped.iter().map(|s| s.address.as_str()).collect();
    let mut got: HashMap<&str, usize> = HashMap::new();
    for s in &sends {
        *got.entry(s.to.as_str()).or_default() += 1;
    }
    for a in &addresses {
        if !stopped_set.contains(a.as_str()) {
            assert_eq!(got.get(a.as_str()), Some(&1), "{a}");
        }
    }
}

#[test]
fn stop_while_a_batch_is_leased_on_sqlite() {
    stop_while_a_batch_is_leased(Backend::Sqlite);
}

#[test]
fn stop_while_a_batch_is_leased_on_postgres() {
    stop_while_a_batch_is_leased(Backend::Postgres);
}

/// The mails aiosmtpd has stored, indexed by recipient; files are parsed
/// once.
#[derive(Default)]
struct MailIndex {
    seen: HashSet<PathBuf>,
    per_address: HashMap<String, usize>,
    /// The highest `rNNN` that got a mail: how far the newsletter is.
    reached: usize,
}

impl MailIndex {
    fn refresh(&mut self, smtp: &Smtp) {
        for path in smtp.mail_paths() {
            if self.seen.contains(&path) {
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let msg = MessageParser::default().parse(&raw).unwrap();
            let to = msg
                .to()
                .unwrap()
                .first()
                .unwrap()
                .address()
                .unwrap()
                .to_owned();
            if let Some(n) = to
                .strip_prefix('r')
                .and_then(|r| r.split('@').next())
                .and_then(|n| n.parse().ok())
            {
                self.reached = self.reached.max(n);
            }
            *self.per_address.entry(to).or_default() += 1;
            self.seen.insert(path);
        }
    }

    fn count(&self, address: &str) -> usize {
        self.per_address.get(address).copied().unwrap_or(0)
    }
}

/// 300 residents, a newsletter at 30 mails/s; 100 of them unsubscribe with
/// one-click POSTs while it goes out, each just before the broadcast
/// reaches them. The mails each one has when their POST is answered are
/// all they ever get.
fn one_click_during_a_newsletter(database_url: Option<&str>) {
    let port = free_port();
    let smtp = Smtp::start(port);
    let smtp_port = port.to_string();
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_DELIVERY__RATES__EMAIL__PER_SECOND", "30"),
            ("HEROLD_DELIVERY__RATES__EMAIL__BURST", "5"),
            ("HEROLD_EMAIL__HOST", "127.0.0.1"),
            ("HEROLD_EMAIL__PORT", &smtp_port),
            ("HEROLD_EMAIL__SECURITY", "none"),
            ("HEROLD_EMAIL__FROM", "Gemeinde <info@gemeinde.example>"),
        ],
    );
    let addresses: Vec<String> = (0..300).map(|i| format!("r{i:03}@example.org")).collect();
    let app = s.email_subscribers(database_url, "verkehr", &addresses);
    // Every third resident leaves; their links exist before the mails go out.
    let leaving: Vec<(usize, String, String)> = addresses
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 1)
        .map(|(i, a)| {
            let sub = app
                .db()
                .find_subscriber_by_address(ChannelKind::Email, a)
                .unwrap()
                .unwrap();
            let link = app.manage_links(sub.id).unwrap().one_click;
            let path = &link[link.find("/unsubscribe/").unwrap()..];
            (i, a.clone(), s.url(path))
        })
        .collect();
    assert_eq!(leaving.len(), 100);

    let id = app
        .publish(&common::publish_request(
            "verkehr",
            "Rundbrief",
            "Neues aus dem Rathaus.",
        ))
        .unwrap()
        .id;
    let index = Mutex::new(MailIndex::default());
    let reached = AtomicUsize::new(0);
    let running = AtomicBool::new(true);
    let http = reqwest::blocking::Client::new();
    // (address, mails to them when the answer came)
    let answered: Mutex<Vec<(String, usize)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while running.load(Ordering::Relaxed) {
                let mut idx = index.lock().unwrap();
                idx.refresh(&smtp);
                reached.store(idx.reached, Ordering::Relaxed);
                drop(idx);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let posts: Vec<_> = leaving
            .iter()
            .map(|(i, address, url)| {
                let (http, index, reached, answered, smtp) =
                    (&http, &index, &reached, &answered, &smtp);
                scope.spawn(move || {
                    // Just ahead of the broadcast: within two batches.
                    let start = Instant::now();
                    while reached.load(Ordering::Relaxed) + 12 < *i {
                        assert!(start.elapsed() < Duration::from_secs(60), "no progress");
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    let r = http
                        .post(url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("List-Unsubscribe=One-Click")
                        .send()
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200, "{address}");
                    // Answered: what has arrived for them by now is all.
                    let mut idx = index.lock().unwrap();
                    idx.refresh(smtp);
                    let seen = (address.clone(), idx.count(address));
                    drop(idx);
                    answered.lock().unwrap().push(seen);
                })
            })
            .collect();
        for p in posts {
            p.join().unwrap();
        }
        common::wait_until("the newsletter to finish", Duration::from_secs(60), || {
            all_done(&app, id)
        });
        running.store(false, Ordering::Relaxed);
    });

    let mut index = index.into_inner().unwrap();
    index.refresh(&smtp);
    let answered = answered.into_inner().unwrap();
    assert_eq!(answered.len(), 100);
    let mut late = Vec::new();
    for (address, at_answer) in &answered {
        if index.count(address) != *at_answer {
            late.push(format!(
                "{address}: {} mail(s), {at_answer} when told",
                index.count(address)
            ));
        }
        assert!(*at_answer <= 1, "{address} got {at_answer} mails");
    }
    assert!(late.is_empty(), "mail after the answer: {late:?}");
    // The POSTs raced the newsletter: most came before it reached them.
    let spared = answered.iter().filter(|(_, n)| *n == 0).count();
    assert!(spared >= 50, "only {spared} of 100 left before their mail");
    // Everybody else got it once.
    let leaving: HashSet<&str> = answered.iter().map(|(a, _)| a.as_str()).collect();
    for a in &addresses {
        if !leaving.contains(a.as_str()) {
            assert_eq!(index.count(a), 1, "{a}");
        }
    }
}

#[test]
fn one_click_during_a_newsletter_on_sqlite() {
    one_click_during_a_newsletter(None);
}

#[test]
fn one_click_during_a_newsletter_on_postgres() {
    let pg = common::PgDatabase::create();
    one_click_during_a_newsletter(Some(&pg.url));
}

/// Telegram: 150 residents, an announcement at Telegram's 30 messages/s
/// through the fake Bot API; every third writes "Stop" to the bot's
/// webhook shortly before the broadcast reaches them. Once the fake accepted
/// a resident's confirmation, it accepts no announcement for them; everyone
/// else gets it once.
fn telegram_stop_during_a_broadcast(database_url: Option<&str>) {
    use common::fake_telegram::FakeTelegram;
    const TOKEN: &str = "123456789:AAstop-race";
    const SECRET: &str = "stop-race";
    let chat = |i: usize| 700_000_000_i64 + i as i64;
    let bot = FakeTelegram::start(TOKEN);
    bot.add_private_chats((0..150).map(chat));
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
            ("HEROLD_TELEGRAM__API_URL", bot.url()),
            ("HEROLD_TELEGRAM__TOKEN", TOKEN),
            ("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET),
            ("HEROLD_TELEGRAM__MODE", "webhook"),
        ],
    );
    s.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    let app = s.open_database(database_url);
    let cat = app.db().find_category("verkehr").unwrap().unwrap();
    for i in 0..150 {
        app.db()
            .insert_subscriber(&NewSubscriber {
                channel: ChannelKind::Telegram,
                address: chat(i).to_string(),
                locale: "de".into(),
                status: SubscriberStatus::Active,
                category_ids: vec![cat.id],
                wording_version: CONSENT_WORDING_VERSION.into(),
                evidence: Some("test".into()),
            })
            .unwrap();
    }
    s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        "Rundbrief",
        "--body",
        "Neues aus dem Rathaus.",
    ]);
    let is_announcement =
        |t: &Option<String>| t.as_deref().is_some_and(|t| t.contains("Rundbrief"));
    // How far the broadcast is: the highest resident who has it.
    let reached = || {
        bot.sent()
            .iter()
            .filter(|m| is_announcement(&m.text))
            .map(|m| (m.chat_id - chat(0)) as usize)
            .max()
            .unwrap_or(0)
    };
    let leaving: Vec<usize> = (0..150).filter(|i| i % 3 == 1).collect();
    const LEAD: usize = 20;
    std::thread::scope(|scope| {
        for &i in &leaving {
            let (s, reached) = (&s, &reached);
            scope.spawn(move || {
                let start = Instant::now();
                // About two thirds of a second before the broadcast
                // reaches them at 30/s: time for the webhook, the
                // processor and the status change even on a loaded
                // machine, while the broadcast is in full swing.
                while reached() + LEAD < i {
                    assert!(start.elapsed() < Duration::from_secs(60), "no progress");
                    std::thread::sleep(Duration::from_millis(5));
                }
                let update = serde_json::json!({
                    "update_id": 10_000 + i,
                    "message": {
                        "message_id": 1, "date": 1_764_400_000,
                        "chat": {"id": chat(i), "type": "private"},
                        "text": "Stop"
                    }
                });
                assert_eq!(s.post_telegram(SECRET, &update).0, 200);
            });
        }
    });
    // Every Stop is confirmed.
    let confirmed = common::poll_until(Duration::from_secs(60), || {
        let sent = bot.sent();
        let told: Vec<(usize, Duration)> = leaving
            .iter()
            .filter_map(|&i| {
                sent.iter()
                    .find(|m| m.chat_id == chat(i) && !is_announcement(&m.text))
                    .map(|m| (i, m.at))
            })
            .collect();
        if told.len() == leaving.len() {
            Ok(told)
        } else {
            Err(format!(
                "{} of {} Stops confirmed",
                told.len(),
                leaving.len()
            ))
        }
    });
    common::poll_until(Duration::from_secs(60), || {
        let n = bot
            .sent()
            .iter()
            .filter(|m| is_announcement(&m.text))
            .count();
        if n >= 100 {
            Ok(())
        } else {
            Err(format!("{n} announcements sent"))
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let sent = bot.sent();
    let mut spared = 0;
    for (i, told) in &confirmed {
        let got: Vec<Duration> = sent
            .iter()
            .filter(|m| m.chat_id == chat(*i) && is_announcement(&m.text))
            .map(|m| m.at)
            .collect();
        assert!(got.len() <= 1, "resident {i} got it {} times", got.len());
        if let Some(at) = got.first() {
            assert!(
                at < told,
                "resident {i} got it {:?} after the confirmation",
                *at - *told
            );
        } else {
            spared += 1;
        }
    }
    assert!(
        spared >= 25,
        "only {spared} of 50 left before the broadcast reached them"
    );
    // Everybody else got it once. (Whether the fake had to say 429 is the
    // benchmark's question: under a loaded test machine a late send can
    // make a 31st in one second, which costs a pause, not correctness.)
    for i in (0..150).filter(|i| i % 3 != 1) {
        let n = sent
            .iter()
            .filter(|m| m.chat_id == chat(i) && is_announcement(&m.text))
            .count();
        assert_eq!(n, 1, "resident {i}");
    }
}

#[test]
fn telegram_stop_during_a_broadcast_on_sqlite() {
    telegram_stop_during_a_broadcast(None);
}

#[test]
fn telegram_stop_during_a_broadcast_on_postgres() {
    let pg = common::PgDatabase::create();
    telegram_stop_during_a_broadcast(Some(&pg.url));
}
