//! Key rotation while `herold serve` broadcasts, on SQLite and PostgreSQL:
//! `herold keys rotate` adds a key version and re-encrypts every address
//! while the engine reads them to send; every resident still gets the
//! announcement exactly once, every address still decrypts (also in a
//! process that opened the database before the rotation), pseudonyms stay,
//! and a ciphertext copied to another row does not decrypt.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::server::Server;
use diesel::RunQueryDsl;
use herold::{service::CONSENT_WORDING_VERSION, storage::Pool};
use herold_channel_api::ChannelKind;
use herold_channel_fake::FakeServer;
use std::{collections::HashMap, time::Duration};

const RESIDENTS: usize = 400;

fn raw(app: &herold::service::Herold, sql: &str) -> usize {
    match app.db().pool() {
        Pool::Sqlite(p) => diesel::sql_query(sql)
            .execute(&mut *p.get().unwrap())
            .unwrap(),
        Pool::Postgres(p) => diesel::sql_query(sql)
            .execute(&mut *p.get().unwrap())
            .unwrap(),
    }
}

fn rotation_during_a_broadcast(database_url: Option<&str>) {
    let provider = FakeServer::start(None, true).unwrap();
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#),
            ("HEROLD_FAKE_PROVIDER", provider.url()),
            ("HEROLD_FAKE_PROVIDER_SECRET", "geheim"),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_DELIVERY__RATES__TELEGRAM__PER_SECOND", "80"),
            ("HEROLD_DELIVERY__RATES__TELEGRAM__BURST", "5"),
        ],
    );
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    // This process opened the database before the rotation: it learns the
    // new key when it first meets it.
    let app = s.open_database(database_url);
    let cat = app.db().find_category("abfall").unwrap().unwrap();
    let addresses: Vec<String> = (0..RESIDENTS).map(|i| (700_000 + i).to_string()).collect();
    app.db()
        .import_subscribers(
            ChannelKind::Telegram,
            &addresses,
            cat.id,
            CONSENT_WORDING_VERSION,
            "test",
        )
        .unwrap();
    let before: HashMap<i64, String> = app
        .db()
        .list_subscribers(None)
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s.pseudonym.to_string()))
        .collect();
    assert_eq!(before.len(), RESIDENTS);
    assert!(s
        .cli(&["keys", "status"])
        .contains(&format!("version 1: {RESIDENTS}")));

    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Schlüsselwechsel",
        "--body",
        "Es läuft.",
    ]);
    common::wait_until("the broadcast under way", Duration::from_secs(30), || {
        provider.received().len() >= 40
    });
    let out = s.cli(&["keys", "rotate", "--batch", "50"]);
    let during = provider.received().len();
    assert!(out.contains("key version 2 added"), "{out}");
    assert!(out.contains("all use key version 2"), "{out}");
    assert!(
        during < RESIDENTS,
        "the rotation should run while the broadcast does ({during} sent)"
    );

    // Everyone gets it, once.
    let got = common::poll_until(Duration::from_secs(60), || {
        let got = provider.received();
        if got.len() >= RESIDENTS {
            Ok(got)
        } else {
            Err(format!("{} of {RESIDENTS} sent", got.len()))
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let got = provider.received().len().max(got.len());
    assert_eq!(got, RESIDENTS, "no resident twice");
    let mut to: Vec<String> = provider.received().into_iter().map(|r| r.to).collect();
    to.sort();
    let mut expected = addresses.clone();
    expected.sort();
    assert_eq!(to, expected);

    // Every address decrypts, pseudonyms unchanged; all on version 2.
    for (i, s) in app
        .db()
        .list_subscribers(None)
        .unwrap()
        .into_iter()
        .enumerate()
    {
        assert_eq!(before.get(&s.id), Some(&s.pseudonym.to_string()), "{i}");
        let address = app.db().subscriber_address(s.id).unwrap().unwrap();
        assert!(addresses.contains(&address));
    }
    let status = s.cli(&["keys", "status"]);
    assert!(
        status.contains(&format!(
            "subscribers.address_ciphertext: version 2: {RESIDENTS}"
        )),
        "{status}"
    );
    // A lookup still finds a resident by address (the lookup key stayed).
    assert!(app
        .db()
        .find_subscriber_by_address(ChannelKind::Telegram, "700007")
        .unwrap()
        .is_some());

    // A ciphertext copied to another row does not decrypt there.
    let mut ids: Vec<i64> = before.keys().copied().collect();
    ids.sort();
    let (a, b) = (ids[0], ids[1]);
    assert_eq!(
        raw(
            &app,
            &format!(
                "UPDATE subscribers SET address_ciphertext = \
                 (SELECT address_ciphertext FROM subscribers WHERE id = {a}) WHERE id = {b}"
            ),
        ),
        1
    );
    let err = app.db().subscriber_address(b).unwrap_err().to_string();
    assert!(err.contains("could not be decrypted"), "{err}");
    assert!(app.db().subscriber_address(a).unwrap().is_some());
}

#[test]
fn rotation_during_a_broadcast_on_sqlite() {
    rotation_during_a_broadcast(None);
}

#[test]
fn rotation_during_a_broadcast_on_postgres() {
    let pg = common::PgDatabase::create();
    rotation_during_a_broadcast(Some(&pg.url));
}
