//! Tokens in the links mailed to subscribers (double opt-in, manage and
//! one-click unsubscribe). A token is a bearer secret: it is never logged
//! and stored only as a keyed hash (plus, for manage links, encrypted).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore;

use super::DomainError;

/// Random bytes per token (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// Length of a token as text: 32 bytes in URL-safe base64 without padding.
pub const TOKEN_CHARS: usize = 43;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Confirm a sign-up (double opt-in); expires, single use.
    Confirm,
    /// Manage or end the subscription; one per subscriber, no expiry.
    Manage,
    /// Download one's own data once (asked for with "Daten" on a
    /// messenger); expires within the hour.
    Export,
}

impl TokenPurpose {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Manage => "manage",
            Self::Export => "export",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "confirm" => Ok(Self::Confirm),
            "manage" => Ok(Self::Manage),
            "export" => Ok(Self::Export),
            _ => Err(DomainError::Invalid {
                field: "token purpose",
                value: s.to_owned(),
                expected: "confirm, manage or export",
            }),
        }
    }
}

/// A fresh token: 32 bytes from the operating system's CSPRNG, URL-safe
/// base64 without padding (43 characters, usable in a path as is).
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `s` has the shape of a token (checked before any lookup, so
/// junk from a URL costs no database query).
pub fn is_token_shaped(s: &str) -> bool {
    s.len() == TOKEN_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(is_token_shaped(&a), "{}", a.len());
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).map(|v| v.len()), Ok(32));
        assert!(!is_token_shaped("short"));
        assert!(!is_token_shaped(&format!("{}=", &a[..42])));
        assert_eq!(TokenPurpose::parse("manage"), Ok(TokenPurpose::Manage));
        assert!(TokenPurpose::parse("x").is_err());
    }
}
