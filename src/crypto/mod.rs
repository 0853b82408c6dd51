//! Encryption of personal data at rest and keyed lookup hashes.
//!
//! A key file holds one or more numbered 32-byte master keys (version 1
//! first). Each yields, through HKDF-SHA256, a key for XChaCha20-Poly1305;
//! the newest encrypts, every one decrypts what it encrypted. The first
//! also yields the HMAC-SHA256 key of the lookup hashes (so an address can
//! be found without storing it in clear) and the fingerprint kept in the
//! database to detect a wrong key before any data is touched: both stay
//! the same when keys are rotated, so lookups and pseudonyms do not change.
//!
//! A ciphertext is `0xB7, version, nonce (24 bytes), sealed text`, sealed
//! with associated data naming its table, column and row ([`Aad`]): copied
//! to another row or column it no longer decrypts. Data written before
//! versions existed (nonce and sealed text, no associated data, key 1) is
//! still read, and `herold keys rotate` rewrites it in the new form.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use chacha20poly1305::{
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
    XChaCha20Poly1305, XNonce,
};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::{collections::BTreeMap, sync::RwLock};
use thiserror::Error;
use zeroize::Zeroizing;

/// Why a key could not be used or data not decrypted.
#[derive(Debug, Error)]
pub enum CryptoError {
    /// The configured key is not 32 bytes of base64 or hex.
    #[error("secret_key is invalid: expected 32 random bytes as base64 (44 characters) or hex (64 characters), e.g. from `openssl rand -base64 32`")]
    BadKey,
    /// A line of the key file is not a key.
    #[error("key file line {line}: expected a key as base64 or hex, optionally after its version number (\"2 BASE64\"), versions 1 to 255 in rising order")]
    BadKeyFile { line: usize },
    /// Ciphertext is corrupt, was encrypted with a different key, or
    /// belongs to another row or column.
    #[error("stored data could not be decrypted: it is corrupt, belongs to another row, or was encrypted with a different secret_key")]
    Decrypt,
    /// Ciphertext names a key version the key file does not have.
    #[error("stored data was encrypted with key version {0}, which the key file does not hold (copy the key file from where `herold keys rotate` ran)")]
    UnknownVersion(u8),
}

/// Where a ciphertext belongs: its table, column and row. Sealed into it as
/// associated data, so it decrypts only there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad {
    pub table: &'static str,
    pub column: &'static str,
    pub row: i64,
}

impl Aad {
    /// `table.column` of row `row`.
    pub fn new(table: &'static str, column: &'static str, row: i64) -> Self {
        Self { table, column, row }
    }

    fn bytes(&self) -> Vec<u8> {
        format!("herold\0{}\0{}\0{}", self.table, self.column, self.row).into_bytes()
    }
}

/// The keys derived from the master keys.
pub struct Keyring {
    mac_key: Zeroizing<[u8; 32]>,
    fingerprint: String,
    versions: RwLock<Versions>,
}

struct Versions {
    ciphers: BTreeMap<u8, XChaCha20Poly1305>,
    current: u8,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("fingerprint", &self.fingerprint)
            .field("current", &self.current_version())
            .finish_non_exhaustive()
    }
}

const NONCE_LEN: usize = 24;
/// First byte of a versioned ciphertext.
const MAGIC: u8 = 0xB7;

/// One master key as written: base64 or hex.
fn decode_key(s: &str) -> Option<Zeroizing<[u8; 32]>> {
    let s = s.trim();
    let bytes = Zeroizing::new(if s.len() == 64 {
        hex::decode(s).ok()?
    } else {
        STANDARD.decode(s).ok()?
    });
    let key: [u8; 32] = bytes.as_slice().try_into().ok()?;
    Some(Zeroizing::new(key))
}

/// A master key with its version number.
pub type VersionedKey = (u8, Zeroizing<[u8; 32]>);

/// Parses a key file: one key per line, optionally after its version
/// (`2 BASE64`); a bare key is version 1 or one more than the line before.
/// Blank lines and `#` comments are skipped.
pub fn parse_key_file(text: &str) -> Result<Vec<VersionedKey>, CryptoError> {
    let mut keys: Vec<VersionedKey> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = CryptoError::BadKeyFile { line: i + 1 };
        let next = keys.last().map_or(Some(1), |(v, _)| v.checked_add(1));
        let (version, key) = match line.split_once(char::is_whitespace) {
            Some((v, k)) => (v.parse::<u8>().ok(), k),
            None => (next, line),
        };
        let version = version.filter(|v| *v >= 1).ok_or(bad)?;
        if keys.last().is_some_and(|(last, _)| version <= *last) {
            return Err(CryptoError::BadKeyFile { line: i + 1 });
        }
        let key = decode_key(key).ok_or(CryptoError::BadKeyFile { line: i + 1 })?;
        keys.push((version, key));
    }
    if keys.is_empty() {
        return Err(CryptoError::BadKey);
    }
    Ok(keys)
}

fn cipher_of(master: &[u8; 32]) -> XChaCha20Poly1305 {
    let hk = Hkdf::<Sha256>::new(Some(b"herold-v1"), master);
    let mut enc = Zeroizing::new([0u8; 32]);
    // HKDF-expand only fails for outputs longer than 255 * 32 bytes.
    let _ = hk.expand(b"encrypt", enc.as_mut());
    XChaCha20Poly1305::new(enc.as_ref().into())
}

impl Keyring {
    /// Parses a single master key written as base64 or hex (version 1).
    pub fn from_encoded(encoded: &str) -> Result<Self, CryptoError> {
        let key = decode_key(encoded).ok_or(CryptoError::BadKey)?;
        Ok(Self::from_versions(&[(1, key)]))
    }

    /// The keys of a key file ([`parse_key_file`]).
    pub fn from_key_file(text: &str) -> Result<Self, CryptoError> {
        Ok(Self::from_versions(&parse_key_file(text)?))
    }

    /// A fresh random master key, base64-encoded.
    pub fn generate_encoded() -> Zeroizing<String> {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        Zeroizing::new(STANDARD.encode(key))
    }

    fn from_versions(keys: &[VersionedKey]) -> Self {
        // The first key: lookups and fingerprint, for as long as the
        // installation lives.
        let (_, first) = &keys[0];
        let hk = Hkdf::<Sha256>::new(Some(b"herold-v1"), first.as_ref());
        let mut mac = Zeroizing::new([0u8; 32]);
        let mut fp = [0u8; 32];
        let _ = hk.expand(b"lookup", mac.as_mut());
        let _ = hk.expand(b"fingerprint", &mut fp);
        Self {
            mac_key: mac,
            fingerprint: hex::encode(&fp[..8]),
            versions: RwLock::new(Self::versions(keys)),
        }
    }

    fn versions(keys: &[VersionedKey]) -> Versions {
        Versions {
            ciphers: keys.iter().map(|(v, k)| (*v, cipher_of(k))).collect(),
            current: keys.iter().map(|(v, _)| *v).max().unwrap_or(1),
        }
    }

    /// Takes the keys of a newer key file (after `herold keys rotate`):
    /// `false`, and nothing changes, if its first key is not this
    /// keyring's first key.
    pub fn reload(&self, text: &str) -> Result<bool, CryptoError> {
        let keys = parse_key_file(text)?;
        if Self::from_versions(&keys[..1]).fingerprint != self.fingerprint {
            return Ok(false);
        }
        let versions = Self::versions(&keys);
        match self.versions.write() {
            Ok(mut v) => *v = versions,
            Err(poisoned) => *poisoned.into_inner() = versions,
        }
        Ok(true)
    }

    /// The key versions, read-locked (no copy: every address a batch
    /// sends to is decrypted through here).
    fn state(&self) -> std::sync::RwLockReadGuard<'_, Versions> {
        self.versions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A short public value that identifies the key (not the key itself).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The version new data is encrypted with.
    pub fn current_version(&self) -> u8 {
        self.state().current
    }

    /// The key version a ciphertext names; `None` for data from before
    /// versions (key 1, no associated data).
    pub fn version_of(data: &[u8]) -> Option<u8> {
        Self::version_of_head(data.get(..2).unwrap_or(data), data.len())
    }

    /// [`Keyring::version_of`] from a ciphertext's first two bytes and its
    /// length (to count versions without reading whole photos).
    pub fn version_of_head(head: &[u8], len: usize) -> Option<u8> {
        match head {
            [MAGIC, v] if len > 2 + NONCE_LEN => Some(*v),
            _ => None,
        }
    }

    /// Encrypts `plain` for the place `aad` names, with the current key.
    pub fn seal(&self, plain: &[u8], aad: &Aad) -> Vec<u8> {
        let state = self.state();
        let version = state.current;
        let Some(cipher) = state.ciphers.get(&version) else {
            unreachable!("the current version is one of the keys")
        };
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = aad.bytes();
        // Encryption with a valid key and an in-memory buffer cannot fail.
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(2 + NONCE_LEN + ct.len());
        out.push(MAGIC);
        out.push(version);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts what [`Keyring::seal`] produced for the same place, or
    /// data from before versions.
    pub fn open(&self, data: &[u8], aad: &Aad) -> Result<Vec<u8>, CryptoError> {
        let state = self.state();
        if let Some(version) = Self::version_of(data) {
            let sealed = &data[2..];
            let (nonce, ct) = sealed.split_at(NONCE_LEN);
            match state.ciphers.get(&version) {
                Some(cipher) => {
                    let aad = aad.bytes();
                    if let Ok(plain) =
                        cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
                    {
                        return Ok(plain);
                    }
                }
                // A legacy nonce may start like a header; else the key
                // file is behind.
                None => {
                    return Self::open_legacy(&state, data)
                        .map_err(|_| CryptoError::UnknownVersion(version))
                }
            }
        }
        Self::open_legacy(&state, data)
    }

    fn open_legacy(state: &Versions, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cipher = state.ciphers.values().next().ok_or(CryptoError::Decrypt)?;
        if data.len() < NONCE_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ct) = data.split_at(NONCE_LEN);
        cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| CryptoError::Decrypt)
    }

    /// Keyed hash for finding a value without storing it in clear. The
    /// `domain` separates uses (e.g. the channel), so equal addresses on
    /// different channels hash differently.
    pub fn lookup_hash(&self, domain: &str, value: &str) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(self.mac_key.as_ref()) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: Aad = Aad {
        table: "subscribers",
        column: "address_ciphertext",
        row: 7,
    };

    #[test]
    fn roundtrip_and_lookup() {
        let key = Keyring::generate_encoded();
        let k = Keyring::from_encoded(&key).unwrap();
        let ct = k.seal(b"anna@example.org", &HERE);
        assert!(!ct.windows(4).any(|w| w == b"anna"));
        assert_eq!(Keyring::version_of(&ct), Some(1));
        assert_eq!(k.open(&ct, &HERE).unwrap(), b"anna@example.org");
        assert_eq!(k.lookup_hash("email", "a"), k.lookup_hash("email", "a"));
        assert_ne!(k.lookup_hash("email", "a"), k.lookup_hash("whatsapp", "a"));
        let other = Keyring::from_encoded(&Keyring::generate_encoded()).unwrap();
        assert!(other.open(&ct, &HERE).is_err());
        assert_ne!(other.fingerprint(), k.fingerprint());
        assert!(Keyring::from_encoded("short").is_err());
        assert!(Keyring::from_encoded(&"ab".repeat(32)).is_ok());
    }

    #[test]
    fn a_ciphertext_decrypts_only_in_its_place() {
        let k = Keyring::from_encoded(&Keyring::generate_encoded()).unwrap();
        let ct = k.seal(b"+4915112345678", &HERE);
        for elsewhere in [
            Aad { row: 8, ..HERE },
            Aad {
                column: "text_ciphertext",
                ..HERE
            },
            Aad {
                table: "outbox",
                ..HERE
            },
        ] {
            assert!(matches!(k.open(&ct, &elsewhere), Err(CryptoError::Decrypt)));
        }
    }

    #[test]
    fn rotation_keeps_lookups_and_reads_every_version() {
        let first = Keyring::generate_encoded();
        let v1 = Keyring::from_encoded(&first).unwrap();
        let old = v1.seal(b"alt", &HERE);
        let file = format!(
            "{}\n2 {}\n",
            first.as_str(),
            Keyring::generate_encoded().as_str()
        );
        let v2 = Keyring::from_key_file(&file).unwrap();
        assert_eq!(v2.current_version(), 2);
        assert_eq!(v2.fingerprint(), v1.fingerprint());
        assert_eq!(v2.lookup_hash("email", "a"), v1.lookup_hash("email", "a"));
        let new = v2.seal(b"neu", &HERE);
        assert_eq!(Keyring::version_of(&new), Some(2));
        assert_eq!(v2.open(&old, &HERE).unwrap(), b"alt");
        // A process with the old file learns the new key by reloading.
        assert!(matches!(
            v1.open(&new, &HERE),
            Err(CryptoError::UnknownVersion(2))
        ));
        assert!(v1.reload(&file).unwrap());
        assert_eq!(v1.open(&new, &HERE).unwrap(), b"neu");
        assert_eq!(v1.current_version(), 2);
        // Another installation's file is refused.
        let stranger = format!("{}\n", Keyring::generate_encoded().as_str());
        assert!(!v1.reload(&stranger).unwrap());
        assert_eq!(v1.current_version(), 2);
    }

    #[test]
    fn data_from_before_versions_is_read() {
        let key = Keyring::generate_encoded();
        let k = Keyring::from_encoded(&key).unwrap();
        // nonce || sealed text without associated data, as stored before.
        let state = k.state();
        let cipher = state.ciphers.get(&1).unwrap();
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut legacy = nonce.to_vec();
        legacy.extend(cipher.encrypt(&nonce, b"alt".as_ref()).unwrap());
        assert_eq!(k.open(&legacy, &HERE).unwrap(), b"alt");
    }

    #[test]
    fn key_files_name_the_bad_line() {
        let a = Keyring::generate_encoded();
        let b = Keyring::generate_encoded();
        assert!(parse_key_file(&format!("# keys\n1 {}\n\n2 {}\n", a.as_str(), b.as_str())).is_ok());
        for (text, line) in [
            (format!("{}\nnot a key\n", a.as_str()), 2),
            (format!("2 {}\n1 {}\n", a.as_str(), b.as_str()), 2),
            (format!("0 {}\n", a.as_str()), 1),
        ] {
            let err = parse_key_file(&text).map(|_| ()).unwrap_err().to_string();
            assert!(err.contains(&format!("line {line}")), "{err}");
        }
    }
}
