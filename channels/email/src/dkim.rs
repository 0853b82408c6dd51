//! DKIM key loading and the list of signed headers.

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use zeroize::Zeroizing;

/// Headers covered by the signature.
///
/// RFC 8058 §3 requires both `List-Unsubscribe` and `List-Unsubscribe-Post` to
/// be signed. Headers absent from a message (e.g. `Reply-To`, or the list
/// headers on transactional mail) are still listed: per RFC 6376 §5.4 they
/// then sign their absence, so nobody can add them later.
///
/// `Content-Type` and `Content-Transfer-Encoding` must not be listed: lettre
/// writes them as part of the MIME body, so its signer does not see them and
/// a verifier, which does, would compute a different hash.
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
];

/// Builds lettre's DKIM configuration (relaxed/relaxed canonicalization, which
/// survives the whitespace changes relays commonly make).
pub(crate) fn dkim_config(selector: String, domain: String, key: DkimSigningKey) -> DkimConfig {
    let headers = SIGNED_HEADERS
        .iter()
        .map(|h| HeaderName::new_from_ascii_str(h))
        .collect();
    DkimConfig::new(
        selector,
        domain,
        key,
        headers,
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    )
}

/// Parses a PEM private key: RSA as PKCS#1 (`BEGIN RSA PRIVATE KEY`) or
/// PKCS#8 (`BEGIN PRIVATE KEY`), Ed25519 as PKCS#8 (what
/// `openssl genpkey -algorithm ed25519` writes).
pub(crate) fn signing_key_from_pem(pem: &str) -> Result<DkimSigningKey, &'static str> {
    let pem = pem.trim();
    if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
        return DkimSigningKey::new(pem, DkimSigningAlgorithm::Rsa)
            .map_err(|_| "unparseable PKCS#1 RSA key");
    }
    if !pem.starts_with("-----BEGIN PRIVATE KEY-----") {
        return Err("no BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY block");
    }
    if let Ok(ed) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        // lettre takes Ed25519 keys as the base64 of the 32-byte seed.
        let seed = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(ed.to_bytes()));
        return DkimSigningKey::new(&seed, DkimSigningAlgorithm::Ed25519)
            .map_err(|_| "unusable Ed25519 key");
    }
    if let Ok(rsa) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
        // lettre takes RSA keys as PKCS#1 PEM.
        let pkcs1 = rsa
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|_| "unusable RSA key")?;
        return DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
            .map_err(|_| "unusable RSA key");
    }
    Err("PKCS#8 key is neither RSA nor Ed25519")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;

    /// A freshly generated Ed25519 key as PKCS#8 PEM.
    pub(crate) fn ed25519_pem() -> String {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    }

    #[test]
    fn parses_ed25519_pkcs8() {
        signing_key_from_pem(&ed25519_pem()).unwrap();
    }

    #[test]
    fn parses_rsa_pkcs1_and_pkcs8() {
        // Small key to keep the debug-build test fast; size is irrelevant to parsing.
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
        let pkcs1 = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        signing_key_from_pem(&pkcs1).unwrap();
        let pkcs8 = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        signing_key_from_pem(&pkcs8).unwrap();
    }

    #[test]
    fn rejects_garbage() {
        assert!(signing_key_from_pem("").is_err());
        assert!(signing_key_from_pem("hello").is_err());
        assert!(signing_key_from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
        )
        .is_err());
        assert!(signing_key_from_pem(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"
        )
        .is_err());
    }
}
