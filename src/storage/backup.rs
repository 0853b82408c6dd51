//! `herold backup`: an online, consistent copy of an SQLite database.
//!
//! `VACUUM INTO` runs inside one read transaction of a pooled connection,
//! so it sees one snapshot while `herold serve` keeps writing (WAL). The
//! copy is written next to the target under a temporary name, checked with
//! `PRAGMA integrity_check` and only then renamed into place, so a failed or
//! interrupted backup never leaves a half-written file under the name given.

use diesel::{sql_types::Text, Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use std::path::{Path, PathBuf};
use thiserror::Error;

use super::{Database, Pool, StorageError};

/// Why a backup was not made.
#[derive(Debug, Error)]
pub enum BackupError {
    /// The database is PostgreSQL: its own tools make the backup.
    #[error(
        "herold backup copies SQLite databases only; this one is PostgreSQL: back it up with \
         `pg_dump -Fc --file=herold.dump DATABASE_URL` and restore with `pg_restore` \
         (docs/operations.md, \"Backup and restore\")"
    )]
    Postgres,
    /// The target exists and `--force` was not given.
    #[error("{0} already exists: choose a new file name, or give --force to replace it")]
    Exists(PathBuf),
    /// The target's directory does not exist.
    #[error("cannot write the backup to {0}: its directory does not exist")]
    NoDirectory(PathBuf),
    /// The copy failed its integrity check (and was removed).
    #[error("the backup failed its integrity check and was removed: {0}")]
    Integrity(String),
    /// Writing, checking or renaming the file failed.
    #[error("cannot write the backup to {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a finished backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

impl Database {
    /// [`backup_sqlite`] of this database.
    pub fn backup_to(&self, target: &Path, force: bool) -> Result<BackupReport, BackupError> {
        backup_sqlite(self.pool(), target, force)
    }
}

/// Writes a consistent copy of the SQLite database behind `pool` to
/// `target` while other connections and processes keep working; refuses an
/// existing `target` unless `force`. The copy is checked with `PRAGMA
/// integrity_check` before it takes the name `target`. Needs no key and
/// runs no migrations, so a backup taken before an upgrade is of the
/// database as it was.
pub fn backup_sqlite(pool: &Pool, target: &Path, force: bool) -> Result<BackupReport, BackupError> {
    let Pool::Sqlite(pool) = pool else {
        return Err(BackupError::Postgres);
    };
    if target.exists() && !force {
        return Err(BackupError::Exists(target.to_owned()));
    }
    let dir = match target.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_owned(),
        None => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(BackupError::NoDirectory(target.to_owned()));
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "herold-backup.db".into());
    let partial = dir.join(format!(".{name}.partial-{}", std::process::id()));
    let io = |path: &Path, e: &dyn std::fmt::Display| BackupError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    // A leftover of an earlier interrupted run of this process id.
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(|e| io(&partial, &e))?;
    }
    let result = (|| -> Result<BackupReport, BackupError> {
        let mut conn = pool.get().map_err(StorageError::from)?;
        diesel::sql_query("VACUUM INTO ?")
            .bind::<Text, _>(partial.to_string_lossy().into_owned())
            .execute(&mut *conn)
            .map_err(StorageError::from)?;
        drop(conn);
        check_integrity(&partial)?;
        restrict_permissions(&partial).map_err(|e| io(&partial, &e))?;
        std::fs::rename(&partial, target).map_err(|e| io(target, &e))?;
        let bytes = std::fs::metadata(target).map_err(|e| io(target, &e))?.len();
        Ok(BackupReport {
            path: target.to_owned(),
            bytes,
        })
    })();
    if result.is_err() && partial.exists() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Opens `file` on its own connection and runs `PRAGMA integrity_check`.
pub fn check_integrity(file: &Path) -> Result<(), BackupError> {
    // Opening a missing file would create an empty database.
    if !file.is_file() {
        return Err(BackupError::Io {
            path: file.to_owned(),
            reason: "no such file".into(),
        });
    }
    let mut conn =
        SqliteConnection::establish(&file.to_string_lossy()).map_err(|e| BackupError::Io {
            path: file.to_owned(),
            reason: e.to_string(),
        })?;
    let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .map_err(StorageError::from)?;
    let problems: Vec<String> = rows
        .into_iter()
        .map(|r| r.integrity_check)
        .filter(|r| r != "ok")
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BackupError::Integrity(problems.join("; ")))
    }
}

/// The backup holds the same (encrypted) personal data as the database:
/// readable by its owner only.
fn restrict_permissions(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}
