//! A worker process killed with SIGKILL in the middle of a fan-out loses
//! nothing: a restarted worker reclaims the expired leases and finishes,
//! and at most the batches in flight are sent twice.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::wait_until;
use herold::{
    config::Config,
    domain::{BroadcastState, SubscriberStatus},
    service::Herold,
    storage::NewSubscriber,
};
use herold_channel_api::ChannelKind;
use herold_channel_fake::FakeServer;
use std::{
    collections::HashMap,
    path::Path,
    process::{Child, Stdio},
    time::Duration,
};

const RECIPIENTS: usize = 20_000;
const BATCH: usize = 500;
const IN_FLIGHT: usize = 2;

fn worker(dir: &Path, db: &Path, provider: &str) -> Child {
    common::herold(dir)
        .env("HEROLD_DATABASE_URL", db)
        .env("HEROLD_DELIVERY__CHANNELS", "[\"email\"]")
        .env("HEROLD_FAKE_PROVIDER", provider)
        .env("HEROLD_DELIVERY__BATCH_SIZE", BATCH.to_string())
        .env("HEROLD_DELIVERY__BATCHES_IN_FLIGHT", IN_FLIGHT.to_string())
        .env("HEROLD_DELIVERY__LEASE_SECONDS", "3")
        .env("HEROLD_DELIVERY__RATES__EMAIL__PER_SECOND", "4000")
        .env("HEROLD_DELIVERY__RATES__EMAIL__BURST", "500")
        .arg("worker")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_mid_fanout_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("herold.db");
    let config = Config {
        database_url: db_path.display().to_string(),
        delivery: herold::config::DeliveryConfig {
            channels: vec![ChannelKind::Email],
            ..Default::default()
        },
        ..Config::default()
    };
    let app = Herold::open(config).unwrap();
    let cat = app.add_category("abfall", "Abfall", "test").unwrap();
    let addresses: Vec<String> = (0..RECIPIENTS)
        .map(|i| format!("r{i}@example.org"))
        .collect();
    for a in &addresses {
        app.db()
            .insert_subscriber(&NewSubscriber {
                channel: ChannelKind::Email,
                address: a.clone(),
                locale: "de".into(),
                status: SubscriberStatus::Active,
                category_ids: vec![cat.id],
                wording_version: "v1".into(),
                evidence: None,
            })
            .unwrap();
    }
    let id = app
        .publish(&common::publish_request("abfall", "Wichtig", "Text"))
        .unwrap()
        .id;

    let provider = FakeServer::start(None, true).unwrap();
    let mut first = worker(dir.path(), &db_path, provider.url());
    wait_until("the first deliveries", Duration::from_secs(60), || {
        provider.accepted() >= 5_000
    });
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let at_kill = provider.accepted();
    assert!(
        at_kill < RECIPIENTS as u64,
        "the worker finished before it could be killed"
    );

    let mut second = worker(dir.path(), &db_path, provider.url());
    wait_until("the broadcast to finish", Duration::from_secs(120), || {
        app.db()
            .broadcast_counts(id)
            .unwrap()
            .iter()
            .all(|b| b.broadcast.state == BroadcastState::Done)
    });
    second.kill().unwrap();
    second.wait().unwrap();

    let mut per_address = HashMap::<String, usize>::new();
    for r in provider.received() {
        *per_address.entry(r.to).or_default() += 1;
    }
    let missing: Vec<_> = addresses
        .iter()
        .filter(|a| !per_address.contains_key(*a))
        .collect();
    assert!(
        missing.is_empty(),
        "{} recipients never got the message, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    let duplicates: usize = per_address.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= BATCH * IN_FLIGHT,
        "{duplicates} duplicates; at most the batches in flight ({IN_FLIGHT} × {BATCH}) may be sent twice"
    );
    eprintln!("killed after {at_kill} deliveries; {duplicates} duplicates after restart");
}
