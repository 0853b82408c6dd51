//! Authenticated content distribution: the `X-Hub-Signature` header.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

/// A subscriber's `hub.secret`: the HMAC key for its deliveries.
///
/// Store it like other credentials (encrypted at rest). `Debug` does not show it
/// and the memory is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps secret bytes (as stored).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(bytes.into()))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

/// The `X-Hub-Signature` value for `body`: `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether an `X-Hub-Signature` header value is a valid signature of `body`.
///
/// Accepts `sha256`, `sha384` and `sha512` (case-insensitive names, hex digest in
/// either case) and compares in constant time. `sha1` is refused as too weak;
/// Herold's hub always signs with `sha256`.
pub fn verify_signature(secret: &[u8], body: &[u8], header_value: &str) -> bool {
    let Some((method, digest)) = header_value.trim().split_once('=') else {
        return false;
    };
    let Ok(digest) = hex::decode(digest) else {
        return false;
    };
    match method.to_ascii_lowercase().as_str() {
        "sha256" => verify_with::<Hmac<Sha256>>(secret, body, &digest),
        "sha384" => verify_with::<Hmac<Sha384>>(secret, body, &digest),
        "sha512" => verify_with::<Hmac<Sha512>>(secret, body, &digest),
        _ => false,
    }
}

fn verify_with<M: Mac + hmac::digest::KeyInit>(secret: &[u8], body: &[u8], digest: &[u8]) -> bool {
    let Ok(mut mac) = <M as Mac>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(digest).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231, test case 2.
    const KEY: &[u8] = b"Jefe";
    const DATA: &[u8] = b"what do ya want for nothing?";
    const SHA256: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    const SHA512: &str = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";

    #[test]
    fn sign_matches_rfc4231() {
        assert_eq!(sign(KEY, DATA), format!("sha256={SHA256}"));
    }

    #[test]
    fn verify_known_vectors() {
        assert!(verify_signature(KEY, DATA, &format!("sha256={SHA256}")));
        assert!(verify_signature(
            KEY,
            DATA,
            &format!("SHA256={}", SHA256.to_uppercase())
        ));
        assert!(verify_signature(KEY, DATA, &format!("sha512={SHA512}")));
    }

    #[test]
    fn verify_rejects_wrong_inputs() {
        let good = format!("sha256={SHA256}");
        assert!(!verify_signature(b"jefe", DATA, &good));
        assert!(!verify_signature(
            KEY,
            b"what do ya want for nothing!",
            &good
        ));
        assert!(!verify_signature(KEY, DATA, SHA256));
        assert!(!verify_signature(KEY, DATA, &format!("sha1={SHA256}")));
        assert!(!verify_signature(KEY, DATA, &format!("md5={SHA256}")));
        assert!(!verify_signature(KEY, DATA, "sha256=zz"));
        assert!(!verify_signature(
            KEY,
            DATA,
            &format!("sha256={}", &SHA256[..62])
        ));
        assert!(!verify_signature(KEY, DATA, ""));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new(b"hunter2".to_vec());
        assert_eq!(format!("{secret:?}"), "Secret(<7 bytes>)");
    }
}
