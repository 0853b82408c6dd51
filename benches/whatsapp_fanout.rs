//! WhatsApp fan-out against the fake Cloud API with Meta's real limits
//! (80 messages in any second, one every 6 s to the same number; error
//! 130429 or 131056 with HTTP 400 above): the real WhatsApp adapter and the
//! real delivery engine, subscribers seeded directly in the database. None
//! of them wrote in the last 24 hours, so every message is the approved
//! template.
//!
//! It publishes one announcement to every subscriber, publishes an urgent
//! one once a quarter of them got the first, and reports the throughput the
//! fake accepted (as a share of 80 messages per second), the refusals it
//! gave, the busiest second it saw, and how long the first urgent delivery
//! took. docs/benchmarks.md ("WhatsApp") has the command and the figures.
//!
//! ```sh
//! cargo bench --bench whatsapp_fanout -- [--subscribers N] [--database-url URL] [--json]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/fanout.rs"]
mod fanout;
#[path = "common/options.rs"]
mod options;

#[path = "../tests/common/fake_whatsapp.rs"]
mod fake_whatsapp;

use anyhow::Result;
use fake_whatsapp::FakeWhatsApp;
use herold::{
    app::App,
    config::Config,
    crypto::Keyring,
    service::{PublishRequest, CONSENT_WORDING_VERSION},
};
use herold_channel_api::ChannelKind;
use herold_channel_whatsapp::{Template, Templates, WhatsAppConfig};

const TOKEN: &str = "EAAbench-token";
const PHONE_ID: &str = "100200300";
const APP_SECRET: &str = "bench-app-secret";
/// Meta's standard throughput per number.
const PER_SECOND: f64 = 80.0;

fn main() -> Result<()> {
    let o = options::options(1000)?;
    let fake = FakeWhatsApp::start(PHONE_ID, TOKEN, APP_SECRET);
    fake.add_template("gemeinde_info", "de", "{{1}}\n\n{{2}}\n\nMehr: {{3}}");
    fake.add_template("gemeinde_warnung", "de", "WARNUNG: {{1}}\n\n{{2}}\n\n{{3}}");
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
    config.delivery.channels = vec![ChannelKind::WhatsApp];
    // The adapter's own rate and pair spacing (their defaults) and the
    // engine's defaults: what an installation gets.
    let template = |name: &str| Template {
        name: name.into(),
        language: "de".into(),
        parameters: vec![
            herold_channel_whatsapp::Field::Title,
            herold_channel_whatsapp::Field::Summary,
            herold_channel_whatsapp::Field::Link,
        ],
    };
    config.whatsapp = Some(WhatsAppConfig {
        access_token: Some(TOKEN.into()),
        access_token_file: None,
        phone_number_id: PHONE_ID.into(),
        app_secret: Some(APP_SECRET.into()),
        app_secret_file: None,
        verify_token: Some("bench".into()),
        verify_token_file: None,
        api_url: fake.url().to_owned(),
        api_version: herold_channel_whatsapp::DEFAULT_API_VERSION.into(),
        rate_per_second: herold_channel_whatsapp::DEFAULT_RATE_PER_SECOND,
        pair_spacing_seconds: herold_channel_whatsapp::DEFAULT_PAIR_SPACING_SECONDS,
        templates: Templates {
            broadcast: template("gemeinde_info"),
            urgent: Some(template("gemeinde_warnung")),
            digest: None,
        },
        display_number: None,
    });
    let app = App::build(config)?;
    let herold = app.herold().clone();
    let category = format!("bench-{:08x}", rand::random::<u32>());
    let cat = herold.add_category(&category, "Benchmark", "bench")?;
    let numbers: Vec<String> = (0..o.subscribers)
        .map(|n| format!("+49151{:07}", n))
        .collect();
    herold.db().import_subscribers(
        ChannelKind::WhatsApp,
        &numbers,
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
            body: "Benchmark der Zustellung über WhatsApp.".into(),
            urgent,
            at: None,
            corrects: None,
            author: "bench".into(),
            event: None,
        })
    };
    if !o.json {
        eprintln!(
            "{} subscribers on WhatsApp; {total} messages to send…",
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
                    text: m.text,
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
        "share_of_limit_pct": 100.0 * per_s / PER_SECOND,
        "busiest_second": busiest,
        "refused_130429": fake.refused(130429),
        "refused_131056": fake.refused(131056),
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
            "messages/s         {per_s:.2} ({:.1} % of the Cloud API's 80/s)",
            100.0 * per_s / PER_SECOND
        );
        println!("busiest second     {busiest} messages");
        println!(
            "refusals           130429 (throughput): {}, 131056 (pair rate): {}",
            fake.refused(130429),
            fake.refused(131056)
        );
        fanout::print_first_urgent(first_urgent);
    }
    Ok(())
}
