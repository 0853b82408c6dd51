//! Telegram fan-out against the fake Bot API with Telegram's real limits
//! (30 messages in any second, one per second per chat; 429 above): the
//! real Telegram adapter and the real delivery engine, subscribers seeded
//! directly in the database as Telegram chats.
//!
//! It publishes one announcement to every subscriber, publishes an urgent
//! one once a quarter of them got the first, and reports the throughput the
//! fake accepted (as a share of 30 messages per second), the 429s it gave,
//! the busiest second it saw, and how long the first urgent delivery took.
//! docs/benchmarks.md ("Telegram") has the command and the figures.
//!
//! ```sh
//! cargo bench --bench telegram_fanout -- [--subscribers N] [--database-url URL] [--json]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/fanout.rs"]
mod fanout;
#[path = "common/options.rs"]
mod options;

#[path = "../tests/common/fake_telegram.rs"]
mod fake_telegram;

use anyhow::Result;
use fake_telegram::{FakeTelegram, GLOBAL_PER_SECOND};
use herold::{
    app::App,
    config::Config,
    crypto::Keyring,
    service::{PublishRequest, CONSENT_WORDING_VERSION},
};
use herold_channel_api::ChannelKind;
use herold_channel_telegram::TelegramConfig;

const TOKEN: &str = "123456789:AAbench-token";

fn main() -> Result<()> {
    let o = options::options(500)?;
    let fake = FakeTelegram::start(TOKEN);
    fake.accept_any_private_chat(true);
    let tmp = tempfile::tempdir()?;
    let key = tmp.path().join("bench.key");
    herold::storage::write_key_file(&key, &Keyring::generate_encoded())?;
    let mut config = Config {
        database_url: o
            .database_url
            .clone()
            .unwrap_or_else(|| tmp.path().join("bench.db").display().to_string()),
        secret_key_file: Some(key),
        ..Config::default()
    };
    config.delivery.channels = vec![ChannelKind::Telegram];
    // The adapter's own rate (rate_per_second's default) and the engine's
    // defaults: what an installation gets.
    config.telegram = Some(TelegramConfig {
        api_url: fake.url().to_owned(),
        ..TelegramConfig::new(TOKEN)
    });
    let app = App::build(config)?;
    let herold = app.herold().clone();
    let category = format!("bench-{:08x}", rand::random::<u32>());
    let cat = herold.add_category(&category, "Benchmark", "bench")?;
    let chats: Vec<String> = (0..o.subscribers)
        .map(|n| (100_000_000 + n).to_string())
        .collect();
    herold.db().import_subscribers(
        ChannelKind::Telegram,
        &chats,
        cat.id,
        CONSENT_WORDING_VERSION,
        "bench",
    )?;
    let total = 2 * o.subscribers;

    let rt = tokio::runtime::Runtime::new()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let engine = rt.spawn(app.engine().run(stopped));
    let publish = |title: &str, urgent: bool| {
        herold.publish(&PublishRequest {
            category: category.clone(),
            title: title.into(),
            body: "Benchmark der Zustellung über Telegram.".into(),
            urgent,
            at: None,
            corrects: None,
            author: "bench".into(),
            event: None,
        })
    };
    if !o.json {
        eprintln!(
            "{} subscribers on Telegram; {total} messages to send…",
            o.subscribers
        );
    }
    let figures = fanout::run(
        o.subscribers,
        |title, urgent| Ok(publish(title, urgent).map(|_| ())?),
        || {
            fake.sent()
                .into_iter()
                .map(|m| fanout::Accepted {
                    at: m.at,
                    text: m.text.or(m.caption).unwrap_or_default(),
                })
                .collect()
        },
        || fake.elapsed(),
    );
    let _ = stop.send(true);
    rt.block_on(engine)??;
    let fanout::Figures {
        messages,
        span,
        per_s,
        busiest,
        first_urgent,
    } = figures?;
    let report = serde_json::json!({
        "subscribers": o.subscribers,
        "messages": messages,
        "seconds": span,
        "messages_per_s": per_s,
        "share_of_limit_pct": 100.0 * per_s / GLOBAL_PER_SECOND as f64,
        "busiest_second": busiest,
        "http_429": fake.throttled(),
        "http_429_by_limit": {
            "second": fake.throttled_by("second"),
            "chat": fake.throttled_by("chat"),
            "group": fake.throttled_by("group"),
        },
        "first_urgent_ms": first_urgent.map(|d| d.as_secs_f64() * 1000.0),
        "backend": herold.db().backend(),
    });
    if o.json {
        println!("{report}");
    } else {
        println!("backend            {}", herold.db().backend());
        println!(
            "messages           {messages} ({} subscribers × 2 announcements) in {span:.1} s",
            o.subscribers
        );
        println!(
            "messages/s         {per_s:.2} ({:.1} % of Telegram's 30/s)",
            100.0 * per_s / GLOBAL_PER_SECOND as f64
        );
        println!("busiest second     {busiest} messages");
        println!(
            "429s received      {} (30 per second: {}, 1 per chat and second: {})",
            fake.throttled(),
            fake.throttled_by("second"),
            fake.throttled_by("chat")
        );
        fanout::print_first_urgent(first_urgent);
    }
    Ok(())
}
