//! Finding, generating and checking the master key for personal data.

use diesel::prelude::*;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

use super::{schema::meta, Pool, StorageError};
use base64::{engine::general_purpose::STANDARD, Engine as _};

use crate::crypto::{CryptoError, Keyring};

const FINGERPRINT_KEY: &str = "secret_key_fingerprint";

/// Where the master key for personal data comes from.
pub enum KeySource {
    /// The key itself: 32 bytes as base64 or hex.
    Inline(Zeroizing<String>),
    /// A file holding the key.
    File {
        /// The key file.
        path: PathBuf,
        /// Whether the file may be missing: a brand-new database then
        /// generates a key into it, while a database that already holds
        /// personal data refuses to open ([`StorageError::MissingKey`]).
        /// Otherwise a missing file is an error.
        generate: bool,
    },
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(<redacted>)"),
            Self::File { path, generate } => f
                .debug_struct("File")
                .field("path", path)
                .field("generate", generate)
                .finish(),
        }
    }
}

/// Where a usable key came from.
pub(super) enum Found {
    /// Given inline or read from a file.
    Key(Keyring),
    /// The key file that may be generated does not exist yet.
    Missing(PathBuf),
}

/// Reads the key from `source`. A file that must exist but does not is an
/// error.
pub(super) fn configured_key(source: &KeySource) -> Result<Found, StorageError> {
    match source {
        KeySource::Inline(secret) => Ok(Found::Key(Keyring::from_encoded(secret)?)),
        KeySource::File {
            path,
            generate: true,
        } if !path.exists() => Ok(Found::Missing(path.clone())),
        KeySource::File { path, .. } => read_key_file(path).map(Found::Key),
    }
}

/// Warns when the key file can be read by others than its owner: anyone
/// who can read it can read every address and message in the database.
fn warn_if_exposed(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = %format!("{mode:03o}"),
                    "the key file is readable by its group or by others: run `chmod 600` on it, \
                     and keep it outside the data directory (docs/privacy.md)"
                );
            }
        }
    }
}

fn read_key_file(path: &Path) -> Result<Keyring, StorageError> {
    warn_if_exposed(path);
    let text =
        Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| StorageError::KeyFile {
                path: path.display().to_string(),
                reason: format!(
                    "cannot be read ({e}); expected a file holding 32 random bytes as base64"
                ),
            })?,
        );
    Keyring::from_key_file(&text).map_err(|e| StorageError::KeyFile {
        path: path.display().to_string(),
        reason: match e {
            CryptoError::BadKeyFile { .. } => e.to_string(),
            _ => "does not hold a valid key; expected 32 random bytes as base64 (44 characters) or hex (64)".into(),
        },
    })
}

/// A key file and when it was last read, so a process notices the keys
/// `herold keys rotate` added.
#[derive(Debug)]
pub(super) struct WatchedKeyFile {
    path: PathBuf,
    modified: std::sync::Mutex<Option<std::time::SystemTime>>,
}

impl WatchedKeyFile {
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            modified: std::sync::Mutex::new(None),
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    fn mtime(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
    }

    /// Records the file as read now.
    pub(super) fn seen(&self) {
        let now = self.mtime();
        if let Ok(mut m) = self.modified.lock() {
            *m = now;
        }
    }

    /// Loads the file's keys into `keyring` if it changed since last read.
    pub(super) fn reload_if_changed(&self, keyring: &Keyring) -> Result<bool, StorageError> {
        let now = self.mtime();
        let changed = match self.modified.lock() {
            Ok(m) => *m != now,
            Err(_) => true,
        };
        if !changed {
            return Ok(false);
        }
        let text = Zeroizing::new(std::fs::read_to_string(&self.path).map_err(|e| {
            StorageError::KeyFile {
                path: self.path.display().to_string(),
                reason: format!("cannot be read ({e})"),
            }
        })?);
        let taken = keyring.reload(&text).map_err(|e| StorageError::KeyFile {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        if !taken {
            return Err(StorageError::KeyFile {
                path: self.path.display().to_string(),
                reason: "now holds the keys of another installation (its first key changed); the keys in use stay".into(),
            });
        }
        self.seen();
        tracing::info!(version = keyring.current_version(), "key file re-read");
        Ok(true)
    }
}

/// Adds a new key version to the key file at `path` (written to a new file
/// with mode 0600 and renamed over it, so no reader sees half a file);
/// returns the new version.
pub(super) fn append_key_version(path: &Path) -> Result<u8, StorageError> {
    let err = |reason: String| StorageError::KeyFile {
        path: path.display().to_string(),
        reason,
    };
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| err(format!("cannot be read ({e})")))?,
    );
    let keys = crate::crypto::parse_key_file(&text).map_err(|e| err(e.to_string()))?;
    let last = keys.last().map_or(1, |(v, _)| *v);
    let version = last
        .checked_add(1)
        .ok_or_else(|| err("holds key version 255, the last there can be".into()))?;
    let mut out = Zeroizing::new(String::from(
        "# Herold's keys for personal data: the last one encrypts, all decrypt,\n\
         # the first also makes the lookup hashes. Keep every line.\n",
    ));
    for (v, key) in &keys {
        out.push_str(&format!("{v} {}\n", STANDARD.encode(key.as_ref())));
    }
    out.push_str(&format!(
        "{version} {}\n",
        Keyring::generate_encoded().as_str()
    ));
    let tmp = path.with_extension("key.new");
    let _ = std::fs::remove_file(&tmp);
    write_new_key(&tmp, out.trim_end())?;
    std::fs::rename(&tmp, path).map_err(|e| err(format!("cannot be replaced ({e})")))?;
    Ok(version)
}

fn stored_fingerprint(pool: &Pool) -> Result<Option<String>, StorageError> {
    let q = meta::table
        .filter(meta::key.eq(FINGERPRINT_KEY))
        .select(meta::value);
    Ok(match pool {
        Pool::Sqlite(p) => q.first::<String>(&mut *p.get()?).optional()?,
        Pool::Postgres(p) => q.first::<String>(&mut *p.get()?).optional()?,
    })
}

fn store_fingerprint(pool: &Pool, fp: &str) -> Result<(), StorageError> {
    let q = diesel::insert_into(meta::table)
        .values((meta::key.eq(FINGERPRINT_KEY), meta::value.eq(fp)));
    match pool {
        Pool::Sqlite(p) => q.execute(&mut *p.get()?)?,
        Pool::Postgres(p) => q.execute(&mut *p.get()?)?,
    };
    Ok(())
}

/// Checks the key against the fingerprint stored in the database; for a
/// database without one, records the key (generating and saving a new key
/// into the missing file that may be generated).
pub(super) fn unlock(pool: &Pool, found: Found) -> Result<Keyring, StorageError> {
    let stored = stored_fingerprint(pool)?;
    match (found, stored) {
        (Found::Key(k), Some(fp)) if k.fingerprint() == fp => Ok(k),
        (Found::Key(k), Some(fp)) => Err(StorageError::WrongKey {
            stored: fp,
            configured: k.fingerprint().to_owned(),
        }),
        (Found::Missing(path), Some(_)) => Err(StorageError::MissingKey {
            expected_file: path.display().to_string(),
        }),
        (Found::Key(k), None) => {
            store_fingerprint(pool, k.fingerprint())?;
            Ok(k)
        }
        (Found::Missing(path), None) => {
            let encoded = Keyring::generate_encoded();
            write_new_key(&path, &encoded)?;
            let k = Keyring::from_encoded(&encoded)?;
            store_fingerprint(pool, k.fingerprint())?;
            tracing::warn!(path = %path.display(), "generated a new secret key for personal data; back it up, without it subscriber addresses cannot be read");
            Ok(k)
        }
    }
}

/// Writes a new key file at `path` holding `encoded`, readable only by its
/// owner (mode 0600); an existing file is refused.
pub fn write_key_file(path: &Path, encoded: &str) -> Result<(), StorageError> {
    write_new_key(path, encoded)
}

fn write_new_key(path: &Path, encoded: &str) -> Result<(), StorageError> {
    use std::io::Write;
    let err = |e: std::io::Error| StorageError::KeyFile {
        path: path.display().to_string(),
        reason: format!("cannot be created ({e})"),
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(encoded.as_bytes()).map_err(err)?;
    f.write_all(b"\n").map_err(err)?;
    f.sync_all().map_err(err)
}
