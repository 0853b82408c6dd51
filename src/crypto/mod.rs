//! Encryption of personal data at rest and keyed lookup hashes.
//!
//! One 32-byte master key (from configuration) yields two independent keys
//! through HKDF-SHA256: one for XChaCha20-Poly1305 (addresses, message
//! text), one for HMAC-SHA256 lookups, so an address can be found without
//! storing it in clear. A fingerprint of the master key is kept in the
//! database to detect a wrong key before any data is touched.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use chacha20poly1305::{
    aead::{Aead, AeadCore, KeyInit, OsRng},
    XChaCha20Poly1305, XNonce,
};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;
use zeroize::Zeroizing;

/// Why a key could not be used or data not decrypted.
#[derive(Debug, Error)]
pub enum CryptoError {
    /// The configured key is not 32 bytes of base64 or hex.
    #[error("secret_key is invalid: expected 32 random bytes as base64 (44 characters) or hex (64 characters), e.g. from `openssl rand -base64 32`")]
    BadKey,
    /// Ciphertext is corrupt or was made with another key.
    #[error("stored data could not be decrypted: it is corrupt or was encrypted with a different secret_key")]
    Decrypt,
}

/// The keys derived from the master key.
pub struct Keyring {
    aead: XChaCha20Poly1305,
    mac_key: Zeroizing<[u8; 32]>,
    fingerprint: String,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

const NONCE_LEN: usize = 24;

impl Keyring {
    /// Parses a master key written as base64 or hex.
    pub fn from_encoded(encoded: &str) -> Result<Self, CryptoError> {
        let s = encoded.trim();
        let bytes = Zeroizing::new(if s.len() == 64 {
            hex::decode(s).map_err(|_| CryptoError::BadKey)?
        } else {
            STANDARD.decode(s).map_err(|_| CryptoError::BadKey)?
        });
        let master: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadKey)?;
        Ok(Self::from_master(&Zeroizing::new(master)))
    }

    /// A fresh random master key, base64-encoded.
    pub fn generate_encoded() -> Zeroizing<String> {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        Zeroizing::new(STANDARD.encode(key))
    }

    fn from_master(master: &[u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"herold-v1"), master);
        let mut enc = Zeroizing::new([0u8; 32]);
        let mut mac = Zeroizing::new([0u8; 32]);
        let mut fp = [0u8; 32];
        // HKDF-expand only fails for outputs longer than 255 * 32 bytes.
        let _ = hk.expand(b"encrypt", enc.as_mut());
        let _ = hk.expand(b"lookup", mac.as_mut());
        let _ = hk.expand(b"fingerprint", &mut fp);
        Self {
            aead: XChaCha20Poly1305::new(enc.as_ref().into()),
            mac_key: mac,
            fingerprint: hex::encode(&fp[..8]),
        }
    }

    /// A short public value that identifies the key (not the key itself).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Encrypts `plain`; the output is nonce followed by ciphertext.
    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption with a valid key and an in-memory buffer cannot fail.
        let ct = self.aead.encrypt(&nonce, plain).unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts what [`Keyring::encrypt`] produced.
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if data.len() < NONCE_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ct) = data.split_at(NONCE_LEN);
        self.aead
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

    #[test]
    fn roundtrip_and_lookup() {
        let key = Keyring::generate_encoded();
        let k = Keyring::from_encoded(&key).unwrap();
        let ct = k.encrypt(b"anna@example.org");
        assert!(!ct.windows(4).any(|w| w == b"anna"));
        assert_eq!(k.decrypt(&ct).unwrap(), b"anna@example.org");
        assert_eq!(k.lookup_hash("email", "a"), k.lookup_hash("email", "a"));
        assert_ne!(k.lookup_hash("email", "a"), k.lookup_hash("whatsapp", "a"));
        let other = Keyring::from_encoded(&Keyring::generate_encoded()).unwrap();
        assert!(other.decrypt(&ct).is_err());
        assert_ne!(other.fingerprint(), k.fingerprint());
        assert!(Keyring::from_encoded("short").is_err());
        assert!(Keyring::from_encoded(&"ab".repeat(32)).is_ok());
    }
}
