//! Faults during a broadcast, through `herold serve` and the fake provider
//! over HTTP on loopback:
//! - SIGTERM in the middle: the server finishes the batches in flight,
//!   records them and exits; started again, it delivers the rest, each
//!   resident exactly once (SQLite and PostgreSQL);
//! - the provider down for five minutes: the channel pauses instead of
//!   retrying in a loop (little CPU, few requests), no resident's attempts
//!   are used up, and everything is delivered once it is back.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{server::Server, wait_until};
use herold::{
    domain::{BroadcastState, DeliveryState},
    service::{Herold, CONSENT_WORDING_VERSION},
};
use herold_channel_api::ChannelKind;
use herold_channel_fake::FakeServer;
use std::{collections::HashMap, time::Duration};

/// A server delivering e-mail to the fake provider at `per_second`.
fn server(database_url: Option<&str>, provider: &FakeServer, per_second: &str) -> Server {
    Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#),
            ("HEROLD_FAKE_PROVIDER", provider.url()),
            ("HEROLD_DELIVERY__RATES__EMAIL__PER_SECOND", per_second),
            ("HEROLD_DELIVERY__RATES__EMAIL__BURST", "50"),
        ],
    )
}

/// `n` residents on e-mail in category `abfall`; their addresses.
fn residents(s: &Server, database_url: Option<&str>, n: usize) -> (Herold, Vec<String>) {
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    let app = s.open_database(database_url);
    let cat = app.db().find_category("abfall").unwrap().unwrap();
    let addresses: Vec<String> = (0..n).map(|i| format!("r{i}@example.org")).collect();
    app.db()
        .import_subscribers(
            ChannelKind::Email,
            &addresses,
            cat.id,
            CONSENT_WORDING_VERSION,
            "test",
        )
        .unwrap();
    (app, addresses)
}

fn publish(s: &Server) -> i64 {
    let out = s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Leerung am Samstag.",
    ]);
    let found = out
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| !w.is_empty())
        .unwrap_or_else(|| panic!("no announcement id in {out:?}"));
    found.parse().unwrap()
}

fn counts(app: &Herold, announcement: i64) -> (BroadcastState, HashMap<DeliveryState, i64>) {
    let b = app.db().broadcast_counts(announcement).unwrap();
    assert_eq!(b.len(), 1);
    (b[0].broadcast.state, b[0].counts.clone())
}

/// Each address received the message exactly once.
fn each_exactly_once(provider: &FakeServer, addresses: &[String]) {
    let mut per_address = HashMap::<String, usize>::new();
    for r in provider.received() {
        *per_address.entry(r.to).or_default() += 1;
    }
    let missing = addresses
        .iter()
        .filter(|a| !per_address.contains_key(*a))
        .count();
    assert_eq!(missing, 0, "{missing} residents never got the message");
    let twice: Vec<_> = per_address.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
}

fn sigterm_mid_broadcast(database_url: Option<&str>) {
    const N: usize = 3000;
    let provider = FakeServer::start(None, true).unwrap();
    let mut s = server(database_url, &provider, "400");
    let (app, addresses) = residents(&s, database_url, N);
    let id = publish(&s);
    wait_until("the first deliveries", Duration::from_secs(60), || {
        provider.accepted() >= 500
    });
    let (took, status) = s.terminate();
    assert!(status.success(), "herold serve exited with {status}");
    assert!(
        took < Duration::from_secs(15),
        "stopping took {took:?}: the batches in flight should finish within seconds"
    );
    let at_stop = provider.accepted();
    assert!(at_stop < N as u64, "the broadcast finished before SIGTERM");
    // Nothing was left half done: no claimed work, and every message the
    // provider accepted is recorded as sent.
    let (state, c) = counts(&app, id);
    assert_eq!(state, BroadcastState::Active);
    assert_eq!(
        c.get(&DeliveryState::Sending).copied().unwrap_or(0),
        0,
        "{c:?}"
    );
    assert_eq!(
        c.get(&DeliveryState::Sent).copied().unwrap_or(0),
        at_stop as i64,
        "accepted messages not recorded as sent: {c:?}"
    );

    s.start_again();
    wait_until("the broadcast to finish", Duration::from_secs(120), || {
        counts(&app, id).0 == BroadcastState::Done
    });
    each_exactly_once(&provider, &addresses);
    eprintln!("stopped after {at_stop} of {N} deliveries in {took:?}");
}

#[test]
fn sigterm_mid_broadcast_loses_and_repeats_nothing_on_sqlite() {
    sigterm_mid_broadcast(None);
}

#[test]
fn sigterm_mid_broadcast_loses_and_repeats_nothing_on_postgres() {
    let pg = common::PgDatabase::create();
    sigterm_mid_broadcast(Some(&pg.url));
}

/// Seconds of CPU the process used so far (user and system).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf only reads a constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / per_second
}

#[test]
fn a_five_minute_provider_outage_pauses_the_channel_and_loses_nothing() {
    const N: usize = 600;
    const OUTAGE: Duration = Duration::from_secs(300);
    let provider = FakeServer::start(None, true).unwrap();
    let s = server(None, &provider, "40");
    let (app, addresses) = residents(&s, None, N);
    let id = publish(&s);
    wait_until("the first deliveries", Duration::from_secs(60), || {
        provider.accepted() >= 40
    });
    provider.set_down(true);
    // The batches in flight meet the outage first.
    let settle = Duration::from_secs(10);
    std::thread::sleep(settle);
    let (cpu_before, refused_before) = (cpu_seconds(s.pid()), provider.unavailable());
    std::thread::sleep(OUTAGE - settle);
    let cpu = cpu_seconds(s.pid()) - cpu_before;
    let refused = provider.unavailable() - refused_before;
    provider.set_down(false);
    let share = cpu / (OUTAGE - settle).as_secs_f64();
    eprintln!(
        "during the outage: {cpu:.2} s of CPU ({:.1} % of a core), {refused} requests refused",
        share * 100.0
    );
    // A retry loop keeps a core busy; waiting costs the idle polling of a
    // debug build (about 3 % here).
    assert!(
        share < 0.10,
        "herold serve used {:.1} % of a core while the provider was down",
        share * 100.0
    );
    // Paused up to a minute at a time: a few batches (of a quarter second
    // at the channel's rate) try again, not every resident in a loop.
    assert!(
        refused < 200,
        "{refused} requests while the provider was down: a retry loop"
    );
    assert!(
        provider.accepted() < N as u64,
        "delivered during the outage"
    );

    // Back: everything is delivered within about the longest pause.
    wait_until("the broadcast to finish", Duration::from_secs(150), || {
        counts(&app, id).0 == BroadcastState::Done
    });
    let (_, c) = counts(&app, id);
    assert_eq!(
        c.get(&DeliveryState::Failed).copied().unwrap_or(0),
        0,
        "{c:?}"
    );
    each_exactly_once(&provider, &addresses);
}
