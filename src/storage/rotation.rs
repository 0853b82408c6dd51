//! Key rotation: a new key version in the key file, then every ciphertext
//! re-encrypted with it, online — in batches of a few hundred rows per
//! transaction, each row replaced only if it did not change meanwhile, so
//! broadcasts and webhooks go on. Lookup hashes and pseudonyms do not
//! change (they come from the first key, see `crypto`).

use diesel::{
    prelude::*,
    sql_types::{BigInt, Binary},
};
use std::collections::BTreeMap;

use super::{keys, sealed, with_conn, with_write_tx, Database, StorageError};
use crate::crypto::{Aad, Keyring};

/// One stored ciphertext.
#[derive(QueryableByName)]
struct Sealed {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Binary)]
    data: Vec<u8>,
}

/// The first bytes of a stored ciphertext and its length.
#[derive(QueryableByName)]
struct Head {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Binary)]
    head: Vec<u8>,
    #[diesel(sql_type = BigInt)]
    len: i64,
}

/// Photos are large: fewer of them per transaction.
const PHOTO_BATCH: i64 = 20;

/// How many ciphertexts of one column are sealed with each key version
/// (`None`: from before versions).
pub type VersionCounts = BTreeMap<(String, String), BTreeMap<Option<u8>, u64>>;

impl Database {
    /// Adds a new key version to the key file and encrypts with it from
    /// now on; returns it. Refused when the key is not in a file.
    pub fn add_key_version(&self) -> Result<u8, StorageError> {
        let path = self.key_file().ok_or_else(|| {
            StorageError::Refused(
                "the key is given inline (secret_key): key rotation needs it in a file \
                 (secret_key_file) that Herold can add the new key to"
                    .into(),
            )
        })?;
        let version = keys::append_key_version(path)?;
        self.reload_keys()?;
        Ok(version)
    }

    /// Re-encrypts every ciphertext not sealed with the current key version
    /// (or from before versions), `batch` rows per transaction; `progress`
    /// hears each column's count when it is done. Returns the count per
    /// column.
    pub fn reencrypt_all(
        &self,
        batch: i64,
        mut progress: impl FnMut(&str, &str, u64),
    ) -> Result<Vec<(&'static str, &'static str, u64)>, StorageError> {
        let mut out = Vec::new();
        for (table, column) in sealed::ALL {
            let batch = match table {
                "conversation_photos" => batch.clamp(1, PHOTO_BATCH),
                _ => batch.clamp(1, 10_000),
            };
            let n = self.reencrypt_column(table, column, batch)?;
            progress(table, column, n);
            out.push((table, column, n));
        }
        Ok(out)
    }

    fn reencrypt_column(
        &self,
        table: &'static str,
        column: &'static str,
        batch: i64,
    ) -> Result<u64, StorageError> {
        let current = self.keyring().current_version();
        let mut after = 0_i64;
        let mut rewritten = 0;
        loop {
            let select = format!(
                "SELECT id, {column} AS data FROM {table} \
                 WHERE id > {after} AND {column} IS NOT NULL ORDER BY id LIMIT {batch}"
            );
            let update = match self.backend() {
                "postgres" => {
                    format!("UPDATE {table} SET {column} = $1 WHERE id = $2 AND {column} = $3")
                }
                _ => format!("UPDATE {table} SET {column} = ? WHERE id = ? AND {column} = ?"),
            };
            let (seen, last, n) = with_write_tx!(self, |c| {
                let rows: Vec<Sealed> = diesel::sql_query(&select).load(c)?;
                let mut n = 0_u64;
                for row in &rows {
                    // An insert's placeholder, sealed by its own transaction.
                    if row.data.is_empty() || Keyring::version_of(&row.data) == Some(current) {
                        continue;
                    }
                    let at = Aad::new(table, column, row.id);
                    let plain = zeroize::Zeroizing::new(self.open_sealed(&row.data, &at)?);
                    let fresh = self.seal(&plain, &at);
                    n += diesel::sql_query(&update)
                        .bind::<Binary, _>(&fresh)
                        .bind::<BigInt, _>(row.id)
                        .bind::<Binary, _>(&row.data)
                        .execute(c)? as u64;
                }
                Ok((rows.len(), rows.last().map(|r| r.id), n))
            })?;
            rewritten += n;
            match last {
                Some(id) if seen as i64 == batch => after = id,
                _ => return Ok(rewritten),
            }
        }
    }

    /// How many ciphertexts of each column each key version sealed.
    pub fn key_versions_in_use(&self) -> Result<VersionCounts, StorageError> {
        let mut out = VersionCounts::new();
        for (table, column) in sealed::ALL {
            let counts = out.entry((table.into(), column.into())).or_default();
            let mut after = 0_i64;
            // Only the header of each ciphertext is read, not the photos.
            let (head, len) = match self.backend() {
                "postgres" => ("substring", "octet_length"),
                _ => ("substr", "length"),
            };
            loop {
                let select = format!(
                    "SELECT id, {head}({column}, 1, 2) AS head, CAST({len}({column}) AS BIGINT) AS len \
                     FROM {table} WHERE id > {after} AND {column} IS NOT NULL ORDER BY id LIMIT 5000"
                );
                let rows: Vec<Head> = with_conn!(self, |c| diesel::sql_query(&select).load(c)?);
                for row in &rows {
                    if row.len > 0 {
                        let len = usize::try_from(row.len).unwrap_or(0);
                        *counts
                            .entry(Keyring::version_of_head(&row.head, len))
                            .or_default() += 1;
                    }
                }
                match rows.last() {
                    Some(r) if rows.len() == 5000 => after = r.id,
                    _ => break,
                }
            }
        }
        Ok(out)
    }
}
