//! Test harness: a fresh database per test on either backend.
//!
//! SQLite lives in a temporary directory. PostgreSQL gets a uniquely named
//! database on the server at `HEROLD_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432`), dropped when the test ends. An
//! unreachable server fails the test: the suite never silently skips a backend.
#![allow(dead_code)]

pub mod browser;
pub mod fake_telegram;
pub mod fake_whatsapp;
pub mod log_privacy;
pub mod server;
pub mod smtp;
pub mod staff;
pub mod synapse;
pub mod validate;

use diesel::{pg::PgConnection, Connection, RunQueryDsl};
use herold::{
    config::{Config, Secret},
    crypto::Keyring,
    domain::NewAuditEvent,
    service::{Herold, PublishRequest},
};
use std::{
    path::Path,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

/// The `herold` binary run in `dir`, with no `HEROLD_*` variables and no
/// `RUST_LOG` from the outside.
pub fn herold(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herold"));
    cmd.current_dir(dir).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("HEROLD_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// A request publishing `title` with `body` in `category` now, as `test`:
/// not urgent, correcting nothing, without event. Change fields with
/// `PublishRequest { urgent: true, ..publish_request(…) }`.
pub fn publish_request(category: &str, title: &str, body: &str) -> PublishRequest {
    PublishRequest {
        category: category.into(),
        title: title.into(),
        body: body.into(),
        urgent: false,
        at: None,
        corrects: None,
        author: "test".into(),
        event: None,
    }
}

/// Calls `attempt` every 50 ms until it returns `Ok`, and returns that
/// value; fails the test with the last `Err` (what was seen instead) once
/// `within` has passed.
pub fn poll_until<T>(within: Duration, mut attempt: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + within;
    loop {
        match attempt() {
            Ok(v) => return v,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "timed out after {within:?}: {seen}"
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `cond` holds; fails the test, naming `what`, once `within`
/// has passed.
pub fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    poll_until(within, || {
        cond()
            .then_some(())
            .ok_or_else(|| format!("waiting for {what}"))
    })
}

/// The PostgreSQL server used by tests, without a database name.
pub fn pg_base() -> String {
    std::env::var("HEROLD_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Deletes the database when dropped.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    /// Creates a new, empty, uniquely named database.
    pub fn create() -> Self {
        let mut admin =
            PgConnection::establish(&format!("{}/postgres", pg_base())).unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {} is required for the tests (run ./scripts/test.sh): {e}",
                    pg_base()
                )
            });
        let db = Self::unique_name();
        diesel::sql_query(format!("CREATE DATABASE {}", db.name))
            .execute(&mut admin)
            .expect("create test database");
        db
    }

    /// A unique name whose database does not exist yet (but is dropped on drop).
    pub fn unique_name() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "herold_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            rand_suffix()
        );
        let url = format!("{}/{name}", pg_base());
        Self { name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", pg_base())) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

fn rand_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The audit event of a staff action a test performs directly on storage
/// (`&common::test_audit` where an `AuditWith` is expected).
pub fn test_audit<T>(_: &T) -> NewAuditEvent {
    NewAuditEvent::new("test", "test.storage", "test", &serde_json::json!({}))
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An opened app on a fresh database. Fields drop in order: the app (and
/// its pool) before the database it points at.
pub struct TestDb {
    pub app: Herold,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub pg: Option<PgDatabase>,
}

impl TestDb {
    /// Opens a fresh database on `backend`.
    pub fn new(backend: Backend) -> Self {
        Self::with_config(backend, |_| {})
    }

    /// Like [`TestDb::new`], with configuration changes applied first.
    pub fn with_config(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (config, pg) = match backend {
            Backend::Sqlite => (
                Config {
                    database_url: dir.path().join("herold.db").display().to_string(),
                    ..Config::default()
                },
                None,
            ),
            Backend::Postgres => {
                let pg = PgDatabase::create();
                (
                    Config {
                        database_url: pg.url.clone(),
                        secret_key: Some(Secret::new(Keyring::generate_encoded().to_string())),
                        pool_size: 4,
                        ..Config::default()
                    },
                    Some(pg),
                )
            }
        };
        let mut config = config;
        adjust(&mut config);
        let app = Herold::open(config).expect("open test database");
        Self {
            app,
            backend,
            dir,
            pg,
        }
    }

    pub fn sqlite() -> Self {
        Self::new(Backend::Sqlite)
    }

    pub fn postgres() -> Self {
        Self::new(Backend::Postgres)
    }
}

/// Instantiates a test body for both backends:
/// `both!(name, |t: &TestDb| { ... });` gives `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                let t = $crate::common::TestDb::sqlite();
                let f: &dyn Fn(&$crate::common::TestDb) = &$body;
                f(&t);
            }

            #[test]
            fn postgres() {
                let t = $crate::common::TestDb::postgres();
                let f: &dyn Fn(&$crate::common::TestDb) = &$body;
                f(&t);
            }
        }
    };
}

/// The capabilities of an in-process test provider: push, plain text, no
/// limits of its own (the engine's configured rate applies).
pub fn in_process_caps() -> herold_channel_api::Capabilities {
    use herold_channel_api::{Capabilities, Formatting, RateLimit, Reach};
    Capabilities {
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
    }
}

/// What a test's database holds, byte for byte: the SQLite file and its
/// WAL in `dir`, or a data-only `pg_dump` of `database_url`. Drop open
/// handles of a SQLite database first.
pub fn database_bytes(dir: &Path, database_url: Option<&str>) -> Vec<u8> {
    match database_url {
        None => {
            let mut bytes = Vec::new();
            for name in ["herold.db", "herold.db-wal"] {
                if let Ok(b) = std::fs::read(dir.join(name)) {
                    bytes.extend(b);
                }
            }
            bytes
        }
        Some(url) => {
            let dump = Command::new("pg_dump")
                .args(["--data-only", "--dbname", url])
                .output()
                .expect("pg_dump runs");
            assert!(
                dump.status.success(),
                "{}",
                String::from_utf8_lossy(&dump.stderr)
            );
            dump.stdout
        }
    }
}

/// Asserts that none of `secrets` is anywhere in the database, while
/// `present` (something known to be stored in clear) is — so the search
/// itself works.
pub fn assert_nowhere_in_database(
    dir: &Path,
    database_url: Option<&str>,
    secrets: &[&str],
    present: &str,
) {
    let bytes = database_bytes(dir, database_url);
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains(present),
        "{present} is not in the database: the search does not work"
    );
    for secret in secrets {
        assert!(!contains(secret), "{secret} is still in the database");
    }
}
