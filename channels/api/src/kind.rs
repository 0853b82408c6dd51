//! Identification of delivery channels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The delivery channels Herold knows about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// WhatsApp Cloud API.
    WhatsApp,
    /// Email via SMTP.
    Email,
    /// Telegram Bot API.
    Telegram,
    /// Matrix rooms and direct messages.
    Matrix,
    /// RSS/Atom feeds (pull channel).
    Feed,
}

impl ChannelKind {
    /// Every channel kind, in canonical order.
    pub const ALL: &'static [ChannelKind] = &[
        ChannelKind::WhatsApp,
        ChannelKind::Email,
        ChannelKind::Telegram,
        ChannelKind::Matrix,
        ChannelKind::Feed,
    ];

    /// The stable lowercase identifier used in configuration, storage and URLs.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelKind::WhatsApp => "whatsapp",
            ChannelKind::Email => "email",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Matrix => "matrix",
            ChannelKind::Feed => "feed",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when parsing an unknown channel identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel \"{0}\"; expected one of whatsapp, email, telegram, matrix, feed")]
pub struct UnknownChannel(pub String);

impl FromStr for ChannelKind {
    type Err = UnknownChannel;

    /// Parses an identifier as produced by [`ChannelKind::as_str`]
    /// (surrounding whitespace and ASCII case are ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        ChannelKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownChannel(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_str() {
        for kind in ChannelKind::ALL {
            assert_eq!(kind.as_str().parse::<ChannelKind>(), Ok(*kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn parse_is_lenient_about_case_and_whitespace() {
        assert_eq!(" WhatsApp ".parse(), Ok(ChannelKind::WhatsApp));
        assert_eq!("FEED".parse(), Ok(ChannelKind::Feed));
    }

    #[test]
    fn unknown_channel_error_lists_all_kinds() {
        let err = "sms".parse::<ChannelKind>().unwrap_err();
        assert_eq!(err, UnknownChannel("sms".into()));
        let expected: Vec<&str> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            err.to_string(),
            format!(
                "unknown channel \"sms\"; expected one of {}",
                expected.join(", ")
            )
        );
    }

    #[test]
    fn serde_uses_lowercase_names() {
        let json = serde_json::to_string(ChannelKind::ALL).unwrap();
        assert_eq!(json, r#"["whatsapp","email","telegram","matrix","feed"]"#);
        let back: Vec<ChannelKind> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ChannelKind::ALL);
    }
}
