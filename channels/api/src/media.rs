//! Media residents send in: fetched from the provider by its media id.

use std::fmt;

use crate::error::{Disposition, SendError};

/// A media item fetched from the provider ([`crate::Channel::fetch_media`]),
/// as the provider served it: nothing is checked or stripped yet.
///
/// `Debug` prints the length, not the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchedMedia {
    /// The file's bytes, at most the `max_bytes` asked for.
    pub bytes: Vec<u8>,
    /// The MIME type the provider reported, if any; the core trusts the
    /// content, not this.
    pub mime_type: Option<String>,
}

impl fmt::Debug for FetchedMedia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchedMedia")
            .field("bytes", &self.bytes.len())
            .field("mime_type", &self.mime_type)
            .finish()
    }
}

/// Why a media item could not be fetched. Reasons are log-safe: no tokens,
/// URLs with credentials, addresses or message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The channel cannot fetch inbound media (the default of
    /// [`crate::Channel::fetch_media`]).
    #[error("this channel cannot fetch media")]
    NotSupported,
    /// The item is larger than allowed: refused before or while
    /// downloading, never read beyond `max` bytes.
    #[error("the media item is larger than {max} bytes{}", size.map(|s| format!(" ({s} bytes)")).unwrap_or_default())]
    TooLarge {
        /// Its size, if the provider said or it was read whole.
        size: Option<u64>,
        /// The limit asked for.
        max: u64,
    },
    /// The provider failed; [`SendError::disposition`] tells whether a
    /// later attempt may succeed.
    #[error(transparent)]
    Provider(#[from] SendError),
}

impl FetchError {
    /// Whether the same fetch may succeed later: a network or server error,
    /// throttling, or a channel held for its configuration (an operator can
    /// fix it). A missing file, too large an item or a channel without the
    /// feature will not change.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Provider(e) => !matches!(e.disposition(), Disposition::GiveUp { .. }),
            FetchError::NotSupported | FetchError::TooLarge { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_or_not() {
        assert!(FetchError::Provider(SendError::transient("502")).is_transient());
        assert!(FetchError::Provider(SendError::RateLimited { retry_after: None }).is_transient());
        assert!(FetchError::Provider(SendError::Misconfigured {
            reason: "token".into()
        })
        .is_transient());
        assert!(!FetchError::Provider(SendError::permanent("no such file")).is_transient());
        assert!(!FetchError::NotSupported.is_transient());
        let big = FetchError::TooLarge {
            size: Some(30),
            max: 20,
        };
        assert!(!big.is_transient());
        assert_eq!(
            big.to_string(),
            "the media item is larger than 20 bytes (30 bytes)"
        );
    }

    #[test]
    fn debug_hides_the_bytes() {
        let m = FetchedMedia {
            bytes: b"secret-pixels".to_vec(),
            mime_type: Some("image/jpeg".into()),
        };
        let d = format!("{m:?}");
        assert!(!d.contains("secret") && d.contains("13"), "{d}");
    }
}
