//! Storage: one diesel schema on SQLite (default) and PostgreSQL.
//!
//! Repository functions are methods on [`Database`], grouped by table in the
//! submodules. Each body is written once and compiled for both connection
//! types by the [`with_conn!`] macro: diesel's query builder is generic over
//! the backend, but a pool hands out one concrete connection type.

mod announcements;
mod audit;
mod backup;
mod bounces;
mod categories;
mod consent;
mod conversations;
mod cursors;
mod database_url;
mod deliveries;
mod demo;
mod digests;
mod drafts;
mod error;
mod inbound;
mod keys;
mod manual;
mod media;
mod migrate_to;
mod outbox;
mod parity;
mod photos;
mod public_version;
mod queue;
mod reply_templates;
mod retention;
mod rotation;
pub mod schema;
pub mod sealed;
mod sessions;
mod staff;
mod statistics;
mod subscribers;
mod test_recipients;
mod time;
mod tokens;
mod websub;

pub use announcements::FeedQuery;
pub use audit::{AuditFilter, AuditWith};
pub use backup::{backup_sqlite, check_integrity, BackupError, BackupReport};
pub use categories::Removed;
pub use conversations::Wrote;
pub use cursors::InboundCursor;
pub use database_url::{DatabaseUrl, DatabaseUrlError};
pub use deliveries::{StatusApplied, TransitionDetails};
pub use digests::Compose;
pub use drafts::{DraftSummary, ImageUpdate};
pub use error::StorageError;
pub use inbound::{ClaimedInbound, InboundFinish, InboundState, StoredInbound};
pub use keys::{write_key_file, KeySource};
pub use migrate_to::{MigrateError, MigrateReport};
pub use outbox::{NewOutboxMessage, OutboxItem, OutboxOutcome, OutboxRecipient, Redacted};
pub use parity::{Handover, Published};
pub use public_version::PublicState;
pub use queue::{
    Bounce, BroadcastCounts, ChannelResumed, Claim, Claimed, Control, FanoutLease, Grant, Outcome,
    QueueDepth,
};
pub use reply_templates::ReplyTemplateRow;
pub use rotation::VersionCounts;
pub use sessions::StaffSession;
pub use subscribers::NewSubscriber;
pub use test_recipients::TestRecipient;
pub use tokens::{IssuedToken, MailPolicy, Renewal, StoredToken};
pub use websub::{
    CategoryActivity, MarkChange, NewWebsubSubscription, PendingDistribution, WebsubCapReached,
    WebsubCaps, WebsubClaim, WebsubMark, WebsubOutcome, WebsubSubscription,
};

use diesel::{
    connection::SimpleConnection,
    pg::PgConnection,
    r2d2::{ConnectionManager, CustomizeConnection, Pool as R2d2Pool},
    sqlite::SqliteConnection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::{path::Path, sync::Arc, time::Duration};

use crate::crypto::{Aad, Keyring};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection pool for one of the two backends.
#[derive(Clone)]
pub enum Pool {
    Sqlite(R2d2Pool<ConnectionManager<SqliteConnection>>),
    Postgres(R2d2Pool<ConnectionManager<PgConnection>>),
}

/// Runs `$body` with `$conn` bound to a `&mut` connection of whichever
/// backend the database uses. The body is compiled once per backend.
#[macro_export]
#[doc(hidden)]
macro_rules! with_conn {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db.pool() {
            $crate::storage::Pool::Sqlite(p) => {
                let mut guard = p.get()?;
                let $conn = &mut *guard;
                $body
            }
            $crate::storage::Pool::Postgres(p) => {
                let mut guard = p.get()?;
                let $conn = &mut *guard;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

/// Runs `$body` in a write transaction: `BEGIN IMMEDIATE` on SQLite, so the
/// write lock is taken up front and waits (busy_timeout) instead of failing
/// with "database is locked" when a read must later turn into a write;
/// a normal transaction on PostgreSQL.
macro_rules! with_write_tx {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db.pool() {
            $crate::storage::Pool::Sqlite(p) => {
                let mut guard = p.get()?;
                guard.immediate_transaction::<_, StorageError, _>(|$conn| $body)
            }
            $crate::storage::Pool::Postgres(p) => {
                let mut guard = p.get()?;
                let c: &mut diesel::PgConnection = &mut guard;
                c.transaction::<_, StorageError, _>(|$conn| $body)
            }
        }
    };
}
pub(crate) use with_write_tx;

/// Comma-separated, sorted slugs of the categories with the given ids, for
/// the consent ledger. A macro for the same reason as [`with_conn!`].
macro_rules! category_slugs {
    ($conn:expr, $ids:expr) => {{
        use $crate::storage::schema::categories;
        let slugs: Vec<String> = categories::table
            .filter(categories::id.eq_any($ids))
            .order(categories::slug.asc())
            .select(categories::slug)
            .load($conn)?;
        slugs.join(",")
    }};
}
pub(crate) use category_slugs;

/// The database handle: a pool plus the keys for personal data. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    keyring: Arc<Keyring>,
    /// The key file, re-read when it changes (`herold keys rotate`).
    key_file: Option<Arc<keys::WatchedKeyFile>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // WAL lets readers (the web server) work while a writer holds the
        // lock; busy_timeout makes concurrent writers wait instead of fail.
        // Statement journals (multi-row writes) stay in memory instead of
        // temporary files, and each connection caches up to 16 MiB of
        // pages: the delivery queue's batches otherwise spend a third of
        // their time writing and re-reading pages (docs/benchmarks.md).
        // secure_delete zeroes what is deleted, so an erased address leaves
        // no trace in free pages (docs/privacy.md).
        conn.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
             PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
             PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl Database {
    /// Opens the database at `url` with up to `pool_size` connections,
    /// applies pending migrations and unlocks personal data with the key
    /// from `key` (generating one for a brand-new database if `key` allows).
    pub fn open(url: &DatabaseUrl, pool_size: u32, key: KeySource) -> Result<Self, StorageError> {
        // Read a given key before touching the database, so a bad key
        // changes nothing.
        let found = keys::configured_key(&key)?;
        let key_file = match &key {
            KeySource::File { path, .. } => Some(Arc::new(keys::WatchedKeyFile::new(path))),
            KeySource::Inline(_) => None,
        };
        let pool = Self::connect(url, pool_size)?;
        let migrated = Self::migrate_pool(&pool)?;
        if migrated > 0 {
            tracing::info!(
                backend = url.backend(),
                applied = migrated,
                "database migrated"
            );
        }
        let keyring = keys::unlock(&pool, found)?;
        if let Some(f) = &key_file {
            f.seen();
        }
        Ok(Self {
            pool,
            keyring: Arc::new(keyring),
            key_file,
        })
    }

    /// Opens a pool without migrating (used by `open` and by tests).
    pub fn connect(url: &DatabaseUrl, size: u32) -> Result<Pool, StorageError> {
        match url {
            DatabaseUrl::Sqlite(path) => {
                let manager = ConnectionManager::<SqliteConnection>::new(path.to_string_lossy());
                let pool = R2d2Pool::builder()
                    .max_size(size)
                    .min_idle(Some(0))
                    .connection_timeout(Duration::from_secs(10))
                    .connection_customizer(Box::new(SqlitePragmas))
                    .build(manager)
                    .map_err(|e| StorageError::Connect {
                        target: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                Ok(Pool::Sqlite(pool))
            }
            DatabaseUrl::Postgres(s) => {
                let manager = ConnectionManager::<PgConnection>::new(s);
                // Connections are opened on demand (min_idle 0), never by
                // r2d2's background threads ahead of time: a process that
                // exits while such a thread is inside libpq's TLS setup
                // crashes in OpenSSL's exit-time cleanup.
                // Connect once directly for a precise error (r2d2 only says
                // "timed out" when the server is unreachable).
                establish_or_create(s)?;
                let pool = R2d2Pool::builder()
                    .max_size(size)
                    .min_idle(Some(0))
                    .connection_timeout(Duration::from_secs(10))
                    .build(manager)
                    .map_err(|e| StorageError::Connect {
                        target: DatabaseUrl::redact(s),
                        reason: e.to_string(),
                    })?;
                Ok(Pool::Postgres(pool))
            }
        }
    }

    fn migrate_pool(pool: &Pool) -> Result<usize, StorageError> {
        let applied = match pool {
            Pool::Sqlite(p) => p
                .get()?
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.len()),
            Pool::Postgres(p) => p
                .get()?
                .run_pending_migrations(PG_MIGRATIONS)
                .map(|v| v.len()),
        };
        applied.map_err(|e| StorageError::Migration(e.to_string()))
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> Result<usize, StorageError> {
        Self::migrate_pool(&self.pool)
    }

    /// The connection pool (for the `with_conn!` macro).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// On SQLite, copies the write-ahead log into the database file and
    /// truncates it, so pages an erasure overwrote leave no older copy in
    /// the log. Best effort: readers in progress may keep part of the log
    /// until the next checkpoint, which SQLite makes on its own.
    pub fn checkpoint_wal(&self) {
        if let Pool::Sqlite(p) = &self.pool {
            let done = p.get().map_err(|e| e.to_string()).and_then(|mut c| {
                c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")
                    .map_err(|e| e.to_string())
            });
            if let Err(e) = done {
                tracing::warn!(error = %e, "WAL checkpoint after erasure failed");
            }
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// The keys for personal data.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Encrypts `plain` for the place `aad` names (see [`Keyring::seal`]).
    pub fn seal(&self, plain: &[u8], aad: &Aad) -> Vec<u8> {
        self.keyring.seal(plain, aad)
    }

    /// Decrypts what [`Database::seal`] stored at `aad`; data sealed with a
    /// key version this process does not know yet (another process rotated
    /// the keys) makes it re-read the key file once.
    pub fn open_sealed(&self, data: &[u8], aad: &Aad) -> Result<Vec<u8>, StorageError> {
        match self.keyring.open(data, aad) {
            Err(crate::crypto::CryptoError::UnknownVersion(_)) if self.reload_keys()? => {
                Ok(self.keyring.open(data, aad)?)
            }
            other => Ok(other?),
        }
    }

    /// Re-reads the key file if it changed since it was last read; `true`
    /// if it did (new keys are in use). Called by the engine's maintenance
    /// every few seconds, so every process encrypts with a new key soon
    /// after `herold keys rotate` added it.
    pub fn reload_keys(&self) -> Result<bool, StorageError> {
        match &self.key_file {
            Some(f) => f.reload_if_changed(&self.keyring),
            None => Ok(false),
        }
    }

    /// The key file, if the keys come from one.
    pub fn key_file(&self) -> Option<&Path> {
        self.key_file.as_deref().map(keys::WatchedKeyFile::path)
    }

    /// Checks the database answers (for `/readyz`).
    pub fn ping(&self) -> Result<(), StorageError> {
        with_conn!(self, |c| c.batch_execute("SELECT 1")?);
        Ok(())
    }
}

/// Connects once to PostgreSQL. A database that does not exist yet is
/// created (on the same server, as the same user), so a new installation
/// needs no separate `createdb`; every other failure is reported as is.
fn establish_or_create(url: &str) -> Result<(), StorageError> {
    use diesel::{Connection, RunQueryDsl};
    let connect_error = |e: diesel::ConnectionError| StorageError::Connect {
        target: DatabaseUrl::redact(url),
        reason: e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    match PgConnection::establish(url) {
        Ok(_) => Ok(()),
        Err(e)
            if e.to_string().contains("does not exist") && e.to_string().contains("database") =>
        {
            let mut parsed = url::Url::parse(url).map_err(|_| connect_error(e))?;
            let name = parsed.path().trim_start_matches('/').to_owned();
            parsed.set_path("/postgres");
            let mut admin = PgConnection::establish(parsed.as_str()).map_err(connect_error)?;
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            diesel::sql_query(format!("CREATE DATABASE {quoted}"))
                .execute(&mut admin)
                .map_err(|e| StorageError::Connect {
                    target: DatabaseUrl::redact(url),
                    reason: format!("the database does not exist and could not be created: {e}"),
                })?;
            tracing::warn!(database = %name, "created PostgreSQL database");
            PgConnection::establish(url)
                .map(|_| ())
                .map_err(connect_error)
        }
        Err(e) => Err(connect_error(e)),
    }
}
