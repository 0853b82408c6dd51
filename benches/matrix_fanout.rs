//! Matrix fan-out against a real Synapse (tests/common/synapse.rs, raised
//! rate limits): Herold's real Matrix adapter and engine beside a raw
//! matrix-sdk client, in the same run, against the same homeserver.
//!
//! N residents each open a direct chat with the bot (unencrypted, so both
//! sides measure sending, not the homeserver's key handling); the bot's
//! account and a second account (`ceiling`) are in every chat. First the
//! raw client sends one message to each chat as fast as it can (up to 16
//! in flight) — the ceiling; then Herold publishes one announcement to the
//! N subscribers with `matrix.rate_per_second = 1000`. It reports both
//! rates and Herold's share of the ceiling (target ≥ 80 %).
//! docs/benchmarks.md ("Matrix") has the command and the figures.
//!
//! ```sh
//! cargo bench --bench matrix_fanout -- [--subscribers N] [--database-url URL] [--json]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/options.rs"]
mod options;

#[path = "../tests/common/synapse.rs"]
mod synapse;

use anyhow::{anyhow, Context, Result};
use herold::{
    app::App,
    config::Config,
    crypto::Keyring,
    domain::DeliveryState,
    service::{PublishRequest, CONSENT_WORDING_VERSION},
};
use herold_channel_api::ChannelKind;
use herold_channel_matrix::MatrixConfig;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use std::sync::Arc;
use std::time::{Duration, Instant};
use synapse::{encode, Synapse};

/// Longest time without progress before the run is given up.
const STALL: Duration = Duration::from_secs(60);
/// Sends the raw client keeps in flight.
const IN_FLIGHT: usize = 16;

fn main() -> Result<()> {
    let o = options::options(200)?;
    let hs = Synapse::start();
    let bot = hs.register("herold", "bot-password");
    let ceiling = hs.register("ceiling", "ceiling-password");
    if !o.json {
        eprintln!("{} residents open direct chats…", o.subscribers);
    }
    let mut rooms = Vec::with_capacity(o.subscribers);
    for i in 0..o.subscribers {
        let resident = hs.register(&format!("resident{i}"), "pw-resident");
        let (status, body) = hs.request(
            "POST",
            "/_matrix/client/v3/createRoom",
            Some(&resident.access_token),
            Some(&serde_json::json!({
                "preset": "trusted_private_chat", "is_direct": true,
                "invite": [bot.user_id, ceiling.user_id]
            })),
        );
        if status != 200 {
            return Err(anyhow!("createRoom: {status} {body}"));
        }
        let room: serde_json::Value = serde_json::from_str(&body)?;
        let room = room["room_id"].as_str().context("no room_id")?.to_owned();
        for joiner in [&bot, &ceiling] {
            let (status, body) = hs.request(
                "POST",
                &format!("/_matrix/client/v3/join/{}", encode(&room)),
                Some(&joiner.access_token),
                Some(&serde_json::json!({})),
            );
            if status != 200 {
                return Err(anyhow!("join: {status} {body}"));
            }
        }
        rooms.push(room);
    }
    let rt = tokio::runtime::Runtime::new()?;

    // The raw client's ceiling.
    let raw = rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let client = matrix_sdk::Client::builder()
            .homeserver_url(hs.url())
            .sqlite_store(dir.path(), None)
            .build()
            .await?;
        client
            .matrix_auth()
            .login_username(&ceiling.user_id, &ceiling.password)
            .await?;
        client
            .sync_once(matrix_sdk::config::SyncSettings::default())
            .await?;
        let limit = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, room) in rooms.iter().enumerate() {
            let room_id: matrix_sdk::ruma::OwnedRoomId = room.as_str().try_into()?;
            let room = client
                .get_room(&room_id)
                .context("room unknown to the client")?;
            let permit = Arc::clone(&limit).acquire_owned().await?;
            tasks.spawn(async move {
                let r = room
                    .send(RoomMessageEventContent::text_plain(format!(
                        "Bekanntmachung {i}"
                    )))
                    .await;
                drop(permit);
                r.map(|_| ())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        anyhow::Ok(started.elapsed())
    })?;
    let raw_per_s = rooms.len() as f64 / raw.as_secs_f64();

    // Herold: the same chats as subscribers, one announcement.
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
    config.delivery.channels = vec![ChannelKind::Matrix];
    let mut matrix = MatrixConfig::with_password(
        hs.url(),
        &bot.user_id,
        &bot.password,
        tmp.path().join("matrix"),
    );
    matrix.rate_per_second = 1000.0;
    config.matrix = Some(matrix);
    let app = App::build(config)?;
    let herold = app.herold().clone();
    let category = format!("bench-{:08x}", rand::random::<u32>());
    let cat = herold.add_category(&category, "Benchmark", "bench")?;
    herold.db().import_subscribers(
        ChannelKind::Matrix,
        &rooms,
        cat.id,
        CONSENT_WORDING_VERSION,
        "bench",
    )?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let _guard = rt.enter();
    let engine = rt.spawn(app.engine().run(stopped));
    // Connected and synced before the clock starts, as a running server is.
    let pollers = herold::inbound::poll::spawn(app.pollers(), &stop.subscribe());
    std::thread::sleep(Duration::from_secs(3));
    if !o.json {
        eprintln!("Herold sends {} messages…", rooms.len());
    }
    let started = Instant::now();
    let announcement = herold.publish(&PublishRequest {
        category: category.clone(),
        title: "Bekanntmachung".into(),
        body: "Benchmark der Zustellung über Matrix.".into(),
        urgent: false,
        at: None,
        corrects: None,
        author: "bench".into(),
        event: None,
    })?;
    let mut progress = (0i64, Instant::now());
    let (sent, failed) = loop {
        let counts = herold.db().broadcast_counts(announcement.id)?;
        let of = |s: DeliveryState| -> i64 {
            counts
                .iter()
                .map(|b| b.counts.get(&s).copied().unwrap_or(0))
                .sum()
        };
        let sent = of(DeliveryState::Sent) + of(DeliveryState::Delivered) + of(DeliveryState::Read);
        let failed = of(DeliveryState::Failed) + of(DeliveryState::Skipped);
        if sent + failed >= rooms.len() as i64 {
            break (sent, failed);
        }
        if sent > progress.0 {
            progress = (sent, Instant::now());
        } else if progress.1.elapsed() > STALL {
            return Err(anyhow!("stalled at {sent} of {}", rooms.len()));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let herold_time = started.elapsed();
    let _ = stop.send(true);
    rt.block_on(engine)??;
    for p in pollers {
        let _ = rt.block_on(p);
    }
    // The adapter's store pool must go while the runtime is entered.
    drop(app);
    let herold_per_s = sent as f64 / herold_time.as_secs_f64();
    let share = 100.0 * herold_per_s / raw_per_s;
    let report = serde_json::json!({
        "subscribers": rooms.len(),
        "raw_client_per_s": raw_per_s,
        "herold_per_s": herold_per_s,
        "share_of_ceiling_pct": share,
        "failed": failed,
        "backend": herold.db().backend(),
    });
    if o.json {
        println!("{report}");
    } else {
        println!("backend            {}", herold.db().backend());
        println!(
            "raw client         {} messages in {:.2} s: {raw_per_s:.1}/s ({IN_FLIGHT} in flight)",
            rooms.len(),
            raw.as_secs_f64()
        );
        println!(
            "Herold             {sent} messages in {:.2} s: {herold_per_s:.1}/s ({share:.0} % of the raw client)",
            herold_time.as_secs_f64()
        );
        println!("failed             {failed}");
    }
    Ok(())
}
