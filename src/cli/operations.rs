//! `herold backup` and `herold migrate-to`: operating the database.

use anyhow::{anyhow, Result};
use std::path::{Path, PathBuf};

use super::{BackupArgs, MigrateToArgs};
use crate::{
    config::{Config, DEFAULT_FILE},
    storage::{backup_sqlite, BackupError, Database, DatabaseUrl, KeySource, MigrateError},
};

/// `herold backup FILE [--force]`.
pub fn backup(config: &Config, config_file: Option<&Path>, args: &BackupArgs) -> Result<()> {
    let path = match DatabaseUrl::parse(&config.database_url)? {
        DatabaseUrl::Postgres(_) => {
            return Err(anyhow!(
                "{} Also keep {}",
                BackupError::Postgres,
                key_location(config)
            ))
        }
        DatabaseUrl::Sqlite(path) => path,
    };
    if !path.exists() {
        // Connecting would create an empty database.
        return Err(anyhow!(
            "there is no SQLite database at {} (database_url): nothing to back up",
            path.display()
        ));
    }
    let pool = Database::connect(&DatabaseUrl::Sqlite(path.clone()), 1)?;
    let report = backup_sqlite(&pool, &args.file, args.force)?;
    println!(
        "backup of {} written to {} ({} bytes, integrity check ok)",
        path.display(),
        report.path.display(),
        report.bytes
    );
    println!("A restore also needs these, which the backup does not hold; keep copies of them apart from it:");
    for item in companions(config, config_file) {
        println!("  - {item}");
    }
    Ok(())
}

/// Where the master key is, for messages.
fn key_location(config: &Config) -> String {
    match config.key_source() {
        KeySource::Inline(_) => "the `secret_key` setting (configuration file or \
             HEROLD_SECRET_KEY): without it the addresses and messages cannot be read"
            .into(),
        KeySource::File { path, .. } => {
            let missing = if path.exists() {
                ""
            } else {
                " (WARNING: it does not exist here)"
            };
            format!(
                "the key file {}{missing}: without it the addresses and messages cannot be read",
                absolute(&path).display()
            )
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// What a restore needs besides the database file.
fn companions(config: &Config, config_file: Option<&Path>) -> Vec<String> {
    let mut items = vec![key_location(config)];
    let file = config_file.map_or_else(|| PathBuf::from(DEFAULT_FILE), Path::to_owned);
    items.push(if file.exists() {
        format!(
            "the configuration file {} (and any HEROLD_* variables set for the service)",
            absolute(&file).display()
        )
    } else {
        "the HEROLD_* environment variables Herold runs with (there is no configuration file)"
            .into()
    });
    if let Some(m) = &config.matrix {
        items.push(format!(
            "the Matrix store {} (matrix.store_path): the bot's device and end-to-end keys",
            m.store_path.display()
        ));
    }
    let files = [
        (
            "email.dkim_private_key_file",
            config
                .email
                .as_ref()
                .and_then(|e| e.dkim_private_key_file.clone()),
        ),
        (
            "telegram.token_file",
            config.telegram.as_ref().and_then(|t| t.token_file.clone()),
        ),
        (
            "matrix.password_file",
            config.matrix.as_ref().and_then(|m| m.password_file.clone()),
        ),
        (
            "matrix.access_token_file",
            config
                .matrix
                .as_ref()
                .and_then(|m| m.access_token_file.clone()),
        ),
        (
            "whatsapp.access_token_file",
            config
                .whatsapp
                .as_ref()
                .and_then(|w| w.access_token_file.clone()),
        ),
        (
            "whatsapp.app_secret_file",
            config
                .whatsapp
                .as_ref()
                .and_then(|w| w.app_secret_file.clone()),
        ),
        (
            "whatsapp.verify_token_file",
            config
                .whatsapp
                .as_ref()
                .and_then(|w| w.verify_token_file.clone()),
        ),
    ];
    for (key, path) in files {
        if let Some(p) = path {
            items.push(format!("{} ({key})", absolute(&p).display()));
        }
    }
    items
}

/// `herold migrate-to URL`.
pub fn migrate_to(config: &Config, args: &MigrateToArgs) -> Result<()> {
    let path = match DatabaseUrl::parse(&config.database_url)? {
        DatabaseUrl::Postgres(_) => {
            return Err(
                MigrateError::SourceNotSqlite(DatabaseUrl::redact(&config.database_url)).into(),
            )
        }
        DatabaseUrl::Sqlite(path) => path,
    };
    if !path.exists() {
        return Err(anyhow!(
            "there is no SQLite database at {} (database_url): nothing to copy",
            path.display()
        ));
    }
    // Opening checks the key and brings the source to this version's
    // schema, which the target gets too.
    let db = Database::open(&DatabaseUrl::Sqlite(path.clone()), 2, config.key_source())?;
    let report = db.copy_to_postgres(&args.url)?;
    for (table, rows) in &report.tables {
        println!("{table:<28} {rows:>9} rows");
    }
    let target = DatabaseUrl::redact(&args.url);
    println!(
        "copied {} rows in {} tables from {} to {target}",
        report.total(),
        report.tables.len(),
        path.display()
    );
    let key = match config.key_source() {
        KeySource::Inline(_) => "keep the same `secret_key`".to_owned(),
        KeySource::File { path, .. } => format!(
            "keep the same key: secret_key_file = \"{}\" (with PostgreSQL the default is \
             herold.key in the working directory)",
            absolute(&path).display()
        ),
    };
    println!(
        "Next: set database_url = \"{target}\" and {key}, then start Herold. The SQLite file is \
         unchanged; keep it until the new database is checked."
    );
    Ok(())
}
